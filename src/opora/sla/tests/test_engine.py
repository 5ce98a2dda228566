"""The SLA clocks of a ticket follow its life exactly, at frozen instants.

Every test opens and works tickets through the real ticket actions at chosen instants (``now=``),
under the default agreement of the data migration: business hours Monday–Friday 09:00–13:00 and
14:00–18:00 in Europe/Moscow; critical incidents around the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from opora.sla import engine
from opora.sla.choices import ClockState, Metric, Outcome, ReopenPolicy, RetargetPolicy
from opora.sla.models import Agreement, Calendar, CalendarDay, Clock, Firing, SlaEvent, Target
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import EventKind, Priority, Status
from opora.tickets.models import TicketEvent

MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_other_open_tickets(world):
    """The world's own ticket is opened at the real now; cancel it so that scans at the fixed
    instants below see only the tickets each test opens."""
    actions.cancel(world.ticket, reason="Не относится к тесту", actor=world.requester,
                   channel="portal")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """An instant in Moscow in November 2026 (the 23rd is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def clock(ticket, metric: str = Metric.RESOLUTION, cycle: int | None = None) -> Clock:
    qs = Clock.objects.filter(ticket=ticket, metric=metric, kind="sla").order_by("-cycle")
    if cycle is not None:
        qs = qs.filter(cycle=cycle)
    found = qs.first()
    assert found is not None, f"no {metric} clock"
    return found


def sla_name(ticket, agreements) -> str:
    chosen = engine.applicable(ticket, agreements).sla
    assert chosen is not None
    return chosen.name


def open_at(world, when: datetime, **kwargs):
    kwargs.setdefault("title", "Принтер не печатает")
    return actions.open_ticket(requester=world.requester, channel="portal",
                               actor=world.requester, now=when, **kwargs)


class TestStart:
    def test_medium_incident_counts_business_hours_over_the_weekend(self, world):
        ticket = open_at(world, at(20, 17))  # Friday 17:00
        first = clock(ticket, Metric.FIRST_RESPONSE)
        resolution = clock(ticket)
        assert first.target_seconds == 2 * 3600 and first.state == ClockState.RUNNING
        # Friday 17–18 and Monday 09–10.
        assert first.due_at == at(23, 10)
        # Three business days of 8 hours: Fri 1 h, Mon 8 h, Tue 8 h, Wed 09–13 + 14–17.
        assert resolution.due_at == at(25, 17)
        # The first threshold (50 % of the response target) is the next check.
        assert first.next_check_at == at(20, 18)
        # The next-response clock starts only when the requester writes after an answer.
        assert not Clock.objects.filter(ticket=ticket, metric=Metric.NEXT_RESPONSE).exists()

    def test_critical_incident_runs_around_the_clock(self, world):
        ticket = open_at(world, at(21, 23, 50), impact=1, urgency=1)  # Saturday night
        assert ticket.priority == Priority.CRITICAL
        assert clock(ticket, Metric.FIRST_RESPONSE).due_at == at(22, 0, 5)
        assert clock(ticket).due_at == at(22, 3, 50)

    def test_service_requests_have_their_own_targets(self, world):
        ticket = open_at(world, at(23, 9), ticket_type="request")
        assert clock(ticket, Metric.FIRST_RESPONSE).target_seconds == 4 * 3600
        assert clock(ticket).target_seconds == 5 * 8 * 3600

    def test_the_timeline_says_it_started(self, world):
        ticket = open_at(world, at(23, 9))
        kinds = list(SlaEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
        assert kinds == ["started", "started"]


class TestPauses:
    def test_waiting_for_the_requester_pauses_and_their_answer_resumes(self, world):
        ticket = open_at(world, at(23, 9))
        actions.change_status(ticket, status=Status.IN_PROGRESS, actor=world.l1_agent,
                              channel="web", now=at(23, 9, 30))
        actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                              channel="web", now=at(23, 10))
        paused = clock(ticket)
        assert paused.state == ClockState.PAUSED
        assert paused.elapsed_us == 3600 * 10**6
        assert paused.due_at is None and paused.next_check_at is None
        # Two days later the requester answers: the clock resumes from then.
        actions.reply(ticket, body="Всё ещё не печатает", actor=world.requester,
                      channel="portal", now=at(25, 11))
        resumed = clock(ticket)
        assert resumed.state == ClockState.RUNNING
        # 23 business hours left from Wednesday 11:00: Wed 6 h, Thu 8, Fri 8, Mon 1 h.
        assert resumed.due_at == at(30, 10)
        events = SlaEvent.objects.filter(clock=resumed).order_by("at", "id")
        assert [(e.kind, e.data.get("status")) for e in events] == [
            ("started", None), ("paused", "waiting_requester"), ("resumed", "in_progress"),
        ]

    def test_paused_time_never_counts(self, world):
        ticket = open_at(world, at(23, 9))
        actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                              channel="web", now=at(23, 9))
        later = at(27, 17)
        assert engine.elapsed_us(clock(ticket), later) == 0

    def test_waiting_for_a_vendor_pauses_too(self, world):
        ticket = open_at(world, at(23, 9))
        actions.escalate(ticket, to_team=world.l4, summary="Нужен ремонт у поставщика",
                         actor=world.l1_agent, channel="web", now=at(23, 11))
        assert clock(ticket).state == ClockState.PAUSED
        assert clock(ticket).elapsed_us == 2 * 3600 * 10**6


