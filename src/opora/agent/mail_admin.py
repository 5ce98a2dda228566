"""Agent workspace: administration of the email channel (``/agent/manage/mail/``).

Service desk managers and administrators configure the mailboxes (IMAP or the pipe command; the
password stays in the environment, the form takes the variable's NAME; "test connection" logs in
and counts the folder), see every received message by status — the quarantine first — with the
error, download the raw message (always as text, never rendered), and re-process messages one by
one or in bulk after a fix. Agents who can see a ticket open the original of a message that
became part of it (``mail_original``).

Thin adapters like the other administration pages: forms parse, ``mail.actions`` writes (and
audits), ``mail.imap`` tests the connection.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from opora.accounts.models import Organisation, Team
from opora.catalog.models import Category
from opora.mail import actions as mail_actions
from opora.mail import imap, safety
from opora.mail.models import (
    InboundMessage,
    InboundStatus,
    Mailbox,
    Security,
    UnknownSenderPolicy,
)
from opora.tickets.errors import ActionError
from opora.tickets.models import TicketEvent
from opora.tickets.permissions import access_ticket, can_view_internal

from .manage import (
    ManageForm,
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
from .queues import staff_required

#: How many messages one bulk re-process takes (the rest: select again).
BULK_MAX = 200
STATUS_ORDER = [InboundStatus.QUARANTINED, InboundStatus.RECEIVED, InboundStatus.REFUSED,
                InboundStatus.IGNORED, InboundStatus.PROCESSED]


# --- forms ---------------------------------------------------------------------------------------


class MailboxForm(ManageForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    address = forms.EmailField(label=_("Address"), max_length=254,
                               help_text=_("Replies are sent from and to this address."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    imap_host = forms.CharField(
        label=_("IMAP server"), max_length=255, required=False,
        help_text=_("Empty: mail arrives only through the opora ingest_email command."))
    imap_security = forms.ChoiceField(label=_("Security"), choices=Security.choices,
                                      initial=Security.SSL)
    imap_port = forms.IntegerField(label=_("IMAP port"), min_value=1, max_value=65535,
                                   required=False, help_text=_("Empty: 993 for SSL/TLS, 143 "
                                                               "otherwise."))
    imap_user = forms.CharField(label=_("User name"), max_length=255, required=False)
    password_env = forms.CharField(
        label=_("Password variable"), max_length=100, required=False,
        help_text=_("The NAME of the environment variable that holds the password, for example "
                    "OPORA_MAILBOX_SUPPORT_PASSWORD. The password itself is never stored."))
    imap_folder = forms.CharField(label=_("Folder"), max_length=255, initial="INBOX")
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False,
                                  empty_label=_("— the first line-1 team —"))
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none(),
                                      required=False, empty_label=_("— none —"))
    organisation = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none(), required=False,
        empty_label=_("— none —"), help_text=_("For senders whose domain no organisation owns."))
    unknown_senders = forms.ChoiceField(label=_("Unknown senders"),
                                        choices=UnknownSenderPolicy.choices)
    reopen_on_reply = forms.BooleanField(label=_("A reply reopens a resolved ticket"),
                                         required=False, initial=True)
    monitoring_senders = forms.CharField(
        label=_("Monitoring senders"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Addresses of monitoring systems (Icinga, Nagios), one a line; * matches any "
                    "characters. Their problem notifications open incidents, repeats join them "
                    "and recoveries resolve them. Empty: no monitoring by mail."))

    def __init__(self, *args: Any, mailbox: Mailbox | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, model in (("team", Team), ("category", Category),
                            ("organisation", Organisation)):
            keep = Q(is_active=True)
            current = getattr(mailbox, f"{name}_id", None) if mailbox else None
            if current:
                keep |= Q(pk=current)
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = model.objects.filter(keep)


FIELDS = ("name", "address", "is_active", "imap_host", "imap_security", "imap_port", "imap_user",
          "password_env", "imap_folder", "team", "category", "organisation", "unknown_senders",
          "reopen_on_reply", "monitoring_senders")


def _initial(mailbox: Mailbox) -> dict[str, Any]:
    values = {name: getattr(mailbox, name) for name in FIELDS}
    for name in ("team", "category", "organisation"):
        values[name] = getattr(mailbox, f"{name}_id")
    return values


# --- mailboxes -----------------------------------------------------------------------------------


def _status_counts(qs: Any) -> list[dict[str, Any]]:
    base = reverse("agent:manage_mail_messages")
    counts = dict(qs.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return [{"status": s, "label": s.label, "count": counts.get(s, 0),
             "url": f"{base}?status={s.value}"} for s in STATUS_ORDER]


@manager_required
@require_http_methods(["GET", "HEAD"])
def mailboxes(request: HttpRequest) -> HttpResponse:
    """Every mailbox with its state and its messages per status; the totals link to the lists."""
    counts = {s: Count("messages", filter=Q(messages__status=s)) for s in STATUS_ORDER}
    rows = list(Mailbox.objects.select_related("team").annotate(
        **{f"n_{s.value}": c for s, c in counts.items()}).order_by("name"))
    for row in rows:
        row.status_counts = [  # type: ignore[attr-defined]
            (s, getattr(row, f"n_{s.value}")) for s in STATUS_ORDER]
    return render(request, "agent/mail/mailboxes.html", {
        "mailboxes": rows, "totals": _status_counts(InboundMessage.objects.all()),
        "statuses": STATUS_ORDER,
    })


def _values(form: MailboxForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in FIELDS}


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def mailbox_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    mailbox = None if pk is None else _object(Mailbox.objects.all(), pk)
    if request.method == "POST":
        form = MailboxForm(request.POST, mailbox=mailbox)
        if form.is_valid():
            try:
                if mailbox is None:
                    mailbox = mail_actions.create_mailbox(**_values(form), actor=_user(request))
                else:
                    mail_actions.update_mailbox(mailbox, **_values(form), actor=_user(request))
            except ActionError as exc:
                _refuse(exc)
                form.action_error(exc)
            else:
                messages.success(request, gettext("Mailbox “%(name)s” saved.")
                                 % {"name": mailbox.name})
                return redirect("agent:manage_mailbox", pk=mailbox.pk)
    elif mailbox is None:
        form = MailboxForm()
    else:
        form = MailboxForm(mailbox=mailbox, initial=_initial(mailbox))
    if mailbox is not None and form.errors:
        mailbox.refresh_from_db()
    counts = _status_counts(InboundMessage.objects.filter(mailbox=mailbox)) if mailbox else []
    return render(request, "agent/mail/mailbox_form.html", {
        "form": form, "mailbox": mailbox, "counts": counts,
    }, status=400 if form.errors else 200)


@manager_required
@require_POST
def mailbox_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Log in with the saved settings and report the folder's message count or the error."""
    mailbox = _object(Mailbox.objects.all(), pk)
    ok, text = imap.test_connection(mailbox)
    (messages.success if ok else messages.error)(request, text)
    return redirect("agent:manage_mailbox", pk=mailbox.pk)


