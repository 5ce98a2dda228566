"""SLA in the ticket API: the ``sla`` clocks of the detail, the compact ``sla_due_at`` /
``sla_state`` of list rows, the ``sla=`` filter and ``ordering=sla_due``, choosing the agreement
with PATCH (team leads, desk managers and administrators only; the version guard holds), what
requesters do not see, and query counts that do not grow with the rows.

Tickets are opened through the actions at fixed instants; requests run with the clock frozen.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from opora.sla import engine
from opora.sla.models import Agreement, Calendar
from opora.tickets import actions
from opora.tickets.choices import Channel, Level, Status
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


def call(api: Any, method: str, path: str, when: datetime, **kwargs: Any) -> Any:
    with time_machine.travel(when, tick=False):
        return getattr(api, method)(path, **kwargs)


def iso(when: datetime) -> str:
    return when.astimezone(MSK).isoformat()


def listing(api: Any, query: str, when: datetime) -> list[dict[str, Any]]:
    r = call(api, "get", f"/api/v1/tickets/?{query}", when)
    assert r.status_code == 200, r.content
    return list(r.json()["results"])


# --- reading ------------------------------------------------------------------------------------


def test_the_detail_lists_the_current_clocks(world, api):
    ticket = open_at(world)
    actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB, now=at(23, 9, 12))
    api.as_user(world.l1_agent)
    r = call(api, "get", f"/api/v1/tickets/{ticket.number}/", at(23, 10))
    assert r.status_code == 200
    body = r.json()
    clocks = {c["metric"]: c for c in body["sla"]}
    assert set(clocks) == {"first_response", "resolution"}
    standard = Agreement.objects.get(name="Standard")
    assert clocks["first_response"] == {
        "metric": "first_response", "kind": "sla",
        "agreement": {"id": standard.pk, "name": "Standard"},
        "state": "stopped", "outcome": "met", "target_seconds": 7200, "used_seconds": 720,
        "percent": 10.0, "due_at": None, "breached_at": None,
    }
    resolution = clocks["resolution"]
    assert (resolution["state"], resolution["outcome"]) == ("running", "")
    assert (resolution["target_seconds"], resolution["used_seconds"]) == (24 * 3600, 3600)
    assert resolution["percent"] == pytest.approx(4.2)
    # Three business days: Monday to Wednesday, until closing time.
    assert resolution["due_at"] == iso(at(25, 18))
    assert body["sla_due_at"] == iso(at(25, 18)) and body["sla_state"] == "running"


def test_a_breach_in_the_detail(world, api):
    ticket = open_at(world)
    engine.scan(now=at(23, 11, 5))
    api.as_user(world.manager)
    body = call(api, "get", f"/api/v1/tickets/{ticket.number}/", at(23, 11, 30)).json()
    first = next(c for c in body["sla"] if c["metric"] == "first_response")
    assert first["breached_at"] == iso(at(23, 11))
    assert first["percent"] == 125.0 and first["used_seconds"] == 9000
    assert body["sla_state"] == "breached"


@pytest.mark.parametrize("who", ["requester", "org_manager"])
def test_requesters_see_no_sla_internals(world, api, who):
    ticket = open_at(world)
    api.as_user(getattr(world, who))
    body = call(api, "get", f"/api/v1/tickets/{ticket.number}/", at(23, 10)).json()
    assert body["sla"] is None and body["sla_due_at"] is None and body["sla_state"] is None
    row = listing(api, "", at(23, 10))[0]
    assert row["sla_due_at"] is None and row["sla_state"] is None
    r = call(api, "get", "/api/v1/tickets/?sla=breached", at(23, 10))
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_list_rows_carry_the_due_instant_and_state(world, api):
    medium = open_at(world)
    paused = open_at(world)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 5))
    resolved = open_at(world)
    actions.resolve(resolved, code="fixed", resolution="Готово", actor=world.l1_agent,
                    channel=WEB, now=at(23, 9, 10))
    api.as_user(world.manager)
    rows = {r["number"]: r for r in listing(api, "", at(23, 10))}
    assert (rows[medium.number]["sla_due_at"], rows[medium.number]["sla_state"]) == (
        iso(at(23, 11)), "running")
    assert (rows[paused.number]["sla_due_at"], rows[paused.number]["sla_state"]) == (
        None, "paused")
    assert (rows[resolved.number]["sla_due_at"], rows[resolved.number]["sla_state"]) == (
        None, "stopped")


# --- filters and ordering -----------------------------------------------------------------------


def test_the_sla_filter(world, api):
    running = open_at(world)
    paused = open_at(world)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 5))
    late = open_at(world, at(20, 9))  # Friday: overdue since 11:00 that day
    critical = open_at(world, impact=Level.HIGH, urgency=Level.HIGH)  # due 09:15
    api.as_user(world.manager)
    when = at(23, 9, 30)

    def numbers(query: str) -> set[str]:
        return {r["number"] for r in listing(api, query, when)}

    assert numbers("sla=breached") == {late.number, critical.number}
    assert numbers("sla=running") == {running.number, late.number, critical.number}
    assert numbers("sla=paused") == {paused.number}
    assert numbers("sla=breaching") == {late.number, critical.number}
    assert numbers("sla=paused&sla=breached") == {paused.number, late.number, critical.number}
    assert numbers("sla=breaching&open=true") == {late.number, critical.number}
    r = call(api, "get", "/api/v1/tickets/?sla=nonsense", when)
    assert r.status_code == 400


def test_ordering_by_the_due_instant(world, api):
    low = open_at(world, impact=Level.LOW, urgency=Level.MEDIUM)  # due 18:00
    paused = open_at(world)
    actions.change_status(paused, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB, now=at(23, 9, 1))
    critical = open_at(world, impact=Level.HIGH, urgency=Level.HIGH)  # due 09:15
    medium = open_at(world)  # due 11:00
    api.as_user(world.manager)
    ours = {low.number, paused.number, critical.number, medium.number}

    def order(query: str) -> list[str]:
        return [r["number"] for r in listing(api, query, at(23, 9, 5)) if r["number"] in ours]

    assert order("ordering=sla_due") == [critical.number, medium.number, low.number,
                                         paused.number]
    # Tickets without a running clock stay last either way.
    assert order("ordering=-sla_due") == [low.number, medium.number, critical.number,
                                          paused.number]
    assert order("ordering=priority,sla_due") == [critical.number, medium.number,
                                                  paused.number, low.number]


# --- choosing the agreement ---------------------------------------------------------------------


@pytest.fixture
def gold(db) -> Agreement:
    return Agreement.objects.create(name="Gold", calendar=Calendar.objects.get(name="24/7"))


def patch(api: Any, ticket: Ticket, payload: dict[str, Any]) -> Any:
    return call(api, "patch", f"/api/v1/tickets/{ticket.number}/", at(23, 10), data=payload,
                format="json")


def test_an_agent_may_not_choose_the_agreement(world, api, gold):
    ticket = open_at(world)
    api.as_user(world.l1_agent)
    r = patch(api, ticket, {"sla_agreement": gold.pk})
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None
    # Other fields stay open to agents.
    assert patch(api, ticket, {"title": "Принтер в 204"}).status_code == 200


@pytest.mark.parametrize("who", ["requester", "org_manager"])
def test_requesters_may_not_patch_at_all(world, api, gold, who):
    ticket = open_at(world)
    api.as_user(getattr(world, who))
    assert patch(api, ticket, {"sla_agreement": gold.pk}).status_code == 403


@pytest.mark.parametrize("who", ["lead", "manager", "admin"])
def test_leads_and_managers_choose_the_agreement(world, api, gold, who):
    ticket = open_at(world)
    api.as_user(getattr(world, who))
    r = patch(api, ticket, {"sla_agreement": gold.pk, "version": ticket.version})
    assert r.status_code == 200, r.content
    body = r.json()
    assert {c["agreement"]["name"] for c in body["sla"]} == {"Gold"}
    # Gold runs around the clock: the response is due 2 hours after the opening.
    first = next(c for c in body["sla"] if c["metric"] == "first_response")
    assert first["due_at"] == iso(at(23, 11))
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id == gold.pk
    r = patch(api, ticket, {"sla_agreement": None})
    assert r.status_code == 200
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None
    assert {c["agreement"]["name"] for c in r.json()["sla"]} == {"Standard"}


def test_choosing_refuses_stale_versions_and_unusable_agreements(world, api, gold):
    ticket = open_at(world)
    seen = ticket.version
    actions.add_note(ticket, body="Коллега успел раньше", actor=world.l1_agent, channel=WEB)
    api.as_user(world.manager)
    r = patch(api, ticket, {"sla_agreement": gold.pk, "version": seen})
    assert r.status_code == 409 and r.json()["code"] == "stale"
    ola = Agreement.objects.create(kind="ola", name="L1 OLA", team=world.l1,
                                   calendar=Calendar.objects.get(name="Business hours"))
    r = patch(api, ticket, {"sla_agreement": ola.pk})
    assert r.status_code == 400 and r.json()["code"] == "invalid_choice"
    assert list(r.json()["errors"]) == ["sla_agreement"]
    gold.is_active = False
    gold.save(update_fields=["is_active"])
    assert patch(api, ticket, {"sla_agreement": gold.pk}).status_code == 400
    assert patch(api, ticket, {"sla_agreement": 10**12}).status_code == 400
    ticket.refresh_from_db()
    assert ticket.sla_agreement_id is None


# --- query counts -------------------------------------------------------------------------------

#: token → user (1), count (1), the page (1), the page's SLA clocks (1).
STAFF_LIST = 4
#: the same without the clocks: requesters are not shown them.
REQUESTER_LIST = 3


def _tickets(world: Any, count: int) -> None:
    for i in range(count):
        ticket = open_at(world, T0 + timedelta(minutes=i),
                         impact=[Level.HIGH, Level.MEDIUM, Level.LOW][i % 3])
        if i % 3 == 0:
            actions.reply(ticket, body="Смотрим", actor=world.l1_agent, channel=WEB,
                          now=T0 + timedelta(minutes=i + 1))
        if i % 4 == 1:
            actions.change_status(ticket, status=Status.WAITING_REQUESTER,
                                  actor=world.l1_agent, channel=WEB,
                                  now=T0 + timedelta(minutes=i + 2))
    engine.scan(now=at(23, 12))


@pytest.mark.parametrize("count", [5, 25])
def test_list_query_counts_do_not_grow_with_rows(world, api, django_assert_num_queries, count):
    _tickets(world, count)
    cases = [("manager", "", STAFF_LIST), ("l1_agent", "", STAFF_LIST),
             ("manager", "ordering=sla_due&sla=running", STAFF_LIST),
             ("requester", "", REQUESTER_LIST), ("requester", "ordering=-sla_due", REQUESTER_LIST)]
    for who, query, expected in cases:
        api.as_user(getattr(world, who))
        with time_machine.travel(at(23, 12), tick=False), django_assert_num_queries(expected):
            r = api.get(f"/api/v1/tickets/?page_size=50&{query}")
        assert r.status_code == 200
        assert len(r.json()["results"]) >= (count if "sla=" not in query else 1)


@pytest.mark.parametrize("count", [5, 25])
def test_detail_query_count_does_not_grow_with_clocks(world, api, django_assert_num_queries,
                                                      count):
    _tickets(world, count)
    ticket = Ticket.objects.filter(status=Status.NEW).order_by("pk").first()
    assert ticket is not None
    api.as_user(world.manager)
    with time_machine.travel(at(23, 12), tick=False), django_assert_num_queries(7):
        r = api.get(f"/api/v1/tickets/{ticket.number}/")
    assert r.status_code == 200 and len(r.json()["sla"]) >= 2
