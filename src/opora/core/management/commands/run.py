"""``opora run``: the one command for a trial — migrate, load demo data the first time, then
serve the web and run the background worker together until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Migrate, load demo data on the first start, serve the web and run the worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("OPORA_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("OPORA_PORT", "8000")))
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        from opora.accounts.models import User
        from opora.core import demo

        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        if not options["no_demo"] and not User.objects.exists():
            self.stdout.write("First start: loading demo data (takes a few seconds)...")
            counts = demo.load()
            self.stdout.write(f"Demo data loaded: {counts['tickets']} tickets, "
                              f"{counts['articles']} knowledge-base articles.")
        host, port = options["host"], options["port"]
        env = dict(os.environ)
        # A trial serves plain HTTP on this machine; cookies marked Secure would never be sent.
        env.setdefault("OPORA_SECURE_COOKIES", "false")
        opora = [sys.executable, "-m", "opora.cli"]
        web = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "gunicorn", "opora.wsgi:application",
             "--bind", f"{host}:{port}", "--workers", str(options["web_workers"]),
             "--threads", "4", "--access-logfile", "-", "--log-level", "warning"],
            env=env, start_new_session=True,
        )
        # Own sessions: Ctrl-C reaches only this process, which stops both children once, cleanly.
        worker = subprocess.Popen([*opora, "worker"], env=env, start_new_session=True)  # noqa: S603
        children = [web, worker]

        url = f"http://{host}:{port}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Opora is running at {url}/"))
        self.stdout.write(f"  API docs:   {url}/api/docs/")
        self.stdout.write(f"  Admin site: {url}/admin/")
        self.stdout.write(f"  Health:     {url}/healthz")
        if User.objects.filter(email__in=[d.email for d in demo.LOGINS]).exists():
            self.stdout.write(demo.logins_text())
        self.stdout.write(f"Database: {settings.DATABASES['default']['NAME']}")
        self.stdout.write("Press Ctrl-C to stop.")

        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Opora stopped.")
        failed = [c for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            sys.exit(1)
