"""Every change to a ticket, one function each.

The web pages, the REST API, the email gateway, CLI commands and background jobs all call these
and nothing else writes tickets. Each action:

1. runs in one transaction and re-reads the ticket under a row lock (``select_for_update``;
   SQLite serialises writers with IMMEDIATE transactions), refusing a stale ``expected_version``;
2. checks the workflow table and the domain rules, raising ``ActionError`` before writing;
3. writes the timeline event (the audit) with an explicit actor and channel, in the same
   transaction;
4. queues notifications as background tasks only after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opora.accounts.models import Line, Role, Team, TeamMembership, User
from opora.catalog.models import Category, Service
from opora.sla import engine as sla_engine
from opora.sla.models import Agreement

from . import workflow
from .attachments import CheckedUpload
from .choices import (
    INTAKE_CHANNEL_CHOICES,
    OPEN_STATUSES,
    Channel,
    EventKind,
    Level,
    Priority,
    ResolutionCode,
    Status,
    TicketType,
)
from .errors import ActionError, InvalidTransition, StaleTicket
from .models import Attachment, Ticket, TicketEvent
from .selectors import priority_for

TITLE_MAX = 255
INTAKE_CHANNELS = frozenset(value for value, _label in INTAKE_CHANNEL_CHOICES)
BODY_MAX = 100_000
SUMMARY_MIN = 10


# --- helpers ------------------------------------------------------------------------------------


def _text(value: str | None, *, field: str, required: bool, max_len: int = BODY_MAX) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ActionError(_("This field is required."), code="required", field=field)
    if len(text) > max_len:
        raise ActionError(
            _("Ensure this field has no more than %(max)d characters.") % {"max": max_len},
            code="too_long",
            field=field,
        )
    return text


def _require_staff(actor: User | None) -> None:
    if actor is not None and not (actor.is_agent_side or actor.is_superuser):
        raise ActionError(_("Only service desk staff may do this."), code="staff_only")


def _lock(ticket: Ticket, expected_version: int | None) -> Ticket:
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleTicket(locked.version)
    return locked


def _save(ticket: Ticket, fields: Iterable[str], now: datetime,
          sla_cause: dict[str, Any] | None = None) -> None:
    fields = set(fields)
    ticket.version += 1
    ticket.updated_at = now
    ticket.save(update_fields=[*fields, "version", "updated_at"])
    if sla_cause or fields & sla_engine.CLOCK_FIELDS:
        # The SLA clocks follow the ticket in the same transaction (never through a signal).
        sla_engine.sync(ticket, now=now, cause=sla_cause)


def _side(actor: User | None) -> workflow.Side:
    return "staff" if actor is None else workflow.side_of(actor)


def _check_move(ticket: Ticket, target: Status, action: workflow.ActionName,
                actor: User | None) -> None:
    try:
        workflow.check_transition(ticket.status, target, action, _side(actor))
    except workflow.TransitionNotAllowed as exc:
        raise InvalidTransition(
            _("A ticket in status “%(source)s” cannot be moved to “%(target)s” this way.")
            % {"source": Status(exc.source).label, "target": Status(exc.target).label}
        ) from exc


def _event(
    ticket: Ticket,
    kind: EventKind,
    *,
    actor: User | None,
    channel: Channel | str,
    now: datetime,
    body: str = "",
    is_public: bool = True,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent.objects.create(
        ticket=ticket, kind=kind, actor=actor, channel=channel, body=body,
        is_public=is_public, data=data or {}, created_at=now,
    )
    _notify_after_commit(event)
    return event


_quiet: ContextVar[bool] = ContextVar("opora_notifications_suppressed", default=False)


@contextmanager
def notifications_suppressed() -> Iterator[None]:
    """Record events without telling anyone: imports, demo data, bulk back-fills."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _notify_after_commit(event: TicketEvent) -> None:
    from .tasks import notify_ticket_event

    if _quiet.get():
        return
    event_id = event.pk
    transaction.on_commit(lambda: notify_ticket_event.enqueue(event_id))


def _status_event(ticket: Ticket, old: str, *, actor: User | None, channel: Channel | str,
                  now: datetime, body: str = "") -> TicketEvent:
    return _event(
        ticket, EventKind.STATUS_CHANGED, actor=actor, channel=channel, now=now, body=body,
        data={"status": [old, ticket.status]},
    )


