"""Agent workspace administration: the outbox — every message Opora sends, and its fate.

Service desk managers and administrators see each message (queued, sent or failed, with the
attempts and the last error), filter by status, search by recipient, subject, ticket number or
Message-ID, and send a failed message again — one, or every failed one after the mail relay was
fixed. The writes are ``mail.outbox.resend`` / ``resend_failed`` (audited in the admin log).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from opora.mail import outbox
from opora.mail.models import OutboundMessage, OutboundStatus
from opora.tickets.errors import ActionError

from .manage import (
    Sort,
    _columns,
    _list_response,
    _object,
    _order,
    _ordering,
    _page,
    _refuse,
    _user,
    manager_required,
)

OUTBOX_SORTS = {
    "created": Sort(_("Created"), ("created_at",)),
    "to": Sort(_("To"), ("to", "created_at")),
    "status": Sort(_("Status"), ("status", "created_at")),
    "attempts": Sort(_("Attempts"), ("attempts", "created_at")),
    "next": Sort(_("Next attempt"), ("next_attempt_at",)),
}


def filter_outbox(qs: QuerySet[OutboundMessage], *, status: str, text: str
                  ) -> QuerySet[OutboundMessage]:
    if status in OutboundStatus.values:
        qs = qs.filter(status=status)
    text = text.strip()
    if text:
        qs = qs.filter(Q(to__icontains=text) | Q(subject__icontains=text)
                       | Q(ticket__number__iexact=text)
                       | Q(message_id=text.strip("<>")))
    return qs


@manager_required
@require_http_methods(["GET", "HEAD"])
def outbox_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    text = request.GET.get("q", "")
    key, desc = _ordering(request, OUTBOX_SORTS, "-created")
    qs = filter_outbox(OutboundMessage.objects.select_related("ticket"), status=status,
                       text=text)
    counts = dict(OutboundMessage.objects.values_list("status").annotate(n=Count("id"))
                  .values_list("status", "n"))
    base = reverse("agent:mail_outbox")
    return _list_response(request, "agent/mail/outbox.html", "agent/mail/outbox_results.html", {
        "base_url": base, "columns": _columns(request, base, OUTBOX_SORTS, key, desc),
        "status": status, "q": text, "statuses": OutboundStatus.choices,
        "counts": [(value, label, counts.get(value, 0)) for value, label in
                   OutboundStatus.choices],
        "failed": counts.get(OutboundStatus.FAILED, 0),
        **_page(request, _order(qs, OUTBOX_SORTS[key], desc)),
    })


@manager_required
@require_http_methods(["GET", "HEAD"])
def outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = _object(OutboundMessage.objects.select_related("ticket", "mailbox", "recipient"),
                      pk)
    return _message_page(request, message)


def _message_page(request: HttpRequest, message: OutboundMessage, status: int = 200
                  ) -> HttpResponse:
    sender = (outbox.mailbox_sender(message.mailbox) if message.mailbox
              else outbox.default_sender())
    headers: list[tuple[str, Any]] = [
        ("From", sender.header), ("To", message.to), ("Subject", message.subject),
        ("Message-ID", f"<{message.message_id}>"),
    ]
    if message.in_reply_to:
        headers.append(("In-Reply-To", f"<{message.in_reply_to}>"))
    if message.references:
        headers.append(("References", " ".join(f"<{r}>" for r in message.references.split())))
    if message.mailbox:
        headers.append(("Reply-To", sender.address))
    headers += sorted(message.headers.items())
    return render(request, "agent/mail/outbox_message.html", {
        "message": message, "headers": headers,
        "can_resend": message.status != OutboundStatus.QUEUED,
    }, status=status)


@manager_required
@require_POST
def outbox_resend(request: HttpRequest, pk: int) -> HttpResponse:
    message = _object(OutboundMessage.objects.select_related("ticket", "mailbox", "recipient"),
                      pk)
    try:
        outbox.resend(message, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("The message to %(to)s will be sent again.")
                         % {"to": message.to})
    return redirect("agent:mail_outbox_message", pk=message.pk)


@manager_required
@require_POST
def outbox_resend_failed(request: HttpRequest) -> HttpResponse:
    try:
        count = outbox.resend_failed(actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        raise
    if count:
        messages.success(request, ngettext("%(n)d failed message will be sent again.",
                                           "%(n)d failed messages will be sent again.", count)
                         % {"n": count})
    else:
        messages.info(request, gettext("No failed messages."))
    return redirect("agent:mail_outbox")


urlpatterns: list[URLPattern] = [
    path("manage/mail/outbox/", outbox_list, name="mail_outbox"),
    path("manage/mail/outbox/resend-failed/", outbox_resend_failed,
         name="mail_outbox_resend_failed"),
    path("manage/mail/outbox/<int:pk>/", outbox_message, name="mail_outbox_message"),
    path("manage/mail/outbox/<int:pk>/resend/", outbox_resend, name="mail_outbox_resend"),
]
