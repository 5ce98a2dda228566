"""SLA reports over clocks built by the real engine: tickets opened, answered, resolved and
cancelled through the ticket actions at fixed instants, and the worker's scan run at fixed
instants, then compliance, percentiles, the breached list and contract penalties checked to the
exact number.

The story (all Moscow time, 2023; targets of both contracts: first response 1 h, resolution 4 h,
around the clock, for medium-priority incidents):

Acme (organisation ``world.org``, team L1), per-breach penalty 10 % of 1000.00, cap 25 %:

====  ===========  ===========  =====================  ==============================
T     opened       first reply  resolved / other       outcome (response, resolution)
====  ===========  ===========  =====================  ==============================
T1    10 Jan 10:00 +30 min      +2 h                   met, met
T2    11 Jan 10:00 +90 min      +3 h                   breached, met
T3    12 Jan 10:00 +10 min      +5 h                   met, breached
T4    13 Jan 10:00 —            open, scanned at +6 h  breached, breached (both open)
T5    14 Jan 10:00 —            cancelled at +10 min   cancelled, cancelled (not counted)
T6    20 Jan 10:00 +20 min      open, not overdue      met, pending (not counted)
====  ===========  ===========  =====================  ==============================

Globex (organisation ``world.other_org``, team L2), 1 % of 2000.00 per point below 90 %, cap 30 %:

====  ====================  ===========  ========  ====================
G     opened                first reply  resolved  outcome
====  ====================  ===========  ========  ====================
G4    31 Jan 23:30          +5 min       +30 min   met, met (January)
G3    1 Feb 00:30 (=31 Jan  +5 min       +30 min   met, met (February in Moscow)
      21:30 UTC)
G1    2 Feb 10:00           +10 min      +1 h      met, met
G2    3 Feb 10:00           +2 h         +3 h      breached, met
====  ====================  ===========  ========  ====================
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from opora.accounts.models import User
from opora.sla import engine, reports
from opora.sla.choices import AgreementKind, Metric, Outcome, PenaltyKind
from opora.sla.models import Agreement, Calendar, Clock, Target
from opora.sla.reports import ReportFilters
from opora.tickets import actions
from opora.tickets.choices import Priority, ResolutionCode

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
JAN, FEB, MAR = date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1)
#: When the story's reports are read: after every event of it.
NOW = datetime(2023, 3, 10, 12, 0, tzinfo=MSK)
#: On PostgreSQL a report query first raises its sort memory (``reports.sort_memory``).
PG = int(connection.vendor == "postgresql")


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2023, month, day, hour, minute, tzinfo=MSK)


def contract(name: str, org: Any, **fields: Any) -> Agreement:
    agreement = Agreement.objects.create(
        kind=AgreementKind.SLA, name=name, organisation=org,
        calendar=Calendar.objects.get(name="24/7"), **fields)
    for metric, seconds in ((Metric.FIRST_RESPONSE, 3600), (Metric.RESOLUTION, 4 * 3600)):
        Target.objects.create(agreement=agreement, metric=metric, priority=Priority.MEDIUM,
                              seconds=seconds, business_hours=False)
    return agreement


def story(world: Any, requester: User, start: datetime, *, reply: timedelta | None = None,
          resolve: timedelta | None = None, cancel: timedelta | None = None,
          team: Any = None, agent: User | None = None) -> Any:
    """One ticket's life through the ticket actions, at fixed instants."""
    agent = agent or world.l1_agent
    ticket = actions.open_ticket(
        requester=requester, title=f"Story {start:%d %b %H:%M}", channel="portal",
        actor=world.l1_agent if team is not None else requester, team=team, now=start)
    if reply is not None:
        actions.reply(ticket, body="Looking into it.", actor=agent, channel="web",
                      now=start + reply)
    if cancel is not None:
        actions.cancel(ticket, reason="Not needed any more.", actor=requester, channel="portal",
                       now=start + cancel)
    if resolve is not None:
        actions.resolve(ticket, code=ResolutionCode.FIXED, resolution="Done.", actor=agent,
                        channel="web", now=start + resolve)
    return ticket