def _attach(ticket: Ticket, event: TicketEvent, uploads: Sequence[CheckedUpload],
            actor: User | None, stored: list[str]) -> list[Attachment]:
    saved = []
    for upload in uploads:
        attachment = Attachment(
            ticket=ticket, event=event, filename=upload.filename,
            content_type=upload.content_type, size=upload.size, is_public=event.is_public,
            uploaded_by=actor, created_at=event.created_at,
        )
        field = attachment.file.field
        name = field.storage.get_available_name(
            field.generate_filename(attachment, upload.filename), max_length=field.max_length,
        )
        # Recorded before writing: a write that breaks half-way (a dropped upload, a full disk)
        # leaves a partial file, which must be removed with the others.
        stored.append(name)
        attachment.file = field.storage.save(name, File(upload.file), max_length=field.max_length)
        stored[-1] = attachment.file.name
        attachment.save()
        saved.append(attachment)
    return saved


@contextmanager
def _files_removed_on_failure() -> Iterator[list[str]]:
    """Files are written before their rows commit; if the action fails, delete them again."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise


def _name(obj: User | Team | Category | Service | Agreement | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {"id": obj.pk, "name": str(obj.full_name if isinstance(obj, User) else obj.name)}


def default_intake_team() -> Team | None:
    """Where a new ticket goes when nothing routes it: the first active line-1 team.

    Routing rules (a later capability) replace this with a real decision.
    """
    return Team.objects.filter(is_active=True, line=Line.L1).order_by("id").first()


# --- open ---------------------------------------------------------------------------------------


def open_ticket(
    *,
    requester: User,
    title: str,
    description: str = "",
    ticket_type: TicketType | str = TicketType.INCIDENT,
    channel: Channel | str,
    actor: User | None,
    category: Category | None = None,
    service: Service | None = None,
    impact: int = Level.MEDIUM,
    urgency: int = Level.MEDIUM,
    team: Team | None = None,
    is_major: bool = False,
    attachments: Sequence[CheckedUpload] = (),
    now: datetime | None = None,
) -> Ticket:
    """Register a new ticket from any channel. The requester's organisation is recorded."""
    title = _text(title, field="title", required=True, max_len=TITLE_MAX)
    description = _text(description, field="description", required=False)
    if ticket_type not in TicketType.values:
        raise ActionError(_("Unknown ticket type."), code="invalid_choice", field="type")
    if channel not in INTAKE_CHANNELS:
        raise ActionError(_("Unknown channel."), code="invalid_choice", field="channel")
    if impact not in Level.values or urgency not in Level.values:
        raise ActionError(_("Impact and urgency must be 1, 2 or 3."), code="invalid_choice")
    if not requester.is_active:
        raise ActionError(_("The requester's account is disabled."), code="inactive_requester",
                          field="requester")
    if actor is not None and actor.pk != requester.pk:
        # Registering on someone else's behalf (a phone call) is the desk's job.
        _require_staff(actor)
    if is_major or team is not None:
        # Flagging a major incident and routing to a team are the desk's decisions.
        _require_staff(actor)
    if category is not None and not category.is_active:
        raise ActionError(_("This category is no longer in use."), code="inactive", field="category")
    if service is not None and not service.is_active:
        raise ActionError(_("This service is no longer in use."), code="inactive", field="service")
    if team is not None and not team.is_active:
        raise ActionError(_("This team is not active."), code="inactive", field="team")
    now = now or timezone.now()
    with _files_removed_on_failure() as stored, transaction.atomic():
        team = team or default_intake_team()
        ticket = Ticket.objects.create(
            type=ticket_type, title=title, description=description, requester=requester,
            organisation_id=requester.organisation_id, channel=channel, category=category,
            service=service, impact=impact, urgency=urgency,
            priority=priority_for(impact, urgency), team=team,
            current_line=team.line if team else Line.L1, is_major=is_major,
            created_by=actor, created_at=now, updated_at=now,
        )
        ticket.number = Ticket.make_number(ticket.type, ticket.pk)
        Ticket.objects.filter(pk=ticket.pk).update(number=ticket.number)
        event = _event(ticket, EventKind.CREATED, actor=actor, channel=channel, now=now,
                       body=description, data={"title": title})
        _attach(ticket, event, attachments, actor, stored)
        sla_engine.sync(ticket, now=now)
    return ticket


# --- conversation -------------------------------------------------------------------------------


