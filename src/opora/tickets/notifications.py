"""Who hears about a timeline event, and the message they get (in their own language).

Called from the background task only, after the action's transaction committed. The task writes
one outbox row (``mail.outbox``) per person, all in one transaction, then tries to send them at
once; what fails is retried by the workers' mail sender and stays visible in the outbox page.
The messages come from the templates ``mail/<event kind>.txt`` (the text, which is the source of
truth) and ``.html``, in the recipient's language and time zone.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from opora.accounts.models import User

from .choices import Channel, EventKind, Status
from .models import TicketEvent

logger = logging.getLogger(__name__)

_SUBJECTS = {
    EventKind.CREATED: lambda: _("Your request was registered"),
    EventKind.REPLY: lambda: _("New reply"),
    EventKind.NOTE: lambda: _("New internal note"),
    EventKind.STATUS_CHANGED: lambda: _("Status changed"),
    EventKind.ASSIGNED: lambda: _("Assigned to you"),
    EventKind.ESCALATED: lambda: _("Escalated to your team"),
    EventKind.RESOLVED: lambda: _("Resolved"),
    EventKind.CLOSED: lambda: _("Closed"),
    EventKind.REOPENED: lambda: _("Reopened"),
    EventKind.CANCELLED: lambda: _("Cancelled"),
}


#: Public events the assignee hears about too (the rest they caused or can see in the queue).
_ASSIGNEE_HEARS = frozenset({EventKind.REPLY, EventKind.REOPENED, EventKind.CLOSED,
                             EventKind.CANCELLED})
#: Tickets opened through these channels get no acknowledgement (a monitoring system's
#: address must never receive mail from us: that is how mail loops start).
_NO_ACKNOWLEDGEMENT = frozenset({Channel.MONITORING})
#: The description shown in a notification's summary is cut to this many characters.
SUMMARY_CHARS = 300


def recipients(event: TicketEvent) -> list[User]:
    """The people to tell, never staff-only news to requesters, and never the actor
    themselves — except the acknowledgement: whoever opens a ticket hears its number.

    - public events: the requester and the watchers; the assignee for the conversation and the
      requester's decisions (reply, reopen, close, cancel);
    - an assignment: only the new assignee; an escalation: the members of the new team;
    - an internal note: the assignee and staff watchers.
    """
    ticket = event.ticket
    people: dict[int, User] = {}

    def add(user: User | None, *, even_the_actor: bool = False) -> None:
        if (user is not None and user.is_active and user.email and user.email_notifications
                and (even_the_actor or user.pk != event.actor_id)):
            people[user.pk] = user

    kind = EventKind(event.kind)
    if kind not in _SUBJECTS:
        return []
    if kind == EventKind.ASSIGNED:
        new = (event.data.get("assignee") or [None, None])[1]
        if new and ticket.assignee_id == new.get("id"):
            add(ticket.assignee)
        return list(people.values())
    if kind == EventKind.ESCALATED:
        if ticket.team is not None:
            for member in ticket.team.members.filter(is_active=True):
                add(member)
        return list(people.values())
    watchers = list(ticket.watchers.all())
    if event.is_public:
        add(ticket.requester, even_the_actor=(kind == EventKind.CREATED
                                              and ticket.channel not in _NO_ACKNOWLEDGEMENT))
        for watcher in watchers:
            add(watcher)
        if kind in _ASSIGNEE_HEARS:
            add(ticket.assignee)
    else:
        add(ticket.assignee)
        for watcher in watchers:
            if watcher.is_agent_side:
                add(watcher)
    return list(people.values())


@dataclass(frozen=True)
class Composed:
    """One person's message: subject, text (the source of truth), HTML, and whether it is
    automatic (everything but a person's public reply)."""

    subject: str
    text: str
    html: str
    automatic: bool


def _zone(user: User) -> zoneinfo.ZoneInfo:
    for name in (user.time_zone, settings.TIME_ZONE):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def _status_label(value: Any) -> str:
    return str(Status(value).label) if value in Status.values else ""


def compose(event: TicketEvent, user: User, *, replies_welcome: bool) -> Composed:
    """The message about ``event`` for ``user``, in their language and time zone."""
    from opora.mail import outbox
    from opora.portal.email_links import MAX_AGE, link

    ticket = event.ticket
    kind = EventKind(event.kind)
    language = user.language or settings.LANGUAGE_CODE
    zone = _zone(user)
    is_requester = user.pk == ticket.requester_id
    with translation.override(language), timezone.override(zone):
        subject = outbox.one_line(
            f"[{ticket.number}] {ticket.title} — {_SUBJECTS[kind]()}")
        by = ""
        if event.actor is None or event.actor_id == user.pk:
            pass  # nobody to name, or the reader themselves (their own acknowledgement)
        elif user.is_agent_side or event.actor.is_agent_side is False:
            by = event.actor.full_name
        else:
            by = _("Service desk")
        old, new = (event.data.get("status") or [None, None])[:2]
        attached, linked = outbox.attachments_for(event, user)
        if user.is_agent_side:
            page = reverse("agent:ticket", kwargs={"ref": ticket.number or ticket.pk})
        else:
            page = reverse("portal:request", kwargs={"ref": ticket.number or ticket.pk})
        context: dict[str, Any] = {
            "ticket": ticket, "event": event, "kind": kind.value, "language": language,
            "subject": subject, "staff": user.is_agent_side, "is_requester": is_requester,
            "by": by, "status": ticket.get_status_display(), "when": event.created_at,
            "tz_name": zone.key, "body": event.body, "old_status": _status_label(old),
            "new_status": _status_label(new), "line": (event.data.get("line") or [None, None])[1],
            "confirmed": bool(event.data.get("confirmed_by_requester")),
            "attached": attached, "linked": linked,
            "description": "" if kind == EventKind.CREATED
            else Truncator(" ".join(ticket.description.split())).chars(SUMMARY_CHARS),
            "ticket_url": outbox.absolute(page),
            "preferences_url": outbox.absolute(reverse("portal:preferences")),
            "replies_welcome": replies_welcome,
            "link_days": MAX_AGE.days,
        }
        if kind == EventKind.RESOLVED and is_requester and ticket.status == Status.RESOLVED:
            context["confirm_url"] = link(ticket, "confirm")
            context["reopen_url"] = link(ticket, "reopen")
        text = outbox.render_text(kind.value, context, language)
        html = outbox.render_html(kind.value, context, language)
    automatic = not (kind == EventKind.REPLY and event.actor is not None)
    return Composed(subject=subject, text=text, html=html, automatic=automatic)


def send_event_notifications(event_id: int) -> int:
    """Queue one message per person to tell (in one transaction), then try to send them.

    Returns how many were queued. Running it again for the same event queues nobody twice.
    """
    from opora.mail import outbox
    from opora.mail.models import OutboundMessage

    event = (
        TicketEvent.objects.select_related("ticket__requester", "ticket__assignee",
                                           "ticket__team", "actor")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        logger.warning("notification for a missing event %s", event_id)
        return 0
    people = recipients(event)
    if not people:
        return 0
    told = set(OutboundMessage.objects.filter(event=event).values_list("recipient_id", flat=True))
    ticket = event.ticket
    public_sender = outbox.sender_for(ticket)
    welcome = event.is_public and public_sender.mailbox is not None
    queued: list[int] = []
    with transaction.atomic():
        for person in people:
            if person.pk in told:
                continue
            composed = compose(event, person, replies_welcome=welcome)
            try:
                message = outbox.queue_for_ticket(
                    ticket, recipient=person, subject=composed.subject, text=composed.text,
                    html=composed.html, event=event, public=event.is_public,
                    automatic=composed.automatic, public_sender=public_sender,
                    as_root=(event.kind == EventKind.CREATED
                             and person.pk == ticket.requester_id),
                )
            except ValidationError:
                # An address no mail server would take (old imported data): the others still
                # hear about it. Checked before anything is written, so the transaction is fine.
                logger.warning("not notifying user %s: invalid address %r", person.pk,
                               person.email)
                continue
            queued.append(message.pk)
    if queued:
        outbox.send_due(ids=queued)
    return len(queued)
