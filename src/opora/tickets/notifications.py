"""Who hears about a timeline event, and the message they get (in their own language).

Called from the background task only, after the action's transaction committed.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import translation
from django.utils.translation import gettext as _

from opora.accounts.models import User

from .choices import EventKind
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


def recipients(event: TicketEvent) -> list[User]:
    """The people to tell, never the actor themselves and never staff-only news to requesters.

    - public events: the requester and the watchers; the assignee for the conversation and the
      requester's decisions (reply, reopen, close, cancel);
    - an assignment: only the new assignee; an escalation: the members of the new team;
    - an internal note: the assignee and staff watchers.
    """
    ticket = event.ticket
    people: dict[int, User] = {}

    def add(user: User | None) -> None:
        if (user is not None and user.is_active and user.email and user.email_notifications
                and user.pk != event.actor_id):
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
        add(ticket.requester)
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


def render(event: TicketEvent, user: User) -> EmailMessage:
    ticket = event.ticket
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = f"[{ticket.number}] {ticket.title} — {_SUBJECTS[EventKind(event.kind)]()}"
        lines = [
            _("Ticket %(number)s: %(title)s") % {"number": ticket.number, "title": ticket.title},
            _("Status: %(status)s") % {"status": ticket.get_status_display()},
        ]
        if event.actor is not None and (user.is_agent_side or event.actor.is_agent_side is False):
            lines.append(_("By: %(name)s") % {"name": event.actor.full_name})
        elif event.actor is not None:
            lines.append(_("By: %(name)s") % {"name": _("Service desk")})
        if event.body:
            lines += ["", event.body]
        lines += ["", f"{settings.OPORA_BASE_URL}/"]
        body = "\n".join(lines)
    message = EmailMessage(
        # One line whatever the title holds: a CR or LF in a header makes the message unsendable.
        subject=" ".join(subject.split()), body=body, to=[user.email],
        headers={"X-Opora-Ticket": ticket.number or "", "X-Opora-Event": str(event.pk)},
    )
    return message


def send_event_notifications(event_id: int) -> int:
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
    messages = [render(event, person) for person in people]
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
