"""The SLA clocks of a ticket, kept in step with the ticket by the ticket actions, and the scan.

``sync(ticket, now=..., cause=...)`` is called by every ticket action that changes what the clocks
depend on (status, priority, type, team, the first response, a public reply, the agreement), in the
action's transaction. It is state-driven: it compares each clock with what the ticket's state says
it should be and writes only the differences, each with an SLA-timeline entry that says why.

``scan(now=...)`` is run by the background worker at least every minute: it reads the clocks whose
next threshold instant has passed (an index of instants, not a loop over tickets), records each
threshold once (row locks with SKIP LOCKED plus a unique constraint, so several workers never fire
one twice) and queues the threshold's actions to run after the commit.

Business time is counted in exact microseconds of the clock's calendar (``businesstime``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.db import connection, transaction
from django.utils import timezone

from opora.tickets.choices import STATUS_CLOCK, ClockCategory, Status

from .choices import (
    BREACH_PERCENT,
    AgreementKind,
    ClockState,
    Metric,
    Outcome,
    ReopenPolicy,
    RetargetPolicy,
    SlaEventKind,
)
from .models import Agreement, Clock, Firing, SlaEvent, Target, Threshold
from .schedules import business_time

if TYPE_CHECKING:
    from django.db.models import Field

    from opora.tickets.models import Ticket

logger = logging.getLogger(__name__)

US = 1_000_000
#: Threshold actions queued per background task (a scan batch may fire thousands).
ACTIONS_PER_TASK = 100
#: Ticket fields whose change can change a clock; other saves skip the sync entirely.
CLOCK_FIELDS = frozenset({"status", "priority", "type", "team", "first_response_at",
                          "organisation", "service", "category", "channel", "is_major",
                          "sla_agreement"})


def _us(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


# --- which agreement ------------------------------------------------------------------------------


@dataclass
class Applicable:
    """The agreements in force for a ticket right now."""

    sla: Agreement | None
    internal: list[Agreement]  # OLAs / underpinning contracts of the ticket's current team


def active_agreements() -> list[Agreement]:
    """Every active agreement with its calendar, targets and thresholds (three queries)."""
    return list(
        Agreement.objects.filter(is_active=True).select_related("calendar")
        .prefetch_related("targets", "thresholds").order_by("order", "id")
    )


def conditions_match(conditions: dict[str, Any], ticket: Ticket) -> bool:
    """All conditions hold. Lists mean "one of"; ``is_major`` is a boolean."""
    for key, wanted in conditions.items():
        if key == "is_major":
            if bool(wanted) != ticket.is_major:
                return False
            continue
        attr = {"category": "category_id", "service": "service_id", "team": "team_id",
                "organisation": "organisation_id"}.get(key, key)
        value = getattr(ticket, attr, None)
        options = wanted if isinstance(wanted, list) else [wanted]
        if value not in options and str(value) not in [str(o) for o in options]:
            return False
    return True


def applicable(ticket: Ticket, agreements: Sequence[Agreement]) -> Applicable:
    """Explicit on the ticket > organisation contract for the service > organisation contract >
    ordered rules (first match) > default; plus the OLA/UC of the ticket's team."""
    slas = [a for a in agreements if a.kind == AgreementKind.SLA]
    chosen: Agreement | None = None
    explicit = getattr(ticket, "sla_agreement_id", None)
    if explicit:
        chosen = next((a for a in slas if a.pk == explicit), None)
    org = ticket.organisation_id
    if chosen is None and org:
        chosen = next((a for a in slas if a.organisation_id == org and a.service_id
                       and a.service_id == ticket.service_id), None)
        if chosen is None:
            chosen = next((a for a in slas if a.organisation_id == org and not a.service_id),
                          None)
    if chosen is None:
        for agreement in slas:  # already in rule order
            if agreement.organisation_id or agreement.is_default:
                continue
            if agreement.service_id and agreement.service_id != ticket.service_id:
                continue
            if not agreement.service_id and not agreement.conditions:
                continue  # neither a service contract nor a rule: only applied explicitly
            if conditions_match(agreement.conditions or {}, ticket):
                chosen = agreement
                break
    if chosen is None:
        chosen = next((a for a in slas if a.is_default), None)
    internal = [a for a in agreements if a.kind in (AgreementKind.OLA, AgreementKind.UC)
                and a.team_id and a.team_id == ticket.team_id]
    return Applicable(chosen, internal)


