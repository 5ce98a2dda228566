"""Drive the HTTP API of an already running Opora with C concurrent clients, scenario by scenario.

    .venv/bin/python bench/api_load.py http://127.0.0.1:8000 --concurrency 8 --duration 20
    .venv/bin/python bench/api_load.py --concurrency 1 --requests 200 --scenarios agent.detail

Each scenario runs alone: C threads, each with its own keep-alive connection and API token, send
requests until the duration is over or the request budget is spent (a short warm-up is not
counted), then the next scenario starts. Every request is timed on the client, from sending to
the last byte of the body. A request is an error when it raises (timeout, refused connection)
or answers another status than the scenario expects; errors are counted and reported with their
status codes, never dropped — latency percentiles are over the successful requests.

Scenarios (ROLE.NAME):
  agent.list_new       GET  /api/v1/tickets/?status=new&ordering=-priority  (the queue page)
  agent.list_open      GET  /api/v1/tickets/?open=true&ordering=-priority
  agent.list_all       GET  /api/v1/tickets/  (everything the agent's team has, newest first)
  agent.detail         GET  /api/v1/tickets/<id>/  (random tickets the agent can see)
  requester.list       GET  /api/v1/tickets/  (my tickets)
  requester.detail     GET  /api/v1/tickets/<id>/  (random tickets of mine)
  agent.create         POST /api/v1/tickets/  {"title", "description"}
  agent.reply          POST /api/v1/tickets/<id>/reply/  {"body"}  (random open tickets)

The accounts are the ones bench/seed.py creates. Only the standard library and httpx are used,
so this runs against any server, not only one on this machine's database. The exit status is 1
when any request failed.

With ``--server-pid`` (the gunicorn master; Linux only) each scenario also reports the CPU the
server used per request (gunicorn workers plus the PostgreSQL backends of ``--database``) and the
share of the machine other processes took meanwhile — on a shared machine, the way to tell a
slow server from a busy neighbour. SQL queries per request are not visible over HTTP:
bench/queries.py counts them in-process on the same database.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1"
DEFAULT_SCENARIOS = [
    "agent.list_new", "agent.list_open", "agent.list_all", "agent.detail",
    "requester.list", "requester.detail", "agent.create", "agent.reply",
]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of ``values``, interpolating linearly between the two
    nearest ranks (what numpy and most load tools call the "linear" method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p}")
    data = sorted(values)
    rank = (len(data) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


@dataclass
class Request:
    method: str
    path: str
    json: dict[str, Any] | None = None


@dataclass
class Scenario:
    name: str
    role: str
    expect: int
    make: Callable[[random.Random, int], Request]


@dataclass
class Result:
    scenario: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    throughput: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    client_cpu_pct: float = 0.0
    server_cpu_ms: float | None = None  # gunicorn + PostgreSQL CPU per request
    other_cpu_pct: float | None = None  # the machine's share used by other processes
    waited_s: float = 0.0  # waited for the machine to be quiet before starting
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_sample: str = ""


class CpuProbe:
    """CPU seconds used on this (Linux) machine, from /proc: the whole machine, the server under
    test (a gunicorn master and its workers, plus the PostgreSQL backends connected to the
    benchmark database) and this client.

    On a small machine the load generator, the server, the database and anything else running
    share the same cores, so each scenario reports the server's CPU per request (which does not
    depend on contention) and the share of the machine used by *other* processes (noise).
    Elsewhere than Linux the probe reports nothing.
    """

    def __init__(self, server_pid: int | None, database: str = "opora_bench") -> None:
        self.server_pid = server_pid
        self.database = database
        self.enabled = Path("/proc/stat").exists()
        self.tick = os.sysconf("SC_CLK_TCK") if self.enabled else 100
        self.cpus = os.cpu_count() or 1
        self._lock = threading.Lock()
        self._last: dict[str, tuple[str, float]] = {}
        self._totals = {"server": 0.0, "database": 0.0}
        self._primed = False
        self._stop = threading.Event()
        if self.enabled:
            self._scan()
            threading.Thread(target=self._sample, daemon=True).start()

    @staticmethod
    def _proc(pid: str) -> tuple[int, str, float] | None:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        # fields[1] is the parent pid; [11] and [12] utime and stime (man 5 proc).
        return int(fields[1]), comm, float(int(fields[11]) + int(fields[12]))

    def _serves_benchmark(self, pid: str) -> bool:
        # A backend's title reads "postgres: USER DATABASE HOST(PORT) STATE".
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return False
        return f" {self.database} " in title

    def _scan(self) -> None:
        """Add the CPU each server and database process used since the last scan.

        Per process, because PostgreSQL backends come and go (Django recycles connections after
        ``CONN_MAX_AGE``): a process first seen now used all its CPU since the last scan; the few
        ticks a process used between its last scan and its exit are lost (scans are 0.5 s apart).
        """
        seen: dict[str, tuple[str, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            info = self._proc(entry)
            if info is None:
                continue
            ppid, comm, ticks = info
            if self.server_pid and (int(entry) == self.server_pid or ppid == self.server_pid):
                seen[entry] = ("server", ticks)
            elif comm.startswith("postgres") and self._serves_benchmark(entry):
                seen[entry] = ("database", ticks)
        with self._lock:
            for pid, (group, ticks) in seen.items():
                previous = self._last.get(pid)
                if previous is not None:
                    self._totals[group] += max(0.0, ticks - previous[1])
                elif self._primed:
                    self._totals[group] += ticks
            self._last = seen
            self._primed = True

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self._scan()

    def close(self) -> None:
        self._stop.set()

    def snapshot(self) -> dict[str, float]:
        if not self.enabled:
            return {}
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(values[:8]) - values[3] - values[4]  # everything but idle and iowait
        self._scan()
        with self._lock:
            server, database = self._totals["server"], self._totals["database"]
        return {"machine": busy / self.tick, "server": server / self.tick,
                "database": database / self.tick, "client": time.process_time(),
                "wall": time.perf_counter()}

    def quiet(self, threshold: float, max_wait: float) -> float:
        """Wait (up to ``max_wait`` s) until other processes use less than ``threshold`` % of
        the machine over one second; returns the seconds waited."""
        if not self.enabled or max_wait <= 0:
            return 0.0
        started = time.perf_counter()
        while True:
            before = self.snapshot()
            time.sleep(1.0)
            if self.other_pct(before, self.snapshot()) < threshold or \
                    time.perf_counter() - started > max_wait:
                return time.perf_counter() - started

    def other_pct(self, before: dict[str, float], after: dict[str, float]) -> float:
        """Share of the machine (all cores = 100) used by processes other than ours."""
        d = {k: after[k] - before[k] for k in before}
        other = d["machine"] - d["server"] - d["database"] - d["client"]
        return max(0.0, 100 * other / (d["wall"] * self.cpus))


def login(client: httpx.Client, email: str, password: str) -> str:
    response = client.post(f"{API}/auth/token/", json={"email": email, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"Cannot log in as {email}: {response.status_code} {response.text[:200]}")
    return response.json()["token"]


def collect_ids(client: httpx.Client, query: str, pages: int, rng: random.Random) -> list[int]:
    """Ticket ids from up to ``pages`` pages of 200, chosen at random over the whole list."""
    first = client.get(f"{API}/tickets/?{query}&page_size=200")
    first.raise_for_status()
    body = first.json()
    ids = [row["id"] for row in body["results"]]
    last_page = max(1, math.ceil(body["count"] / 200))
    for page in rng.sample(range(2, last_page + 1), min(pages - 1, last_page - 1)):
        response = client.get(f"{API}/tickets/?{query}&page_size=200&page={page}")
        response.raise_for_status()
        ids += [row["id"] for row in response.json()["results"]]
    return ids


def build_scenarios(agent_ids: list[int], open_ids: list[int], my_ids: list[int]
                    ) -> dict[str, Scenario]:
    def get(path: str) -> Callable[[random.Random, int], Request]:
        return lambda rng, n: Request("GET", path)

    def detail(ids: list[int]) -> Callable[[random.Random, int], Request]:
        return lambda rng, n: Request("GET", f"{API}/tickets/{rng.choice(ids)}/")

    def create(rng: random.Random, n: int) -> Request:
        return Request("POST", f"{API}/tickets/", {
            "title": f"Load test ticket {n}: printer on floor {rng.randint(1, 9)} is offline",
            "description": "Created by bench/api_load.py. The printer shows error 49.4C02."})

    def reply(rng: random.Random, n: int) -> Request:
        return Request("POST", f"{API}/tickets/{rng.choice(open_ids)}/reply/", {
            "body": f"Load test reply {n}: we are looking into it."})

    scenarios = [
        Scenario("agent.list_new", "agent", 200, get(f"{API}/tickets/?status=new&ordering=-priority")),
        Scenario("agent.list_open", "agent", 200, get(f"{API}/tickets/?open=true&ordering=-priority")),
        Scenario("agent.list_all", "agent", 200, get(f"{API}/tickets/")),
        Scenario("agent.detail", "agent", 200, detail(agent_ids)),
        Scenario("requester.list", "requester", 200, get(f"{API}/tickets/")),
        Scenario("requester.detail", "requester", 200, detail(my_ids)),
        Scenario("agent.create", "agent", 201, create),
        Scenario("agent.reply", "agent", 201, reply),
    ]
    return {s.name: s for s in scenarios}


def run_scenario(base_url: str, token: str, scenario: Scenario, *, concurrency: int,
                 duration: float | None, requests: int | None, warmup: float, timeout: float,
                 seed: int, probe: CpuProbe | None = None) -> Result:
    """Run one scenario with ``concurrency`` threads; bounded by time and/or request count."""
    budget = itertools.count()  # shared request numbers (next() is atomic under the GIL)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    sample: list[str] = []
    barrier = threading.Barrier(concurrency + 1)

    def one(client: httpx.Client, rng: random.Random, n: int) -> tuple[float, str | None]:
        request = scenario.make(rng, n)
        started = time.perf_counter()
        try:
            response = client.request(request.method, request.path, json=request.json)
            response.read()
        except httpx.HTTPError as exc:
            return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if response.status_code != scenario.expect:
            return elapsed, f"HTTP {response.status_code}: {response.text[:300]}"
        return elapsed, None

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=timeout) as client:
            end_warmup = time.perf_counter() + warmup
            while time.perf_counter() < end_warmup:
                one(client, rng, -1)
            barrier.wait()
            mine: list[float] = []
            deadline = time.perf_counter() + duration if duration else math.inf
            while time.perf_counter() < deadline:
                n = next(budget)
                if requests is not None and n >= requests:
                    break
                elapsed, error = one(client, rng, n)
                if error is None:
                    mine.append(elapsed)
                else:
                    with lock:
                        errors[error.split(":", 1)[0]] += 1
                        if len(sample) < 3:
                            sample.append(error)
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()  # everyone warmed up: the measured window starts now
    before = probe.snapshot() if probe else {}
    cpu0 = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    after = probe.snapshot() if probe else {}
    result = Result(scenario=scenario.name, concurrency=concurrency, seconds=round(seconds, 2))
    result.errors = sum(errors.values())
    result.requests = len(latencies) + result.errors
    result.throughput = round(result.requests / seconds, 1) if seconds else 0.0
    result.client_cpu_pct = round(100 * cpu / seconds, 1) if seconds else 0.0
    result.error_kinds = dict(errors)
    result.error_sample = "\n".join(sample)
    if probe and before and result.requests and probe.server_pid:
        server = (after["server"] - before["server"]) + (after["database"] - before["database"])
        result.server_cpu_ms = round(1000 * server / result.requests, 1)
        result.other_cpu_pct = round(probe.other_pct(before, after), 1)
    if latencies:
        ms = [v * 1000 for v in latencies]
        result.p50_ms = round(percentile(ms, 50), 1)
        result.p95_ms = round(percentile(ms, 95), 1)
        result.p99_ms = round(percentile(ms, 99), 1)
        result.max_ms = round(max(ms), 1)
        result.mean_ms = round(sum(ms) / len(ms), 1)
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(results: list[Result]) -> str:
    head = (f"{'scenario':<18} {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'srv cpu ms':>10} "
            f"{'client %':>8} {'other %':>7}")
    lines = [head, "-" * len(head)]
    for r in results:
        other = "-" if r.other_cpu_pct is None else f"{r.other_cpu_pct:.0f}"
        lines.append(
            f"{r.scenario:<18} {r.concurrency:>4} {r.requests:>8} {r.errors:>6} "
            f"{r.throughput:>7.1f} {_ms(r.p50_ms):>8} {_ms(r.p95_ms):>8} {_ms(r.p99_ms):>8} "
            f"{_ms(r.max_ms):>8} {_ms(r.server_cpu_ms):>10} {r.client_cpu_pct:>8.0f} {other:>7}")
    lines.append("srv cpu ms: CPU time of the gunicorn processes and PostgreSQL per request; "
                 "client %: this load generator (of one core); other %: the machine's share "
                 "(all cores = 100) used by other processes during the run.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("-d", "--duration", type=float, default=20.0,
                        help="seconds per scenario (default 20; 0 = only --requests bounds it)")
    parser.add_argument("-n", "--requests", type=int, help="requests per scenario (all clients)")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds per scenario")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                        help="comma-separated, in order (default: all)")
    parser.add_argument("--agent-email", default="agent@bench.local")
    parser.add_argument("--requester-email", default="requester@bench.local")
    parser.add_argument("--password", default="opora-bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--server-pid", type=int,
                        help="gunicorn master pid: report the server's CPU per request (Linux)")
    parser.add_argument("--database", default="opora_bench",
                        help="PostgreSQL database whose backends count as the server's CPU")
    parser.add_argument("--quiet-below", type=float, default=15.0,
                        help="before each scenario, wait until other processes use less than "
                             "this %% of the machine (default 15)")
    parser.add_argument("--quiet-wait", type=float, default=0.0,
                        help="seconds to wait at most for that (default 0: do not wait)")
    args = parser.parse_args(argv)
    duration = args.duration or None
    if duration is None and args.requests is None:
        parser.error("give --duration or --requests: the run must be bounded")
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]

    rng = random.Random(args.seed)
    with httpx.Client(base_url=args.base_url, timeout=120) as client:
        version = client.get("/version")
        version.raise_for_status()
        print(f"Server {args.base_url}: {version.json()}")
        tokens = {"agent": login(client, args.agent_email, args.password),
                  "requester": login(client, args.requester_email, args.password)}
        t0 = time.perf_counter()
        client.headers["Authorization"] = f"Token {tokens['agent']}"
        agent_ids = collect_ids(client, "ordering=-created_at", 5, rng)
        open_ids = collect_ids(client, "open=true", 5, rng)
        client.headers["Authorization"] = f"Token {tokens['requester']}"
        my_ids = collect_ids(client, "ordering=-created_at", 3, rng)
        print(f"Ticket ids to use: {len(agent_ids)} the agent sees, {len(open_ids)} open, "
              f"{len(my_ids)} of the requester ({time.perf_counter() - t0:.1f} s to collect)")
    if not (agent_ids and open_ids and my_ids):
        raise SystemExit("No tickets to work on: seed the database first (bench/seed.py).")
    scenarios = build_scenarios(agent_ids, open_ids, my_ids)
    unknown = [n for n in names if n not in scenarios]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")

    bound = (f"{duration:g} s" if duration else "") + (" or " if duration and args.requests else "") \
        + (f"{args.requests} requests" if args.requests else "")
    print(f"Concurrency {args.concurrency}, {bound} per scenario, warm-up {args.warmup:g} s")
    probe = CpuProbe(args.server_pid, args.database)
    results = []
    for name in names:
        scenario = scenarios[name]
        waited = probe.quiet(args.quiet_below, args.quiet_wait)
        result = run_scenario(args.base_url, tokens[scenario.role], scenario,
                              concurrency=args.concurrency, duration=duration,
                              requests=args.requests, warmup=args.warmup, timeout=args.timeout,
                              seed=args.seed, probe=probe)
        result.waited_s = round(waited, 1)
        results.append(result)
        other = "" if result.other_cpu_pct is None else f"  other {result.other_cpu_pct:.0f}%"
        print(f"  {name:<18} {result.requests:>6} requests {result.errors:>4} errors "
              f"{result.throughput:>7.1f} req/s  p50 {_ms(result.p50_ms)} ms  "
              f"p95 {_ms(result.p95_ms)} ms  p99 {_ms(result.p99_ms)} ms  "
              f"srv {_ms(result.server_cpu_ms)} ms cpu{other}"
              + (f"  (waited {waited:.0f} s for quiet)" if waited > 1.5 else ""), flush=True)
        if result.errors:
            print(f"    errors: {result.error_kinds}\n    e.g. {result.error_sample}", flush=True)
    probe.close()
    print()
    print(table(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"base_url": args.base_url, "concurrency": args.concurrency,
                       "duration": duration, "requests": args.requests,
                       "results": [asdict(r) for r in results]}, out, indent=2)
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
