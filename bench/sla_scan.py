"""How long one SLA scan takes with a million open tickets (PostgreSQL).

    OPORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opora_bench_sla \\
        .venv/bin/python bench/sla_scan.py --tickets 1000000

Seeds (again when the count differs, or with ``--reseed``) N open tickets with two running clocks each (first
response and resolution of the default agreement) whose next threshold instants are spread over
the next 30 days — written with ``INSERT ... SELECT generate_series`` because a million tickets
through the actions would take hours. Then it times the worker's scan as it runs in production
(``opora.sla.engine.scan``):

1. nothing due: the scan's claim query over the partial ``next_check_at`` index;
2. K clocks due (default 1,000 and 10,000): claim, compute, record firings and timeline entries;

and prints EXPLAIN ANALYZE of the claim query. The database is migrated first. Numbers go to
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from opora.accounts.models import Role, User  # noqa: E402
from opora.sla import engine  # noqa: E402
from opora.sla.models import Agreement, Clock, Firing, SlaEvent  # noqa: E402
from opora.tickets.models import Ticket  # noqa: E402


def seed(tickets: int) -> None:
    requester, _ = User.objects.get_or_create(
        email="requester@sla-bench.local",
        defaults={"full_name": "Bench requester", "role": Role.REQUESTER})
    agreement = Agreement.objects.get(is_default=True, kind="sla")
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO tickets_ticket (number, type, title, description, requester_id, channel,
                impact, urgency, priority, status, current_line, is_major, resolution_code,
                resolution, vendor_reference, version, created_at, updated_at, reopen_count)
            SELECT 'B-' || g, 'incident', 'Bench ticket ' || g, '', %s, 'portal', 2, 2, 3,
                   'new', 1, false, '', '', '', 1, now() - interval '1 day', now(), 0
            FROM generate_series(1, %s) AS g
            """,
            [requester.pk, tickets],
        )
        cur.execute("SELECT min(id), max(id) FROM tickets_ticket WHERE number LIKE 'B-%%'")
        low, high = cur.fetchone()
        for metric, target in (("first_response", 7200), ("resolution", 86400)):
            # next_check_at spread over the next 30 days, due_at a little later.
            cur.execute(
                """
                INSERT INTO sla_clock (ticket_id, agreement_id, kind, metric, cycle, calendar_id,
                    priority, ticket_type, target_seconds, state, outcome, started_at,
                    elapsed_us, running_since, due_at, next_check_at, fired_percent)
                SELECT t.id, %s, 'sla', %s, 1, %s, 3, 'incident', %s, 'running', '',
                       t.created_at, 0, t.created_at,
                       now() + interval '1 minute' + (random() * interval '31 days'),
                       now() + interval '1 minute' + (random() * interval '30 days'), 0
                FROM tickets_ticket t WHERE t.id BETWEEN %s AND %s
                """,
                [agreement.pk, metric, agreement.calendar_id, target, low, high],
            )
        cur.execute("ANALYZE tickets_ticket")
        cur.execute("ANALYZE sla_clock")
    print(f"seeded {tickets:,} open tickets and {2 * tickets:,} running clocks "
          f"in {time.perf_counter() - started:.1f} s")


def make_due(count: int) -> None:
    """Move ``count`` clocks' next check into the past (as time passing would)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE sla_clock SET next_check_at = now() - interval '1 second',
                   running_since = now() - interval '20 days'
            WHERE id IN (SELECT id FROM sla_clock WHERE next_check_at IS NOT NULL
                         ORDER BY random() LIMIT %s)
            """,
            [count],
        )


def explain() -> str:
    qs = (Clock.objects.filter(next_check_at__lte=timezone.now())
          .select_related("calendar", "ticket").order_by("next_check_at")
          .select_for_update(skip_locked=True, of=("self",)))[:1000]
    with transaction.atomic():
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cur.fetchall())
        transaction.set_rollback(True)
    return plan


def timed_scan() -> tuple[float, int]:
    started = time.perf_counter()
    fired = engine.scan()
    return time.perf_counter() - started, fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--due", default="1000,10000", help="comma-separated due counts")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set OPORA_DATABASE_URL.")
    call_command("migrate", verbosity=0)
    present = -1 if args.reseed else Ticket.objects.filter(number__startswith="B-").count()
    if present != args.tickets:
        with connection.cursor() as cur:
            cur.execute("TRUNCATE sla_firing, sla_slaevent, sla_clock, tickets_ticketevent, "
                        "tickets_ticket_watchers, tickets_attachment, tickets_ticket CASCADE")
        seed(args.tickets)
    open_clocks = Clock.objects.filter(state="running").count()
    print(f"open tickets: {Ticket.objects.count():,}; running clocks: {open_clocks:,}")
    Firing.objects.all().delete()
    for _ in range(3):
        elapsed, fired = timed_scan()
        print(f"scan, nothing due: {elapsed * 1000:.1f} ms (fired {fired})")
    for count in [int(c) for c in args.due.split(",") if c]:
        make_due(count)
        elapsed, fired = timed_scan()
        print(f"scan, {count:,} clocks due: {elapsed * 1000:.0f} ms, fired {fired:,} thresholds "
              f"({fired / elapsed:,.0f} per second)")
    make_due(1000)
    print("claim query plan (1,000 due):")
    print(explain())
    # Leave the database as it was for the next run's "nothing due" numbers.
    Firing.objects.all().delete()
    SlaEvent.objects.filter(kind__in=["threshold", "breached"]).delete()
    with connection.cursor() as cur:
        # The timeline refuses deletes through the ORM (append-only); this is a bench database.
        cur.execute("DELETE FROM tickets_ticketevent WHERE kind LIKE 'sla_%%'")
        cur.execute("UPDATE sla_clock SET next_check_at = now() + interval '1 day', "
                    "fired_percent = 0, breached_at = NULL WHERE next_check_at IS NULL "
                    "OR next_check_at < now()")


if __name__ == "__main__":
    main()