class TestStops:
    def test_the_first_public_reply_meets_the_response_target(self, world):
        ticket = open_at(world, at(23, 9))
        actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel="web",
                      now=at(23, 10, 30))
        first = clock(ticket, Metric.FIRST_RESPONSE)
        assert (first.state, first.outcome) == (ClockState.STOPPED, Outcome.MET)
        assert first.elapsed_us == 90 * 60 * 10**6
        assert first.due_at is None and first.next_check_at is None
        stop = SlaEvent.objects.filter(clock=first, kind="stopped").get()
        assert stop.data["reply"] is True and stop.data["outcome"] == "met"

    def test_an_internal_note_is_not_a_response(self, world):
        ticket = open_at(world, at(23, 9))
        actions.add_note(ticket, body="Проверить драйвер", actor=world.l1_agent, channel="web",
                         now=at(23, 9, 30))
        assert clock(ticket, Metric.FIRST_RESPONSE).state == ClockState.RUNNING

    def test_a_late_reply_is_a_breach_even_without_a_scan(self, world):
        ticket = open_at(world, at(23, 9))
        actions.reply(ticket, body="Извините за задержку", actor=world.l1_agent, channel="web",
                      now=at(23, 15))
        first = clock(ticket, Metric.FIRST_RESPONSE)
        assert first.outcome == Outcome.BREACHED
        assert first.breached_at == at(23, 11)

    def test_resolving_stops_resolution_and_cancelling_is_not_counted(self, world):
        ticket = open_at(world, at(23, 9))
        actions.resolve(ticket, code="fixed", resolution="Заменили картридж",
                        actor=world.l1_agent, channel="web", now=at(23, 10, 30))
        assert clock(ticket).outcome == Outcome.MET
        # Resolving is the first response when nobody answered before.
        assert clock(ticket, Metric.FIRST_RESPONSE).outcome == Outcome.MET
        late = open_at(world, at(23, 9))
        actions.resolve(late, code="fixed", resolution="Готово", actor=world.l1_agent,
                        channel="web", now=at(23, 12))
        assert clock(late, Metric.FIRST_RESPONSE).outcome == Outcome.BREACHED
        assert clock(late).outcome == Outcome.MET
        other = open_at(world, at(23, 9))
        actions.cancel(other, reason="Уже не нужно", actor=world.requester, channel="portal",
                       now=at(23, 10))
        assert clock(other).outcome == Outcome.CANCELLED


class TestNextResponse:
    def test_each_wait_for_the_desk_is_a_cycle(self, world):
        ticket = open_at(world, at(23, 9))
        actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel="web",
                      now=at(23, 9, 10))
        actions.reply(ticket, body="Есть новости?", actor=world.requester, channel="portal",
                      now=at(23, 11))
        waiting = clock(ticket, Metric.NEXT_RESPONSE)
        assert (waiting.cycle, waiting.state) == (1, ClockState.RUNNING)
        assert waiting.due_at == at(24, 11)  # one business day
        actions.reply(ticket, body="Заказали картридж", actor=world.l1_agent, channel="web",
                      now=at(23, 12))
        assert clock(ticket, Metric.NEXT_RESPONSE).outcome == Outcome.MET
        actions.reply(ticket, body="А когда привезут?", actor=world.requester,
                      channel="portal", now=at(23, 16))
        assert clock(ticket, Metric.NEXT_RESPONSE).cycle == 2


