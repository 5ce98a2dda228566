"""The read side of the SLA: badges at frozen instants, the headline clock of a ticket, the
"Breaching soon" filter, which agreement applies and why, and the SLA timeline as sentences.

Tickets are opened and worked through the real ticket actions at fixed instants (``now=``), under
the default agreement of the data migration: business hours Monday–Friday 09:00–13:00 and
14:00–18:00 in Europe/Moscow; critical incidents around the clock. A medium incident must be
answered within 2 business hours and resolved within 3 business days (24 business hours).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from opora.agent.queues import queue_counts
from opora.sla import engine
from opora.sla import selectors as sla
from opora.sla.choices import ClockState, Metric
from opora.sla.models import Agreement, Calendar, Clock
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, Level, Priority, ResolutionCode, Status
from opora.tickets.models import Ticket

MSK = ZoneInfo("Europe/Moscow")
WEB = Channel.WEB
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_other_open_tickets(world):
    """The world's own ticket runs on the real clock; cancel it so that only the tickets each
    test opens at fixed instants are in play."""
    actions.cancel(world.ticket, reason="Не относится к тесту", actor=world.requester,
                   channel=Channel.PORTAL)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in Moscow in November 2026 (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


T0 = at(23, 9)  # Monday 09:00, the start of a working day


def open_at(world, when: datetime, **kwargs) -> Ticket:
    kwargs.setdefault("title", "Принтер не печатает")
    return actions.open_ticket(requester=world.requester, channel=Channel.PORTAL,
                               actor=world.requester, now=when, **kwargs)


def clocks_of(ticket: Ticket) -> dict[str, Clock]:
    return {c.metric: c for c in sla.clocks_for_tickets([ticket.pk])[ticket.pk]
            if c.kind == "sla"}


# --- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "business", "shown"), [
    (0, True, "0m"),
    (59, True, "0m"),
    (35 * 60, True, "35m"),
    (2 * 3600, True, "2h"),
    (2 * 3600 + 15 * 60, True, "2h 15m"),
    (8 * 3600, True, "1d"),
    (27 * 3600 + 30 * 60, True, "3d 3h"),
    (27 * 3600 + 30 * 60, False, "27h 30m"),
    (-35 * 60, True, "−35m"),
    (-(8 * 3600 + 60), True, "−1d"),
    (-(9 * 3600), True, "−1d 1h"),
])
def test_format_duration(seconds, business, shown):
    with translation.override("en"):
        assert sla.format_duration(seconds, business=business) == shown


def test_format_duration_in_russian():
    with translation.override("ru"):
        assert sla.format_duration(2 * 3600 + 15 * 60) == "2 ч 15 мин"
        assert sla.format_duration(-(9 * 3600)) == "−1 д 1 ч"


# --- badges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "colour", "label"), [
    (0, "green", "2h"),
    (30, "green", "1h 30m"),
    (89, "green", "31m"),
    (90, "amber", "30m"),  # 75 % of 2 hours
    (107, "amber", "13m"),
    (108, "red", "12m"),  # 90 %
    (120, "red", "0m"),  # the breach
    (155, "red", "−35m"),
])
def test_first_response_badge_turns_amber_at_75_and_red_at_90_percent(world, minutes, colour,
                                                                        label):
    ticket = open_at(world, T0)
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    with translation.override("en"):
        b = sla.badge(first, T0 + timedelta(minutes=minutes))
        assert (b.colour, b.label) == (colour, label)
    assert b.state == ClockState.RUNNING
    assert b.due_at == at(23, 11)
    assert b.percent == pytest.approx(100 * minutes / 120)
    assert b.remaining_seconds == (120 - minutes) * 60
    assert b.breached is (minutes >= 120)


def test_a_badge_counts_business_time_only(world):
    """Opened Friday 17:30: at Monday 09:30 one business hour is used (17:30–18:00 and
    09:00–09:30), not 64 hours; the response is due at 10:30."""
    ticket = open_at(world, at(20, 17, 30))
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    b = sla.badge(first, at(23, 9, 30))
    assert b.used_seconds == 3600 and b.remaining_seconds == 3600
    assert b.colour == "green"
    assert b.due_at == at(23, 10, 30)


def test_a_recorded_breach_stays_red_after_the_target_grows(world):
    ticket = open_at(world, T0)
    assert engine.scan(now=at(23, 11, 5)) >= 1  # the first response breached at 11:00
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    assert first.breached_at == at(23, 11)
    b = sla.badge(first, at(23, 11, 5))
    assert b.breached and b.colour == "red"
    with translation.override("en"):
        assert b.label == "−5m"


def test_paused_and_stopped_badges(world):
    ticket = open_at(world, T0)
    actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 10, 30))
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    later = at(23, 16)  # the pause does not count
    with translation.override("en"):
        b = sla.badge(first, later)
        assert (b.state, b.label, b.colour, b.due_at) == ("paused", "paused", "amber", None)
        assert b.used_seconds == 90 * 60
        actions.reply(ticket, body="Уточните модель", actor=world.l1_agent, channel=WEB,
                      now=later)
        first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
        b = sla.badge(first, later + timedelta(hours=5))
        assert (b.state, b.label, b.colour) == ("stopped", "met", "amber")
        assert b.used_seconds == 90 * 60
        assert "1h 30m of 2h used" in b.title


def test_a_critical_incident_runs_around_the_clock(world):
    ticket = open_at(world, at(20, 23, 50), impact=Level.HIGH, urgency=Level.HIGH)  # Friday night
    assert ticket.priority == Priority.CRITICAL
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    with translation.override("en"):
        b = sla.badge(first, at(21, 0, 2))  # Saturday 00:02: 12 minutes used of 15
        assert (b.label, b.colour, b.business) == ("3m", "amber", False)
        resolution = sla.badge(clocks_of(ticket)[Metric.RESOLUTION], at(21, 0, 2))
        assert resolution.label == "3h 48m"  # hours only around the clock
        assert "Around the clock" in resolution.title


def test_the_tooltip_gives_the_due_instant_in_the_viewers_zone(world):
    ticket = open_at(world, T0)
    first = clocks_of(ticket)[Metric.FIRST_RESPONSE]
    with translation.override("en"), timezone.override(ZoneInfo("Asia/Yekaterinburg")):
        title = sla.badge(first, at(23, 9, 30)).title
    # 11:00 in Moscow is 13:00 in Yekaterinburg.
    assert "First response: 1h 30m left of 2h" in title
    assert "1 p.m." in title
    assert "1d = 8 business hours" in title


# --- the headline of a ticket ---------------------------------------------------------------------


def test_the_headline_is_the_running_clock_due_first(world):
    ticket = open_at(world, T0)
    clocks = sla.clocks_for_tickets([ticket.pk])[ticket.pk]
    assert [c.metric for c in clocks] == [Metric.FIRST_RESPONSE, Metric.RESOLUTION]
    head = sla.ticket_badge(clocks, at(23, 10))
    assert head is not None and head.metric == Metric.FIRST_RESPONSE
    assert sla.ticket_sla_state(clocks, at(23, 10)) == "running"
    # Answered: the resolution clock is the one that counts now.
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 10))
    clocks = sla.clocks_for_tickets([ticket.pk])[ticket.pk]
    head = sla.ticket_badge(clocks, at(23, 10))
    assert head is not None and head.metric == Metric.RESOLUTION
    # Waiting for the requester: the paused clock, with the most used.
    actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 11))
    clocks = sla.clocks_for_tickets([ticket.pk])[ticket.pk]
    head = sla.ticket_badge(clocks, at(23, 12))
    assert head is not None and (head.metric, head.state) == (Metric.RESOLUTION, "paused")
    assert sla.ticket_sla_state(clocks, at(23, 12)) == "paused"
    assert sla.ticket_badge([], at(23, 12)) is None
    assert sla.ticket_sla_state([], at(23, 12)) is None


def test_a_breached_response_marks_the_ticket_breached_after_the_answer(world):
    ticket = open_at(world, T0)
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 11, 30))
    clocks = sla.clocks_for_tickets([ticket.pk])[ticket.pk]
    assert sla.ticket_sla_state(clocks, at(23, 12)) == "breached"
    head = sla.ticket_badge(clocks, at(23, 12))
    assert head is not None and head.metric == Metric.RESOLUTION  # still the one to watch


def test_clocks_of_many_tickets_in_one_query(world, django_assert_num_queries):
    tickets = [open_at(world, T0 + timedelta(minutes=i)) for i in range(4)]
    with django_assert_num_queries(1):
        found = sla.clocks_for_tickets([t.pk for t in tickets])
        for clocks in found.values():
            for c in clocks:
                sla.badge(c, at(23, 12))  # the agreement and calendar come along
                assert c.agreement.name
    assert {len(v) for v in found.values()} == {2}
    with django_assert_num_queries(0):
        assert sla.clocks_for_tickets([]) == {}


def test_only_the_current_cycle_is_shown(world):
    """Two waits for the desk's next response: the second cycle is the current one."""
    ticket = open_at(world, T0)
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 9, 10))
    actions.reply(ticket, body="Всё ещё не печатает", actor=world.requester,
                  channel=Channel.PORTAL, now=at(23, 9, 20))
    actions.reply(ticket, body="Перезагрузите", actor=world.l1_agent, channel=WEB,
                  now=at(23, 9, 30))
    actions.reply(ticket, body="Не помогло", actor=world.requester, channel=Channel.PORTAL,
                  now=at(23, 9, 40))
    assert Clock.objects.filter(ticket=ticket, metric=Metric.NEXT_RESPONSE).count() == 2
    shown = clocks_of(ticket)[Metric.NEXT_RESPONSE]
    assert (shown.cycle, shown.state) == (2, ClockState.RUNNING)
    assert len(sla.clocks_for_tickets([ticket.pk])[ticket.pk]) == 3


