#!/usr/bin/env bash
# Opora's two commands for developers and trials:
#   ./dev.sh run    set up .venv if needed, then start Opora (SQLite, demo data, web + worker)
#   ./dev.sh test   set up .venv if needed, then lint, type-check and run every test, on SQLite
#                   and — when reachable — on PostgreSQL
# Only Python 3.11 is needed; everything else comes from requirements/dev.lock.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
VENV=.venv
LOCK=requirements/dev.lock

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

ensure_venv() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            PYTHON=python3
        else
            echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
            exit 1
        fi
    fi
    local stamp="$VENV/.opora-lock.sha256"
    local want
    want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    say "Setting up $VENV from $LOCK"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
        || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
}

postgres_url() {
    echo "${OPORA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/opora}"
}

postgres_reachable() {
    "$VENV/bin/python" - "$(postgres_url)" <<'PY' >/dev/null 2>&1
import sys, psycopg, dj_database_url
cfg = dj_database_url.parse(sys.argv[1])
psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"],
                password=cfg["PASSWORD"] or None, dbname="postgres", connect_timeout=3).close()
PY
}

cmd_run() {
    ensure_venv
    exec "$VENV/bin/opora" run "$@"
}

cmd_test() {
    ensure_venv
    local bin="$VENV/bin"
    # Tests never touch the developer's var/: each run gets its own scratch directory.
    OPORA_VAR_DIR=$(mktemp -d)
    export OPORA_VAR_DIR
    trap 'rm -rf "$OPORA_VAR_DIR"' EXIT
    unset OPORA_DATABASE_URL

    say "ruff"
    "$bin/ruff" check .
    say "mypy"
    "$bin/mypy" src
    say "migrations match the models"
    "$bin/opora" makemigrations --check --dry-run >/dev/null
    say "deployment checks (production-like settings)"
    OPORA_SECRET_KEY="ci-$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" \
        OPORA_HSTS_SECONDS=31536000 OPORA_SSL_REDIRECT=true OPORA_ALLOWED_HOSTS=desk.example \
        "$bin/opora" check --deploy --fail-level WARNING

    local workers=${OPORA_TEST_WORKERS:-2}
    say "tests on SQLite"
    "$bin/pytest" -n "$workers" -p no:cacheprovider "$@"

    if postgres_reachable; then
        say "tests on PostgreSQL ($(postgres_url))"
        OPORA_DATABASE_URL=$(postgres_url) "$bin/pytest" -n "$workers" -p no:cacheprovider "$@"
    elif [ -n "${CI:-}" ]; then
        echo "PostgreSQL is not reachable at $(postgres_url); CI must test on it." >&2
        exit 1
    else
        say "PostgreSQL not reachable at $(postgres_url): skipped the PostgreSQL run"
    fi
}

case "${1:-}" in
    run) shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    *) echo "usage: ./dev.sh run [--port N] | ./dev.sh test [pytest args]" >&2; exit 2 ;;
esac
