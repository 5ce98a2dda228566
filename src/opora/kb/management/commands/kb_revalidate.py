"""``opora kb_revalidate``: the daily revalidation job of the knowledge base.

Run it once a day (cron, a systemd timer). By default it does the work now; ``--enqueue`` puts
it on the task queue for a worker instead.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opora.kb import actions
from opora.kb.tasks import revalidate_due


class Command(BaseCommand):
    help = "Mark articles due for revalidation and remind their owners."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--enqueue", action="store_true",
                            help="Queue the job for a worker instead of running it here.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["enqueue"]:
            revalidate_due.enqueue()
            self.stdout.write("queued")
            return
        moved = actions.mark_due()
        self.stdout.write(f"{len(moved)} article(s) need revalidation")
