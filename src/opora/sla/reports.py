"""Service-level reports: compliance, percentiles, breached clocks and contract penalties.

Pure reads shared by the page (``agent/sla_reports.py``), the API (``sla/report_api.py``) and the
exports (``sla/exports.py``). One filter definition (``ReportFilterForm`` → ``ReportFilters``)
serves all three; who may see what is decided once, in ``report_scope``.

What is counted
    A clock counts once it has an outcome: **met** (stopped within its target) or **breached**
    (stopped over it, or still running/paused with ``breached_at`` set — an overdue open ticket is
    already a breach). Clocks still pending and not breached, and clocks that ended as
    *cancelled* or *handed over*, are not counted. Compliance % = met / (met + breached).

Month
    A clock belongs to the month of its ``started_at`` in ``settings.TIME_ZONE`` (Europe/Moscow
    by default): a ticket opened at 01:00 Moscow time on 1 February is February's, although it is
    still 31 January in UTC. The month range of the filters is inclusive at both ends.

Team
    For a customer SLA clock the team is the ticket's current team (the team holding or having
    resolved it); for an OLA or underpinning-contract clock it is the team whose stay that clock
    measured. Team leads see the rows of the teams they belong to, and nothing else.

Percentiles
    Business time used (``elapsed_us``) of stopped clocks that met or breached, at the requested
    percentiles, interpolated linearly between the closest ranks (the definition of
    PostgreSQL's ``percentile_cont``). On PostgreSQL the database computes them with
    ``percentile_cont(…) WITHIN GROUP (ORDER BY elapsed_us)`` grouped by metric and priority; on
    other engines (SQLite) the sorted values are fetched with ``values_list`` and interpolated here
    the same way, which is fine up to about a million rows.

Penalties (per SLA agreement with a penalty rule, per month)
    Counted per *ticket*: a ticket is counted in a month when one of its clocks under the
    agreement that started in that month met or breached, and it is a breach when one of those
    clocks breached. Compliance = (tickets − breached tickets) / tickets × 100.

    - per breach: ``fee × penalty % / 100 × breached tickets``;
    - per percentage point: ``fee × penalty % / 100 × max(0, target − compliance)``, the points
      below target fractional (97.5 % against a 99 % target is 1.5 points);
    - either is capped at ``fee × cap % / 100``.

    Worked with exact fractions and rounded once, to 0.01 half up. A month without counted tickets
    has no compliance and no penalty.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    BigIntegerField,
    Case,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opora.accounts import team_actions
from opora.accounts.models import Organisation, Team, TeamMembership
from opora.tickets.choices import Priority

from .choices import AgreementKind, ClockState, Metric, Outcome, PenaltyKind
from .engine import elapsed_us
from .models import Agreement, Clock

US = 1_000_000
CENT = Decimal("0.01")
DEFAULT_QUANTILES: tuple[int, ...] = (50, 90, 95)
#: The longest month range a report accepts (ten years).
MAX_MONTHS = 120

#: A clock that met its target.
MET_Q = Q(outcome=Outcome.MET)
#: A clock that breached: stopped as breached, or still open and already past its target.
BREACHED_Q = Q(outcome=Outcome.BREACHED) | Q(outcome=Outcome.PENDING, breached_at__isnull=False)
COUNTED_Q = MET_Q | BREACHED_Q

#: The team a clock is reported under (see the module docstring).
REPORT_TEAM = Case(When(kind=AgreementKind.SLA, then=F("ticket__team_id")),
                   default=F("team_id"), output_field=BigIntegerField())
REPORT_TEAM_NAME = Case(When(kind=AgreementKind.SLA, then=F("ticket__team__name")),
                        default=F("team__name"))


def report_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


# --- who sees what --------------------------------------------------------------------------------


def report_scope(user: Any) -> frozenset[int] | None:
    """The teams whose rows ``user`` may read; ``None`` means everything.

    Desk managers and administrators see everything, team leads the teams they belong to;
    everyone else (agents, organisation managers, requesters) is refused.
    """
    if team_actions.is_desk_manager(user):
        return None
    if team_actions.is_team_lead(user):
        return frozenset(TeamMembership.objects.filter(user_id=user.pk)
                         .values_list("team_id", flat=True))
    raise PermissionDenied(gettext(
        "Only service desk managers, administrators and team leads may read SLA reports."))


def can_see_penalties(user: Any) -> bool:
    """Contract money is for desk managers and administrators only."""
    return team_actions.is_desk_manager(user)


# --- filters --------------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last`` inclusive (first days of months)."""
    months = []
    current = month_start(first)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def current_month(now: datetime | None = None) -> date:
    return month_start(timezone.localtime(now or timezone.now(), report_zone()).date())