def reply(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    channel: Channel | str,
    attachments: Sequence[CheckedUpload] = (),
    expected_version: int | None = None,
    now: datetime | None = None,
) -> TicketEvent:
    """A public message in the conversation with the requester.

    The desk's first reply stamps the first response; a requester's answer while the ticket
    waits for them puts it back to work.
    """
    body = _text(body, field="body", required=not attachments)
    now = now or timezone.now()
    with _files_removed_on_failure() as stored, transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.status in (Status.CLOSED, Status.CANCELLED):
            raise InvalidTransition(
                _("The ticket is closed; reopen it to continue the conversation."),
                code="ticket_closed",
            )
        event = _event(ticket, EventKind.REPLY, actor=actor, channel=channel, now=now, body=body)
        _attach(ticket, event, attachments, actor, stored)
        fields: list[str] = []
        staff = actor is None or workflow.side_of(actor) == "staff"
        # Only a person answers: an automatic reply (no actor) does not stop the response clock.
        if staff and actor is not None and ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        if not staff and ticket.status == Status.WAITING_REQUESTER:
            old = ticket.status
            ticket.status = Status.IN_PROGRESS
            fields.append("status")
            _status_event(ticket, old, actor=actor, channel=channel, now=now)
        # The next-response clock runs from the requester's message to the desk's answer.
        cause = {"reply": "staff"} if staff and actor is not None else (
            {"reply": "requester"} if not staff else None)
        _save(ticket, fields, now, sla_cause=cause)
    return event


def add_note(
    ticket: Ticket,
    *,
    body: str,
    actor: User | None,
    channel: Channel | str,
    attachments: Sequence[CheckedUpload] = (),
    expected_version: int | None = None,
    now: datetime | None = None,
) -> TicketEvent:
    """An internal note: staff only, never shown or sent to the requester."""
    _require_staff(actor)
    body = _text(body, field="body", required=not attachments)
    now = now or timezone.now()
    with _files_removed_on_failure() as stored, transaction.atomic():
        ticket = _lock(ticket, expected_version)
        event = _event(ticket, EventKind.NOTE, actor=actor, channel=channel, now=now, body=body,
                       is_public=False)
        _attach(ticket, event, attachments, actor, stored)
        _save(ticket, [], now)
    return event


# --- ownership ----------------------------------------------------------------------------------


_UNSET: Any = object()