class TestRetarget:
    def test_a_priority_change_keeps_the_start_by_default(self, world):
        ticket = open_at(world, at(23, 9))
        actions.update_fields(ticket, changes={"priority": Priority.HIGH}, actor=world.l1_agent,
                              channel="web", now=at(23, 10))
        resolution = clock(ticket)
        assert resolution.target_seconds == 8 * 3600 and resolution.priority == Priority.HIGH
        # One hour used already: seven business hours left from 10:00.
        assert resolution.due_at == at(23, 18)
        change = SlaEvent.objects.filter(clock=resolution, kind="retargeted").get()
        assert change.data == {"priority": [3, 2], "target": [24 * 3600, 8 * 3600]}

    def test_or_restarts_when_the_agreement_says_so(self, world):
        Agreement.objects.filter(name="Standard").update(retarget_policy=RetargetPolicy.RESTART)
        ticket = open_at(world, at(23, 9))
        actions.update_fields(ticket, changes={"priority": Priority.HIGH}, actor=world.l1_agent,
                              channel="web", now=at(23, 10))
        resolution = clock(ticket)
        assert resolution.elapsed_us == 0 and resolution.started_at == at(23, 10)
        assert resolution.due_at == at(24, 10)  # Mon 10–13, 14–18, Tue 09–10

    def test_raising_to_critical_moves_to_around_the_clock(self, world):
        ticket = open_at(world, at(23, 17))
        actions.update_fields(ticket, changes={"impact": 1, "urgency": 1}, actor=world.l1_agent,
                              channel="web", now=at(23, 17, 30))
        resolution = clock(ticket)
        assert resolution.calendar_id is None
        assert resolution.due_at == at(23, 21)  # 30 min used, 3 h 30 min left, all hours count


class TestReopen:
    def resolved(self, world):
        ticket = open_at(world, at(23, 9))
        return actions.resolve(ticket, code="fixed", resolution="Готово", actor=world.l1_agent,
                               channel="web", now=at(23, 11))

    def test_resume_continues_the_same_clock(self, world):
        ticket = self.resolved(world)
        actions.reopen(ticket, reason="Опять не печатает", actor=world.requester,
                       channel="portal", now=at(24, 9))
        resolution = clock(ticket)
        assert resolution.cycle == 1 and resolution.state == ClockState.RUNNING
        assert resolution.elapsed_us == 2 * 3600 * 10**6 and resolution.outcome == ""
        # 22 business hours from Tuesday 09:00: Tue 8, Wed 8, Thu 09–13 and 14–16.
        assert resolution.due_at == at(26, 16)

    def test_restart_starts_a_new_cycle(self, world):
        Agreement.objects.filter(name="Standard").update(reopen_policy=ReopenPolicy.RESTART)
        ticket = self.resolved(world)
        actions.reopen(ticket, reason="Опять", actor=world.requester, channel="portal",
                       now=at(24, 9))
        assert clock(ticket, cycle=1).outcome == Outcome.MET
        assert clock(ticket).cycle == 2 and clock(ticket).elapsed_us == 0

    def test_keep_stopped_counts_the_first_resolution(self, world):
        Agreement.objects.filter(name="Standard").update(
            reopen_policy=ReopenPolicy.KEEP_STOPPED)
        ticket = self.resolved(world)
        actions.reopen(ticket, reason="Опять", actor=world.requester, channel="portal",
                       now=at(24, 9))
        assert clock(ticket).state == ClockState.STOPPED
        assert Clock.objects.filter(ticket=ticket, metric="resolution").count() == 1