GROUPS = ("month", "metric", "priority", "team", "organisation")
GROUP_LABELS = {
    "metric": _("Metric"), "priority": _("Priority"), "team": _("Team"),
    "organisation": _("Organisation"), "month": _("Month"),
}
DEFAULT_GROUPS = ("metric", "priority")


@dataclass(frozen=True)
class ReportFilters:
    """What a report covers. ``teams`` is the reader's scope (``None``: every team)."""

    month_from: date
    month_to: date
    organisation_id: int | None = None
    team_id: int | None = None
    priority: int | None = None
    metric: str | None = None
    kind: str | None = AgreementKind.SLA
    agreement_id: int | None = None
    teams: frozenset[int] | None = None
    group_by: tuple[str, ...] = DEFAULT_GROUPS

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants [start, end) of the month range, in the report's time zone."""
        zone = report_zone()
        start = datetime.combine(month_start(self.month_from), time(), zone)
        end = datetime.combine(add_months(month_start(self.month_to), 1), time(), zone)
        return start, end

    @property
    def months(self) -> list[date]:
        return months_between(self.month_from, self.month_to)


MONTH_WIDGET = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
ALL_KINDS = "all"


class ReportFilterForm(forms.Form):
    """The filters of every SLA report, read from a query string (page, API and export alike).

    Months are ``YYYY-MM``; without them the report covers the current month and the two before.
    Without a kind only customer SLAs are counted (mixing in internal agreements would count a
    ticket twice); ``kind=all`` counts every kind; an agreement brings its own kind.
    """

    month_from = forms.DateField(label=_("From month"), required=False, input_formats=["%Y-%m"],
                                 widget=MONTH_WIDGET)
    month_to = forms.DateField(label=_("To month"), required=False, input_formats=["%Y-%m"],
                               widget=MONTH_WIDGET)
    organisation = forms.ModelChoiceField(label=_("Organisation"), required=False,
                                          queryset=Organisation.objects.order_by("name"),
                                          empty_label=_("All organisations"))
    team = forms.ModelChoiceField(label=_("Team"), required=False, queryset=Team.objects.none(),
                                  empty_label=_("All teams"))
    priority = forms.TypedChoiceField(label=_("Priority"), required=False, coerce=int,
                                      empty_value=None,
                                      choices=[("", _("All priorities")), *Priority.choices])
    metric = forms.ChoiceField(label=_("Metric"), required=False,
                               choices=[("", _("All metrics")), *Metric.choices])
    kind = forms.ChoiceField(label=_("Agreement kind"), required=False, choices=[
        ("", _("Customer SLA (default)")), (ALL_KINDS, _("All kinds")), *AgreementKind.choices])
    agreement = forms.ModelChoiceField(label=_("Agreement"), required=False,
                                       queryset=Agreement.objects.order_by("kind", "name"),
                                       empty_label=_("All agreements"))
    group = forms.MultipleChoiceField(label=_("Group by"), required=False,
                                      choices=[(g, GROUP_LABELS[g]) for g in GROUPS],
                                      widget=forms.CheckboxSelectMultiple)

    def __init__(self, data: Any = None, *, scope: frozenset[int] | None = None,
                 now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.scope = scope
        self.now = now
        teams = Team.objects.order_by("name")
        if scope is not None:
            teams = teams.filter(pk__in=scope)
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        for name, form_field in self.fields.items():
            widget = form_field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = css
            widget.attrs.setdefault("id", f"id_{name}")

    def clean_month_from(self) -> date | None:
        return self._month("month_from")

    def clean_month_to(self) -> date | None:
        return self._month("month_to")

    def _month(self, name: str) -> date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not 2000 <= value.year <= 2100:
            raise forms.ValidationError(gettext("Choose a month between 2000 and 2100."),
                                        code="out_of_range")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "month_from" in self.errors or "month_to" in self.errors:
            return data
        last = data.get("month_to") or current_month(self.now)
        first = data.get("month_from") or add_months(month_start(last), -2)
        if first > last:
            self.add_error("month_from", gettext("The first month comes after the last."))
        elif len(months_between(first, last)) > MAX_MONTHS:
            self.add_error("month_from", gettext("A report covers at most %(n)d months.")
                           % {"n": MAX_MONTHS})
        data["month_from"], data["month_to"] = month_start(first), month_start(last)
        return data

    def filters(self) -> ReportFilters:
        """The filters of a valid form."""
        data = self.cleaned_data
        agreement: Agreement | None = data.get("agreement")
        kind: str | None = data.get("kind") or (agreement.kind if agreement else AgreementKind.SLA)
        if kind == ALL_KINDS:
            kind = None
        groups = tuple(g for g in GROUPS if g in (data.get("group") or ())) or DEFAULT_GROUPS
        organisation = data.get("organisation")
        team = data.get("team")
        return ReportFilters(
            month_from=data["month_from"], month_to=data["month_to"],
            organisation_id=organisation.pk if organisation else None,
            team_id=team.pk if team else None, priority=data.get("priority"),
            metric=data.get("metric") or None, kind=kind,
            agreement_id=agreement.pk if agreement else None, teams=self.scope, group_by=groups,
        )


def filters_from(params: Any, user: Any, *, now: datetime | None = None) -> ReportFilterForm:
    """A bound filter form for ``user`` (``report_scope`` refuses who may not read reports)."""
    return ReportFilterForm(params, scope=report_scope(user), now=now)


def clocks(filters: ReportFilters) -> QuerySet[Clock]:
    """The clocks a report covers (counted or not): the month range, the filters and the scope."""
    start, end = filters.bounds()
    qs = Clock.objects.filter(started_at__gte=start, started_at__lt=end)
    if filters.metric:
        qs = qs.filter(metric=filters.metric)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.agreement_id:
        qs = qs.filter(agreement_id=filters.agreement_id)
    if filters.organisation_id:
        qs = qs.filter(ticket__organisation_id=filters.organisation_id)
    if filters.team_id is not None or filters.teams is not None:
        qs = qs.annotate(report_team=REPORT_TEAM)
        if filters.team_id is not None:
            qs = qs.filter(report_team=filters.team_id)
        if filters.teams is not None:
            qs = qs.filter(report_team__in=sorted(filters.teams))
    return qs


#: PostgreSQL memory for the sorts and hashes of one report query (``SET LOCAL work_mem``; the
#: server's own setting is kept when it is larger). The planner cannot tell that a year of clocks
#: falls into 12 months — it expects about as many groups as rows — so with the default 4 MB it
#: sorts a million rows on disk instead of hashing them into a few dozen groups (1.0 s against
#: 0.45 s at a million clocks, bench/sla_reports.py). ``None`` leaves the server's setting.
REPORT_WORK_MEM: str | None = "64MB"


@contextmanager
def sort_memory() -> Iterator[None]:
    """Run the enclosed report query with ``REPORT_WORK_MEM`` (PostgreSQL only; one query)."""
    if connection.vendor != "postgresql" or not REPORT_WORK_MEM:
        yield
        return
    # Inside a transaction already (a test, an atomic request) the setting ends with it; else
    # the report query gets a transaction of its own for the setting to end with.
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('work_mem', %s, true) WHERE "
                "pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(%s)",
                [REPORT_WORK_MEM, REPORT_WORK_MEM])
        yield


