#!/usr/bin/env bash
# Opora API benchmark, end to end, on one engine:
#
#   bench/run.sh sqlite   100000     # fresh var dir + SQLite database
#   bench/run.sh postgres 100000     # fresh PostgreSQL database "opora_bench" (dropped first!)
#
# Steps: fresh database -> bench/seed.py (migrate, accounts, N tickets, ANALYZE) ->
# bench/queries.py (SQL queries per request, and plans with BENCH_EXPLAIN=1) -> bench/plans.py
# (list queries as built today and rewritten, timed) -> bench/sla_duedates.py (business-time
# arithmetic, no database) -> gunicorn
# (2 workers x 4 threads on 127.0.0.1:$BENCH_PORT) -> wait for /version -> bench/api_load.py once
# per concurrency level -> stop the server -> summary. Everything lands in
# bench/results/<engine>-<N>-<timestamp>/ (ignored by git): seed.log, queries.txt, plans.txt, sla_duedates.txt, server.log,
# load-c<C>.txt and .json, summary.txt.
#
# Knobs (environment):
#   BENCH_CONCURRENCY="8 1"     client counts, one load run each
#   BENCH_DURATION=20           seconds per scenario (BENCH_WARMUP=2 more, not counted)
#   BENCH_SCENARIOS=...         comma-separated subset of bench/api_load.py's scenarios
#   BENCH_PORT=8765             where gunicorn listens (127.0.0.1 only)
#   BENCH_QUIET_WAIT=30         before each scenario wait up to this many seconds until other
#                               processes use < BENCH_QUIET_BELOW=15 % of the machine (0: no wait)
#   BENCH_EXPLAIN=1             print query plans (EXPLAIN ANALYZE on PostgreSQL) in queries.txt
#   BENCH_NO_PLANS=1            skip bench/plans.py (list queries today vs proposed rewrites)
#   BENCH_SKIP_SEED=1           reuse the database as it is (postgres; or sqlite with BENCH_VAR_DIR)
#   BENCH_VAR_DIR=/path         var dir to use (default: a new temporary one)
#   BENCH_PG_URL=postgres://postgres@127.0.0.1:5432   server for the opora_bench database
#   BENCH_NICE=0                run seed, server and load generator at this nice level; on a
#                               shared machine -10 (as root) keeps other jobs from skewing the
#                               numbers. With Linux autogroup scheduling nice only ranks processes
#                               of one session, so the session running this script gets the same
#                               autogroup nice (restored at exit). PostgreSQL's own processes
#                               keep their priority.
#
# Run it from anywhere; it uses the checkout's .venv. The server it starts is always stopped,
# also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${1:-}
TICKETS=${2:-100000}
case "$ENGINE" in
    sqlite|postgres) ;;
    *) echo "usage: bench/run.sh sqlite|postgres [TICKETS]" >&2; exit 2 ;;
esac

NICE=${BENCH_NICE:-0}
PY=.venv/bin/python
RUN=(nice -n "$NICE" "$PY")
CONCURRENCY=${BENCH_CONCURRENCY:-8 1}
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-2}
PORT=${BENCH_PORT:-8765}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
SCENARIOS=${BENCH_SCENARIOS:-}
OUT=bench/results/$ENGINE-$TICKETS-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

export OPORA_VAR_DIR=${BENCH_VAR_DIR:-$(mktemp -d /tmp/opora-bench.XXXXXX)}
export OPORA_SECRET_KEY=bench-not-secret-3f9a1c7e5b2d4068a1b2c3d4e5f60718293a4b5c6d7e8f90
export OPORA_SECURE_COOKIES=false
export OPORA_ALLOWED_HOSTS=127.0.0.1,localhost
export OPORA_LOG_LEVEL=WARNING
export PYTHONUNBUFFERED=1
if [ "$ENGINE" = postgres ]; then
    export OPORA_DATABASE_URL=$PG_URL/opora_bench
else
    unset OPORA_DATABASE_URL
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

AUTOGROUP_WAS=
if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then
    AUTOGROUP_WAS=$(sed -n 's/.* nice \(-\?[0-9]*\).*/\1/p' /proc/self/autogroup)
    echo "$NICE" > /proc/self/autogroup
fi
restore_autogroup() {
    if [ -n "$AUTOGROUP_WAS" ]; then echo "$AUTOGROUP_WAS" > /proc/self/autogroup || true; fi
}

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"  # the gunicorn master stops its workers
        for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
trap 'stop_server; restore_autogroup' EXIT
trap 'exit 130' INT TERM