def build_story(world: Any) -> Any:
    """The story of the module docstring, on top of the ``world`` fixture."""
    w = world
    w.acme = contract("Acme contract", w.org, penalty_kind=PenaltyKind.PER_BREACH,
                      monthly_fee=Decimal("1000.00"), penalty_percent=Decimal("10"),
                      penalty_cap_percent=Decimal("25"), compliance_target=Decimal("95"))
    w.globex = contract("Globex contract", w.other_org, penalty_kind=PenaltyKind.PER_POINT,
                        monthly_fee=Decimal("2000.00"), penalty_percent=Decimal("1"),
                        penalty_cap_percent=Decimal("30"), compliance_target=Decimal("90"))
    w.t1 = story(w, w.requester, at(1, 10), reply=30 * MIN, resolve=2 * H)
    w.t2 = story(w, w.requester, at(1, 11), reply=90 * MIN, resolve=3 * H)
    w.t3 = story(w, w.requester, at(1, 12), reply=10 * MIN, resolve=5 * H)
    w.t4 = story(w, w.requester, at(1, 13))
    engine.scan(now=at(1, 13, 16))
    w.t5 = story(w, w.requester, at(1, 14), cancel=10 * MIN)
    w.t6 = story(w, w.requester, at(1, 20), reply=20 * MIN)
    l2 = {"team": w.l2, "agent": w.l2_agent}
    w.g4 = story(w, w.outsider, at(1, 31, 23, 30), reply=5 * MIN, resolve=30 * MIN, **l2)
    w.g3 = story(w, w.outsider, at(2, 1, 0, 30), reply=5 * MIN, resolve=30 * MIN, **l2)
    w.g1 = story(w, w.outsider, at(2, 2), reply=10 * MIN, resolve=H, **l2)
    w.g2 = story(w, w.outsider, at(2, 3), reply=2 * H, resolve=3 * H, **l2)
    return w


@pytest.fixture
def story_world(world: Any) -> Any:
    return build_story(world)


def flt(**changes: Any) -> ReportFilters:
    return replace(ReportFilters(month_from=JAN, month_to=MAR), **changes)


def table(rows: list[reports.ComplianceRow]) -> dict[tuple[Any, ...], tuple[int, int, Any]]:
    def key(r: reports.ComplianceRow) -> tuple[Any, ...]:
        return tuple(x for x in (r.month, r.metric, r.priority,
                                 r.team.name if r.team else None,
                                 r.organisation.name if r.organisation else None)
                     if x is not None)
    return {key(r): (r.met, r.breached, r.compliance) for r in rows}


# --- the engine made what the story says -------------------------------------------------------


def test_the_story_produced_the_expected_clocks(story_world):
    w = story_world
    outcome = {(c.ticket_id, c.metric): (c.outcome, c.breached_at is not None)
               for c in Clock.objects.filter(agreement__in=[w.acme, w.globex])}
    assert outcome[(w.t4.pk, Metric.FIRST_RESPONSE)] == (Outcome.PENDING, True)
    assert outcome[(w.t4.pk, Metric.RESOLUTION)] == (Outcome.PENDING, True)
    assert outcome[(w.t5.pk, Metric.RESOLUTION)] == (Outcome.CANCELLED, False)
    assert outcome[(w.t6.pk, Metric.RESOLUTION)] == (Outcome.PENDING, False)
    assert outcome[(w.t2.pk, Metric.FIRST_RESPONSE)] == (Outcome.BREACHED, True)
    assert outcome[(w.g3.pk, Metric.RESOLUTION)] == (Outcome.MET, False)


# --- compliance --------------------------------------------------------------------------------


def test_compliance_by_metric_and_priority(story_world):
    rows = reports.compliance(flt(organisation_id=story_world.org.pk))
    assert table(rows) == {
        (Metric.FIRST_RESPONSE, 3): (3, 2, Decimal("60.00")),
        (Metric.RESOLUTION, 3): (2, 2, Decimal("50.00")),
    }


def test_compliance_by_month_in_moscow_time(story_world):
    """G3 opened at 00:30 on 1 February in Moscow (still 31 January in UTC) is February's."""
    rows = reports.compliance(flt(organisation_id=story_world.other_org.pk,
                                  group_by=("month", "metric")))
    assert table(rows) == {
        (JAN, Metric.FIRST_RESPONSE): (1, 0, Decimal("100.00")),
        (JAN, Metric.RESOLUTION): (1, 0, Decimal("100.00")),
        (FEB, Metric.FIRST_RESPONSE): (2, 1, Decimal("66.67")),
        (FEB, Metric.RESOLUTION): (3, 0, Decimal("100.00")),
    }
    # The month range is inclusive and in Moscow time too.
    only_feb = reports.compliance(flt(month_from=FEB, month_to=FEB,
                                      organisation_id=story_world.other_org.pk))
    assert table(only_feb) == {(Metric.FIRST_RESPONSE, 3): (2, 1, Decimal("66.67")),
                               (Metric.RESOLUTION, 3): (3, 0, Decimal("100.00"))}