def percent(part: int, whole: int) -> Decimal | None:
    """``part / whole`` in per cent, rounded to 0.01 half up; ``None`` without a whole."""
    if not whole:
        return None
    return _round(Fraction(part * 100, whole))


def _round(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        CENT, rounding=ROUND_HALF_UP)


# --- compliance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    id: int
    name: str


@dataclass(frozen=True)
class ComplianceRow:
    """One group of the compliance table; the keys not grouped by are ``None``."""

    metric: str | None
    priority: int | None
    team: Named | None
    organisation: Named | None
    month: date | None
    met: int
    breached: int

    @property
    def total(self) -> int:
        return self.met + self.breached

    @property
    def compliance(self) -> Decimal | None:
        return percent(self.met, self.total)

    @property
    def metric_label(self) -> str:
        return str(Metric(self.metric).label) if self.metric else ""

    @property
    def priority_label(self) -> str:
        return str(Priority(self.priority).label) if self.priority else ""


def _names(model: type[Team] | type[Organisation], ids: Iterable[int | None]) -> dict[int, Named]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {pk: Named(pk, name) for pk, name in
            model.objects.filter(pk__in=wanted).values_list("pk", "name")}


def compliance(filters: ReportFilters) -> list[ComplianceRow]:
    """Met and breached clocks grouped by ``filters.group_by``, counted in one SQL query (plus one
    for the names of the teams and one for the organisations when grouped by them)."""
    keys: list[str] = []
    qs = clocks(filters).filter(COUNTED_Q)
    for group in filters.group_by:
        if group == "metric":
            keys.append("metric")
        elif group == "priority":
            keys.append("priority")
        elif group == "team":
            if "report_team" not in qs.query.annotations:
                qs = qs.annotate(report_team=REPORT_TEAM)
            keys.append("report_team")
        elif group == "organisation":
            qs = qs.annotate(report_org=F("ticket__organisation_id"))
            keys.append("report_org")
        elif group == "month":
            qs = qs.annotate(report_month=TruncMonth("started_at", tzinfo=report_zone()))
            keys.append("report_month")
    counted = qs.values(*keys).annotate(met=Count("pk", filter=MET_Q),
                                        breached=Count("pk", filter=BREACHED_Q))
    with sort_memory():
        raw = list(counted.order_by(*keys)) if keys else [counted.aggregate(
            met=Count("pk", filter=MET_Q), breached=Count("pk", filter=BREACHED_Q))]
    teams = _names(Team, (r.get("report_team") for r in raw))
    orgs = _names(Organisation, (r.get("report_org") for r in raw))
    rows = []
    for r in raw:
        month = r.get("report_month")
        if isinstance(month, datetime):
            month = timezone.localtime(month, report_zone()).date() if timezone.is_aware(
                month) else month.date()
        team = r.get("report_team")
        org = r.get("report_org")
        rows.append(ComplianceRow(
            metric=r.get("metric"), priority=r.get("priority"),
            team=teams.get(team) if team is not None else None,
            organisation=orgs.get(org) if org is not None else None,
            month=month, met=r["met"] or 0, breached=r["breached"] or 0))
    if not keys and rows and rows[0].total == 0:
        return []
    rows.sort(key=_compliance_order)
    return rows


