"""Reads of the service-level domain shared by the agent pages, the ticket API and exports.

- ``clocks_for_tickets``: the current clocks of many tickets in one query;
- ``badge`` / ``ticket_badge``: what a countdown badge shows (colour, "2h 15m", "−35m", "paused");
- ``breaching_soon_q`` and ``sla_q``: ticket filters for the "Breaching soon" queue and the
  ``sla=`` filter of the lists; ``due_subquery`` for sorting by the due instant;
- ``applied_agreement``: which customer agreement applies to a ticket and why;
- ``sla_timeline``: the per-ticket SLA timeline as sentences in the current language and zone.

Durations are business time of the clock's calendar. For clocks on business hours "1d" means one
business day of 8 business hours (``BUSINESS_DAY``); clocks around the clock show hours only, so a
"d" never means two different things.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from opora.accounts.models import Role
from opora.tickets.choices import (
    OPEN_STATUSES,
    STATUS_CLOCK,
    ClockCategory,
    EventKind,
    Priority,
    Status,
)

from . import engine
from .choices import BUSINESS_DAY, AgreementKind, ClockState, Metric, Outcome, SlaEventKind
from .models import Agreement, Clock, SlaEvent

if TYPE_CHECKING:
    from opora.accounts.models import User
    from opora.tickets.models import Ticket

US = 1_000_000
#: Share of the target used from which a badge turns amber, and red.
AMBER_PERCENT = 75
RED_PERCENT = 90
#: "Breaching soon": a running clock due within this time (or already overdue).
BREACHING_WITHIN = timedelta(hours=1)

_METRIC_ORDER: dict[str, int] = {Metric.FIRST_RESPONSE: 0, Metric.NEXT_RESPONSE: 1,
                                 Metric.RESOLUTION: 2}
_KIND_ORDER: dict[str, int] = {AgreementKind.SLA: 0, AgreementKind.OLA: 1, AgreementKind.UC: 2}


# --- who may choose --------------------------------------------------------------------------------

#: Roles that may set a ticket's agreement by hand (it changes what the desk promised).
AGREEMENT_CHOOSERS = frozenset({Role.TEAM_LEAD, Role.DESK_MANAGER, Role.ADMIN})


def can_choose_agreement(user: User) -> bool:
    """Team leads, desk managers and administrators may set a ticket's SLA explicitly."""
    return bool(user.is_authenticated and user.is_active
                and (user.role in AGREEMENT_CHOOSERS or user.is_superuser))


# --- clocks ----------------------------------------------------------------------------------------


def current_clocks() -> QuerySet[Clock]:
    """Clocks of the current cycle: the latest per ticket, agreement and metric (a reopened
    ticket under the "restart" policy, or a second wait for the desk's next response, starts a
    new cycle; the older ones are history)."""
    newer = Clock.objects.filter(
        ticket_id=OuterRef("ticket_id"), agreement_id=OuterRef("agreement_id"),
        metric=OuterRef("metric"), cycle__gt=OuterRef("cycle"),
    )
    return Clock.objects.filter(~Exists(newer))


def _display_order(clock: Clock) -> tuple[int, int, str]:
    return (_KIND_ORDER.get(clock.kind, 9), _METRIC_ORDER.get(clock.metric, 9),
            clock.agreement.name if clock.agreement_id else "")


def clocks_for_tickets(ticket_ids: Iterable[int]) -> dict[int, list[Clock]]:
    """The current clocks of each ticket (one query, none for no tickets), with what a badge and
    the SLA card read joined in: the agreement and the calendar. SLA first, then OLA and UC;
    within each, first response, next response, resolution."""
    ids = sorted(set(ticket_ids))
    found: dict[int, list[Clock]] = {pk: [] for pk in ids}
    if not ids:
        return found
    for clock in current_clocks().filter(ticket_id__in=ids).select_related(
            "agreement", "calendar"):
        found[clock.ticket_id].append(clock)
    for clocks in found.values():
        clocks.sort(key=_display_order)
    return found