# --- breaching soon -----------------------------------------------------------------------------


def breaching(now: datetime, within: timedelta = sla.BREACHING_WITHIN) -> set[int]:
    return set(Ticket.objects.filter(sla.breaching_soon_q(now, within))
               .values_list("pk", flat=True))


def test_breaching_soon_holds_overdue_and_nearly_due_open_tickets(world):
    medium = open_at(world, T0)  # first response due 11:00
    low = open_at(world, T0, impact=Level.LOW, urgency=Level.MEDIUM)  # due 18:00
    critical = open_at(world, T0, impact=Level.HIGH, urgency=Level.HIGH)  # due 09:15 (24/7)
    paused = open_at(world, T0)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 5))
    resolved = open_at(world, T0)
    actions.resolve(resolved, code=ResolutionCode.FIXED, resolution="Заменили картридж",
                    actor=world.l1_agent, channel=WEB, now=at(23, 9, 5))
    assert low.priority == Priority.LOW and critical.priority == Priority.CRITICAL
    assert breaching(at(23, 9, 10)) == {critical.pk}
    assert breaching(at(23, 10)) == {critical.pk, medium.pk}  # 11:00 is within the hour
    assert breaching(at(23, 9, 59)) == {critical.pk}
    assert breaching(at(23, 10), within=timedelta(minutes=30)) == {critical.pk}
    # Counted in the sidebar in the same single query.
    assert queue_counts(world.manager, now=at(23, 10))["breaching-soon"] == 2
    assert queue_counts(world.l1_agent, now=at(23, 10))["breaching-soon"] == 2
    assert queue_counts(world.l2_agent, now=at(23, 10))["breaching-soon"] == 0