def _compliance_order(row: ComplianceRow) -> tuple[Any, ...]:
    return (row.month or date.min, Metric.values.index(row.metric) if row.metric else -1,
            row.priority or 0, row.team.name if row.team else "",
            row.organisation.name if row.organisation else "")


def compliance_total(rows: Sequence[ComplianceRow]) -> ComplianceRow:
    """The sum of the rows (every key ``None``)."""
    return ComplianceRow(None, None, None, None, None, sum(r.met for r in rows),
                         sum(r.breached for r in rows))


# --- percentiles ----------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate
    ``percentile_cont(fraction) WITHIN GROUP (ORDER BY x)``."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        # A float formatted here, never text from outside: the quantiles are validated ints.
        super().__init__(expression, fraction=f"{float(fraction):.6f}", **extra)


@dataclass
class PercentileRow:
    """Business time used by the finished clocks of one metric and priority."""

    metric: str
    priority: int
    count: int
    within_target: int
    #: percentile → seconds of business time
    values: dict[int, float] = field(default_factory=dict)
    target_min: int = 0
    target_max: int = 0

    @property
    def within_percent(self) -> Decimal | None:
        """The share of clocks that finished within their target ("N % achieved")."""
        return percent(self.within_target, self.count)

    @property
    def metric_label(self) -> str:
        return str(Metric(self.metric).label)

    @property
    def priority_label(self) -> str:
        return str(Priority(self.priority).label)


