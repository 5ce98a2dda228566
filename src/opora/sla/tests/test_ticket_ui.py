"""SLA where agents work: countdown badges in the queues (colours at frozen instants, sorting by
the due instant, the htmx partial), the "Breaching soon" queue and its count, the SLA card and
timeline of the ticket page in English and Russian, SLA warnings in the main timeline, and the
control that sets a ticket's agreement by hand. In the portal the requester sees only when the
first answer is due.

Tickets are opened through the real actions at fixed instants (``now=``) under the default
agreement (Mon–Fri 09–13, 14–18 Moscow; a medium incident: first response in 2 business hours);
pages are rendered with the clock frozen by time_machine.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from opora.sla import engine
from opora.sla.models import Agreement, Calendar
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, Level, Status
from opora.tickets.models import Ticket

MSK = ZoneInfo("Europe/Moscow")
WEB = Channel.WEB
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_other_open_tickets(world):
    """The world's own ticket runs on the real clock; cancel it."""
    actions.cancel(world.ticket, reason="Не относится к тесту", actor=world.requester,
                   channel=Channel.PORTAL)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in Moscow in November 2026 (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


T0 = at(23, 9)


def open_at(world: Any, when: datetime = T0, **kwargs: Any) -> Ticket:
    kwargs.setdefault("title", "Принтер не печатает")
    return actions.open_ticket(requester=world.requester, channel=Channel.PORTAL,
                               actor=world.requester, now=when, **kwargs)


def as_person(client: Any, user: Any, language: str = "en", zone: str = "") -> Any:
    user.language = language
    user.time_zone = zone
    user.save(update_fields=["language", "time_zone"])
    client.force_login(user)
    return client


def get(client: Any, path: str, when: datetime, **extra: Any) -> str:
    with time_machine.travel(when, tick=False):
        r = client.get(path, **extra)
    assert r.status_code == 200
    return r.content.decode()


def queue_url(slug: str, query: str = "") -> str:
    base = reverse("agent:queue", args=[slug])
    return f"{base}?{query}" if query else base


def row(html: str, ticket: Ticket) -> str:
    match = re.search(rf'<tr data-ticket-row data-href="[^"]*{ticket.number}/".*?</tr>', html,
                      re.S)
    assert match, f"{ticket.number} is not listed"
    return match.group(0)


def badge_of(html: str, ticket: Ticket) -> tuple[str, str]:
    """(colour, label) of the ticket's SLA cell."""
    cell = re.search(r'data-sla-cell>(.*?)</td>', row(html, ticket), re.S)
    assert cell
    colour = re.search(r'data-sla-colour="(\w*)"', cell.group(1))
    assert colour
    text = re.sub(r'<span class="visually-hidden">.*?</span>', "", cell.group(1))
    return colour.group(1), re.sub(r"<[^>]+>", "", text).strip()


def numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-ticket-row data-href="/agent/tickets/([A-Z]+-\d+)/"', html)


def sidebar_count(html: str, slug: str) -> int:
    match = re.search(rf'data-queue-count="{slug}">(\d+)<', html)
    assert match
    return int(match.group(1))


# --- queues -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "colour", "label"), [
    (30, "green", "1h 30m"),
    (95, "amber", "25m"),
    (110, "red", "10m"),
    (150, "red", "−30m"),
])
def test_the_queue_shows_a_countdown_badge(world, client, minutes, colour, label):
    ticket = open_at(world)
    as_person(client, world.manager)
    html = get(client, queue_url("all-open"), T0 + timedelta(minutes=minutes))
    assert badge_of(html, ticket) == (colour, label)
    assert "First response:" in row(html, ticket)  # for screen readers
    partial = get(client, queue_url("all-open"), T0 + timedelta(minutes=minutes),
                  HTTP_HX_REQUEST="true")
    assert "<html" not in partial
    assert badge_of(partial, ticket) == (colour, label)


