"""SQL queries per API request, measured in-process on the benchmark database.

    OPORA_DATABASE_URL=... .venv/bin/python bench/queries.py [--explain] [--repeat 5]

The load test (bench/api_load.py) only sees HTTP. This runs the same scenarios through Django's
test client against the same database (settings from the same OPORA_* variables), with the
queries captured: for each scenario it prints the number of queries, the time spent in SQL and
the slowest query. With ``--explain`` it also prints the plan of every query of the read
scenarios that took more than ``--explain-ms`` — ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL,
``EXPLAIN QUERY PLAN`` on SQLite — plus the pagination COUNT(*) on its own.

The create and reply scenarios really write (one ticket, one reply per repeat): run it on a
benchmark database only.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from opora.accounts.models import User  # noqa: E402
from opora.tickets.choices import OPEN_STATUSES  # noqa: E402
from opora.tickets.models import Ticket  # noqa: E402

API = "/api/v1"
READS = ["agent.list_new", "agent.list_open", "agent.list_all", "agent.detail",
         "requester.list", "requester.detail"]
WRITES = ["agent.create", "agent.reply"]


def _client(email: str) -> Client:
    user = User.objects.get(email=email)
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token.key}")


def _requests(rng: random.Random, agent: User, requester: User) -> dict[str, Any]:
    visible = list(Ticket.objects.visible_to(agent).order_by("?").values_list("id", flat=True)[:50])
    open_ids = list(Ticket.objects.visible_to(agent).filter(status__in=OPEN_STATUSES)
                    .values_list("id", flat=True)[:50])
    mine = list(Ticket.objects.visible_to(requester).values_list("id", flat=True)[:50])
    return {
        "agent.list_new": lambda: ("get", f"{API}/tickets/?status=new&ordering=-priority", None),
        "agent.list_open": lambda: ("get", f"{API}/tickets/?open=true&ordering=-priority", None),
        "agent.list_all": lambda: ("get", f"{API}/tickets/", None),
        "agent.detail": lambda: ("get", f"{API}/tickets/{rng.choice(visible)}/", None),
        "requester.list": lambda: ("get", f"{API}/tickets/", None),
        "requester.detail": lambda: ("get", f"{API}/tickets/{rng.choice(mine)}/", None),
        "agent.create": lambda: ("post", f"{API}/tickets/",
                                 {"title": "Query count probe", "description": "bench/queries.py"}),
        "agent.reply": lambda: ("post", f"{API}/tickets/{rng.choice(open_ids)}/reply/",
                                {"body": "Query count probe"}),
    }


def _short(sql: str, width: int = 150) -> str:
    sql = re.sub(r"\s+", " ", sql)
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="requests per scenario")
    parser.add_argument("--explain", action="store_true", help="print plans of slow read queries")
    parser.add_argument("--explain-ms", type=float, default=1.0)
    parser.add_argument("--agent-email", default="agent@bench.local")
    parser.add_argument("--requester-email", default="requester@bench.local")
    parser.add_argument("--no-writes", action="store_true", help="skip create and reply")
    args = parser.parse_args(argv)

    rng = random.Random(7)
    agent = User.objects.get(email=args.agent_email)
    requester = User.objects.get(email=args.requester_email)
    clients = {"agent": _client(args.agent_email), "requester": _client(args.requester_email)}
    make = _requests(rng, agent, requester)
    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}, "
          f"{Ticket.objects.count():,} tickets")
    print(f"{'scenario':<18} {'status':>6} {'queries':>7} {'sql ms':>8} {'wall ms':>8}  slowest query")
    plans: list[tuple[str, float, str]] = []
    for name in READS + ([] if args.no_writes else WRITES):
        client = clients[name.split(".")[0]]
        counts, sql_ms, wall_ms = [], [], []
        slowest: tuple[float, str] = (0.0, "")
        last: list[tuple[str, float]] = []
        for i in range(args.repeat + 1):  # the first request warms caches and is not counted
            method, path, body = make[name]()
            timings: list[float] = []

            def timed(execute: Any, sql: str, params: Any, many: bool, context: Any,
                      timings: list[float] = timings) -> Any:
                t0 = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    timings.append((time.perf_counter() - t0) * 1000)

            with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
                started = time.perf_counter()
                if method == "get":
                    response = client.get(path)
                else:
                    response = client.post(path, body, content_type="application/json")
                elapsed = (time.perf_counter() - started) * 1000
            if response.status_code >= 400:
                print(f"{name}: HTTP {response.status_code} {response.content[:300]!r}")
                return 1
            if i == 0:
                continue
            queries = [q["sql"] for q in captured.captured_queries]
            counts.append(len(queries))
            sql_ms.append(sum(timings))
            wall_ms.append(elapsed)
            for sql, ms in zip(queries, timings, strict=False):
                if ms > slowest[0]:
                    slowest = (ms, sql)
            last = list(zip(queries, timings, strict=False))
        qcount = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
        print(f"{name:<18} {response.status_code:>6} {qcount:>7} "
              f"{statistics.median(sql_ms):>8.1f} {statistics.median(wall_ms):>8.1f}  "
              f"{slowest[0]:.1f} ms: {_short(slowest[1], 90)}")
        if args.explain and name in READS:
            for sql, ms in last:
                if ms >= args.explain_ms and sql.startswith("SELECT"):
                    plans.append((name, ms, sql))
    if args.explain:
        for name, ms, sql in plans:
            print(f"\n=== {name}: {ms:.1f} ms\n{_short(sql, 2000)}\n{explain(sql)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