def test_a_clock_past_the_amber_threshold_is_breaching_soon(world):
    """A low-priority response (8 business hours, due 18:00) reaches 75 % at 16:00; once the
    scan records it, the ticket counts as breaching soon though the due instant is two hours
    away."""
    low = open_at(world, T0, impact=Level.LOW, urgency=Level.MEDIUM)
    now = at(23, 16, 5)
    assert breaching(now) == set()
    engine.scan(now=now)
    assert Clock.objects.get(ticket=low, metric=Metric.FIRST_RESPONSE).fired_percent == 75
    assert breaching(now) == {low.pk}


def test_sla_filter_values(world):
    running = open_at(world, T0)
    paused = open_at(world, T0)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 5))
    late = open_at(world, at(20, 9))  # Friday: its first response was due 11:00 that day
    answered_late = open_at(world, at(20, 9))
    actions.reply(answered_late, body="Смотрим", actor=world.l1_agent, channel=WEB,
                  now=at(20, 12))
    now = at(23, 9, 30)

    def matching(value: str) -> set[int]:
        return set(Ticket.objects.filter(sla.sla_q(value, now)).values_list("pk", flat=True))

    assert matching("running") == {running.pk, late.pk, answered_late.pk}
    assert matching("paused") == {paused.pk}
    # Late without a scan yet (due passed), and answered late (recorded at the stop).
    assert matching("breached") == {late.pk, answered_late.pk}
    assert matching("breaching") == {late.pk}
    with pytest.raises(ValueError):
        sla.sla_q("nonsense", now)


# --- which agreement and why ----------------------------------------------------------------------


def _agreement(name: str, **kwargs) -> Agreement:
    calendar = Calendar.objects.get(name="Business hours")
    return Agreement.objects.create(name=name, calendar=calendar, **kwargs)