def test_badges_in_russian_and_for_paused_and_resolved_tickets(world, client):
    waiting = open_at(world)
    actions.change_status(waiting, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 30))
    answered = open_at(world)
    actions.reply(answered, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 9, 5))
    as_person(client, world.manager, "ru")
    html = get(client, queue_url("all-open"), at(23, 10))
    assert badge_of(html, waiting) == ("green", "на паузе")
    # Answered: the resolution clock, 1 business hour of 3 days used.
    assert badge_of(html, answered) == ("green", "2 д 7 ч")
    title = re.search(r'title="([^"]*)"', row(html, answered))
    assert title and "1 д = 8 рабочих часов" in title.group(1)


def test_sorting_by_the_due_instant_puts_tickets_without_a_running_clock_last(world, client):
    low = open_at(world, impact=Level.LOW, urgency=Level.MEDIUM)  # due 18:00
    paused = open_at(world)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 1))
    critical = open_at(world, impact=Level.HIGH, urgency=Level.HIGH)  # due 09:15
    medium = open_at(world)  # due 11:00
    as_person(client, world.manager)
    expected = [critical.number, medium.number, low.number, paused.number]
    assert numbers(get(client, queue_url("all-open", "ordering=sla_due"), at(23, 9, 5))) == \
        expected
    assert numbers(get(client, queue_url("all-open", "ordering=-sla_due"), at(23, 9, 5))) == \
        [low.number, medium.number, critical.number, paused.number]
    html = get(client, queue_url("all-open", "ordering=sla_due"), at(23, 9, 5))
    assert 'aria-sort="ascending"' in html and ">SLA <span" in html


def test_the_breaching_soon_queue(world, client):
    medium = open_at(world)  # first response due 11:00
    open_at(world, impact=Level.LOW, urgency=Level.MEDIUM)  # due 18:00
    critical = open_at(world, impact=Level.HIGH, urgency=Level.HIGH)  # due 09:15
    as_person(client, world.manager)
    html = get(client, queue_url("breaching-soon"), at(23, 10, 5))
    # The most urgent first: the overdue critical one, then the one due at 11:00.
    assert numbers(html) == [critical.number, medium.number]
    assert sidebar_count(html, "breaching-soon") == 2
    assert "Breaching soon" in html
    # Colours follow the share used: 65 minutes of the 2 hours is still green.
    assert badge_of(html, critical)[0] == "red" and badge_of(html, medium)[0] == "green"
    # Earlier only the critical one is close.
    html = get(client, queue_url("breaching-soon"), at(23, 9, 5))
    assert numbers(html) == [critical.number]
    assert sidebar_count(html, "breaching-soon") == 1
    # An agent of another team sees none of them.
    as_person(client, world.l2_agent)
    html = get(client, queue_url("breaching-soon"), at(23, 10, 5))
    assert numbers(html) == [] and sidebar_count(html, "breaching-soon") == 0


def test_the_sla_filter_of_the_queue(world, client):
    late = open_at(world, at(20, 9))  # Friday: overdue since 11:00 that day
    fresh = open_at(world)
    as_person(client, world.manager)
    when = at(23, 9, 30)
    assert numbers(get(client, queue_url("all-open", "sla=breached"), when)) == [late.number]
    assert set(numbers(get(client, queue_url("all-open", "sla=running"), when))) == {
        late.number, fresh.number}
    html = get(client, queue_url("all-open"), when)
    assert 'name="sla" value="breaching"' in html  # the filter checklist


# --- the ticket page ----------------------------------------------------------------------------


def ticket_url(ticket: Ticket, tail: str = "") -> str:
    return f"/agent/tickets/{ticket.number}/{tail}"


def sla_card(html: str) -> str:
    match = re.search(r'<section class="card mb-3" aria-labelledby="sla-heading".*?</section>',
                      html, re.S)
    assert match
    return match.group(0)


def test_the_sla_card_in_english(world, client):
    ticket = open_at(world)
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 9, 12))
    actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 14, 3))
    as_person(client, world.l1_agent)
    card = sla_card(get(client, ticket_url(ticket), at(23, 15)))
    assert "Standard" in card and "(default agreement)" in card
    assert 'data-sla-clock="first_response"' in card and 'data-sla-clock="resolution"' in card
    assert ">met</span>" in card and ">paused</span>" in card
    assert "First response: stopped — met, 12m of 2h used" in card
    assert "Resolution: paused 2:03 p.m. — status: Waiting for requester" in card
    assert "1d = 8 business hours" in card
    # Agents see the agreement but may not choose it.
    assert 'id="sla-form"' not in card


