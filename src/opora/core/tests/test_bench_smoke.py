"""Keep the benchmark scripts working: seed a few tickets with bench/seed.py and check the
percentile maths of bench/api_load.py.

bench/ is not a package (it is run as scripts), so its modules are loaded from their files.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest

from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, Status
from opora.tickets.models import Ticket, TicketEvent

BENCH = Path(__file__).resolve().parents[4] / "bench"


def _load(name: str) -> ModuleType:
    module_name = f"opora_bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seed_module() -> ModuleType:
    return _load("seed")


@pytest.fixture(scope="module")
def load_module() -> ModuleType:
    pytest.importorskip("httpx")
    return _load("api_load")


def test_seed_writes_consistent_tickets_and_timelines(db, seed_module):
    result = seed_module.seed(30, batch_size=8, days=30, requesters=12, organisations=3,
                              progress=None)

    tickets = list(Ticket.objects.order_by("id"))
    assert result.tickets == len(tickets) == 30
    assert result.events == TicketEvent.objects.count()
    assert result.watchers == Ticket.watchers.through.objects.count()
    assert [t.pk for t in tickets] == list(range(result.first_id, result.last_id + 1))
    events_by_ticket: dict[int, list[TicketEvent]] = {}
    for event in TicketEvent.objects.order_by("created_at", "id"):
        events_by_ticket.setdefault(event.ticket_id, []).append(event)
    for ticket in tickets:
        assert ticket.number == Ticket.make_number(ticket.type, ticket.pk)
        events = events_by_ticket[ticket.pk]
        assert 1 <= len(events) <= 14
        assert events[0].kind == EventKind.CREATED
        assert events[0].created_at == ticket.created_at
        assert events[-1].created_at == ticket.updated_at
        assert [e.id for e in events] == sorted(e.id for e in events)
        assert 1 <= ticket.version <= len(events)  # every action writes at least one event
        assert ticket.organisation_id == ticket.requester.organisation_id
        # The last status change in the timeline is the ticket's status.
        moves = [e.data["status"] for e in events if "status" in e.data]
        assert (moves[-1][1] if moves else Status.NEW) == ticket.status
        for old, new in itertools.pairwise(moves):
            assert old[1] == new[0]  # each change starts where the previous ended
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            assert ticket.resolved_at is not None and ticket.resolution_code
        if ticket.status in (Status.CLOSED, Status.CANCELLED):
            assert ticket.closed_at is not None
        if ticket.status == Status.NEW:
            assert ticket.assignee_id is None
    assert sum(result.statuses.values()) == 30


def test_seeded_ids_leave_room_for_new_tickets(db, seed_module):
    seed_module.seed(5, batch_size=5, requesters=3, organisations=1, progress=None)
    requester = Ticket.objects.earliest("id").requester

    # The sequences were moved past the explicit ids: the application numbers on from there.
    ticket = actions.open_ticket(requester=requester, title="After the seed", actor=requester,
                                 channel=Channel.PORTAL)

    assert ticket.pk > Ticket.objects.exclude(pk=ticket.pk).latest("id").pk
    assert ticket.number == Ticket.make_number(ticket.type, ticket.pk)
    assert ticket.events.get().kind == EventKind.CREATED


def test_seeding_again_adds_tickets_and_reuses_the_accounts(db, seed_module):
    seed_module.seed(3, requesters=4, organisations=2, progress=None)
    from opora.accounts.models import User

    people = User.objects.count()
    seed_module.seed(4, requesters=4, organisations=2, progress=None)

    assert Ticket.objects.count() == 7
    assert User.objects.count() == people
    assert User.objects.filter(email=seed_module.AGENT_EMAIL, teams__isnull=False).exists()


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0], 50, 1.5),
        (list(range(1, 101)), 0, 1),
        (list(range(1, 101)), 50, 50.5),
        (list(range(1, 101)), 95, 95.05),
        (list(range(1, 101)), 100, 100),
        ([30.0, 10.0, 20.0], 50, 20.0),  # unsorted input
    ],
)
def test_percentile(load_module, values, p, expected):
    assert load_module.percentile(values, p) == pytest.approx(expected)


def test_percentile_refuses_nonsense(load_module):
    with pytest.raises(ValueError):
        load_module.percentile([], 50)
    with pytest.raises(ValueError):
        load_module.percentile([1.0], 101)