def assign(
    ticket: Ticket,
    *,
    assignee: User | None = _UNSET,
    team: Team | None = _UNSET,
    actor: User | None,
    channel: Channel | str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Give the ticket to a team and/or an agent of that team (``None`` clears the assignee).

    An agent must be a member of the ticket's team; assigning to a team on another line moves the
    ticket to that line (use ``escalate`` to hand over with a summary).
    """
    _require_staff(actor)
    if assignee is _UNSET and team is _UNSET:
        raise ActionError(_("Choose an assignee or a team."), code="required")
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.status not in OPEN_STATUSES:
            raise InvalidTransition(
                _("Only an open ticket can be assigned; reopen it first."), code="ticket_not_open"
            )
        old_team, old_assignee = ticket.team, ticket.assignee
        new_team = old_team if team is _UNSET else team
        new_assignee = old_assignee if assignee is _UNSET else assignee
        if team is None:
            raise ActionError(_("A ticket must stay with a team."), code="required", field="team")
        if new_team is not None and not new_team.is_active:
            raise ActionError(_("This team is not active."), code="inactive", field="team")
        if new_assignee is not None:
            if not (new_assignee.is_active and new_assignee.is_agent_side):
                raise ActionError(_("Tickets can only be assigned to active service desk staff."),
                                  code="not_an_agent", field="assignee")
            member_of = set(
                TeamMembership.objects.filter(user=new_assignee).values_list("team_id", flat=True)
            )
            if new_team is None and member_of:
                new_team = Team.objects.filter(pk__in=member_of, is_active=True).first()
            if new_team is not None and new_team.pk not in member_of:
                if assignee is _UNSET:
                    new_assignee = None  # moved to another team: the old assignee lets go
                else:
                    raise ActionError(
                        _("%(agent)s is not a member of the team “%(team)s”.")
                        % {"agent": new_assignee.full_name, "team": new_team.name},
                        code="not_a_member", field="assignee",
                    )
        if new_team == old_team and new_assignee == old_assignee:
            raise ActionError(_("Nothing to change: the ticket is already assigned so."),
                              code="no_change")
        ticket.team, ticket.assignee = new_team, new_assignee
        fields = ["team", "assignee"]
        if new_team is not None and new_team.line != ticket.current_line:
            ticket.current_line = new_team.line
            fields.append("current_line")
        old_status = ticket.status
        taken = ticket.status == Status.NEW and (new_assignee or new_team != old_team)
        let_go = ticket.status == Status.IN_PROGRESS and new_assignee is None
        if taken or let_go:
            ticket.status = Status.ASSIGNED
        _event(
            ticket, EventKind.ASSIGNED, actor=actor, channel=channel, now=now, is_public=False,
            data={
                "team": [_name(old_team), _name(new_team)],
                "assignee": [_name(old_assignee), _name(new_assignee)],
            },
        )
        if ticket.status != old_status:
            fields.append("status")
            _status_event(ticket, old_status, actor=actor, channel=channel, now=now)
        _save(ticket, fields, now)
    return ticket


def escalate(
    ticket: Ticket,
    *,
    to_team: Team,
    summary: str,
    actor: User | None,
    channel: Channel | str,
    vendor_reference: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Functional escalation to a team of a higher line, with what was done so far.

    The ticket leaves its current assignee and waits in the new team's queue ("escalated —
    waiting for line N"); escalating to line 4 (a vendor) waits for the vendor, with their
    reference.
    """
    _require_staff(actor)
    summary = _text(summary, field="summary", required=True)
    if len(summary) < SUMMARY_MIN:
        raise ActionError(
            _("Describe what was done and found (at least %(n)d characters).") % {"n": SUMMARY_MIN},
            code="summary_too_short", field="summary",
        )
    vendor_reference = _text(vendor_reference, field="vendor_reference", required=False,
                             max_len=200)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.status not in OPEN_STATUSES:
            raise InvalidTransition(_("Only an open ticket can be escalated."),
                                    code="ticket_not_open")
        if not to_team.is_active:
            raise ActionError(_("This team is not active."), code="inactive", field="to_team")
        if to_team.line <= ticket.current_line:
            raise ActionError(
                _("Escalation goes to a higher line: the ticket is on line %(line)d.")
                % {"line": ticket.current_line},
                code="not_a_higher_line", field="to_team",
            )
        old_team, old_assignee, old_line = ticket.team, ticket.assignee, ticket.current_line
        ticket.team, ticket.assignee, ticket.current_line = to_team, None, to_team.line
        ticket.escalated_at = now
        fields = ["team", "assignee", "current_line", "escalated_at"]
        if vendor_reference:
            ticket.vendor_reference = vendor_reference
            fields.append("vendor_reference")
        _event(
            ticket, EventKind.ESCALATED, actor=actor, channel=channel, now=now, body=summary,
            is_public=False,
            data={
                "team": [_name(old_team), _name(to_team)],
                "assignee": [_name(old_assignee), None],
                "line": [old_line, to_team.line],
                "vendor_reference": vendor_reference,
            },
        )
        # The agent who hands over keeps following the ticket (and keeps seeing it): line 1
        # stays the requester's contact after an escalation.
        if actor is not None and actor.is_agent_side and not TeamMembership.objects.filter(
                team=to_team, user=actor).exists():
            ticket.watchers.add(actor)
        old_status = ticket.status
        ticket.status = Status.WAITING_VENDOR if to_team.line == Line.L4 else Status.ASSIGNED
        if ticket.status != old_status:
            fields.append("status")
            _status_event(ticket, old_status, actor=actor, channel=channel, now=now)
        _save(ticket, fields, now)
    return ticket


# --- lifecycle ----------------------------------------------------------------------------------


def change_status(
    ticket: Ticket,
    *,
    status: Status | str,
    actor: User | None,
    channel: Channel | str,
    comment: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Move between working statuses (in progress, waiting for requester / vendor).

    Resolving, closing, reopening and cancelling have their own actions because they need more
    than a status.
    """
    if status not in Status.values:
        raise ActionError(_("Unknown status."), code="invalid_choice", field="status")
    target = Status(status)
    comment = _text(comment, field="comment", required=False)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        _check_move(ticket, target, "change_status", actor)
        old = ticket.status
        ticket.status = target
        fields = ["status"]
        if target == Status.IN_PROGRESS and ticket.assignee_id is None and actor is not None \
                and actor.is_agent_side and (
                    ticket.team_id is None
                    or TeamMembership.objects.filter(team_id=ticket.team_id, user=actor).exists()):
            # Taking a ticket of your own team into work makes you its owner (as ``assign`` would).
            ticket.assignee = actor
            fields.append("assignee")
            _event(ticket, EventKind.ASSIGNED, actor=actor, channel=channel, now=now,
                   is_public=False,
                   data={"team": [_name(ticket.team)] * 2, "assignee": [None, _name(actor)]})
        _status_event(ticket, old, actor=actor, channel=channel, now=now, body=comment)
        _save(ticket, fields, now)
    return ticket


def resolve(
    ticket: Ticket,
    *,
    code: ResolutionCode | str,
    resolution: str,
    actor: User | None,
    channel: Channel | str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Mark the ticket resolved with a code and the text the requester receives."""
    _require_staff(actor)
    if code not in ResolutionCode.values:
        raise ActionError(_("Choose a resolution code."), code="invalid_choice", field="code")
    resolution = _text(resolution, field="resolution", required=True)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        _check_move(ticket, Status.RESOLVED, "resolve", actor)
        old = ticket.status
        ticket.status = Status.RESOLVED
        ticket.resolution_code = code
        ticket.resolution = resolution
        ticket.resolved_at = now
        fields = ["status", "resolution_code", "resolution", "resolved_at"]
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        _event(ticket, EventKind.RESOLVED, actor=actor, channel=channel, now=now,
               body=resolution, data={"status": [old, ticket.status], "code": code})
        _save(ticket, fields, now)
    return ticket


def close(
    ticket: Ticket,
    *,
    actor: User | None,
    channel: Channel | str,
    comment: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Close a resolved ticket: the requester confirms, or the desk (or auto-close) does."""
    comment = _text(comment, field="comment", required=False)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        _check_move(ticket, Status.CLOSED, "close", actor)
        old = ticket.status
        ticket.status = Status.CLOSED
        ticket.closed_at = now
        confirmed = actor is not None and actor.pk == ticket.requester_id
        _event(ticket, EventKind.CLOSED, actor=actor, channel=channel, now=now, body=comment,
               data={"status": [old, ticket.status], "confirmed_by_requester": confirmed})
        _save(ticket, ["status", "closed_at"], now)
    return ticket


def reopen(
    ticket: Ticket,
    *,
    reason: str,
    actor: User | None,
    channel: Channel | str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Send a resolved (or, for staff, closed) ticket back to work; a reason is required."""
    reason = _text(reason, field="reason", required=True)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        target = workflow.reopen_target(ticket)
        _check_move(ticket, target, "reopen", actor)
        old = ticket.status
        ticket.status = target
        ticket.reopen_count += 1
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.resolution_code = ""
        ticket.resolution = ""
        _event(ticket, EventKind.REOPENED, actor=actor, channel=channel, now=now, body=reason,
               data={"status": [old, ticket.status]})
        _save(ticket, ["status", "reopen_count", "resolved_at", "closed_at", "resolution_code",
                       "resolution"], now)
    return ticket


def cancel(
    ticket: Ticket,
    *,
    reason: str,
    actor: User | None,
    channel: Channel | str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Cancel (withdrawn by the requester) or reject (not IT's business) an open ticket."""
    reason = _text(reason, field="reason", required=True)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        _check_move(ticket, Status.CANCELLED, "cancel", actor)
        old = ticket.status
        ticket.status = Status.CANCELLED
        ticket.closed_at = now
        _event(ticket, EventKind.CANCELLED, actor=actor, channel=channel, now=now, body=reason,
               data={"status": [old, ticket.status]})
        _save(ticket, ["status", "closed_at"], now)
    return ticket


# --- classification and other fields -------------------------------------------------------------

EDITABLE_FIELDS = ("title", "description", "type", "category", "service", "impact", "urgency",
                   "priority", "is_major", "sla_agreement")


def update_fields(
    ticket: Ticket,
    *,
    changes: dict[str, Any],
    actor: User | None,
    channel: Channel | str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Reclassify or correct a ticket: title, description, type, category, service, impact,
    urgency, priority (an explicit override of the matrix) and the major-incident flag.

    A change of impact or urgency recomputes the priority unless a priority is given too. The
    number never changes, even when the type does.
    """
    _require_staff(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ActionError(_("These fields cannot be changed here: %(f)s")
                          % {"f": ", ".join(sorted(unknown))}, code="not_editable")
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.status in (Status.CLOSED, Status.CANCELLED):
            raise InvalidTransition(_("A closed ticket cannot be changed; reopen it first."),
                                    code="ticket_not_open")
        diff: dict[str, list[Any]] = {}

        def put(field: str, value: Any, shown: Any = None) -> None:
            old = getattr(ticket, field)
            if old != value:
                old_shown = _name(old) if hasattr(old, "pk") else old
                diff[field] = [old_shown, shown if shown is not None else value]
                setattr(ticket, field, value)

        if "title" in changes:
            put("title", _text(changes["title"], field="title", required=True, max_len=TITLE_MAX))
        if "description" in changes:
            put("description", _text(changes["description"], field="description", required=False))
        if "type" in changes:
            if changes["type"] not in TicketType.values:
                raise ActionError(_("Unknown ticket type."), code="invalid_choice", field="type")
            put("type", changes["type"])
        for field, model in (("category", Category), ("service", Service)):
            if field in changes:
                value = changes[field]
                if value is not None and not isinstance(value, model):
                    raise ActionError(_("Unknown value."), code="invalid_choice", field=field)
                if value is not None and not value.is_active:
                    raise ActionError(_("This entry is no longer in use."), code="inactive",
                                      field=field)
                put(field, value, _name(value))
        for field in ("impact", "urgency"):
            if field in changes:
                if changes[field] not in Level.values:
                    raise ActionError(_("Must be 1, 2 or 3."), code="invalid_choice", field=field)
                put(field, int(changes[field]))
        if "priority" in changes:
            if changes["priority"] not in Priority.values:
                raise ActionError(_("Priority must be 1 to 5."), code="invalid_choice",
                                  field="priority")
            put("priority", int(changes["priority"]))
        elif "impact" in diff or "urgency" in diff:
            put("priority", priority_for(ticket.impact, ticket.urgency))
        if "is_major" in changes:
            put("is_major", bool(changes["is_major"]))
        if "sla_agreement" in changes:
            if actor is not None and not (actor.is_superuser or actor.role in (
                    Role.TEAM_LEAD, Role.DESK_MANAGER, Role.ADMIN)):
                raise ActionError(_("Only team leads and managers choose a ticket's agreement."),
                                  code="forbidden", field="sla_agreement")
            agreement = changes["sla_agreement"]
            if agreement is not None and not (isinstance(agreement, Agreement)
                                              and agreement.is_active
                                              and agreement.kind == "sla"):
                raise ActionError(_("Choose an active customer agreement (SLA)."),
                                  code="invalid_choice", field="sla_agreement")
            put("sla_agreement", agreement, _name(agreement))
        if not diff:
            raise ActionError(_("Nothing to change."), code="no_change")
        _event(ticket, EventKind.FIELDS_CHANGED, actor=actor, channel=channel, now=now,
               is_public=False, data=diff)
        _save(ticket, diff.keys(), now)
    return ticket


# --- watchers -----------------------------------------------------------------------------------


def add_watcher(ticket: Ticket, *, user: User, actor: User | None, channel: Channel | str,
                now: datetime | None = None) -> Ticket:
    """Let someone follow the ticket (a colleague of the requester, another agent)."""
    if actor is not None and actor.pk != user.pk:
        _require_staff(actor)
    if not user.is_active:
        raise ActionError(_("This account is disabled."), code="inactive", field="user")
    if not user.is_agent_side and user.organisation_id != ticket.organisation_id:
        raise ActionError(_("Only people of the ticket's organisation or the service desk "
                            "can watch it."), code="other_organisation", field="user")
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, None)
        if ticket.watchers.filter(pk=user.pk).exists():
            raise ActionError(_("Already watching."), code="no_change")
        ticket.watchers.add(user)
        _event(ticket, EventKind.WATCHER_ADDED, actor=actor, channel=channel, now=now,
               is_public=False, data={"watcher": _name(user)})
        _save(ticket, [], now)
    return ticket


def remove_watcher(ticket: Ticket, *, user: User, actor: User | None, channel: Channel | str,
                   now: datetime | None = None) -> Ticket:
    """Stop someone following the ticket; people may stop themselves, staff anyone."""
    if actor is not None and actor.pk != user.pk:
        _require_staff(actor)
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, None)
        if not ticket.watchers.filter(pk=user.pk).exists():
            raise ActionError(_("Not watching."), code="no_change")
        ticket.watchers.remove(user)
        _event(ticket, EventKind.WATCHER_REMOVED, actor=actor, channel=channel, now=now,
               is_public=False, data={"watcher": _name(user)})
        _save(ticket, [], now)
    return ticket


__all__ = [
    "EDITABLE_FIELDS",
    "add_note",
    "add_watcher",
    "assign",
    "cancel",
    "change_status",
    "close",
    "escalate",
    "open_ticket",
    "remove_watcher",
    "reopen",
    "reply",
    "resolve",
    "update_fields",
]