def is_business(clock: Clock) -> bool:
    """Whether the clock counts a working calendar (else it runs around the clock)."""
    return clock.calendar_id is not None and not (clock.calendar and clock.calendar.is_24x7)


# --- durations -------------------------------------------------------------------------------------

MINUS = "\u2212"


def format_duration(seconds: int, *, business: bool = True) -> str:
    """``9000`` → "2h 15m", ``-2100`` → "−35m", business ``97200`` → "3d 3h" (a day = 8 business
    hours); around the clock days are not used ("30h"). The two largest units, rounded down."""
    sign = MINUS if seconds < 0 else ""
    minutes = abs(int(seconds)) // 60
    units: list[tuple[int, str]] = []
    if business:
        day = BUSINESS_DAY // 60
        units.append((minutes // day, pgettext("duration", "%(n)dd")))
        minutes %= day
    units.append((minutes // 60, pgettext("duration", "%(n)dh")))
    units.append((minutes % 60, pgettext("duration", "%(n)dm")))
    while len(units) > 1 and units[0][0] == 0:
        units.pop(0)
    shown = units[:2]
    if len(shown) == 2 and shown[1][0] == 0:
        shown = shown[:1]
    return sign + " ".join(template % {"n": n} for n, template in shown)


def duration_hint(business: bool) -> str:
    """The tooltip that says what the durations count."""
    if business:
        return _("Business time: 1d = 8 business hours")
    return _("Around the clock")


def local_time(at: datetime) -> str:
    """The time of day of an instant in the viewer's zone (``14:03``)."""
    return formats.time_format(timezone.localtime(at), "TIME_FORMAT")


def local_datetime(at: datetime) -> str:
    return formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")


# --- badges ----------------------------------------------------------------------------------------

OUTCOME_LABELS: dict[str, Any] = {
    Outcome.MET: gettext_lazy("met"),
    Outcome.BREACHED: gettext_lazy("breached"),
    Outcome.CANCELLED: gettext_lazy("not counted (cancelled)"),
    Outcome.HANDED_OVER: gettext_lazy("not counted (handed over)"),
}


def _outcome_label(outcome: str | None) -> str:
    label = OUTCOME_LABELS.get(outcome or "")
    return str(label) if label is not None else ""


@dataclass(frozen=True)
class Badge:
    """What a countdown badge shows for one clock at one instant."""

    clock: Clock
    now: datetime
    metric: str
    state: str
    used_us: int
    #: Share of the target used, in percent (may exceed 100).
    percent: float
    #: When a running clock reaches its target (already passed when overdue); else ``None``.
    due_at: datetime | None
    #: Business seconds left; negative: overdue by that much.
    remaining_seconds: int
    breached: bool
    #: "green" (< 75 % used), "amber" (≥ 75 %) or "red" (≥ 90 % or breached).
    colour: str
    business: bool

    @property
    def kind(self) -> str:
        return self.clock.kind

    @property
    def outcome(self) -> str:
        return self.clock.outcome

    @property
    def target_seconds(self) -> int:
        return self.clock.target_seconds

    @property
    def used_seconds(self) -> int:
        return self.used_us // US

    @property
    def is_running(self) -> bool:
        return self.state == ClockState.RUNNING

    @property
    def metric_label(self) -> str:
        return _label(Metric, self.metric)

    @property
    def subject(self) -> str:
        """The metric, e.g. "Resolution"; for internal agreements "Resolution (L2 OLA)"."""
        return _subject(self.clock)

    @property
    def label(self) -> str:
        """What is left ("2h 15m"), how late ("−35m"), "paused", or how a stopped clock
        ended ("met")."""
        if self.state == ClockState.RUNNING:
            return format_duration(self.remaining_seconds, business=self.business)
        if self.state == ClockState.PAUSED:
            return _("paused")
        return _outcome_label(self.clock.outcome) or _("stopped")

    @property
    def due_shown(self) -> datetime | None:
        """The due instant worth showing: a running clock's, unless it has passed (an overdue
        clock's stored ``due_at`` is when the scan should look at it, not the breach instant,
        which ``clock.breached_at`` tells once recorded)."""
        return self.due_at if self.remaining_seconds >= 0 else None

    @property
    def target_text(self) -> str:
        return format_duration(self.target_seconds, business=self.business)

    @property
    def used_text(self) -> str:
        return format_duration(self.used_seconds, business=self.business)

    @property
    def hint(self) -> str:
        return duration_hint(self.business)

    @property
    def title(self) -> str:
        """The tooltip: what the badge counts, in full."""
        values = {"subject": self.subject, "used": self.used_text, "target": self.target_text,
                  "left": format_duration(abs(self.remaining_seconds), business=self.business),
                  "hint": self.hint}
        if self.state == ClockState.RUNNING and self.remaining_seconds < 0:
            text = _("%(subject)s: overdue by %(left)s (target %(target)s)") % values
        elif self.state == ClockState.RUNNING:
            text = _("%(subject)s: %(left)s left of %(target)s") % values
        elif self.state == ClockState.PAUSED:
            text = _("%(subject)s: paused, %(used)s of %(target)s used") % values
        else:
            text = _("%(subject)s: stopped, %(used)s of %(target)s used") % values
        if self.due_shown is not None:
            text += " · " + _("due %(when)s") % {"when": local_datetime(self.due_shown)}
        return f"{text} · {values['hint']}"


def badge(clock: Clock, now: datetime) -> Badge:
    """The badge of one clock at ``now`` (reads no rows: the clock comes with its calendar)."""
    used = engine.elapsed_us(clock, now)
    target = clock.target_us
    percent = 100.0 * used / target if target else 0.0
    remaining_us = target - used
    remaining = remaining_us // US if remaining_us >= 0 else -((-remaining_us) // US)
    # As the engine: a recorded breach stays one (a later, longer target does not undo it).
    breached = clock.breached_at is not None or clock.outcome == Outcome.BREACHED or (
        clock.state != ClockState.STOPPED and target > 0 and used >= target)
    if breached or percent >= RED_PERCENT:
        colour = "red"
    elif percent >= AMBER_PERCENT:
        colour = "amber"
    else:
        colour = "green"
    return Badge(
        clock=clock, now=now, metric=clock.metric, state=clock.state, used_us=used,
        percent=percent, due_at=clock.due_at if clock.state == ClockState.RUNNING else None,
        remaining_seconds=remaining, breached=breached, colour=colour,
        business=is_business(clock),
    )


def _urgency(b: Badge) -> tuple[int, float, float]:
    """Sort key: running before paused before stopped; the earliest due, the most used."""
    rank = {ClockState.RUNNING: 0, ClockState.PAUSED: 1}.get(ClockState(b.state), 2)
    due = b.due_at.timestamp() if b.due_at is not None else float("inf")
    return (rank, due if rank == 0 else 0.0, -b.percent if not b.breached else -1e12)


def ticket_badge(clocks: Sequence[Clock], now: datetime) -> Badge | None:
    """The headline of a ticket: its most urgent running clock (the earliest due), else the
    paused clock that used most of its target, else the stopped one (a breach first)."""
    if not clocks:
        return None
    return min((badge(c, now) for c in clocks), key=_urgency)


def ticket_sla_state(clocks: Sequence[Clock], now: datetime) -> str | None:
    """Compact state of a ticket's clocks for lists: "breached" when one of the current clocks
    breached its target, else the headline clock's state; ``None`` without clocks."""
    if not clocks:
        return None
    badges = [badge(c, now) for c in clocks]
    if any(b.breached for b in badges):
        return "breached"
    return min(badges, key=_urgency).state


def expected_answer_by(ticket: Ticket, now: datetime) -> datetime | None:
    """For the requester: when the desk's first answer is due, while it is awaited and not yet
    late (a late one shows nothing rather than a time in the past). No query unless the ticket
    is still waiting for its first answer."""
    if ticket.first_response_at is not None or \
            STATUS_CLOCK.get(Status(ticket.status)) != ClockCategory.RUNNING:
        return None
    return (Clock.objects.filter(ticket_id=ticket.pk, kind=AgreementKind.SLA,
                                 metric=Metric.FIRST_RESPONSE, state=ClockState.RUNNING,
                                 due_at__gt=now)
            .order_by("-cycle").values_list("due_at", flat=True).first())


# --- ticket filters --------------------------------------------------------------------------------


def due_subquery() -> Subquery:
    """The earliest due instant of the ticket's running clocks (``NULL`` when none runs)."""
    return Subquery(
        Clock.objects.filter(ticket_id=OuterRef("pk"), state=ClockState.RUNNING,
                             due_at__isnull=False)
        .order_by("due_at").values("due_at")[:1]
    )


def breaching_soon_q(now: datetime, within: timedelta = BREACHING_WITHIN) -> Q:
    """Open tickets with a running clock that is overdue, due within ``within``, or past the
    amber threshold (``fired_percent`` ≥ 75). The sub-select reads running clocks by the
    partial ``due_at`` index, so it stays small however many tickets there are."""
    clocks = Clock.objects.filter(state=ClockState.RUNNING, due_at__isnull=False).filter(
        Q(due_at__lte=now + within) | Q(fired_percent__gte=AMBER_PERCENT))
    return Q(status__in=OPEN_STATUSES) & Q(pk__in=clocks.values("ticket_id"))


class SlaFilter:
    """Values of the ``sla=`` filter of ticket lists (pages and API)."""

    BREACHED = "breached"
    BREACHING = "breaching"
    RUNNING = "running"
    PAUSED = "paused"

    choices = [
        (BREACHED, pgettext_lazy("sla filter", "Breached")),
        (BREACHING, pgettext_lazy("sla filter", "Breaching soon")),
        (RUNNING, pgettext_lazy("sla filter", "Running")),
        (PAUSED, pgettext_lazy("sla filter", "Paused")),
    ]


def sla_q(value: str, now: datetime) -> Q:
    """Tickets whose clocks are in the state ``value`` (one of ``SlaFilter``):

    - breached: a clock breached its target (recorded by the scan or at the stop, or a running
      clock already past its due instant the scan has not reached yet);
    - breaching: as the "Breaching soon" queue;
    - running / paused: a clock of the ticket runs / is paused.
    """
    if value == SlaFilter.BREACHING:
        return breaching_soon_q(now)
    mine = Clock.objects.filter(ticket_id=OuterRef("pk"))
    if value == SlaFilter.BREACHED:
        return Q(Exists(mine.filter(
            Q(breached_at__isnull=False) | Q(outcome=Outcome.BREACHED)
            | Q(state=ClockState.RUNNING, due_at__lte=now))))
    if value == SlaFilter.RUNNING:
        return Q(Exists(mine.filter(state=ClockState.RUNNING)))
    if value == SlaFilter.PAUSED:
        return Q(Exists(mine.filter(state=ClockState.PAUSED)))
    raise ValueError(value)


# --- which agreement and why -----------------------------------------------------------------------


class Reason:
    EXPLICIT = "explicit"
    ORGANISATION_SERVICE = "organisation_service"
    ORGANISATION = "organisation"
    RULE = "rule"
    DEFAULT = "default"

    labels = {
        EXPLICIT: gettext_lazy("set on the ticket"),
        ORGANISATION_SERVICE: gettext_lazy("contract of the organisation for the service"),
        ORGANISATION: gettext_lazy("contract of the organisation"),
        RULE: gettext_lazy("matching rule"),
        DEFAULT: gettext_lazy("default agreement"),
    }


@dataclass(frozen=True)
class Applied:
    """The customer agreement in force for a ticket, why, and the team's internal ones."""

    agreement: Agreement | None
    reason: str
    internal: list[Agreement]

    @property
    def reason_label(self) -> str:
        return str(Reason.labels.get(self.reason, "")) if self.agreement else ""


def active_agreement_rows() -> list[Agreement]:
    """Active agreements in rule order, without targets (one query): enough to tell which
    applies, and the choices of the explicit-agreement control."""
    return list(Agreement.objects.filter(is_active=True).order_by("order", "id"))


def applied_agreement(ticket: Ticket, agreements: Sequence[Agreement] | None = None) -> Applied:
    """Which SLA applies to ``ticket`` — by the engine's own rule — and why."""
    if agreements is None:
        agreements = active_agreement_rows()
    found = engine.applicable(ticket, agreements)
    chosen = found.sla
    if chosen is None:
        return Applied(None, "", found.internal)
    if ticket.sla_agreement_id and chosen.pk == ticket.sla_agreement_id:
        reason = Reason.EXPLICIT
    elif chosen.organisation_id and chosen.organisation_id == ticket.organisation_id:
        reason = Reason.ORGANISATION_SERVICE if chosen.service_id else Reason.ORGANISATION
    elif chosen.is_default:
        reason = Reason.DEFAULT
    else:
        reason = Reason.RULE
    return Applied(chosen, reason, found.internal)


# --- the SLA timeline ------------------------------------------------------------------------------


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _subject(clock: Clock) -> str:
    metric = _label(Metric, clock.metric)
    if clock.kind == AgreementKind.SLA:
        return metric
    return _("%(metric)s (%(agreement)s)") % {"metric": metric,
                                               "agreement": clock.agreement.name}


def _pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list | tuple) and len(value) >= 2:
        return value[0], value[1]
    return None, value


@dataclass
class Entry:
    """One line of the SLA timeline."""

    event: SlaEvent
    text: str
    #: "danger" (breach), "warning" (threshold), "success" (met), "" otherwise.
    tone: str = ""

    @property
    def at(self) -> datetime:
        return self.event.at

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def metric(self) -> str:
        return self.event.clock.metric

    @cached_property
    def kind_label(self) -> str:
        return _label(SlaEventKind, self.event.kind)


def describe(event: SlaEvent) -> tuple[str, str]:
    """The sentence and tone of one SLA event, in the active language and time zone."""
    clock = event.clock
    data = event.data or {}
    business = is_business(clock)

    def span(seconds: Any) -> str:
        try:
            return format_duration(int(seconds), business=business)
        except (TypeError, ValueError):
            return "—"

    values: dict[str, Any] = {"subject": _subject(clock), "time": local_time(event.at)}
    kind = event.kind
    if kind == SlaEventKind.STARTED:
        values["target"] = span(data.get("target", clock.target_seconds))
        if data.get("reopened"):
            return _("%(subject)s: started again, the ticket was reopened — target "
                     "%(target)s") % values, ""
        if data.get("reply") == "requester":
            return _("%(subject)s: started — the requester wrote, target %(target)s") % values, ""
        if "team" in data and clock.kind != AgreementKind.SLA:
            values["team"] = clock.team.name if clock.team else "—"
            return _("%(subject)s: started — the ticket came to %(team)s, target "
                     "%(target)s") % values, ""
        return _("%(subject)s: started — target %(target)s") % values, ""
    if kind == SlaEventKind.PAUSED:
        values["status"] = _label(Status, data.get("status"))
        return _("%(subject)s: paused %(time)s — status: %(status)s") % values, ""
    if kind == SlaEventKind.RESUMED:
        if data.get("reopened"):
            return _("%(subject)s: resumed %(time)s — the ticket was reopened") % values, ""
        if data.get("status"):
            values["status"] = _label(Status, data.get("status"))
            return _("%(subject)s: resumed %(time)s — status: %(status)s") % values, ""
        return _("%(subject)s: resumed %(time)s") % values, ""
    if kind == SlaEventKind.STOPPED:
        outcome = str(data.get("outcome") or "")
        values["outcome"] = _outcome_label(outcome) or "—"
        values["used"] = span(data.get("used", 0))
        values["target"] = span(clock.target_seconds)
        tone = {Outcome.MET.value: "success", Outcome.BREACHED.value: "danger"}.get(outcome, "")
        return _("%(subject)s: stopped — %(outcome)s, %(used)s of %(target)s used") % values, tone
    if kind in (SlaEventKind.RETARGETED, SlaEventKind.RESTARTED):
        if "agreement" in data:
            old, new = _pair(data["agreement"])
            values.update(old=old if old is not None else "—", new=new)
            return _("%(subject)s: agreement changed — %(old)s → %(new)s") % values, ""
        old_target, new_target = _pair(data.get("target"))
        old_priority, new_priority = _pair(data.get("priority"))
        values.update(old_target=span(old_target), new_target=span(new_target),
                      old_priority=_label(Priority, old_priority),
                      new_priority=_label(Priority, new_priority))
        if kind == SlaEventKind.RESTARTED:
            return _("%(subject)s: restarted — priority %(old_priority)s → %(new_priority)s, "
                     "%(old_target)s → %(new_target)s") % values, "warning"
        if old_priority is not None and old_priority != new_priority:
            return _("%(subject)s: target changed — priority %(old_priority)s → "
                     "%(new_priority)s, %(old_target)s → %(new_target)s") % values, ""
        return _("%(subject)s: target changed — %(old_target)s → %(new_target)s") % values, ""
    if kind == SlaEventKind.THRESHOLD:
        values["percent"] = data.get("percent", "?")
        return _("%(subject)s: %(percent)s %% of the target used") % values, "warning"
    if kind == SlaEventKind.BREACHED:
        return _("%(subject)s: breached") % values, "danger"
    return f"{values['subject']}: {_label(SlaEventKind, kind)}", ""


def sla_timeline(ticket: Ticket) -> list[Entry]:
    """Every SLA event of the ticket, oldest first, as sentences (one query)."""
    events = (SlaEvent.objects.filter(ticket_id=ticket.pk)
              .select_related("clock__agreement", "clock__calendar", "clock__team")
              .order_by("at", "id"))
    entries = []
    for event in events:
        text, tone = describe(event)
        entries.append(Entry(event=event, text=text, tone=tone))
    return entries


# --- the ticket timeline's SLA entries -------------------------------------------------------------

_WARNING_TEXT: dict[str, Any] = {
    Metric.FIRST_RESPONSE: gettext_lazy("SLA warning: %(percent)s %% of the first response "
                                        "target used"),
    Metric.NEXT_RESPONSE: gettext_lazy("SLA warning: %(percent)s %% of the next response "
                                       "target used"),
    Metric.RESOLUTION: gettext_lazy("SLA warning: %(percent)s %% of the resolution target used"),
}
_BREACH_TEXT: dict[str, Any] = {
    Metric.FIRST_RESPONSE: gettext_lazy("SLA breached: the first response target was missed"),
    Metric.NEXT_RESPONSE: gettext_lazy("SLA breached: the next response target was missed"),
    Metric.RESOLUTION: gettext_lazy("SLA breached: the resolution target was missed"),
}


def ticket_event_text(kind: str, data: dict[str, Any]) -> str:
    """The sentence of an ``SLA_WARNING`` / ``SLA_BREACHED`` ticket event (``kind`` is
    "sla_warning" or "sla_breached"; ``data`` holds ``metric`` and ``percent``)."""
    metric = str(data.get("metric") or "")
    if kind == EventKind.SLA_BREACHED:
        template = _BREACH_TEXT.get(metric)
        return str(template) if template is not None else _("SLA breached")
    template = _WARNING_TEXT.get(metric)
    if template is None:
        return _("SLA warning")
    return str(template) % {"percent": data.get("percent", "?")}