@manager_required
@require_POST
def mailbox_poll(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the mailbox for new mail now, in the background (a worker runs it)."""
    from opora.mail.tasks import poll_mailbox

    mailbox = _object(Mailbox.objects.exclude(imap_host=""), pk)
    poll_mailbox.enqueue(mailbox.pk)
    messages.success(request, gettext("A worker checks the mailbox for new mail now."))
    return redirect("agent:manage_mailbox", pk=mailbox.pk)


# --- received messages ---------------------------------------------------------------------------

MESSAGE_SORTS = {
    "received": Sort(_("Received"), ("received_at",)),
    "from": Sort(_("From"), ("from_address", "received_at")),
    "subject": Sort(_("Subject"), ("subject", "received_at")),
    "mailbox": Sort(_("Mailbox"), ("mailbox__name", "received_at")),
    "status": Sort(_("Status"), ("status", "received_at")),
    "attempts": Sort(_("Attempts"), ("attempts", "received_at")),
}


def _message_filters(request: HttpRequest) -> tuple[str, str]:
    status = request.GET.get("status", InboundStatus.QUARANTINED)
    if status not in InboundStatus.values and status != "all":
        status = InboundStatus.QUARANTINED
    mailbox = request.GET.get("mailbox", "")
    return status, mailbox if mailbox.isdigit() else ""


@manager_required
@require_http_methods(["GET", "HEAD"])
def message_list(request: HttpRequest) -> HttpResponse:
    """The received messages, the quarantine first: filter by status and mailbox, sort, page."""
    status, mailbox = _message_filters(request)
    qs = (InboundMessage.objects.select_related("mailbox", "ticket").only(
              "pk", "received_at", "from_address", "subject", "status", "reason", "error",
              "attempts", "mailbox__name", "mailbox__address", "ticket__number"))
    if status != "all":
        qs = qs.filter(status=status)
    if mailbox:
        qs = qs.filter(mailbox_id=int(mailbox))
    key, desc = _ordering(request, MESSAGE_SORTS, "-received")
    base = reverse("agent:manage_mail_messages")
    partial = bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request")
    return _list_response(
        request, "agent/mail/messages.html", "agent/mail/_messages_results.html", {
            "base_url": base, "columns": _columns(request, base, MESSAGE_SORTS, key, desc),
            "status": status, "mailbox": mailbox,
            "statuses": [] if partial else [(s.value, s.label) for s in STATUS_ORDER],
            "mailboxes": [] if partial else list(Mailbox.objects.only("pk", "name")),
            "reprocessable": sorted(mail_actions.REPROCESSABLE),
            **_page(request, _order(qs, MESSAGE_SORTS[key], desc)),
        })


@manager_required
@require_http_methods(["GET", "HEAD"])
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = _object(InboundMessage.objects.defer("raw").select_related("mailbox", "ticket",
                                                                         "event"), pk)
    return render(request, "agent/mail/message.html", {
        "message": message, "reason": safety.describe(message.reason) if message.reason else "",
        "can_reprocess": message.status in mail_actions.REPROCESSABLE,
    })


def _raw_response(message_pk: int) -> HttpResponse:
    raw = bytes(InboundMessage.objects.filter(pk=message_pk).values_list("raw", flat=True)
                .get())
    try:
        raw.decode("utf-8")
        content_type = "text/plain; charset=utf-8"
    except UnicodeDecodeError:
        content_type = "text/plain"
    response = HttpResponse(raw, content_type=content_type)
    # Always a download of text: a raw message is never rendered (HTML in it could run).
    response["Content-Disposition"] = f'attachment; filename="message-{message_pk}.eml.txt"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@manager_required
@require_http_methods(["GET", "HEAD"])
def message_raw(request: HttpRequest, pk: int) -> HttpResponse:
    _object(InboundMessage.objects.only("pk"), pk)
    return _raw_response(pk)


@manager_required
@require_POST
def message_reprocess(request: HttpRequest, pk: int) -> HttpResponse:
    message = _object(InboundMessage.objects.defer("raw"), pk)
    _reprocess(request, [message])
    return redirect("agent:manage_mail_message", pk=message.pk)


@manager_required
@require_POST
def message_reprocess_bulk(request: HttpRequest) -> HttpResponse:
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()][:BULK_MAX]
    chosen = list(InboundMessage.objects.defer("raw").filter(pk__in=ids).order_by("pk"))
    if not chosen:
        messages.error(request, gettext("Choose the messages to re-process."))
    else:
        _reprocess(request, chosen)
    back = request.POST.get("next", "")
    if not back.startswith(reverse("agent:manage_mail_messages")):
        back = reverse("agent:manage_mail_messages")
    return redirect(back)


def _reprocess(request: HttpRequest, chosen: list[InboundMessage]) -> None:
    try:
        done = mail_actions.reprocess(chosen, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
        return
    labels = dict(InboundStatus.choices)
    summary = ", ".join(f"{labels.get(k, gettext('skipped'))}: {n}"
                        for k, n in sorted(done.items()))
    messages.success(request, gettext("Re-processed: %(summary)s.") % {"summary": summary})


# --- the original of a message in a ticket -------------------------------------------------------


@staff_required
@require_http_methods(["GET", "HEAD"])
def original(request: HttpRequest, event_pk: int) -> HttpResponse:
    """The raw message behind a timeline entry, for staff who can see the ticket."""
    user = _user(request)
    if not can_view_internal(user):
        raise PermissionDenied
    event = TicketEvent.objects.filter(pk=event_pk).only("pk", "ticket_id").first()
    message_pk = (InboundMessage.objects.filter(event_id=event_pk).values_list("pk", flat=True)
                  .first())
    if event is None or message_pk is None:
        raise Http404(gettext("Not found."))
    access_ticket(user, event.ticket_id)
    return _raw_response(message_pk)


def original_urls(event_ids: list[int]) -> dict[int, str]:
    """Timeline entries that came by email → the link to their original (one query), for the
    ticket page's timeline."""
    rows = InboundMessage.objects.filter(event_id__in=event_ids).values_list("event_id",
                                                                              flat=True)
    return {eid: reverse("agent:mail_original", args=[eid]) for eid in rows if eid}


urlpatterns: list[URLPattern] = [
    path("manage/mail/", mailboxes, name="manage_mail"),
    path("manage/mail/mailboxes/new/", mailbox_edit, name="manage_mailbox_new"),
    path("manage/mail/mailboxes/<int:pk>/", mailbox_edit, name="manage_mailbox"),
    path("manage/mail/mailboxes/<int:pk>/test/", mailbox_test, name="manage_mailbox_test"),
    path("manage/mail/mailboxes/<int:pk>/poll/", mailbox_poll, name="manage_mailbox_poll"),
    path("manage/mail/messages/", message_list, name="manage_mail_messages"),
    path("manage/mail/messages/reprocess/", message_reprocess_bulk,
         name="manage_mail_reprocess_bulk"),
    path("manage/mail/messages/<int:pk>/", message_detail, name="manage_mail_message"),
    path("manage/mail/messages/<int:pk>/raw/", message_raw, name="manage_mail_raw"),
    path("manage/mail/messages/<int:pk>/reprocess/", message_reprocess,
         name="manage_mail_reprocess"),
    path("mail/original/<int:event_pk>/", original, name="mail_original"),
]
