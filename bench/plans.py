"""Time the ticket list queries as the API builds them, next to proposed rewrites.

    OPORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opora_bench \\
        .venv/bin/python bench/plans.py [--repeat 5] [--with-index] [--explain NAME]

For the benchmark accounts (bench/seed.py) it builds each list's COUNT(*) and page query with
the application's own code (``selectors.ticket_list`` + ``TicketFilter`` + ordering), runs each
``--repeat`` times and prints the best and median execution times — on PostgreSQL also the
planning time, from ``EXPLAIN (ANALYZE, FORMAT JSON)``. Then the same lists with the changes
proposed in docs/performance.md, built here (the application is not changed):

  literal   visibility with the viewer's team ids and watched ticket ids read first (two tiny
            queries) and inlined, so the planner can combine index scans (BitmapOr) instead of
            filtering every row through hashed sub-plans;
  union     visibility as ``id IN (… UNION ALL …)`` — one query, index-friendly per branch
            (requesters only: for an agent who sees most tickets it is far slower);
  nodistinct  today's visibility, the status filter without django-filter's DISTINCT;
  capped    the COUNT(*) stopped at 1,000 rows ("1000+"), as a capped paginator would do.

``--with-index`` first creates the proposed partial index for the open queue on the benchmark
database (``CREATE INDEX IF NOT EXISTS``; it changes the benchmark database, nothing else).
``--explain NAME`` prints the full plan of the named query (see the first column).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Q, QuerySet  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from opora.accounts.models import Role, TeamMembership, User  # noqa: E402
from opora.tickets import selectors  # noqa: E402
from opora.tickets.choices import OPEN_STATUSES  # noqa: E402
from opora.tickets.filtersets import TicketFilter  # noqa: E402
from opora.tickets.models import Ticket  # noqa: E402

Watch = Ticket.watchers.through
OPEN_INDEX = (
    "CREATE INDEX IF NOT EXISTS ticket_open_queue_idx ON tickets_ticket "
    "(priority, id) INCLUDE (team_id, assignee_id, status) WHERE status IN ({})"
)


def as_api(user: User, params: str, ordering: list[str]) -> QuerySet[Ticket]:
    """The list queryset the way the API view builds it."""
    qs = selectors.ticket_list(user)
    qs = TicketFilter(QueryDict(params), queryset=qs).qs
    return qs.order_by(*ordering)


def literal_q(user: User) -> Q:
    watched = list(Watch.objects.filter(user_id=user.pk).values_list("ticket_id", flat=True))
    if user.role in (Role.AGENT, Role.TEAM_LEAD):
        teams = list(TeamMembership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))
        return Q(team_id__in=teams) | Q(assignee_id=user.pk) | Q(pk__in=watched)
    return Q(requester_id=user.pk) | Q(pk__in=watched)


def union_q(user: User) -> Q:
    watched = Watch.objects.filter(user_id=user.pk).values("ticket_id")
    if user.role in (Role.AGENT, Role.TEAM_LEAD):
        teams = TeamMembership.objects.filter(user_id=user.pk).values("team_id")
        ids = Ticket.objects.filter(team_id__in=teams).order_by().values("pk").union(
            Ticket.objects.filter(assignee_id=user.pk).order_by().values("pk"), watched, all=True)
    else:
        ids = Ticket.objects.filter(requester_id=user.pk).order_by().values("pk").union(
            watched, all=True)
    return Q(pk__in=ids)


def variant(user: User, params: str, ordering: list[str], how: str) -> QuerySet[Ticket]:
    if how == "as_is":
        return as_api(user, params, ordering)
    if how == "nodistinct":
        qs = selectors.ticket_list(user)  # today's visibility, filters without DISTINCT
    else:
        qs = Ticket.objects.filter(literal_q(user) if how == "literal" else union_q(user)
                                   ).for_list()
    filters = TicketFilter(QueryDict(params), queryset=Ticket.objects.all())
    filters.is_valid()
    data = filters.form.cleaned_data
    if data.get("status"):
        qs = qs.filter(status__in=data["status"])  # the status filter without DISTINCT
    if data.get("open"):
        qs = qs.filter(status__in=OPEN_STATUSES)
    return qs.order_by(*ordering)


def sql_of(qs: QuerySet[Any], kind: str) -> str:
    """The SQL Django sends for the page, the paginator's COUNT(*) or a capped count."""
    with CaptureQueriesContext(connection) as captured:
        if kind == "count":
            qs.count()
        elif kind == "capped":
            qs.order_by().values("pk")[:1000].count()
        else:
            list(qs[:25])
    return captured.captured_queries[-1]["sql"]