def test_compliance_by_team_and_organisation(story_world, django_assert_num_queries):
    w = story_world
    # The counts, the team names, the organisation names.
    with django_assert_num_queries(3 + PG):
        rows = reports.compliance(flt(group_by=("team", "organisation")))
    assert table(rows) == {
        ("Service desk", "Северный ветер"): (5, 4, Decimal("55.56")),
        ("Network", "Globex"): (7, 1, Decimal("87.50")),
    }
    total = reports.compliance_total(rows)
    assert (total.met, total.breached, total.compliance) == (12, 5, Decimal("70.59"))
    assert table(reports.compliance(flt(team_id=w.l2.pk, group_by=("metric",)))) == {
        (Metric.FIRST_RESPONSE,): (3, 1, Decimal("75.00")),
        (Metric.RESOLUTION,): (4, 0, Decimal("100.00")),
    }


def test_the_team_of_a_customer_clock_is_the_tickets_current_team(story_world):
    w = story_world
    # An open ticket moved to L2 takes its breached clocks with it.
    actions.escalate(w.t4, to_team=w.l2, summary="Needs the network team.", actor=w.l1_agent,
                     channel="web", now=at(1, 13, 17))
    rows = reports.compliance(flt(group_by=("team",), organisation_id=w.org.pk))
    assert table(rows) == {("Service desk",): (5, 2, Decimal("71.43")),
                           ("Network",): (0, 2, Decimal("0.00"))}


def test_filters_metric_priority_agreement_and_kind(story_world):
    w = story_world
    assert table(reports.compliance(flt(metric=Metric.RESOLUTION, group_by=("metric",)))) == {
        (Metric.RESOLUTION,): (6, 2, Decimal("75.00"))}
    assert reports.compliance(flt(priority=Priority.CRITICAL)) == []
    assert table(reports.compliance(flt(agreement_id=w.globex.pk, group_by=("priority",)))) == {
        (3,): (7, 1, Decimal("87.50"))}
    # Internal agreements only: none in this story.
    assert reports.compliance(flt(kind=AgreementKind.OLA)) == []
    assert reports.compliance(flt(month_from=MAR, month_to=MAR)) == []


def test_an_ola_counts_only_under_its_kind(story_world):
    w = story_world
    ola = Agreement.objects.create(kind=AgreementKind.OLA, name="L2 OLA", team=w.l2,
                                   calendar=Calendar.objects.get(name="24/7"))
    Target.objects.create(agreement=ola, metric=Metric.RESOLUTION, priority=Priority.MEDIUM,
                          seconds=2 * 3600, business_hours=False)
    g5 = story(w, w.outsider, at(3, 1), reply=5 * MIN, team=w.l2, agent=w.l2_agent)
    actions.resolve(g5, code=ResolutionCode.FIXED, resolution="Done.", actor=w.l2_agent,
                    channel="web", now=at(3, 1, 13))
    march = {"month_from": MAR, "month_to": MAR, "group_by": ("metric",)}
    assert table(reports.compliance(flt(**march))) == {
        (Metric.FIRST_RESPONSE,): (1, 0, Decimal("100.00")),
        (Metric.RESOLUTION,): (1, 0, Decimal("100.00"))}
    assert table(reports.compliance(flt(kind=AgreementKind.OLA, **march))) == {
        (Metric.RESOLUTION,): (0, 1, Decimal("0.00"))}
    assert table(reports.compliance(flt(kind=None, **march))) == {
        (Metric.FIRST_RESPONSE,): (1, 0, Decimal("100.00")),
        (Metric.RESOLUTION,): (1, 1, Decimal("50.00"))}


# --- scope ------------------------------------------------------------------------------------


def test_scope_by_role(story_world):
    w = story_world
    assert reports.report_scope(w.manager) is None
    assert reports.report_scope(w.admin) is None
    assert reports.report_scope(w.lead) == frozenset({w.l1.pk})
    for who in (w.l1_agent, w.requester, w.org_manager):
        with pytest.raises(PermissionDenied):
            reports.report_scope(who)
    assert reports.can_see_penalties(w.manager) and not reports.can_see_penalties(w.lead)


