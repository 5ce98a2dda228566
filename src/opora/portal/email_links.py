"""The "confirm" and "reopen" links of a resolution mail.

A link carries a signed token (``TimestampSigner``, one salt per purpose, valid ``MAX_AGE``)
naming the ticket, its requester and the resolution it was made for (the ticket's reopen count
at the time): a confirm token cannot reopen, a token of one ticket does nothing on another, and
a link from an earlier resolution does nothing once the ticket was reopened.

The page opens without signing in — the link in the requester's mail is the credential — but a
GET only shows the question; the button POSTs, and the POST acts through
``tickets.actions.close`` / ``reopen`` with the requester as the actor and the email channel
(reopening asks what is still wrong). A second POST finds the ticket no longer resolved and says
so. Expired, forged and outdated links get a page that says what happened and where to go.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from django import forms
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from opora.accounts.models import User
from opora.tickets import actions
from opora.tickets.choices import Channel, Status
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket

Purpose = Literal["confirm", "reopen"]
PURPOSES: tuple[Purpose, ...] = ("confirm", "reopen")
MAX_AGE = timedelta(days=30)


def _signer(purpose: Purpose) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"opora.portal.email_links.{purpose}")


def make_token(ticket: Ticket, purpose: Purpose) -> str:
    return _signer(purpose).sign_object(
        {"t": ticket.pk, "u": ticket.requester_id, "r": ticket.reopen_count})


def link(ticket: Ticket, purpose: Purpose) -> str:
    """The absolute URL for the resolution mail."""
    from opora.mail.outbox import absolute

    return absolute(reverse(f"portal:email_{purpose}",
                            kwargs={"ref": ticket.number, "token": make_token(ticket, purpose)}))


class LinkProblem(Exception):
    """Why a link cannot be used; ``status`` is the HTTP status of the page saying so."""

    def __init__(self, message: str, *, status: int, ticket: Ticket | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.ticket = ticket


def check_token(token: str, purpose: Purpose, ref: str) -> tuple[Ticket, User]:
    """The ticket and the requester the link is for, if it can still be used."""
    try:
        data = _signer(purpose).unsign_object(token, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkProblem(
            _("This link has expired: links in our emails are valid for %(days)d days. Sign in "
              "to the portal to confirm or reopen the request.") % {"days": MAX_AGE.days},
            status=410) from exc
    except signing.BadSignature as exc:
        raise LinkProblem(_("This link is not valid. Please open it exactly as it is in the "
                            "email, or sign in to the portal."), status=400) from exc
    if not isinstance(data, dict) or not {"t", "u", "r"} <= data.keys():
        raise LinkProblem(_("This link is not valid. Please open it exactly as it is in the "
                            "email, or sign in to the portal."), status=400)
    ticket = Ticket.objects.select_related("requester").filter(pk=data["t"]).first()
    if ticket is None or ref not in (ticket.number, str(ticket.pk)) \
            or ticket.requester_id != data["u"]:
        raise LinkProblem(_("This link does not belong to this request."), status=400)
    requester = ticket.requester
    if not requester.is_active:
        raise LinkProblem(_("Your account is disabled; please contact the service desk."),
                          status=403, ticket=ticket)
    if ticket.status == Status.CLOSED:
        raise LinkProblem(_("This request is already closed. Thank you!"), status=409,
                          ticket=ticket)
    if ticket.status != Status.RESOLVED or ticket.reopen_count != data["r"]:
        raise LinkProblem(
            _("This request has changed since the email was sent: it is no longer waiting for "
              "your confirmation. Its current status is “%(status)s”.")
            % {"status": ticket.get_status_display()}, status=409, ticket=ticket)
    return ticket, requester


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("What is still wrong?"), max_length=actions.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}))


def _page(request: HttpRequest, template: str, context: dict[str, Any], *,
          language: str = "", status: int = 200) -> HttpResponse:
    viewer = request.user
    if language and not viewer.is_authenticated:
        # Someone opening the link from their mail sees the page in the language of the mail.
        with translation.override(language):
            response = render(request, template, context, status=status)
            response.headers["Content-Language"] = language
            return response
    return render(request, template, context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def email_link(request: HttpRequest, ref: str, token: str, purpose: Purpose) -> HttpResponse:
    if purpose not in PURPOSES:
        raise Http404
    base = {"purpose": purpose, "ref": ref}
    try:
        ticket, requester = check_token(token, purpose, ref)
    except LinkProblem as problem:
        language = problem.ticket.requester.language if problem.ticket is not None else ""
        return _page(request, "portal/email_links/problem.html",
                     {**base, "message": problem.message, "ticket": problem.ticket},
                     language=language, status=problem.status)
    context: dict[str, Any] = {**base, "ticket": ticket}
    form = ReopenForm(request.POST or None) if purpose == "reopen" else None
    if request.method == "POST":
        try:
            if purpose == "confirm":
                actions.close(ticket, actor=requester, channel=Channel.EMAIL)
            elif form is not None and form.is_valid():
                actions.reopen(ticket, reason=form.cleaned_data["reason"], actor=requester,
                               channel=Channel.EMAIL)
            else:
                return _page(request, "portal/email_links/question.html",
                             {**context, "form": form}, language=requester.language,
                             status=400)
        except ActionError as exc:
            return _page(request, "portal/email_links/problem.html",
                         {**context, "message": exc.message}, language=requester.language,
                         status=409)
        return _page(request, "portal/email_links/done.html", context,
                     language=requester.language)
    return _page(request, "portal/email_links/question.html", {**context, "form": form},
                 language=requester.language)


urlpatterns: list[URLPattern] = [
    path("email/<str:ref>/confirm/<str:token>/", email_link, {"purpose": "confirm"},
         name="email_confirm"),
    path("email/<str:ref>/reopen/<str:token>/", email_link, {"purpose": "reopen"},
         name="email_reopen"),
]
