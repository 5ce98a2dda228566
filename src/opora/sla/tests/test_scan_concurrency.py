"""Several workers scanning at once fire each threshold exactly once (PostgreSQL row locks)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction

from opora.sla import engine
from opora.sla.models import Clock, Firing
from opora.tickets import actions
from opora.tickets.choices import EventKind
from opora.tickets.models import TicketEvent

MSK = ZoneInfo("Europe/Moscow")
OPENED = datetime(2026, 1, 12, 9, 0, tzinfo=MSK)  # a Monday


def _open(world, count: int) -> None:
    for n in range(count):
        actions.open_ticket(requester=world.requester, title=f"Не работает №{n}",
                            channel="portal", actor=world.requester, now=OPENED)


@pytest.mark.django_db
def test_a_threshold_row_cannot_be_written_twice(world):
    _open(world, 1)
    clock = Clock.objects.filter(ticket__title="Не работает №0").first()
    assert clock is not None
    Firing.objects.create(clock=clock, percent=50, reached_at=OPENED)
    with pytest.raises(IntegrityError), transaction.atomic():
        Firing.objects.create(clock=clock, percent=50, reached_at=OPENED)


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason=(
    "needs PostgreSQL: the scan claims clocks with SELECT ... FOR UPDATE SKIP LOCKED; SQLite "
    "serialises writers and its in-memory test database is shared across threads"))
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_four_concurrent_scans_fire_each_threshold_exactly_once(world):
    actions.cancel(world.ticket, reason="Не относится к тесту", actor=world.requester,
                   channel="portal")
    _open(world, 60)
    clocks = Clock.objects.filter(state="running").count()
    assert clocks == 120  # first response and resolution of each ticket
    now = OPENED + timedelta(days=60)  # every threshold of every clock is long past
    start = threading.Barrier(4)
    results: list[int | BaseException] = [0] * 4

    def work(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = engine.scan(now=now, batch=3)
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()

    assert all(isinstance(r, int) for r in results), results
    expected = clocks * 4  # 50, 75, 90 and 100 %
    assert sum(results) == expected == Firing.objects.count()  # type: ignore[arg-type]
    assert len([r for r in results if r]) >= 2, f"no concurrency happened: {results}"
    per_clock = Counter(Firing.objects.values_list("clock_id", "percent"))
    assert set(per_clock.values()) == {1}
    assert TicketEvent.objects.filter(kind=EventKind.SLA_BREACHED).count() == clocks
    assert not Clock.objects.filter(next_check_at__isnull=False).exists()
    # And a later scan finds nothing left to fire.
    assert engine.scan(now=now + timedelta(days=1)) == 0