def test_a_team_lead_sees_only_their_teams(story_world):
    w = story_world
    scoped = flt(teams=reports.report_scope(w.lead), group_by=("organisation",))
    assert table(reports.compliance(scoped)) == {("Северный ветер",): (5, 4, Decimal("55.56"))}
    assert {c.ticket_id for c in reports.breached(scoped)} == {w.t2.pk, w.t3.pk, w.t4.pk}
    # Asking for another team's rows gives nothing.
    assert reports.compliance(replace(scoped, team_id=w.l2.pk)) == []


def test_the_filter_form(story_world):
    w = story_world
    form = reports.filters_from({"month_from": "2023-01", "month_to": "2023-02",
                                 "team": str(w.l1.pk), "group": ["month", "team", "bogus"]},
                                w.lead)
    assert not form.is_valid() and "group" in form.errors
    form = reports.filters_from({"month_from": "2023-01", "month_to": "2023-02",
                                 "team": str(w.l1.pk), "group": ["team", "month"]}, w.lead)
    assert form.is_valid(), form.errors
    found = form.filters()
    assert (found.month_from, found.month_to, found.team_id, found.teams, found.group_by,
            found.kind) == (JAN, FEB, w.l1.pk, frozenset({w.l1.pk}), ("month", "team"), "sla")
    # A lead cannot pick a team they are not in.
    assert not reports.filters_from({"team": str(w.l2.pk)}, w.lead).is_valid()
    for bad in ({"month_from": "2023-03", "month_to": "2023-01"}, {"month_from": "1999-12"},
                {"month_from": "2023-13"}, {"month_from": "2000-01", "month_to": "2023-01"},
                {"priority": "9"}, {"agreement": "999999999999999999999"}):
        assert not reports.filters_from(bad, w.manager).is_valid(), bad
    # No months: the current month and the two before it, in Moscow time.
    form = reports.filters_from({}, w.manager, now=datetime(2023, 3, 31, 21, 30, tzinfo=ZoneInfo(
        "UTC")))  # already 1 April in Moscow
    assert form.is_valid()
    assert (form.filters().month_from, form.filters().month_to) == (FEB, date(2023, 4, 1))
    # An agreement brings its kind; "all" means every kind.
    ola = Agreement.objects.create(kind=AgreementKind.OLA, name="OLA", team=w.l2,
                                   calendar=Calendar.objects.get(name="24/7"))
    form = reports.filters_from({"agreement": str(ola.pk)}, w.manager)
    assert form.is_valid() and form.filters().kind == "ola"
    form = reports.filters_from({"kind": "all"}, w.manager)
    assert form.is_valid() and form.filters().kind is None


# --- percentiles ------------------------------------------------------------------------------


def test_percentiles_of_first_response(story_world):
    """Acme's answered first responses: 10, 20, 30 and 90 minutes (T4's is still open)."""
    row = reports.percentiles(flt(organisation_id=story_world.org.pk), Metric.FIRST_RESPONSE,
                              Priority.MEDIUM)
    assert (row.count, row.within_target, row.within_percent) == (4, 3, Decimal("75.00"))
    assert row.values == pytest.approx({50: 25 * 60, 90: 72 * 60, 95: 81 * 60})
    assert (row.target_min, row.target_max) == (3600, 3600)
    single = reports.percentiles(flt(organisation_id=story_world.org.pk), Metric.RESOLUTION,
                                 Priority.MEDIUM, q=(50, 99))
    # Resolved in 2 h, 3 h and 5 h.
    assert single.values == pytest.approx({50: 3 * 3600, 99: 4.96 * 3600})
    assert single.within_percent == Decimal("66.67")


def test_percentile_table_and_empty_groups(story_world):
    rows = reports.percentile_table(flt())
    assert [(r.metric, r.priority, r.count) for r in rows] == [
        (Metric.FIRST_RESPONSE, 3, 8), (Metric.RESOLUTION, 3, 7)]
    none = reports.percentiles(flt(), Metric.FIRST_RESPONSE, Priority.CRITICAL)
    assert none.count == 0 and none.within_percent is None
    with pytest.raises(ValueError):
        reports.percentile_table(flt(), q=(0, 50))