def interpolate(values: Sequence[int], q: float) -> float:
    """The ``q``-th percentile of sorted ``values``, linearly interpolated (percentile_cont)."""
    if not values:
        return math.nan
    position = (len(values) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(values[low])
    return values[low] + (values[high] - values[low]) * (position - low)


def _seconds(used_us: float | None) -> float:
    """Microseconds as seconds, rounded to the microsecond (the engines' float noise differs)."""
    return math.nan if used_us is None else round(used_us / US, 6)


def check_quantiles(q: Iterable[int]) -> tuple[int, ...]:
    found = tuple(sorted({int(x) for x in q}))
    if not found or any(not 0 < x < 100 for x in found):
        raise ValueError("percentiles must be between 1 and 99")
    return found


def percentile_table(filters: ReportFilters, q: Iterable[int] = DEFAULT_QUANTILES
                     ) -> list[PercentileRow]:
    """Percentiles of business time used per metric × priority (one query)."""
    quantiles = check_quantiles(q)
    qs = clocks(filters).filter(state=ClockState.STOPPED).filter(
        Q(outcome=Outcome.MET) | Q(outcome=Outcome.BREACHED))
    groups = qs.values("metric", "priority").order_by("metric", "priority")
    rows: list[PercentileRow] = []
    if connection.vendor == "postgresql":
        aggregates: dict[str, Any] = {
            "n": Count("pk"), "met": Count("pk", filter=MET_Q),
            "tmin": Min("target_seconds"), "tmax": Max("target_seconds"),
        }
        for x in quantiles:
            aggregates[f"p{x}"] = PercentileCont("elapsed_us", x / 100)
        for r in groups.annotate(**aggregates):
            rows.append(PercentileRow(
                r["metric"], r["priority"], r["n"], r["met"],
                {x: _seconds(r[f"p{x}"]) for x in quantiles}, r["tmin"], r["tmax"]))
    else:
        # The sorted values, one group after the other (values_list only).
        current: PercentileRow | None = None
        used: list[int] = []

        def close() -> None:
            if current is not None:
                current.values = {x: _seconds(interpolate(used, x)) for x in quantiles}
                rows.append(current)

        for metric, priority, value, outcome, target in qs.order_by(
                "metric", "priority", "elapsed_us").values_list(
                "metric", "priority", "elapsed_us", "outcome", "target_seconds").iterator(
                chunk_size=10_000):
            if current is None or (current.metric, current.priority) != (metric, priority):
                close()
                current = PercentileRow(metric, priority, 0, 0, {}, target, target)
                used = []
            current.count += 1
            current.within_target += outcome == Outcome.MET
            current.target_min = min(current.target_min, target)
            current.target_max = max(current.target_max, target)
            used.append(value)
        close()
    rows.sort(key=lambda r: (Metric.values.index(r.metric), r.priority))
    return rows


def percentiles(filters: ReportFilters, metric: str, priority: int,
                q: Iterable[int] = DEFAULT_QUANTILES) -> PercentileRow:
    """Business time used at the given percentiles for one metric and priority, and the share
    that finished within the target — e.g. "95 % of critical tickets answered within 12 min"."""
    narrowed = replace(filters, metric=metric, priority=priority)
    found = percentile_table(narrowed, q)
    if found:
        return found[0]
    return PercentileRow(metric, priority, 0, 0, dict.fromkeys(check_quantiles(q), math.nan))


# --- breached clocks ------------------------------------------------------------------------------

#: Sort keys of the breached list: column → ORDER BY terms (ties broken by the clock id).
BREACHED_SORTS: dict[str, tuple[str, ...]] = {
    "breached_at": ("breached_at",),
    "ticket": ("ticket_id", "metric"),
    "priority": ("priority", "breached_at"),
    "metric": ("metric", "breached_at"),
    "team": ("report_team_name", "breached_at"),
    "organisation": ("ticket__organisation__name", "breached_at"),
}
DEFAULT_BREACHED_SORT = "-breached_at"


def breached(filters: ReportFilters, ordering: str = DEFAULT_BREACHED_SORT) -> QuerySet[Clock]:
    """Breached clocks with their ticket, organisation and teams, in one query (page it).

    ``ordering`` is a key of ``BREACHED_SORTS``, ``-`` for descending. How late a clock is (the
    business time over its target) needs the clock's calendar for a clock still running: use
    ``late_seconds``. It is not a sort key for that reason.
    """
    key = ordering.lstrip("-")
    if key not in BREACHED_SORTS:
        key, ordering = DEFAULT_BREACHED_SORT.lstrip("-"), DEFAULT_BREACHED_SORT
    terms = list(BREACHED_SORTS[key])
    if ordering.startswith("-"):
        terms = [t[1:] if t.startswith("-") else f"-{t}" for t in terms]
    terms.append("-pk" if ordering.startswith("-") else "pk")
    return (clocks(filters).filter(BREACHED_Q)
            .select_related("ticket", "ticket__organisation", "ticket__team", "team",
                            "agreement", "calendar")
            .annotate(report_team_name=REPORT_TEAM_NAME)
            .order_by(*terms))


def report_team(clock: Clock) -> Team | None:
    """The team a clock is reported under (see the module docstring)."""
    return clock.ticket.team if clock.kind == AgreementKind.SLA else clock.team


def late_seconds(clock: Clock, now: datetime) -> float:
    """Business time over the target, in seconds (live for a clock still running)."""
    return max(0, elapsed_us(clock, now) - clock.target_us) / US


# --- penalties ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PenaltyRow:
    """One agreement in one month: what was counted and what the contract's rule costs."""

    agreement: Agreement
    month: date
    tickets: int
    breaches: int
    #: Exact compliance (``None`` without tickets); shown rounded by ``compliance``.
    exact: Fraction | None
    penalty: Decimal
    uncapped: Decimal
    cap: Decimal

    @property
    def compliance(self) -> Decimal | None:
        return _round(self.exact) if self.exact is not None else None

    @property
    def target(self) -> Decimal:
        return self.agreement.compliance_target

    @property
    def fee(self) -> Decimal:
        return self.agreement.monthly_fee

    @property
    def capped(self) -> bool:
        return self.uncapped > self.cap

    @property
    def points_below(self) -> Decimal:
        if self.exact is None:
            return Decimal("0.00")
        return _round(max(Fraction(0), _fraction(self.target) - self.exact))


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)