class TestWhichAgreement:
    @pytest.fixture
    def agreements(self, world):
        calendar = Calendar.objects.get(name="Business hours")
        service = f.ServiceFactory() if hasattr(f, "ServiceFactory") else None

        def make(name: str, **kw):
            agreement = Agreement.objects.create(name=name, calendar=calendar, **kw)
            Target.objects.create(agreement=agreement, metric="resolution", priority=3,
                                  seconds=3600 * (len(name)))
            return agreement

        return {
            "rule": make("rule-email", conditions={"channel": ["email", "phone"]}, order=1),
            "org": make("org-contract", organisation=world.org),
            "org_service": make("org-service", organisation=world.org, service=service)
            if service else None,
            "explicit": make("explicit-by-hand"),
            "service": service,
        }

    def test_precedence(self, world, agreements):
        agreements_now = engine.active_agreements()
        ticket = open_at(world, at(23, 9))
        assert sla_name(ticket, agreements_now) == "org-contract"
        if agreements["service"] is not None:
            ticket.service = agreements["service"]
            assert sla_name(ticket, agreements_now) == "org-service"
        ticket.sla_agreement = agreements["explicit"]
        assert sla_name(ticket, agreements_now) == "explicit-by-hand"
        outsider = actions.open_ticket(requester=world.outsider, title="x", channel="phone",
                                       actor=world.l1_agent, now=at(23, 9))
        assert sla_name(outsider, agreements_now) == "rule-email"
        outsider.channel = "portal"
        assert sla_name(outsider, agreements_now) == "Standard"

    def test_setting_an_agreement_by_hand_carries_the_clock_over(self, world, agreements):
        ticket = open_at(world, at(23, 9))
        assert clock(ticket).agreement.name == "org-contract"
        actions.update_fields(ticket, changes={"sla_agreement": agreements["explicit"]},
                              actor=world.manager, channel="web", now=at(23, 10))
        moved = clock(ticket)
        assert moved.agreement.name == "explicit-by-hand"
        assert moved.target_seconds == 3600 * len("explicit-by-hand")
        assert moved.elapsed_us == 3600 * 10**6


class TestInternalAgreements:
    def test_an_ola_runs_while_the_team_has_the_ticket(self, world):
        calendar = Calendar.objects.get(name="Business hours")
        ola = Agreement.objects.create(kind="ola", name="L2 network", team=world.l2,
                                       calendar=calendar)
        Target.objects.create(agreement=ola, metric="resolution", priority=3, seconds=4 * 3600)
        ticket = open_at(world, at(23, 9))
        assert not Clock.objects.filter(ticket=ticket, kind="ola").exists()
        actions.escalate(ticket, to_team=world.l2, summary="Проблема в сети этажа",
                         actor=world.l1_agent, channel="web", now=at(23, 10))
        running = Clock.objects.get(ticket=ticket, kind="ola")
        assert running.started_at == at(23, 10) and running.due_at == at(23, 15)
        actions.escalate(ticket, to_team=world.l3, summary="Нужна инфраструктура",
                         actor=world.l2_agent, channel="web", now=at(23, 12))
        done = Clock.objects.get(ticket=ticket, kind="ola")
        assert (done.state, done.outcome) == (ClockState.STOPPED, Outcome.HANDED_OVER)


    def test_an_underpinning_contract_runs_while_the_customer_clock_waits(self, world):
        calendar = Calendar.objects.get(name="Business hours")
        uc = Agreement.objects.create(kind="uc", name="Vendor contract", team=world.l4,
                                      calendar=calendar)
        Target.objects.create(agreement=uc, metric="resolution", priority=3, seconds=16 * 3600)
        ticket = open_at(world, at(23, 9))
        actions.escalate(ticket, to_team=world.l4, summary="Гарантийный ремонт принтера",
                         vendor_reference="CASE-1", actor=world.l1_agent, channel="web",
                         now=at(23, 10))
        vendor = Clock.objects.get(ticket=ticket, kind="uc")
        assert vendor.state == ClockState.RUNNING and vendor.due_at == at(25, 10)
        assert clock(ticket).state == ClockState.PAUSED