def target_for(agreement: Agreement, metric: str, priority: int, ticket_type: str
               ) -> Target | None:
    """The type-specific target if there is one, else the general one for the priority."""
    general = None
    for target in agreement.targets.all():
        if target.metric != metric or target.priority != priority:
            continue
        if target.ticket_type == ticket_type:
            return target
        if not target.ticket_type:
            general = target
    return general


def thresholds_of(agreement: Agreement) -> list[Threshold]:
    """The agreement's thresholds, always including the breach (100 %)."""
    found = sorted(agreement.thresholds.all(), key=lambda t: t.percent)
    if not any(t.percent == BREACH_PERCENT for t in found):
        found.append(Threshold(agreement=agreement, percent=BREACH_PERCENT, actions=[]))
        found.sort(key=lambda t: t.percent)
    return found


# --- clock arithmetic -----------------------------------------------------------------------------


def elapsed_us(clock: Clock, now: datetime) -> int:
    """Business time used so far, including the running segment."""
    used = clock.elapsed_us
    if clock.state == ClockState.RUNNING and clock.running_since is not None and \
            now > clock.running_since:
        used += _us(business_time(clock.calendar).between(clock.running_since, now))
    return used


def instant_of(clock: Clock, used_us: int) -> datetime | None:
    """When a running clock reaches ``used_us`` of business time (``None`` unless running)."""
    if clock.state != ClockState.RUNNING or clock.running_since is None:
        return None
    remaining = used_us - clock.elapsed_us
    if remaining <= 0:
        return clock.running_since
    return business_time(clock.calendar).add(clock.running_since,
                                             timedelta(microseconds=remaining))