def test_interpolation_matches_percentile_cont():
    assert reports.interpolate([10, 20, 30, 90], 50) == 25
    assert reports.interpolate([10, 20, 30, 90], 90) == pytest.approx(72)
    assert reports.interpolate([7], 95) == 7


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's")
def test_percentile_cont_agrees_with_the_python_interpolation(story_world):
    values = sorted(Clock.objects.filter(state="stopped", outcome__in=["met", "breached"],
                                         metric=Metric.RESOLUTION,
                                         started_at__year=2023).values_list("elapsed_us",
                                                                           flat=True))
    row = reports.percentiles(flt(), Metric.RESOLUTION, Priority.MEDIUM, q=(10, 50, 95))
    for q in (10, 50, 95):
        assert row.values[q] == pytest.approx(reports.interpolate(values, q) / 1e6)


# --- breached ---------------------------------------------------------------------------------


def test_breached_list_with_how_late(story_world, django_assert_num_queries):
    w = story_world
    with django_assert_num_queries(1):
        found = list(reports.breached(flt(), "breached_at"))
    assert [(c.ticket_id, c.metric) for c in found] == [
        (w.t2.pk, Metric.FIRST_RESPONSE), (w.t3.pk, Metric.RESOLUTION),
        (w.t4.pk, Metric.FIRST_RESPONSE), (w.t4.pk, Metric.RESOLUTION),
        (w.g2.pk, Metric.FIRST_RESPONSE)]
    with django_assert_num_queries(0):
        late = {(c.ticket_id, c.metric): reports.late_seconds(c, at(1, 13, 18)) for c in found}
        teams = {reports.report_team(c).name for c in found}  # type: ignore[union-attr]
        orgs = {c.ticket.organisation.name for c in found}  # type: ignore[union-attr]
    assert late == {
        (w.t2.pk, Metric.FIRST_RESPONSE): 30 * 60, (w.t3.pk, Metric.RESOLUTION): 3600,
        # Still open: late until the instant asked about.
        (w.t4.pk, Metric.FIRST_RESPONSE): 7 * 3600, (w.t4.pk, Metric.RESOLUTION): 4 * 3600,
        (w.g2.pk, Metric.FIRST_RESPONSE): 3600,
    }
    assert teams == {"Service desk", "Network"} and orgs == {"Северный ветер", "Globex"}


@pytest.mark.parametrize(("ordering", "first"), [
    ("-breached_at", "g2"), ("breached_at", "t2"), ("ticket", "t2"), ("-ticket", "g2"),
    ("team", "g2"), ("-organisation", "t4"), ("organisation", "g2"), ("nonsense", "g2"),
])
def test_breached_sorting(story_world, ordering, first):
    found = list(reports.breached(flt(), ordering))
    assert found[0].ticket_id == getattr(story_world, first).pk
    assert len(found) == 5


# --- penalties --------------------------------------------------------------------------------


def test_penalties_per_breach_capped_and_per_point(story_world, django_assert_num_queries):
    w = story_world
    with django_assert_num_queries(2 + PG):
        rows = reports.penalties(JAN, MAR)
    got = {(r.agreement.name, r.month): (r.tickets, r.breaches, r.compliance, r.penalty,
                                         r.capped) for r in rows}
    assert got == {
        # 5 tickets counted (T5 cancelled), 3 breached: 3 × 10 % × 1000 = 300 > cap 250.
        ("Acme contract", JAN): (5, 3, Decimal("40.00"), Decimal("250.00"), True),
        ("Acme contract", FEB): (0, 0, None, Decimal("0.00"), False),
        ("Acme contract", MAR): (0, 0, None, Decimal("0.00"), False),
        ("Globex contract", JAN): (1, 0, Decimal("100.00"), Decimal("0.00"), False),
        # 2 of 3 tickets: 66.666… %, 23.333… points below 90 × 1 % × 2000 = 466.666…
        ("Globex contract", FEB): (3, 1, Decimal("66.67"), Decimal("466.67"), False),
        ("Globex contract", MAR): (0, 0, None, Decimal("0.00"), False),
    }
    feb = next(r for r in rows if r.agreement == w.globex and r.month == FEB)
    assert feb.points_below == Decimal("23.33") and feb.cap == Decimal("600.00")
    assert reports.penalty_total(rows) == Decimal("716.67")