def penalty_amount(agreement: Agreement, tickets: int, breaches: int
                   ) -> tuple[Decimal, Decimal, Decimal, Fraction | None]:
    """(penalty, uncapped penalty, cap, exact compliance) under the agreement's rule."""
    fee = _fraction(agreement.monthly_fee)
    rate = _fraction(agreement.penalty_percent) / 100
    cap = fee * _fraction(agreement.penalty_cap_percent) / 100
    exact = Fraction((tickets - breaches) * 100, tickets) if tickets else None
    raw = Fraction(0)
    if agreement.penalty_kind == PenaltyKind.PER_BREACH:
        raw = fee * rate * breaches
    elif agreement.penalty_kind == PenaltyKind.PER_POINT and exact is not None:
        raw = fee * rate * max(Fraction(0), _fraction(agreement.compliance_target) - exact)
    return _round(min(raw, cap)), _round(raw), _round(cap), exact


def penalty_agreements(filters: ReportFilters | None = None) -> QuerySet[Agreement]:
    qs = Agreement.objects.filter(kind=AgreementKind.SLA).exclude(penalty_kind=PenaltyKind.NONE)
    if filters is not None:
        if filters.agreement_id:
            qs = qs.filter(pk=filters.agreement_id)
        if filters.organisation_id:
            qs = qs.filter(organisation_id=filters.organisation_id)
    return qs.select_related("organisation").order_by("name", "pk")


def penalties(month_from: date, month_to: date, *, filters: ReportFilters | None = None
              ) -> list[PenaltyRow]:
    """Per SLA agreement with a penalty rule, per month of the range: tickets, breached tickets,
    compliance and the penalty (see the module docstring for the formulas). Two queries.

    Of ``filters`` only the agreement and the organisation (of the agreement) apply: a penalty is
    the contract's, whoever worked the tickets.
    """
    agreements = list(penalty_agreements(filters))
    if not agreements:
        return []
    scope = ReportFilters(month_from=month_from, month_to=month_to, kind=AgreementKind.SLA)
    counted = (clocks(scope).filter(COUNTED_Q, agreement_id__in=[a.pk for a in agreements])
               .annotate(report_month=TruncMonth("started_at", tzinfo=report_zone()))
               .values("agreement_id", "report_month")
               .annotate(tickets=Count("ticket_id", distinct=True),
                         breaches=Count("ticket_id", distinct=True, filter=BREACHED_Q))
               .order_by("agreement_id", "report_month"))
    found: dict[tuple[int, date], tuple[int, int]] = {}
    with sort_memory():
        grouped = list(counted)
    for r in grouped:
        month = r["report_month"]
        if isinstance(month, datetime):
            month = timezone.localtime(month, report_zone()).date() if timezone.is_aware(
                month) else month.date()
        found[(r["agreement_id"], month)] = (r["tickets"], r["breaches"])
    rows = []
    for agreement in agreements:
        for month in months_between(month_from, month_to):
            tickets, breaches = found.get((agreement.pk, month), (0, 0))
            amount, uncapped, cap, exact = penalty_amount(agreement, tickets, breaches)
            rows.append(PenaltyRow(agreement, month, tickets, breaches, exact, amount, uncapped,
                                   cap))
    return rows


def penalty_total(rows: Sequence[PenaltyRow]) -> Decimal:
    return sum((r.penalty for r in rows), Decimal("0.00"))


def hours(seconds: float | int | None) -> float | None:
    """Seconds as hours, for tables and exports (``None`` and NaN stay empty)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return seconds / 3600