def timed(sql: str, repeat: int) -> dict[str, float]:
    runs = []
    with connection.cursor() as cursor:
        for _ in range(repeat):
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            runs.append((time.perf_counter() - started) * 1000)
        out = {"best": min(runs), "median": statistics.median(runs)}
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            out["planning"] = plan[0]["Planning Time"]
            out["execution"] = plan[0]["Execution Time"]
    return out


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--with-index", action="store_true",
                        help="create the proposed open-queue index first")
    parser.add_argument("--explain", action="append", default=[], metavar="NAME")
    parser.add_argument("--agent-email", default="agent@bench.local")
    parser.add_argument("--requester-email", default="requester@bench.local")
    args = parser.parse_args(argv)

    agent = User.objects.get(email=args.agent_email)
    requester = User.objects.get(email=args.requester_email)
    if args.with_index:
        statuses = ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES))
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(OPEN_INDEX.format(statuses))
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE tickets_ticket")
        print(f"Created ticket_open_queue_idx in {time.perf_counter() - started:.1f} s")

    lists: list[tuple[str, User, str, list[str]]] = [
        ("agent.list_new", agent, "status=new", ["-priority", "-pk"]),
        ("agent.list_open", agent, "open=true", ["-priority", "-pk"]),
        ("agent.list_all", agent, "", ["-created_at", "-pk"]),
        ("requester.list", requester, "", ["-created_at", "-pk"]),
    ]
    hows: list[tuple[str, Callable[..., QuerySet[Ticket]]]] = [
        ("as_is", variant), ("nodistinct", variant), ("literal", variant), ("union", variant)]
    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}, "
          f"{Ticket.objects.count():,} tickets; best / median of {args.repeat} runs, ms"
          + ("; planning and execution from EXPLAIN ANALYZE" if connection.vendor == "postgresql"
             else ""))
    head = f"{'query':<34} {'rows':>7} {'best':>8} {'median':>8}"
    if connection.vendor == "postgresql":
        head += f" {'plan':>7} {'exec':>8}"
    print(head)
    print("-" * len(head))
    for name, user, params, ordering in lists:
        for how, build in hows:
            if how == "union" and user.role != Role.REQUESTER:
                continue  # measured: 5-50x slower for an agent who sees most tickets
            if how == "nodistinct" and "status" not in params:
                continue  # only ?status= adds DISTINCT
            qs = build(user, params, ordering, how)
            kinds = ["count", "page"] + (["capped"] if how == "as_is" else [])
            for kind in kinds:
                label = f"{name}.{how}.{kind}"
                sql = sql_of(qs, kind)
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                    rows = cursor.fetchall()
                shown = rows[0][0] if kind in ("count", "capped") else len(rows)
                t = timed(sql, args.repeat)
                line = f"{label:<34} {shown:>7} {t['best']:>8.1f} {t['median']:>8.1f}"
                if "planning" in t:
                    line += f" {t['planning']:>7.1f} {t['execution']:>8.1f}"
                print(line, flush=True)
                if label in args.explain:
                    print(sql)
                    print(explain(sql))
    return 0


if __name__ == "__main__":
    sys.exit(main())