def _plan(clock: Clock, thresholds: Sequence[Threshold]) -> None:
    """Recompute ``due_at`` and ``next_check_at`` after a change of state or target."""
    if clock.state != ClockState.RUNNING:
        clock.due_at = None
        clock.next_check_at = None
        return
    target = clock.target_us
    if clock.elapsed_us >= target:
        clock.due_at = clock.breached_at or clock.running_since
    else:
        clock.due_at = instant_of(clock, target)
    upcoming = [t.percent for t in thresholds if t.percent > clock.fired_percent]
    if upcoming:
        clock.next_check_at = instant_of(clock, target * upcoming[0] // 100)
    else:
        clock.next_check_at = None


def percent_used(clock: Clock, now: datetime) -> float:
    return 100.0 * elapsed_us(clock, now) / clock.target_us if clock.target_seconds else 0.0


# --- sync -----------------------------------------------------------------------------------------


@dataclass
class _Work:
    now: datetime
    events: list[SlaEvent]
    changed: dict[int, set[str]]
    created: list[Clock]

    def event(self, clock: Clock, kind: SlaEventKind, **data: Any) -> None:
        self.events.append(SlaEvent(ticket_id=clock.ticket_id, clock=clock, kind=kind,
                                    at=self.now, data=data))

    def touch(self, clock: Clock, *fields: str) -> None:
        if clock.pk is not None:
            self.changed.setdefault(clock.pk, set()).update(fields)


def _new_clock(ticket: Ticket, agreement: Agreement, target: Target, metric: str, cycle: int,
               work: _Work, reason: dict[str, Any]) -> Clock:
    clock = Clock(
        ticket=ticket, agreement=agreement, kind=agreement.kind, metric=metric, cycle=cycle,
        calendar=agreement.calendar if target.business_hours else None,
        priority=ticket.priority, ticket_type=ticket.type, team_id=ticket.team_id,
        target_seconds=target.seconds, state=ClockState.RUNNING, started_at=work.now,
        running_since=work.now,
    )
    work.created.append(clock)
    work.event(clock, SlaEventKind.STARTED, target=target.seconds, **reason)
    return clock


def _pause(clock: Clock, work: _Work, reason: dict[str, Any]) -> None:
    clock.elapsed_us = elapsed_us(clock, work.now)
    clock.state = ClockState.PAUSED
    clock.running_since = None
    work.touch(clock, "elapsed_us", "state", "running_since")
    work.event(clock, SlaEventKind.PAUSED, used=clock.elapsed_us // US, **reason)


def _resume(clock: Clock, work: _Work, reason: dict[str, Any]) -> None:
    clock.state = ClockState.RUNNING
    clock.running_since = work.now
    work.touch(clock, "state", "running_since")
    work.event(clock, SlaEventKind.RESUMED, **reason)


def _stop(clock: Clock, work: _Work, outcome: Outcome, reason: dict[str, Any]) -> None:
    used = elapsed_us(clock, work.now)
    if used >= clock.target_us and clock.breached_at is None:
        clock.breached_at = instant_of(clock, clock.target_us) or work.now
    if clock.breached_at is not None or used >= clock.target_us:
        outcome = Outcome.BREACHED
    clock.elapsed_us = used
    clock.state = ClockState.STOPPED
    clock.outcome = outcome
    clock.running_since = None
    clock.stopped_at = work.now
    work.touch(clock, "elapsed_us", "state", "outcome", "running_since", "stopped_at",
               "breached_at")
    work.event(clock, SlaEventKind.STOPPED, outcome=outcome, used=used // US, **reason)


def _reopen(clock: Clock, work: _Work, reason: dict[str, Any]) -> None:
    clock.state = ClockState.RUNNING
    clock.outcome = Outcome.PENDING
    clock.stopped_at = None
    clock.running_since = work.now
    work.touch(clock, "state", "outcome", "stopped_at", "running_since")
    work.event(clock, SlaEventKind.RESUMED, reopened=True, **reason)


def _desired(ticket: Ticket, metric: str, cause: dict[str, Any]) -> ClockState:
    category = STATUS_CLOCK[Status(ticket.status)]
    if category == ClockCategory.STOPPED:
        return ClockState.STOPPED
    if metric == Metric.FIRST_RESPONSE and ticket.first_response_at is not None:
        return ClockState.STOPPED
    if metric == Metric.NEXT_RESPONSE and cause.get("reply") == "staff":
        return ClockState.STOPPED
    return ClockState.PAUSED if category == ClockCategory.PAUSED else ClockState.RUNNING


def _status_reason(ticket: Ticket) -> dict[str, Any]:
    return {"status": ticket.status}


def _stop_outcome(ticket: Ticket) -> Outcome:
    return Outcome.CANCELLED if ticket.status == Status.CANCELLED else Outcome.MET


def sync(ticket: Ticket, *, now: datetime | None = None, cause: dict[str, Any] | None = None,
         agreements: Sequence[Agreement] | None = None) -> list[Clock]:
    """Bring the ticket's clocks in line with the ticket. Call inside the action's transaction,
    after the ticket's fields are set. Returns the ticket's current clocks."""
    now = now or timezone.now()
    cause = cause or {}
    if agreements is None:
        agreements = active_agreements()
    by_id = {a.pk: a for a in agreements}
    existing = list(Clock.objects.select_for_update(of=("self",)).select_related("calendar")
                    .filter(ticket=ticket).order_by("agreement_id", "metric", "cycle"))
    latest: dict[tuple[int, str], Clock] = {}
    for clock in existing:
        latest[(clock.agreement_id, clock.metric)] = clock  # the highest cycle wins
    work = _Work(now, [], {}, [])
    found = applicable(ticket, agreements)
    # The customer SLA: one agreement at a time; a change of agreement carries the clocks over.
    if found.sla is not None:
        for clock in list(latest.values()):
            if clock.kind == AgreementKind.SLA and clock.agreement_id != found.sla.pk and \
                    (found.sla.pk, clock.metric) not in latest:
                old = clock.agreement_id
                latest.pop((old, clock.metric))
                clock.agreement = found.sla
                clock.calendar = found.sla.calendar if clock.calendar_id else None
                work.touch(clock, "agreement", "calendar")
                latest[(found.sla.pk, clock.metric)] = clock
                work.event(clock, SlaEventKind.RETARGETED,
                           agreement=[by_id[old].name if old in by_id else old,
                                      found.sla.name])
        for metric in Metric.values:
            _sync_sla_metric(ticket, found.sla, metric, latest.get((found.sla.pk, metric)),
                             work, cause)
    # Internal agreements: a clock per stay with the team; leaving the team ends it.
    internal_ids = {a.pk for a in found.internal}
    for (agreement_id, _metric), clock in latest.items():
        if clock.kind != AgreementKind.SLA and agreement_id not in internal_ids and \
                clock.state != ClockState.STOPPED:
            _stop(clock, work, Outcome.HANDED_OVER, {"team": ticket.team_id})
    for agreement in found.internal:
        _sync_internal(ticket, agreement, latest.get((agreement.pk, Metric.RESOLUTION)),
                       work)
    # Targets follow the priority and type.
    for clock in [*latest.values(), *work.created]:
        current = by_id.get(clock.agreement_id)
        if current is None or clock.state == ClockState.STOPPED:
            continue
        _retarget(ticket, clock, current, work)
    # Write.
    for clock in work.created:
        _plan(clock, thresholds_of(by_id[clock.agreement_id]))
    if work.created:
        Clock.objects.bulk_create(work.created)
    for clock in existing:
        if clock.pk in work.changed:
            current = by_id.get(clock.agreement_id)
            _plan(clock, thresholds_of(current) if current else [])
            clock.save(update_fields=sorted(work.changed[clock.pk] | {"due_at",
                                                                       "next_check_at"}))
    if work.events:
        for event in work.events:
            event.clock_id = event.clock.pk
        SlaEvent.objects.bulk_create(work.events)
    return [*existing, *work.created]


def _sync_sla_metric(ticket: Ticket, agreement: Agreement, metric: str, clock: Clock | None,
                     work: _Work, cause: dict[str, Any]) -> None:
    target = target_for(agreement, metric, ticket.priority, ticket.type)
    desired = _desired(ticket, metric, cause)
    if metric == Metric.NEXT_RESPONSE:
        _sync_next_response(ticket, agreement, target, clock, desired, work, cause)
        return
    if clock is None:
        if target is None or desired == ClockState.STOPPED:
            return
        clock = _new_clock(ticket, agreement, target, metric, 1, work, {})
        if desired == ClockState.PAUSED:
            _pause(clock, work, _status_reason(ticket))
        return
    _move(ticket, agreement, target, clock, desired, work, cause)


def _move(ticket: Ticket, agreement: Agreement, target: Target | None, clock: Clock,
          desired: ClockState, work: _Work, cause: dict[str, Any]) -> None:
    state = clock.state
    if state == desired:
        return
    if desired == ClockState.STOPPED:
        reason = {"reply": True} if clock.metric != Metric.RESOLUTION and \
            ticket.status not in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED) \
            else _status_reason(ticket)
        _stop(clock, work, _stop_outcome(ticket), reason)
    elif state == ClockState.STOPPED:
        # A reopened ticket; only the resolution clock restarts (a response stays given).
        if clock.metric != Metric.RESOLUTION or (clock.outcome == Outcome.CANCELLED and \
                ticket.status in (Status.CANCELLED,)):
            return
        policy = agreement.reopen_policy
        if policy == ReopenPolicy.KEEP_STOPPED:
            return
        if policy == ReopenPolicy.RESTART and target is not None:
            new = _new_clock(ticket, agreement, target, clock.metric, clock.cycle + 1, work,
                             {"reopened": True})
            if desired == ClockState.PAUSED:
                _pause(new, work, _status_reason(ticket))
            return
        _reopen(clock, work, _status_reason(ticket))
        if desired == ClockState.PAUSED:
            _pause(clock, work, _status_reason(ticket))
    elif desired == ClockState.PAUSED:
        _pause(clock, work, _status_reason(ticket))
    else:
        _resume(clock, work, _status_reason(ticket))


def _sync_next_response(ticket: Ticket, agreement: Agreement, target: Target | None,
                        clock: Clock | None, desired: ClockState, work: _Work,
                        cause: dict[str, Any]) -> None:
    """Runs from each message of the requester (after the first response) to the desk's next
    public reply; one cycle per wait."""
    if clock is not None and clock.state != ClockState.STOPPED:
        _move(ticket, agreement, target, clock, desired, work, cause)
        return
    if cause.get("reply") == "requester" and ticket.first_response_at is not None and \
            target is not None and desired != ClockState.STOPPED:
        cycle = clock.cycle + 1 if clock is not None else 1
        new = _new_clock(ticket, agreement, target, Metric.NEXT_RESPONSE, cycle, work,
                         {"reply": "requester"})
        if desired == ClockState.PAUSED:
            _pause(new, work, _status_reason(ticket))


def _sync_internal(ticket: Ticket, agreement: Agreement, clock: Clock | None,
                   work: _Work) -> None:
    """An OLA or underpinning contract measures the team's resolution of the ticket."""
    target = target_for(agreement, Metric.RESOLUTION, ticket.priority, ticket.type)
    desired = _desired(ticket, Metric.RESOLUTION, {})
    if agreement.kind == AgreementKind.UC and ticket.status == Status.WAITING_VENDOR:
        # Waiting for the vendor pauses the customer's clock and is exactly the vendor's time.
        desired = ClockState.RUNNING
    if clock is None or (clock.state == ClockState.STOPPED and clock.outcome == \
            Outcome.HANDED_OVER):
        if target is None or desired == ClockState.STOPPED:
            return
        cycle = clock.cycle + 1 if clock is not None else 1
        new = _new_clock(ticket, agreement, target, Metric.RESOLUTION, cycle, work,
                         {"team": ticket.team_id})
        if desired == ClockState.PAUSED:
            _pause(new, work, _status_reason(ticket))
        return
    _move(ticket, agreement, target, clock, desired, work, {})


def _retarget(ticket: Ticket, clock: Clock, agreement: Agreement, work: _Work) -> None:
    if clock.priority == ticket.priority and clock.ticket_type == ticket.type and \
            clock.calendar_id == (agreement.calendar_id if clock.calendar_id else None):
        target = target_for(agreement, clock.metric, ticket.priority, ticket.type)
        if target is None or target.seconds == clock.target_seconds:
            return
    target = target_for(agreement, clock.metric, ticket.priority, ticket.type)
    if target is None:
        return
    old_priority, old_seconds = clock.priority, clock.target_seconds
    clock.priority, clock.ticket_type = ticket.priority, ticket.type
    clock.target_seconds = target.seconds
    clock.calendar = agreement.calendar if target.business_hours else None
    fields: tuple[str, ...] = ("priority", "ticket_type", "target_seconds", "calendar")
    if agreement.retarget_policy == RetargetPolicy.RESTART and clock.pk is not None:
        clock.elapsed_us = 0
        clock.fired_percent = 0
        clock.started_at = work.now
        if clock.state == ClockState.RUNNING:
            clock.running_since = work.now
        work.touch(clock, *fields, "elapsed_us", "fired_percent", "started_at", "running_since")
        work.event(clock, SlaEventKind.RESTARTED, priority=[old_priority, ticket.priority],
                   target=[old_seconds, target.seconds])
        # Thresholds fired for the old target may fire again for the new one.
        Firing.objects.filter(clock=clock).delete()
        return
    if clock.state == ClockState.RUNNING and clock.running_since is not None:
        # Bank the time so far under the old calendar before switching.
        clock.elapsed_us = elapsed_us(clock, work.now) if clock.pk else clock.elapsed_us
        clock.running_since = work.now
        fields = (*fields, "elapsed_us", "running_since")
    work.touch(clock, *fields)
    if old_seconds != target.seconds or old_priority != ticket.priority:
        work.event(clock, SlaEventKind.RETARGETED, priority=[old_priority, ticket.priority],
                   target=[old_seconds, target.seconds])


# --- the scan -------------------------------------------------------------------------------------


def _claim(now: datetime, batch: int) -> list[Clock]:
    qs = (Clock.objects.filter(next_check_at__lte=now).select_related("calendar")
          .order_by("next_check_at"))
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    else:
        qs = qs.select_for_update()
    return list(qs[:batch])


def scan(*, now: datetime | None = None, batch: int = 1000, run_actions: bool = True) -> int:
    """Fire every threshold that has been reached; returns how many fired.

    ``run_actions=False`` records the firings as done without notifying anyone or changing
    tickets (demo data and back-fills)."""
    from opora.tickets.choices import Channel, EventKind
    from opora.tickets.models import TicketEvent

    now = now or timezone.now()
    fired_total = 0
    while True:
        with transaction.atomic():
            clocks = _claim(now, batch)
            if not clocks:
                break
            agreement_ids = {c.agreement_id for c in clocks}
            thresholds: dict[int, list[Threshold]] = {}
            for threshold in Threshold.objects.filter(agreement_id__in=agreement_ids):
                thresholds.setdefault(threshold.agreement_id, []).append(threshold)
            firings: list[Firing] = []
            events: list[SlaEvent] = []
            ticket_events: list[TicketEvent] = []
            for clock in clocks:
                plan = _with_breach(thresholds.get(clock.agreement_id, []), clock)
                if clock.state == ClockState.RUNNING:
                    used = elapsed_us(clock, now)
                    for threshold in plan:
                        if threshold.percent <= clock.fired_percent:
                            continue
                        need = clock.target_us * threshold.percent // 100
                        if used < need:
                            break
                        reached = instant_of(clock, need) or now
                        firings.append(Firing(
                            clock=clock, percent=threshold.percent, reached_at=reached,
                            fired_at=now, actions=list(threshold.actions or []),
                            done_at=None if run_actions else now,
                            result={} if run_actions else {"skipped": True}))
                        clock.fired_percent = threshold.percent
                        breach = threshold.percent >= BREACH_PERCENT
                        if breach and clock.breached_at is None:
                            clock.breached_at = reached
                        data = {"percent": threshold.percent, "metric": clock.metric,
                                "agreement": clock.agreement_id, "clock": clock.pk}
                        events.append(SlaEvent(
                            ticket_id=clock.ticket_id, clock=clock, at=reached, data=data,
                            kind=SlaEventKind.BREACHED if breach else SlaEventKind.THRESHOLD))
                        ticket_events.append(TicketEvent(
                            ticket_id=clock.ticket_id, actor=None, channel=Channel.SYSTEM,
                            kind=EventKind.SLA_BREACHED if breach else EventKind.SLA_WARNING,
                            is_public=False, data=data, created_at=now))
                _plan(clock, plan)
            Firing.objects.bulk_create(firings)
            SlaEvent.objects.bulk_create(events)
            TicketEvent.objects.bulk_create(ticket_events)
            _write_scanned(clocks)
            ids = [f.pk for f in firings if f.actions and f.pk is not None and run_actions]
            if ids:
                transaction.on_commit(lambda ids=ids: _enqueue_actions(ids))  # type: ignore[misc]
            fired_total += len(firings)
        if len(clocks) < batch:
            break
    return fired_total


def _write_scanned(clocks: Sequence[Clock]) -> None:
    """One parameterised UPDATE per clock, sent as a batch (psycopg pipelines ``executemany``):
    several times faster than ``bulk_update``'s CASE expressions for a thousand rows."""
    table = Clock._meta.db_table
    quote = connection.ops.quote_name
    columns = ("fired_percent", "breached_at", "next_check_at", "due_at")
    sql = (f"UPDATE {quote(table)} SET "  # noqa: S608 - names from the model, values bound
           + ", ".join(f"{quote(c)} = %s" for c in columns) + f" WHERE {quote('id')} = %s")
    field = {c: cast("Field[Any, Any]", Clock._meta.get_field(c)) for c in columns}
    rows = [
        [field[c].get_db_prep_value(getattr(clock, c), connection) for c in columns] + [clock.pk]
        for clock in clocks
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _with_breach(thresholds: Iterable[Threshold], clock: Clock) -> list[Threshold]:
    found = sorted(thresholds, key=lambda t: t.percent)
    if not any(t.percent == BREACH_PERCENT for t in found):
        found.append(Threshold(agreement_id=clock.agreement_id, percent=BREACH_PERCENT,
                               actions=[]))
        found.sort(key=lambda t: t.percent)
    return found


def _enqueue_actions(firing_ids: list[int]) -> None:
    from .tasks import run_threshold_actions

    for start in range(0, len(firing_ids), ACTIONS_PER_TASK):
        run_threshold_actions.enqueue(firing_ids[start:start + ACTIONS_PER_TASK])