def test_why_an_agreement_applies(world):
    ticket = open_at(world, T0)
    applied = sla.applied_agreement(ticket)
    assert applied.agreement is not None
    assert (applied.agreement.name, applied.reason) == ("Standard", "default")
    service = f.ServiceFactory.create()
    rule = _agreement("Major incidents", order=10, conditions={"is_major": True})
    ticket.is_major = True
    assert sla.applied_agreement(ticket).agreement == rule
    assert sla.applied_agreement(ticket).reason == "rule"
    contract = _agreement("Северный ветер", organisation=world.org)
    assert (sla.applied_agreement(ticket).agreement, sla.applied_agreement(ticket).reason) == (
        contract, "organisation")
    per_service = _agreement("Северный ветер: 1С", organisation=world.org, service=service)
    ticket.service = service
    assert (sla.applied_agreement(ticket).agreement, sla.applied_agreement(ticket).reason) == (
        per_service, "organisation_service")
    gold = _agreement("Gold")
    ticket.sla_agreement = gold
    applied = sla.applied_agreement(ticket)
    assert (applied.agreement, applied.reason) == (gold, "explicit")
    with translation.override("en"):
        assert applied.reason_label == "set on the ticket"
    with translation.override("ru"):
        assert applied.reason_label == "задано в заявке"


def test_who_may_choose_the_agreement(world):
    assert not sla.can_choose_agreement(world.l1_agent)
    assert not sla.can_choose_agreement(world.requester)
    assert sla.can_choose_agreement(world.lead)
    assert sla.can_choose_agreement(world.manager)
    assert sla.can_choose_agreement(world.admin)


# --- the SLA timeline -----------------------------------------------------------------------------


def _worked_ticket(world) -> Ticket:
    """High priority (8 business hours to resolve): answered, paused at 14:03 Moscow time,
    resumed, made critical, then past 75 % and breached."""
    ticket = open_at(world, T0, impact=Level.HIGH, urgency=Level.MEDIUM)
    assert ticket.priority == Priority.HIGH
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 9, 12))
    actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 14, 3))
    actions.reply(ticket, body="Модель HP 4250", actor=world.requester, channel=Channel.PORTAL,
                  now=at(23, 14, 30))
    actions.update_fields(ticket, changes={"priority": Priority.CRITICAL}, actor=world.manager,
                          channel=WEB, now=at(23, 15))
    engine.scan(now=at(23, 20))
    return ticket


def test_the_timeline_in_english(world):
    ticket = _worked_ticket(world)
    with translation.override("en"), timezone.override(MSK):
        entries = sla.sla_timeline(ticket)
    texts = [e.text for e in entries]
    # The resolution clock runs around the clock since it became critical: its durations are
    # shown in hours, the target of 8 business hours included.
    assert texts[:2] == ["First response: started — target 30m",
                         "Resolution: started — target 8h"]
    assert "First response: stopped — met, 12m of 30m used" in texts
    assert "Resolution: paused 2:03 p.m. — status: Waiting for requester" in texts
    assert "Resolution: resumed 2:30 p.m. — status: In progress" in texts
    assert "Next response: started — the requester wrote, target 4h" in texts
    # Critical incidents run around the clock: hours, not business days.
    assert "Resolution: target changed — priority High → Critical, 8h → 4h" in texts
    assert "Resolution: 75 % of the target used" in texts
    assert "Resolution: breached" in texts
    tones = {e.text: e.tone for e in entries}
    assert tones["Resolution: breached"] == "danger"
    assert tones["First response: stopped — met, 12m of 30m used"] == "success"
    assert tones["Resolution: 75 % of the target used"] == "warning"


def test_the_timeline_in_russian_and_another_zone(world):
    ticket = _worked_ticket(world)
    with translation.override("ru"), timezone.override(ZoneInfo("Asia/Yekaterinburg")):
        texts = [e.text for e in sla.sla_timeline(ticket)]
    assert "Первый ответ: остановлено — выполнено, использовано 12 мин из 30 мин" in texts
    # 14:03 in Moscow is 16:03 in Yekaterinburg.
    assert "Решение: приостановлено в 16:03 — статус: Ожидает заявителя" in texts
    assert "Решение: срок нарушен" in texts
    assert "Решение: использовано 75 % срока" in texts


def test_the_timeline_takes_one_query(world, django_assert_num_queries):
    ticket = _worked_ticket(world)
    with django_assert_num_queries(1), translation.override("en"):
        entries = sla.sla_timeline(ticket)
    assert len(entries) >= 8


def test_the_ticket_timeline_sentences_of_warnings_and_breaches(world):
    ticket = _worked_ticket(world)
    events = ticket.events.filter(kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACHED])
    with translation.override("en"):
        texts = [sla.ticket_event_text(e.kind, e.data) for e in events.order_by("id")]
    assert "SLA warning: 75 % of the resolution target used" in texts
    assert "SLA breached: the resolution target was missed" in texts
    with translation.override("ru"):
        assert sla.ticket_event_text(EventKind.SLA_WARNING,
                                     {"metric": "first_response", "percent": 90}) == (
            "Предупреждение SLA: использовано 90 % срока первого ответа")
        assert sla.ticket_event_text(EventKind.SLA_BREACHED, {}) == "Нарушение SLA"