def test_the_sla_card_in_russian_in_the_viewers_zone(world, client):
    ticket = open_at(world)
    actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 14, 3))
    actions.change_status(ticket, status=Status.IN_PROGRESS, actor=world.l1_agent, channel=WEB,
                          now=at(23, 14, 33))
    as_person(client, world.manager, "ru", "Asia/Yekaterinburg")
    card = sla_card(get(client, ticket_url(ticket), at(23, 15)))
    assert "Уровень обслуживания" in card and "соглашение по умолчанию" in card
    # 14:03 Moscow is 16:03 in Yekaterinburg.
    assert "Первый ответ: приостановлено в 16:03 — статус: Ожидает заявителя" in card
    assert "Первый ответ: возобновлено в 16:33 — статус: В работе" in card
    # By 15:00, 09–13, 14:00–14:03 and 14:33–15:00 count: 4 h 30 min of the 2-hour response.
    assert ">−2 ч 30 мин</span>" in card
    # The resolution (24 business hours, 30 minutes paused) is due on Thursday at 09:30 Moscow
    # time: 11:30 in Yekaterinburg. The overdue response shows no due instant.
    assert card.count('data-sla-due') == 1
    assert "26.11.2026 11:30" in card
    assert 'id="sla-form"' in card


def test_sla_warnings_and_breaches_in_the_main_timeline(world, client):
    ticket = open_at(world)
    engine.scan(now=at(23, 11, 5))
    assert ticket.events.filter(kind=EventKind.SLA_BREACHED).count() >= 1
    as_person(client, world.l1_agent)
    html = get(client, ticket_url(ticket), at(23, 11, 10))
    assert "SLA warning: 75 % of the first response target used" in html
    assert "SLA breached: the first response target was missed" in html
    assert 'data-sla-tone="danger"' in html and 'data-sla-tone="warning"' in html
    as_person(client, world.l1_agent, "ru")
    html = get(client, ticket_url(ticket), at(23, 11, 10))
    assert "Предупреждение SLA: использовано 90 % срока первого ответа" in html
    assert "Нарушение SLA: пропущен срок первого ответа" in html


# --- choosing the agreement by hand -------------------------------------------------------------


@pytest.fixture
def gold(db) -> Agreement:
    return Agreement.objects.create(name="Gold", calendar=Calendar.objects.get(name="24/7"))


def choose(client: Any, ticket: Ticket, agreement: Agreement | None, *,
           version: int | None = None, htmx: bool = False) -> Any:
    ticket.refresh_from_db()
    data = {"version": ticket.version if version is None else version,
            "sla_agreement": agreement.pk if agreement else ""}
    with time_machine.travel(at(23, 10), tick=False):
        return client.post(ticket_url(ticket, "sla/"), data,
                           **({"HTTP_HX_REQUEST": "true"} if htmx else {}))


def test_an_agent_may_not_choose_the_agreement(world, client, gold):
    ticket = open_at(world)
    as_person(client, world.l1_agent)
    assert choose(client, ticket, gold).status_code == 403
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None


@pytest.mark.parametrize("who", ["manager", "lead", "admin"])
def test_managers_and_leads_choose_the_agreement(world, client, gold, who):
    ticket = open_at(world)
    as_person(client, getattr(world, who))
    r = choose(client, ticket, gold)
    assert r.status_code == 302
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id == gold.pk
    event = ticket.events.filter(kind=EventKind.FIELDS_CHANGED).latest("id")
    assert event.data["sla_agreement"] == [None, {"id": gold.pk, "name": "Gold"}]
    card = sla_card(get(client, ticket_url(ticket), at(23, 10)))
    assert "Gold" in card and "(set on the ticket)" in card
    assert f'<option value="{gold.pk}" selected>Gold</option>' in card
    # The clocks moved over to the chosen agreement.
    assert "Resolution: agreement changed — Standard → Gold" in card
    # "Automatic" gives the choice back to the rules.
    r = choose(client, ticket, None, htmx=True)
    assert r.status_code == 200 and "The agreement of the ticket is changed." in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None


