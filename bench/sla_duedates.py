"""How fast business-time arithmetic computes SLA due instants.

    .venv/bin/python bench/sla_duedates.py [--n 100000] [--seed 4]

A Moscow service desk (Monday–Friday 09:00–18:00 with lunch 13:00–14:00, the Russian
production calendar 2024–2027: holidays, transferred working Saturdays, shortened pre-holiday
days). For ``--n`` random ticket creation instants in 2024–2027 and targets from 15 minutes to
five business days (5 × 8 h) it times ``BusinessTime.add`` (the due instant), then
``BusinessTime.between`` on the same pairs — and checks that between(start, due) gives the
target back exactly. Then the same ``add`` calls on a 24/7 calendar. The first call, which
builds the interval table, is timed separately.

Needs no Django settings and no database: it imports only ``opora.sla.businesstime`` and
``opora.sla.production``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from opora.sla.businesstime import BusinessTime, Schedule  # noqa: E402
from opora.sla.production import apply_days, russian_production_calendar  # noqa: E402

H = 3600
WEEKLY = {day: [(9 * H, 13 * H), (14 * H, 18 * H)] for day in range(5)}


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {n:>9,} calls  {seconds:8.3f} s  {n / seconds:>12,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="calls per measurement")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    n = args.n
    rng = random.Random(args.seed)
    t_total = time.perf_counter()

    t0 = time.perf_counter()
    days = russian_production_calendar(range(2024, 2028))
    holidays, special = apply_days(WEEKLY, days)
    schedule = Schedule("Europe/Moscow", WEEKLY, holidays, special)
    t_calendar = time.perf_counter() - t0
    print(
        f"calendar: Europe/Moscow, Mon-Fri 09-13 + 14-18; 2024-2027: {len(holidays)} holidays, "
        f"{len(special)} special days (working Saturdays, short days); built in "
        f"{t_calendar * 1000:.1f} ms"
    )

    first = datetime(2024, 1, 1, tzinfo=UTC)
    span_us = int((datetime(2028, 1, 1, tzinfo=UTC) - first) / timedelta(microseconds=1))
    starts = [first + timedelta(microseconds=rng.randrange(span_us)) for _ in range(n)]
    targets = [timedelta(seconds=rng.randint(15 * 60, 5 * 8 * H)) for _ in range(n)]

    bt = BusinessTime(schedule)
    t0 = time.perf_counter()
    bt.add(starts[0], targets[0])  # builds the interval table for the years around it
    t_first = time.perf_counter() - t0
    print(f"first add() (builds the interval table):     {t_first * 1000:8.2f} ms")
    bt.add(datetime(2027, 12, 31, tzinfo=UTC), timedelta(hours=40))  # grow to the end, untimed

    add = bt.add
    t0 = time.perf_counter()
    dues = [add(s, d) for s, d in zip(starts, targets, strict=True)]
    rate("add(start, target) -> due", n, time.perf_counter() - t0)

    between = bt.between
    t0 = time.perf_counter()
    spent = [between(s, due) for s, due in zip(starts, dues, strict=True)]
    rate("between(start, due)", n, time.perf_counter() - t0)
    wrong = sum(1 for got, want in zip(spent, targets, strict=True) if got != want)
    if wrong:
        sys.exit(f"between(start, add(start, d)) != d for {wrong} of {n} pairs")

    always = BusinessTime(Schedule.around_the_clock("Europe/Moscow"))
    add = always.add
    t0 = time.perf_counter()
    for s, d in zip(starts, targets, strict=True):
        add(s, d)
    rate("24/7 add(start, target)", n, time.perf_counter() - t0)

    print(f"exact: between(start, due) == target for all {n:,} pairs")
    print(f"total: {time.perf_counter() - t_total:.2f} s (incl. generating the inputs)")


if __name__ == "__main__":
    main()
