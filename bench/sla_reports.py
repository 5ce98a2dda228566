"""How long the SLA reports take over many clocks (compliance, percentiles, penalties, breached).

    OPORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opora_bench_reports \\
        .venv/bin/python bench/sla_reports.py                 # 1,000,000 clocks on PostgreSQL
    .venv/bin/python bench/sla_reports.py --clocks 100000     # the default without PostgreSQL

Seeds (again when the count differs, or with ``--reseed``) N finished and breached clocks over
the twelve months of 2024 with ``bulk_create`` — about 2.5 clocks a ticket (first response,
resolution, half of them a next response), 20 organisations (10 with a contract carrying a
penalty rule, half per breach, half per point), 8 teams, all priorities; 85 % met, 10 %
breached, 3 % still open and overdue, 2 % cancelled. Like bench/seed.py it bypasses the ticket
actions and the engine on purpose (a million clocks through them would take hours); the rows look
like the engine's. Then it times what the report page and the API run (``opora.sla.reports``),
each ``--repeat`` times (best and median, with the number of SQL queries):

1. compliance for the year grouped by month × priority (and by team × organisation: a join);
2. percentiles of business time used, per metric × priority;
3. penalties per contract and month;
4. the first page of the breached list (count + 50 rows with how late each is);
5. the breached list streamed as CSV (rows per second), and the XLSX workbook when N ≤ 200,000
   (or with ``--xlsx``).

On PostgreSQL each compliance and penalty query runs in a transaction of its own with
``work_mem`` raised (``reports.sort_memory``), so their query counts include BEGIN, the
``set_config`` and COMMIT. The database is migrated first. Numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:
    django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from opora.accounts.models import Line, Organisation, Role, Team, User  # noqa: E402
from opora.sla import exports, reports  # noqa: E402
from opora.sla.choices import AgreementKind, ClockState, Metric, Outcome, PenaltyKind  # noqa: E402
from opora.sla.models import Agreement, Calendar, Clock  # noqa: E402
from opora.tickets.models import Ticket  # noqa: E402

PREFIX = "RB-"
ZONE = ZoneInfo("Europe/Moscow")
YEAR_START = datetime(2024, 1, 1, tzinfo=ZONE)
H = 3600
#: priority → (first response, resolution, next response) targets in seconds
TARGETS = {1: (900, 4 * H, H), 2: (1800, 8 * H, 4 * H), 3: (2 * H, 24 * H, 8 * H),
           4: (8 * H, 40 * H, 16 * H), 5: (8 * H, 80 * H, 24 * H)}
METRICS = (Metric.FIRST_RESPONSE, Metric.RESOLUTION, Metric.NEXT_RESPONSE)


def seeded() -> int:
    return Clock.objects.filter(ticket__number__startswith=PREFIX).count()


def wipe() -> None:
    with connection.cursor() as cur:
        cur.execute("DELETE FROM sla_clock WHERE ticket_id IN (SELECT id FROM tickets_ticket "
                    "WHERE number LIKE %s)", [PREFIX + "%"])
        cur.execute("DELETE FROM tickets_ticket WHERE number LIKE %s", [PREFIX + "%"])


def seed(clocks: int, batch: int, rng: random.Random) -> None:
    started = time.perf_counter()
    orgs = [Organisation.objects.get_or_create(name=f"Report bench org {i:02d}")[0]
            for i in range(20)]
    teams = [Team.objects.get_or_create(name=f"Report bench team {i}",
                                        defaults={"line": Line.L1 if i < 3 else Line.L2})[0]
             for i in range(8)]
    requesters = [User.objects.get_or_create(
        email=f"requester{i}@report-bench.local",
        defaults={"full_name": f"Requester {i}", "role": Role.REQUESTER, "organisation": org})[0]
        for i, org in enumerate(orgs)]
    around = Calendar.objects.get(is_24x7=True, name="24/7")
    default = Agreement.objects.get(kind=AgreementKind.SLA, is_default=True)
    contracts: dict[int, Agreement] = {}
    for i, org in enumerate(orgs[:10]):
        contracts[org.pk] = Agreement.objects.update_or_create(
            name=f"Report bench contract {i:02d}", defaults={
                "kind": AgreementKind.SLA, "organisation": org, "calendar": around,
                "monthly_fee": Decimal(100_000 + 10_000 * i),
                "penalty_kind": PenaltyKind.PER_BREACH if i % 2 else PenaltyKind.PER_POINT,
                "penalty_percent": Decimal("0.5") if i % 2 else Decimal("2"),
                "penalty_cap_percent": Decimal("20"), "compliance_target": Decimal("95")})[0]
    year = 366 * 24 * H
    made = 0
    number = 0
    while made < clocks:
        tickets: list[Ticket] = []
        plans: list[tuple[int, int, int, datetime, int]] = []
        while made + len(plans) * 5 // 2 < min(clocks, made + batch):
            number += 1
            who = rng.randrange(len(requesters))
            opened = YEAR_START + timedelta(seconds=rng.randrange(year))
            priority = rng.choice((1, 2, 3, 3, 3, 4, 4, 5))
            team = teams[rng.randrange(len(teams))]
            tickets.append(Ticket(
                number=f"{PREFIX}{number}", type="incident", title=f"Report bench {number}",
                requester=requesters[who], organisation=orgs[who], channel="portal",
                impact=2, urgency=2, priority=priority, status="resolved", team=team,
                current_line=team.line, created_at=opened, updated_at=opened))
            plans.append((who, priority, team.pk, opened, 3 if rng.random() < 0.5 else 2))
        with transaction.atomic():
            Ticket.objects.bulk_create(tickets, batch_size=5000)
            rows = []
            for ticket, (who, priority, team_id, opened, count) in zip(tickets, plans,
                                                                       strict=True):
                agreement = contracts.get(orgs[who].pk, default)
                for metric in METRICS[:count]:
                    if made + len(rows) >= clocks:
                        break
                    rows.append(_clock(rng, ticket, agreement, metric, priority, team_id,
                                       opened))
            Clock.objects.bulk_create(rows, batch_size=5000)
        made += len(rows)
        print(f"  {made:,} clocks, {time.perf_counter() - started:.0f} s", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE tickets_ticket")
            cur.execute("ANALYZE sla_clock")
    print(f"Seeded {made:,} clocks in {time.perf_counter() - started:.1f} s")


def _clock(rng: random.Random, ticket: Ticket, agreement: Agreement, metric: str,
           priority: int, team_id: int, opened: datetime) -> Clock:
    target = TARGETS[priority][METRICS.index(metric)]
    started = opened if metric != Metric.NEXT_RESPONSE else opened + timedelta(hours=2)
    roll = rng.random()
    clock = Clock(ticket=ticket, agreement=agreement, kind=AgreementKind.SLA, metric=metric,
                  cycle=1, calendar=None, priority=priority, ticket_type="incident",
                  team_id=team_id, target_seconds=target, started_at=started)
    if roll < 0.85:
        used = int(target * rng.uniform(0.05, 0.99) * 1_000_000)
        clock.state, clock.outcome = ClockState.STOPPED, Outcome.MET
    elif roll < 0.95:
        used = int(target * rng.uniform(1.0, 3.0) * 1_000_000)
        clock.state, clock.outcome = ClockState.STOPPED, Outcome.BREACHED
        clock.breached_at = started + timedelta(seconds=target)
    elif roll < 0.98:
        used = target * 1_000_000
        clock.state, clock.outcome = ClockState.PAUSED, Outcome.PENDING
        clock.breached_at = started + timedelta(seconds=target)
    else:
        used = int(target * rng.uniform(0.1, 0.5) * 1_000_000)
        clock.state, clock.outcome = ClockState.STOPPED, Outcome.CANCELLED
    clock.elapsed_us = used
    if clock.state == ClockState.STOPPED:
        clock.stopped_at = started + timedelta(microseconds=used)
    return clock


def timed(label: str, repeat: int, work: Callable[[], Any]) -> Any:
    times = []
    result = None
    queries = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            begin = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - begin)
        queries = len(captured.captured_queries)
    print(f"{label:<48} best {min(times) * 1000:8.1f} ms   median "
          f"{statistics.median(times) * 1000:8.1f} ms   {queries} queries", flush=True)
    return result


def main() -> None:
    postgres = connection.vendor == "postgresql"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clocks", type=int, default=1_000_000 if postgres else 100_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--xlsx", action="store_true", help="time the XLSX workbook at any N")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    have = seeded()
    if have != args.clocks or args.reseed:
        print(f"Seeding {args.clocks:,} clocks ({connection.vendor}; had {have:,})")
        wipe()
        seed(args.clocks, args.batch, random.Random(20240101))
    print(f"{connection.vendor}, {seeded():,} report-bench clocks "
          f"({Clock.objects.count():,} in all)")

    year = reports.ReportFilters(month_from=date(2024, 1, 1), month_to=date(2024, 12, 1),
                                 group_by=("month", "priority"))
    rows = timed("compliance: month × priority (12 months)", args.repeat,
                 lambda: reports.compliance(year))
    print(f"  {len(rows)} rows; total {reports.compliance_total(rows).compliance} %")
    by_team = reports.ReportFilters(month_from=year.month_from, month_to=year.month_to,
                                    group_by=("team", "organisation"))
    rows = timed("compliance: team × organisation (join)", args.repeat,
                 lambda: reports.compliance(by_team))
    print(f"  {len(rows)} rows")
    one_month = reports.ReportFilters(month_from=date(2024, 6, 1), month_to=date(2024, 6, 1),
                                      group_by=("metric", "priority"))
    timed("compliance: one month, metric × priority", args.repeat,
          lambda: reports.compliance(one_month))
    rows = timed("percentiles 50/90/95: metric × priority", args.repeat,
                 lambda: reports.percentile_table(year))
    print(f"  {len(rows)} rows; P1 first response p95 = "
          f"{rows[0].values[95] / 60:.1f} min" if rows else "  no rows")
    rows = timed("penalties: contracts × 12 months", args.repeat,
                 lambda: reports.penalties(year.month_from, year.month_to))
    print(f"  {len(rows)} rows; total {reports.penalty_total(rows)}")
    now = datetime(2025, 1, 15, tzinfo=ZONE)

    def first_page() -> int:
        qs = reports.breached(year)
        total = qs.count()
        for clock in qs[:50]:
            reports.late_seconds(clock, now)
        return total

    total = timed("breached: count + first page of 50", args.repeat, first_page)
    print(f"  {total:,} breached clocks")
    begin = time.perf_counter()
    lines = sum(1 for _ in exports.csv_lines(exports.breached_table(year, now=now), ZONE))
    spent = time.perf_counter() - begin
    print(f"{'breached list as CSV (streamed)':<48} {spent:8.1f} s   {lines - 1:,} rows, "
          f"{(lines - 1) / spent:,.0f} rows/s")
    if args.xlsx or args.clocks <= 200_000:
        begin = time.perf_counter()
        out = io.BytesIO()
        exports.write_xlsx(out, exports.tables(year, penalties=True, now=now), ZONE)
        print(f"{'XLSX workbook (four sheets)':<48} {time.perf_counter() - begin:8.1f} s   "
              f"{len(out.getvalue()) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