def test_a_stale_choice_is_refused(world, client, gold):
    ticket = open_at(world)
    seen = ticket.version
    actions.add_note(ticket, body="Коллега успел раньше", actor=world.l1_agent, channel=WEB)
    as_person(client, world.manager)
    r = choose(client, ticket, gold, version=seen)
    assert r.status_code == 409
    assert "Someone else changed this ticket" in r.content.decode()
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None


def test_the_same_choice_again_and_an_inactive_agreement_are_refused(world, client, gold):
    ticket = open_at(world)
    as_person(client, world.manager)
    r = choose(client, ticket, None)
    assert r.status_code == 400
    assert "Nothing to change." in sla_card(r.content.decode())
    gold.is_active = False
    gold.save(update_fields=["is_active"])
    r = choose(client, ticket, gold)
    assert r.status_code == 400
    card = sla_card(r.content.decode())
    assert 'aria-invalid="true"' in card and "Select a valid choice" in card
    assert 'value="Gold"' not in card


def test_a_closed_ticket_offers_no_choice(world, client, gold):
    ticket = open_at(world)
    actions.cancel(ticket, reason="Дубль", actor=world.requester, channel=Channel.PORTAL,
                   now=at(23, 9, 5))
    as_person(client, world.manager)
    card = sla_card(get(client, ticket_url(ticket), at(23, 10)))
    assert 'id="sla-form"' not in card
    assert "not counted (cancelled)" in card


def test_the_page_query_count_does_not_depend_on_the_clocks(world, client,
                                                            django_assert_num_queries):
    """An OLA on the team adds clocks and SLA events, not queries."""
    few = open_at(world)
    many = open_at(world)
    Agreement.objects.create(kind="ola", name="L1 OLA", team=world.l1,
                             calendar=Calendar.objects.get(name="Business hours"))
    # Copy the default targets to the OLA so that its clock starts.
    standard = Agreement.objects.get(name="Standard")
    ola = Agreement.objects.get(name="L1 OLA")
    for target in standard.targets.filter(metric="resolution"):
        target.pk = None
        target.agreement = ola
        target.save()
    actions.update_fields(many, changes={"priority": 2}, actor=world.manager, channel=WEB,
                          now=at(23, 9, 30))
    actions.change_status(many, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 40))
    engine.scan(now=at(23, 11))
    as_person(client, world.l1_agent)
    counts = []
    for ticket in (few, many):
        with time_machine.travel(at(23, 11), tick=False), \
                django_assert_num_queries(19) as captured:
            r = client.get(ticket_url(ticket))
        assert r.status_code == 200
        counts.append(len(captured.captured_queries))
    assert "L1 OLA" in sla_card(r.content.decode())
    assert counts[0] == counts[1]


# --- the portal ---------------------------------------------------------------------------------


def test_the_requester_sees_when_the_first_answer_is_due_and_nothing_else(world, client):
    ticket = open_at(world)
    engine.scan(now=at(23, 10, 40))  # the 75 % warning: internal
    as_person(client, world.requester, "ru", "Asia/Yekaterinburg")
    path = reverse("portal:request", kwargs={"ref": ticket.number})
    html = get(client, path, at(23, 10, 45))
    # Due at 11:00 Moscow time: 13:00 in Yekaterinburg.
    assert "Служба поддержки ответит до 23 ноября 2026 г. 13:00." in html
    for internal in ("sla-badge", "Standard", "Предупреждение SLA", "SLA"):
        assert internal not in html
    # Late: no time in the past is promised.
    html = get(client, path, at(23, 11, 5))
    assert 'id="answer-by"' not in html
    # Answered: nothing to promise.
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 10, 50))
    assert 'id="answer-by"' not in get(client, path, at(23, 10, 55))
