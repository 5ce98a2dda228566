"""``opora worker``: run background tasks from the shared database queue.

Any number of workers on any number of machines may share one PostgreSQL database: each task
is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and runs once. Each worker records a
heartbeat that ``/healthz`` reads.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from opora.core.models import WorkerHeartbeat

logger = logging.getLogger("opora.worker")


def beat(worker_id: str, started: Any) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": socket.gethostname()[:255], "pid": os.getpid(),
                  "started_at": started, "last_seen": timezone.now()},
    )


class Heartbeat(threading.Thread):
    """Writes the heartbeat every few seconds, on its own database connection."""

    def __init__(self, worker_id: str, interval: float) -> None:
        super().__init__(name="opora-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stopped = threading.Event()
        self.started_at = timezone.now()

    def run(self) -> None:
        # The command beats once before starting this thread, so the first beat here waits a
        # full interval (and a short batch run never writes from two threads at once).
        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                beat(self.worker_id, self.started_at)
            except Exception:
                logger.exception("heartbeat failed")
            finally:
                connection.close()


class Command(BaseCommand):
    help = "Run the background worker (notifications and every other queued job)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds to wait when the queue is empty (default 1).")
        parser.add_argument("--batch", action="store_true",
                            help="Run what is queued, then exit.")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument("--queue", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(6)}"
        heartbeat = Heartbeat(worker_id, settings.OPORA_WORKER_HEARTBEAT_SECONDS)
        beat(worker_id, heartbeat.started_at)
        heartbeat.start()
        self.stdout.write(f"Opora worker {worker_id} started (queue: {options['queue']}).")
        worker = Worker(
            queue_names=options["queue"].split(","),
            interval=options["interval"],
            batch=options["batch"],
            backend_name="default",
            startup_delay=not options["batch"],
            max_tasks=options["max_tasks"],
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        try:
            worker.run()
        finally:
            heartbeat.stopped.set()
            # Wait for a beat in flight: written after the delete below, it would leave a row
            # that /healthz counts as a live worker for the next two minutes.
            heartbeat.join(timeout=settings.OPORA_WORKER_HEARTBEAT_SECONDS)
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
            self.stdout.write("Opora worker stopped.")