class TestScan:
    def test_each_threshold_fires_once_at_its_instant(self, world, django_capture_on_commit_callbacks):
        ticket = open_at(world, at(23, 9))  # response due 11:00: 50 % 10:00, 75 % 10:30, 90 % 10:48
        assert engine.scan(now=at(23, 9, 59)) == 0
        assert engine.scan(now=at(23, 10)) == 1
        assert engine.scan(now=at(23, 10, 1)) == 0
        assert engine.scan(now=at(23, 10, 50)) == 2  # 75 % and 90 % together
        first = clock(ticket, Metric.FIRST_RESPONSE)
        assert first.fired_percent == 90 and first.breached_at is None
        assert first.next_check_at == at(23, 11)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert engine.scan(now=at(23, 11)) == 1
        assert len(callbacks) == 1  # the breach's actions are queued after commit
        first.refresh_from_db()
        assert first.breached_at == at(23, 11) and first.next_check_at is None
        assert first.state == ClockState.RUNNING  # breached, still running until answered
        reached = list(Firing.objects.filter(clock=first).values_list("percent", "reached_at"))
        assert reached == [(50, at(23, 10)), (75, at(23, 10, 30)), (90, at(23, 10, 48)),
                           (100, at(23, 11))]
        kinds = list(TicketEvent.objects.filter(ticket=ticket, kind__startswith="sla_")
                     .values_list("kind", flat=True))
        assert kinds.count(EventKind.SLA_WARNING) == 3 and kinds.count(EventKind.SLA_BREACHED) == 1
        actions.reply(ticket, body="Ответ", actor=world.l1_agent, channel="web", now=at(23, 12))
        assert clock(ticket, Metric.FIRST_RESPONSE).outcome == Outcome.BREACHED

    def test_a_paused_clock_does_not_fire(self, world):
        ticket = open_at(world, at(23, 9))
        actions.reply(ticket, body="Уточните модель", actor=world.l1_agent, channel="web",
                      now=at(23, 9, 5))
        actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                              channel="web", now=at(23, 9, 10))
        assert engine.scan(now=at(30, 9)) == 0

    def test_holidays_move_the_instants(self, world):
        calendar = Calendar.objects.get(name="Business hours")
        CalendarDay.objects.create(calendar=calendar, date=at(24, 0).date(), kind="holiday")
        Calendar.objects.filter(pk=calendar.pk).update(version=calendar.version + 1)
        ticket = open_at(world, at(23, 17))
        # Monday 17–18, Tuesday off, Wednesday 09:00–10:00.
        assert clock(ticket, Metric.FIRST_RESPONSE).due_at == at(25, 10)

    def test_the_scan_query_is_cheap(self, world, django_assert_max_num_queries):
        for _ in range(20):
            open_at(world, at(23, 9))
        with django_assert_max_num_queries(8):
            assert engine.scan(now=at(23, 10)) == 20


class TestThresholdActions:
    def test_breach_raises_the_priority_and_tells_the_lead(self, world, mailoutbox,
                                                           django_capture_on_commit_callbacks):
        from opora.accounts.models import TeamMembership
        from opora.sla import thresholds
        from opora.sla.models import Threshold

        TeamMembership.objects.filter(team=world.l1, user=world.lead).update(is_lead=True)
        agreement = Agreement.objects.get(name="Standard")
        Threshold.objects.filter(agreement=agreement, percent=100).update(
            actions=["raise_priority", "notify_team_lead"])
        ticket = open_at(world, at(23, 9))
        engine.scan(now=at(23, 11))
        firing = Firing.objects.get(clock__ticket=ticket, percent=100,
                                    clock__metric="first_response")
        with django_capture_on_commit_callbacks(execute=True):
            result = thresholds.run(firing.pk)
        ticket.refresh_from_db()
        assert ticket.priority == Priority.HIGH and result["raise_priority"] == Priority.HIGH
        assert [m.to for m in mailoutbox] == [[world.lead.email]]
        assert ticket.number in mailoutbox[0].subject
        assert thresholds.run(firing.pk) == {}  # done once; a retried task does nothing
        # The higher priority re-targets the still-running resolution clock.
        assert clock(ticket).target_seconds == 8 * 3600

    def test_breach_can_hand_the_ticket_to_another_team(self, world):
        from opora.sla import thresholds
        from opora.sla.models import Threshold

        agreement = Agreement.objects.get(name="Standard")
        Threshold.objects.filter(agreement=agreement, percent=90).update(
            actions=["escalate"], escalate_to=world.l2)
        ticket = open_at(world, at(23, 9))
        engine.scan(now=at(23, 10, 50))
        firing = Firing.objects.get(clock__ticket=ticket, percent=90,
                                    clock__metric="first_response")
        thresholds.run(firing.pk)
        ticket.refresh_from_db()
        assert ticket.team == world.l2 and ticket.current_line == 2


def test_elapsed_and_percent_helpers(world):
    ticket = open_at(world, at(23, 9))
    first = clock(ticket, Metric.FIRST_RESPONSE)
    assert engine.percent_used(first, at(23, 10)) == pytest.approx(50.0)
    assert engine.elapsed_us(first, at(23, 9) - timedelta(hours=1)) == 0
