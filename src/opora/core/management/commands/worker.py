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


class SlaScanner(threading.Thread):
    """Fires reached SLA thresholds every ``OPORA_SLA_SCAN_SECONDS``, on its own connection.

    Every worker runs one; the scan's row locks (SKIP LOCKED) and the unique firing rows make
    each threshold fire once however many workers there are.
    """

    def __init__(self, interval: float) -> None:
        super().__init__(name="opora-sla-scan", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from opora.sla.engine import scan

        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                fired = scan()
                if fired:
                    logger.info("SLA scan: %d thresholds fired", fired)
            except Exception:
                logger.exception("SLA scan failed")
            finally:
                connection.close()


class MailPoller(threading.Thread):
    """Reads the IMAP mailboxes every ``OPORA_MAIL_POLL_SECONDS``, on its own connection, then
    processes every received message (also mail piped in while no worker ran).

    Every worker runs one; a mailbox is polled by one worker at a time (a lease on its row) and
    each message is processed once (a row lock), however many workers there are.
    """

    def __init__(self, interval: float) -> None:
        super().__init__(name="opora-mail-poll", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from opora.mail.imap import poll_all

        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                fetched = sum(result.fetched for result in poll_all())
                if fetched:
                    logger.info("mail poll: %d messages fetched", fetched)
            except Exception:
                logger.exception("mail poll failed")
            finally:
                connection.close()


class MailSender(threading.Thread):
    """Sends the due messages of the outbox every ``OPORA_MAIL_SEND_SECONDS``, on its own
    connection (retries included: a failed message comes due again after its back-off).

    Every worker runs one; each message is claimed by one worker at a time (SKIP LOCKED and a
    lease on its row), however many workers there are.
    """

    def __init__(self, interval: float) -> None:
        super().__init__(name="opora-mail-send", daemon=True)
        self.interval = interval
        self.batch = 100
        self.stopped = threading.Event()

    def run(self) -> None:
        from opora.mail.outbox import send_due

        while not self.stopped.wait(self.interval):
            try:
                close_old_connections()
                while not self.stopped.is_set():
                    result = send_due(limit=self.batch)
                    if result.tried:
                        logger.info("mail send: %d sent, %d to retry, %d failed", result.sent,
                                    result.retrying, result.failed)
                    if result.tried < self.batch:
                        break  # nothing more is due (or the server is down): wait
            except Exception:
                logger.exception("mail send failed")
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
        parser.add_argument("--no-sla-scan", action="store_true",
                            help="Do not scan SLA clocks in this worker.")
        parser.add_argument("--no-mail-poll", action="store_true",
                            help="Do not read the IMAP mailboxes in this worker.")
        parser.add_argument("--no-mail-send", action="store_true",
                            help="Do not send the outbox's mail from this worker.")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(6)}"
        heartbeat = Heartbeat(worker_id, settings.OPORA_WORKER_HEARTBEAT_SECONDS)
        beat(worker_id, heartbeat.started_at)
        heartbeat.start()
        scanner = None
        if not options["no_sla_scan"] and not options["batch"]:
            scanner = SlaScanner(settings.OPORA_SLA_SCAN_SECONDS)
            scanner.start()
        poller = None
        if not options["no_mail_poll"] and not options["batch"]:
            poller = MailPoller(settings.OPORA_MAIL_POLL_SECONDS)
            poller.start()
        sender = None
        send_interval = float(getattr(settings, "OPORA_MAIL_SEND_SECONDS", 5))
        if not options["no_mail_send"] and not options["batch"]:
            sender = MailSender(send_interval)
            sender.start()
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
            if options["batch"] and not options["no_mail_send"]:
                # What the tasks queued and could not send at once, and mail queued elsewhere
                # (refusals of the ingestion), goes out before a batch run ends.
                from opora.mail.outbox import send_due

                send_due()
        finally:
            if sender is not None:
                sender.stopped.set()
                sender.join(timeout=send_interval)
            heartbeat.stopped.set()
            if scanner is not None:
                scanner.stopped.set()
                scanner.join(timeout=settings.OPORA_SLA_SCAN_SECONDS)
            if poller is not None:
                poller.stopped.set()
                poller.join(timeout=settings.OPORA_MAIL_POLL_SECONDS)
            # Wait for a beat in flight: written after the delete below, it would leave a row
            # that /healthz counts as a live worker for the next two minutes.
            heartbeat.join(timeout=settings.OPORA_WORKER_HEARTBEAT_SECONDS)
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
            self.stdout.write("Opora worker stopped.")
