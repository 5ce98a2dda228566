"""Lost updates: the ``expected_version`` guard, and the row lock that serialises writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.errors import StaleTicket
from opora.tickets.models import Ticket, TicketEvent

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises whole-database writers, so there is no row lock "
           "to race against (and its in-memory test database is shared across threads)",
)


# --- the expected_version guard (every database) ------------------------------------------------


def _resolve(w: Any) -> None:
    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="Готово", actor=w.l1_agent,
                    channel=Channel.WEB)


def _nothing(w: Any) -> None:
    return None


# action name → (set-up bringing the ticket to a status where it is allowed, the call)
STALE_CASES: dict[str, tuple[Callable[[Any], None], Callable[[Any, Ticket, int], Any]]] = {
    "reply": (_nothing, lambda w, t, v: actions.reply(
        t, body="Ответ", actor=w.l1_agent, channel=Channel.WEB, expected_version=v)),
    "add_note": (_nothing, lambda w, t, v: actions.add_note(
        t, body="Заметка", actor=w.l1_agent, channel=Channel.WEB, expected_version=v)),
    "assign": (_nothing, lambda w, t, v: actions.assign(
        t, assignee=w.l1_agent, actor=w.lead, channel=Channel.WEB, expected_version=v)),
    "escalate": (_nothing, lambda w, t, v: actions.escalate(
        t, to_team=w.l2, summary="Не помогло ничего из инструкции", actor=w.l1_agent,
        channel=Channel.WEB, expected_version=v)),
    "change_status": (_nothing, lambda w, t, v: actions.change_status(
        t, status=Status.IN_PROGRESS, actor=w.l1_agent, channel=Channel.WEB,
        expected_version=v)),
    "resolve": (_nothing, lambda w, t, v: actions.resolve(
        t, code=ResolutionCode.FIXED, resolution="Готово", actor=w.l1_agent,
        channel=Channel.WEB, expected_version=v)),
    "close": (_resolve, lambda w, t, v: actions.close(
        t, actor=w.requester, channel=Channel.PORTAL, expected_version=v)),
    "reopen": (_resolve, lambda w, t, v: actions.reopen(
        t, reason="Не работает", actor=w.requester, channel=Channel.PORTAL,
        expected_version=v)),
    "cancel": (_nothing, lambda w, t, v: actions.cancel(
        t, reason="Не нужно", actor=w.requester, channel=Channel.PORTAL, expected_version=v)),
    "update_fields": (_nothing, lambda w, t, v: actions.update_fields(
        t, changes={"impact": 1}, actor=w.l1_agent, channel=Channel.WEB, expected_version=v)),
}


def snapshot(ticket: Ticket) -> tuple[dict[str, Any], int]:
    return Ticket.objects.filter(pk=ticket.pk).values().get(), TicketEvent.objects.count()


@pytest.mark.parametrize("name", list(STALE_CASES))
def test_a_stale_version_is_refused_and_nothing_written(world, name):
    prepare, call = STALE_CASES[name]
    prepare(world)
    loaded = Ticket.objects.get(pk=world.ticket.pk)  # what the person had on screen
    # Someone else changes the ticket meanwhile.
    actions.add_note(world.ticket, body="Параллельная правка", actor=world.l1_agent2,
                     channel=Channel.WEB)
    before = snapshot(loaded)
    assert before[0]["version"] == loaded.version + 1

    with pytest.raises(StaleTicket) as caught:
        call(world, loaded, loaded.version)
    assert (caught.value.code, caught.value.status) == ("stale", 409)
    assert caught.value.current_version == loaded.version + 1
    assert snapshot(loaded) == before


@pytest.mark.parametrize("name", list(STALE_CASES))
def test_the_current_version_is_accepted(world, name):
    prepare, call = STALE_CASES[name]
    prepare(world)
    loaded = Ticket.objects.get(pk=world.ticket.pk)
    call(world, loaded, loaded.version)
    assert Ticket.objects.get(pk=loaded.pk).version == loaded.version + 1


# --- two people at the same moment (PostgreSQL) -------------------------------------------------


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.fixture
def hold_first_lock(monkeypatch) -> Iterator[dict[str, Any]]:
    """The first action to lock the ticket keeps its transaction open until the other thread
    is seen blocked on the row lock (or 30 s pass: a loaded machine can be slow). Without the
    lock both would read the same
    version at once, and the tests below would see both writes succeed."""
    state: dict[str, Any] = {"first": None, "blocked_seen": False}
    guard = threading.Lock()
    real_lock = actions._lock

    def lock(ticket: Ticket, expected_version: int | None) -> Ticket:
        locked = real_lock(ticket, expected_version)
        with guard:
            first = state["first"] is None
            if first:
                state["first"] = threading.get_ident()
        if first:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if _waiting_on_a_lock():
                    state["blocked_seen"] = True
                    break
                time.sleep(0.02)
        return locked

    monkeypatch.setattr(actions, "_lock", lock)
    yield state


def run_together(*jobs: Callable[[], Any]) -> list[Any]:
    """Start the jobs on their own threads (own database connections) at the same moment;
    return what each returned or raised."""
    barrier = threading.Barrier(len(jobs), timeout=10)
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    return results


@pytest.mark.postgres_only
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_edits_of_the_same_version_one_wins(world, hold_first_lock):
    first = Ticket.objects.get(pk=world.ticket.pk)
    second = Ticket.objects.get(pk=world.ticket.pk)
    version = first.version
    events = TicketEvent.objects.count()

    results = run_together(
        lambda: actions.update_fields(first, changes={"title": "Принтер 2 этаж"},
                                      actor=world.l1_agent, channel=Channel.WEB,
                                      expected_version=version),
        lambda: actions.update_fields(second, changes={"impact": 1}, actor=world.l1_agent2,
                                      channel=Channel.WEB, expected_version=version),
    )

    winners = [r for r in results if isinstance(r, Ticket)]
    losers = [r for r in results if isinstance(r, StaleTicket)]
    assert (len(winners), len(losers)) == (1, 1), results
    assert hold_first_lock["blocked_seen"], "the second writer never waited for the row lock"
    assert (losers[0].code, losers[0].current_version) == ("stale", version + 1)
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.version == version + 1
    changed = list(TicketEvent.objects.filter(kind=EventKind.FIELDS_CHANGED))
    assert len(changed) == 1 == TicketEvent.objects.count() - events
    # Exactly the winner's change landed; the loser's is nowhere.
    if results[0] is winners[0]:
        assert (ticket.title, ticket.impact) == ("Принтер 2 этаж", 2)
        assert changed[0].actor_id == world.l1_agent.pk
    else:
        assert ticket.impact == 1 and ticket.title == world.ticket.title
        assert changed[0].actor_id == world.l1_agent2.pk


@pytest.mark.postgres_only
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_replies_without_a_version_both_land_one_after_the_other(world, hold_first_lock):
    version = Ticket.objects.get(pk=world.ticket.pk).version

    results = run_together(
        lambda: actions.reply(world.ticket, body="Первый ответ", actor=world.l1_agent,
                              channel=Channel.WEB),
        lambda: actions.reply(world.ticket, body="Второй ответ", actor=world.requester,
                              channel=Channel.EMAIL),
    )

    assert all(isinstance(r, TicketEvent) for r in results), results
    assert hold_first_lock["blocked_seen"], "the second writer never waited for the row lock"
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.version == version + 2
    replies = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.REPLY)
    assert sorted(replies.values_list("body", flat=True)) == ["Второй ответ", "Первый ответ"]
    # The agent's reply is the first response whichever order they landed in.
    agent_reply = replies.get(actor=world.l1_agent)
    assert ticket.first_response_at == agent_reply.created_at