def test_penalty_changes_with_the_contract(story_world):
    w = story_world
    Agreement.objects.filter(pk=w.acme.pk).update(penalty_cap_percent=Decimal("100"))
    Agreement.objects.filter(pk=w.globex.pk).update(penalty_cap_percent=Decimal("20"))
    rows = {(r.agreement.name, r.month): r for r in reports.penalties(JAN, FEB)}
    assert rows[("Acme contract", JAN)].penalty == Decimal("300.00")
    capped = rows[("Globex contract", FEB)]
    assert (capped.penalty, capped.uncapped, capped.capped) == (
        Decimal("400.00"), Decimal("466.67"), True)
    # Filters: the agreement, or the organisation of the agreement.
    only = reports.penalties(JAN, FEB, filters=flt(organisation_id=w.other_org.pk))
    assert {r.agreement.name for r in only} == {"Globex contract"}
    Agreement.objects.filter(pk=w.globex.pk).update(penalty_kind=PenaltyKind.NONE)
    assert {r.agreement.name for r in reports.penalties(JAN, FEB)} == {"Acme contract"}


def _agreement(kind: str, *, fee: str, percent: str, cap: str = "100",
               target: str = "95") -> Agreement:
    return Agreement(kind=AgreementKind.SLA, penalty_kind=kind, monthly_fee=Decimal(fee),
                     penalty_percent=Decimal(percent), penalty_cap_percent=Decimal(cap),
                     compliance_target=Decimal(target))


@pytest.mark.parametrize(("agreement", "tickets", "breaches", "expected"), [
    # 100.005 rounds half up, not to even.
    (_agreement(PenaltyKind.PER_BREACH, fee="1000.05", percent="10"), 10, 1, "100.01"),
    (_agreement(PenaltyKind.PER_BREACH, fee="1000", percent="10", cap="15"), 10, 2, "150.00"),
    (_agreement(PenaltyKind.PER_BREACH, fee="1000", percent="10"), 0, 0, "0.00"),
    # 97 % against 99 %: 2 points × 2.5 % × 1000.
    (_agreement(PenaltyKind.PER_POINT, fee="1000", percent="2.5", target="99"), 100, 3, "50.00"),
    # Above target: nothing.
    (_agreement(PenaltyKind.PER_POINT, fee="1000", percent="2.5", target="90"), 100, 3, "0.00"),
    # 1 of 3 breached: 66.666…, 28.333… points × 1 % × 300 = 85.00 exactly.
    (_agreement(PenaltyKind.PER_POINT, fee="300", percent="1"), 3, 1, "85.00"),
    # No tickets: no compliance, no penalty.
    (_agreement(PenaltyKind.PER_POINT, fee="300", percent="1"), 0, 0, "0.00"),
    (_agreement(PenaltyKind.NONE, fee="300", percent="1"), 3, 3, "0.00"),
])
def test_penalty_formulas(agreement, tickets, breaches, expected):
    amount, _uncapped, _cap, exact = reports.penalty_amount(agreement, tickets, breaches)
    assert amount == Decimal(expected)
    assert exact == (Fraction((tickets - breaches) * 100, tickets) if tickets else None)


@pytest.mark.skipif(not PG, reason="work_mem is PostgreSQL's")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sort_memory_is_raised_for_the_report_query_only():
    def work_mem() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            return str(cursor.fetchone()[0])

    before = work_mem()
    with reports.sort_memory():
        inside = work_mem()
    assert inside in {reports.REPORT_WORK_MEM, before}
    assert work_mem() == before  # SET LOCAL: gone with the report's transaction
    reports.compliance(flt())
    assert work_mem() == before


def test_month_helpers():
    assert reports.add_months(date(2023, 12, 1), 1) == date(2024, 1, 1)
    assert reports.add_months(date(2023, 1, 1), -1) == date(2022, 12, 1)
    assert reports.months_between(date(2022, 11, 1), date(2023, 2, 1)) == [
        date(2022, 11, 1), date(2022, 12, 1), JAN, FEB]
    start, end = flt(month_from=FEB, month_to=FEB).bounds()
    assert (start, end) == (datetime(2023, 2, 1, tzinfo=MSK), datetime(2023, 3, 1, tzinfo=MSK))
    assert reports.hours(5400) == 1.5 and reports.hours(None) is None


def test_reports_need_a_signed_in_reader():
    with pytest.raises(PermissionDenied):
        reports.report_scope(SimpleNamespace(is_authenticated=False, is_active=True,
                                             role="admin", is_superuser=False))
