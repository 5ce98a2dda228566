"""The ``worker`` command: runs what is queued, keeps a heartbeat while it runs and removes it on
exit; on PostgreSQL several workers share one queue and each task runs exactly once."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from opora.core.models import WorkerHeartbeat

#: The worker commits for real and runs its heartbeat on another connection, so these tests run
#: outside the per-test transaction; serialized rollback restores the migrations' data after
#: the flush, as the other committing tests of the suite expect.
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
SRC = Path(__file__).resolve().parents[3]


# --- tasks the tests queue (module level: the worker imports them by path) ---------------------


@task()
def record_run(path: str, n: int, wait_for_workers: int = 1) -> int:
    """Append "<n> <pid>" to ``path``. With ``wait_for_workers`` > 1, hold the first tasks until
    that many worker processes have started one, so the workers really overlap."""
    log = Path(path)
    with log.open("a") as fh:
        fh.write(f"start {n} {os.getpid()}\n")
    deadline = time.monotonic() + 60  # a safety bound, never an assertion
    while wait_for_workers > 1 and time.monotonic() < deadline:
        pids = {line.split()[2] for line in log.read_text().splitlines()}
        if len(pids) >= wait_for_workers:
            break
        time.sleep(0.05)
    with log.open("a") as fh:
        fh.write(f"done {n} {os.getpid()}\n")
    return n


@task()
def heartbeats_now() -> list[str]:
    """What /healthz would see while this task runs."""
    return list(WorkerHeartbeat.objects.values_list("worker_id", flat=True))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def keep_signal_handlers():
    """The worker installs SIGINT/SIGTERM handlers for a graceful stop; give pytest its own back."""
    names = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in names}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _lines(path: Path) -> list[tuple[str, int, int]]:
    return [(kind, int(n), int(pid)) for kind, n, pid in
            (line.split() for line in path.read_text().splitlines())]


# --- one worker --------------------------------------------------------------------------------


@committed
def test_batch_runs_what_is_queued_with_a_heartbeat(tmp_path, keep_signal_handlers):
    log = tmp_path / "runs.log"
    results: list[Any] = [record_run.enqueue(str(log), n) for n in range(3)]
    probe = heartbeats_now.enqueue()
    out = io.StringIO()
    call_command("worker", "--batch", "--interval", "0", stdout=out)
    started = re.search(r"Opora worker (\S+) started", out.getvalue())
    assert started is not None, out.getvalue()
    worker_id = started.group(1)
    assert "Opora worker stopped." in out.getvalue()
    assert sorted(n for kind, n, _ in _lines(log) if kind == "done") == [0, 1, 2]
    for result in [*results, probe]:
        row = DBTaskResult.objects.get(pk=result.id)
        assert row.status == "SUCCESSFUL", row.traceback
        assert row.worker_ids == [worker_id]
    # While it ran, the worker was visible to /healthz under its id...
    assert DBTaskResult.objects.get(pk=probe.id).return_value == [worker_id]
    # ...and on a clean exit it takes its heartbeat (and the heartbeat thread) with it.
    assert not WorkerHeartbeat.objects.exists()
    assert not [t for t in threading.enumerate() if t.name == "opora-heartbeat" and t.is_alive()]


@committed
def test_batch_with_an_empty_queue_exits_at_once(keep_signal_handlers):
    out = io.StringIO()
    call_command("worker", "--batch", stdout=out)
    assert "started" in out.getvalue() and "stopped" in out.getvalue()
    assert not WorkerHeartbeat.objects.exists()


@committed
def test_max_tasks_leaves_the_rest_queued(tmp_path, keep_signal_handlers):
    log = tmp_path / "runs.log"
    for n in range(4):
        record_run.enqueue(str(log), n)
    call_command("worker", "--batch", "--max-tasks", "2", stdout=io.StringIO())
    assert len([x for x in _lines(log) if x[0] == "done"]) == 2
    assert DBTaskResult.objects.filter(status="READY").count() == 2


@committed
def test_a_failing_task_is_recorded_and_does_not_stop_the_worker(tmp_path, keep_signal_handlers):
    failing = record_run.enqueue(str(tmp_path / "missing-dir" / "runs.log"), 1)
    fine = record_run.enqueue(str(tmp_path / "runs.log"), 2)
    call_command("worker", "--batch", stdout=io.StringIO())
    assert DBTaskResult.objects.get(pk=failing.id).status == "FAILED"
    assert DBTaskResult.objects.get(pk=fine.id).status == "SUCCESSFUL"


# --- several workers on one queue --------------------------------------------------------------


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.postgres_only
@pytest.mark.skipif(not ON_POSTGRES, reason=(
    "needs PostgreSQL: workers claim tasks with SELECT ... FOR UPDATE SKIP LOCKED, and SQLite's "
    "in-memory test database is not visible to other processes"))
@committed
def test_two_worker_processes_run_each_task_exactly_once(tmp_path):
    log = tmp_path / "runs.log"
    log.touch()
    count = 40
    for n in range(count):
        record_run.enqueue(str(log), n, wait_for_workers=2)
    env = {**os.environ, "OPORA_DATABASE_URL": _database_url(),
           "OPORA_VAR_DIR": str(tmp_path / "var"),
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "opora.cli", "worker", "--batch", "--interval", "0"]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=240)
        outputs.append(out)
        assert worker.returncode == 0, out
    runs = _lines(log)
    done = Counter(n for kind, n, _ in runs if kind == "done")
    started = Counter(n for kind, n, _ in runs if kind == "start")
    assert done == started == Counter(range(count)), outputs  # each exactly once
    pids = {pid for _, _, pid in runs}
    assert len(pids) == 2 and {w.pid for w in workers} == pids  # both worked the queue
    rows = DBTaskResult.objects.all()
    assert rows.count() == count
    assert {r.status for r in rows} == {"SUCCESSFUL"}
    assert all(len(r.worker_ids) == 1 for r in rows)
    assert len({r.worker_ids[0] for r in rows}) == 2
    assert not WorkerHeartbeat.objects.exists()