{
    echo "date: $(date -Is)"
    echo "engine: $ENGINE, tickets: $TICKETS, concurrency: $CONCURRENCY, duration: ${DURATION}s"
    echo "nproc: $(nproc)"
    free -h | sed -n 2p | awk '{print "memory: " $2 " total, " $7 " available"}'
    echo "python: $($PY -c 'import sys; print(sys.version.split()[0])')"
    echo "django: $($PY -c 'import django; print(django.get_version())')"
    $PY -c 'import sqlite3; print("sqlite:", sqlite3.sqlite_version)'
    if [ "$ENGINE" = postgres ]; then
        $PY - "$PG_URL/postgres" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    print("postgresql:", c.execute("show server_version").fetchone()[0],
          "shared_buffers", c.execute("show shared_buffers").fetchone()[0],
          "work_mem", c.execute("show work_mem").fetchone()[0])
PY
    fi
    echo "var dir: $OPORA_VAR_DIR, nice: $NICE, autogroup: $(cat /proc/self/autogroup 2>/dev/null)"
    echo "code: $(git rev-parse --short HEAD 2>/dev/null) + $(git status --short -- src 2>/dev/null | wc -l) changed/new files under src/ (working tree)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

if [ -z "${BENCH_SKIP_SEED:-}" ]; then
    if [ "$ENGINE" = postgres ]; then
        say "fresh PostgreSQL database opora_bench"
        $PY - "$PG_URL/postgres" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute("DROP DATABASE IF EXISTS opora_bench WITH (FORCE)")
    c.execute("CREATE DATABASE opora_bench")
PY
    else
        rm -f "$OPORA_VAR_DIR"/opora.sqlite3*
    fi
    say "seeding $TICKETS tickets"
    /usr/bin/time -f "seed: %e s wall, %U s user, %M KB max RSS" \
        "${RUN[@]}" bench/seed.py --tickets "$TICKETS" 2>&1 | tee "$OUT/seed.log"
fi

say "SQL queries per request"
"${RUN[@]}" bench/queries.py ${BENCH_EXPLAIN:+--explain} 2>&1 | tee "$OUT/queries.txt"

if [ -z "${BENCH_NO_PLANS:-}" ]; then
    say "list queries as built today and proposed rewrites"
    "${RUN[@]}" bench/plans.py 2>&1 | tee "$OUT/plans.txt"
fi

say "business-time arithmetic: SLA due instants (no database)"
"${RUN[@]}" bench/sla_duedates.py 2>&1 | tee "$OUT/sla_duedates.txt"

say "starting gunicorn on 127.0.0.1:$PORT"
"${RUN[@]}" -m gunicorn opora.wsgi:application --workers 2 --threads 4 \
    --bind "127.0.0.1:$PORT" --timeout 120 --log-level warning \
    --pythonpath src >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
$PY - "http://127.0.0.1:$PORT/version" <<'PY'
import sys, time, httpx
deadline = time.monotonic() + 60
while True:
    try:
        if httpx.get(sys.argv[1], timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the server did not answer /version within 60 s")
    time.sleep(0.3)
PY
echo "server up (pid $SERVER_PID)"

status=0
for c in $CONCURRENCY; do
    say "load: $c concurrent client(s), ${DURATION}s per scenario"
    "${RUN[@]}" bench/api_load.py "http://127.0.0.1:$PORT" --concurrency "$c" --duration "$DURATION" \
        --warmup "$WARMUP" ${SCENARIOS:+--scenarios "$SCENARIOS"} --json "$OUT/load-c$c.json" \
        --server-pid "$SERVER_PID" --quiet-wait "${BENCH_QUIET_WAIT:-30}" \
        --quiet-below "${BENCH_QUIET_BELOW:-15}" 2>&1 | tee "$OUT/load-c$c.txt" || status=1
done
stop_server

{
    echo "# $ENGINE, $TICKETS tickets ($(date -Is))"
    cat "$OUT/machine.txt"
    echo
    grep -E "^(Seeded|Statuses|Analyzed|seed:)" "$OUT/seed.log" 2>/dev/null || echo "(seeding skipped)"
    echo
    sed -n '/^scenario/,/^$/p' "$OUT/queries.txt"
    for c in $CONCURRENCY; do
        echo
        sed -n '/^scenario/,$p' "$OUT/load-c$c.txt"
    done
} > "$OUT/summary.txt"
say "summary ($OUT/summary.txt)"
cat "$OUT/summary.txt"
if [ "$status" != 0 ]; then
    echo "Some requests failed: see $OUT/load-c*.txt" >&2
fi
exit "$status"
