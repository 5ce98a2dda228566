"""What a reached threshold does: notify people, raise the priority, hand over to another team.

Runs in the background task queued after the scan committed the firing. Each firing's actions run
once: the firing row is locked and marked done in the same transaction as the ticket changes, and
a firing already done is skipped (a task retried after a crash does nothing twice).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from opora.accounts.models import Role, TeamMembership, User
from opora.tickets import actions as ticket_actions
from opora.tickets.choices import OPEN_STATUSES, Channel, Priority
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket

from .choices import BREACH_PERCENT, Metric, ThresholdAction
from .models import Firing, Threshold

logger = logging.getLogger(__name__)


def recipients(firing: Firing, ticket: Ticket) -> list[User]:
    """Assignee, the team's leads and the desk managers, as the firing's actions ask."""
    people: dict[int, User] = {}
    actions = set(firing.actions)

    def add(user: User | None) -> None:
        if user is not None and user.is_active and user.email and user.email_notifications:
            people[user.pk] = user

    if ThresholdAction.NOTIFY_ASSIGNEE in actions:
        add(ticket.assignee)
    if ThresholdAction.NOTIFY_TEAM_LEAD in actions and ticket.team_id:
        for membership in TeamMembership.objects.filter(
                team_id=ticket.team_id, is_lead=True).select_related("user"):
            add(membership.user)
    if ThresholdAction.NOTIFY_MANAGER in actions:
        for user in User.objects.filter(role=Role.DESK_MANAGER, is_active=True):
            add(user)
    return list(people.values())


def render(firing: Firing, ticket: Ticket, user: User) -> EmailMessage:
    clock = firing.clock
    with translation.override(user.language or settings.LANGUAGE_CODE), \
            timezone.override(user.time_zone or settings.TIME_ZONE):
        metric = Metric(clock.metric).label
        if firing.percent >= BREACH_PERCENT:
            headline = _("SLA breached: %(metric)s") % {"metric": metric}
        else:
            headline = _("SLA warning: %(percent)d%% of the %(metric)s target used") % {
                "percent": firing.percent, "metric": str(metric).lower()}
        due = clock.due_at or clock.breached_at
        lines = [
            _("Ticket %(number)s: %(title)s") % {"number": ticket.number, "title": ticket.title},
            headline,
            _("Agreement: %(name)s") % {"name": clock.agreement.name},
        ]
        if due is not None:
            lines.append(_("Due: %(when)s") % {
                "when": formats.date_format(timezone.localtime(due), "DATETIME_FORMAT")})
        lines.append(_("Priority: %(priority)s") % {"priority": ticket.get_priority_display()})
        lines += ["", f"{settings.OPORA_BASE_URL}/agent/tickets/{ticket.pk}/"]
        subject = f"[{ticket.number}] {headline}"
    return EmailMessage(subject=" ".join(subject.split()), body="\n".join(lines),
                        to=[user.email],
                        headers={"X-Opora-Ticket": ticket.number or "",
                                 "X-Opora-SLA": f"{clock.metric}:{firing.percent}"})


def run(firing_id: int) -> dict[str, Any]:
    """Carry out one firing's actions; returns what was done (also stored on the firing)."""
    with transaction.atomic():
        firing = (Firing.objects.select_for_update(of=("self",))
                  .select_related("clock__agreement", "clock__ticket").filter(pk=firing_id)
                  .first())
        if firing is None or firing.done_at is not None:
            return {}
        ticket = firing.clock.ticket
        result: dict[str, Any] = {}
        actions = set(firing.actions)
        open_ticket = ticket.status in OPEN_STATUSES
        if ThresholdAction.RAISE_PRIORITY in actions and open_ticket and \
                ticket.priority > Priority.CRITICAL:
            try:
                ticket = ticket_actions.update_fields(
                    ticket, changes={"priority": ticket.priority - 1}, actor=None,
                    channel=Channel.SYSTEM)
                result["raise_priority"] = ticket.priority
            except ActionError as exc:
                result["raise_priority"] = str(exc)
        if ThresholdAction.ESCALATE in actions and open_ticket:
            result["escalate"] = _hand_over(firing, ticket)
        people = recipients(firing, Ticket.objects.select_related("assignee").get(pk=ticket.pk))
        if people:
            fresh = Ticket.objects.get(pk=ticket.pk)
            messages = [render(firing, fresh, person) for person in people]
            result["notified"] = [p.pk for p in people]
            transaction.on_commit(lambda: _send(messages))
        firing.done_at = timezone.now()
        firing.result = result
        firing.save(update_fields=["done_at", "result"])
    return result


def _hand_over(firing: Firing, ticket: Ticket) -> str:
    threshold = Threshold.objects.filter(agreement_id=firing.clock.agreement_id,
                                         percent=firing.percent).select_related(
        "escalate_to").first()
    team = threshold.escalate_to if threshold else None
    if team is None or team.pk == ticket.team_id:
        return "no team"
    summary = _("Automatic hand-over: %(percent)d%% of the %(metric)s target used.") % {
        "percent": firing.percent, "metric": str(Metric(firing.clock.metric).label).lower()}
    try:
        if team.line > ticket.current_line:
            ticket_actions.escalate(ticket, to_team=team, summary=summary, actor=None,
                                    channel=Channel.SYSTEM)
        else:
            ticket_actions.assign(ticket, team=team, assignee=None, actor=None,
                                  channel=Channel.SYSTEM)
            ticket_actions.add_note(ticket, body=summary, actor=None, channel=Channel.SYSTEM)
    except ActionError as exc:
        return str(exc)
    return f"team {team.pk}"


def _send(messages: list[EmailMessage]) -> None:
    try:
        with get_connection() as connection:
            connection.send_messages(messages)
    except Exception:  # a mail server outage must not undo the firing
        logger.exception("SLA notification failed")
