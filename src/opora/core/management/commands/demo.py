"""``opora demo``: load the demo organisations, people and tickets and print the logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opora.core import demo


class Command(BaseCommand):
    help = "Load demo data (organisations, teams, people, a few hundred tickets)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=300)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = demo.load(tickets=options["tickets"], seed=options["seed"])
        self.stdout.write(
            f"Demo data loaded: {counts['organisations']} organisations, {counts['teams']} teams, "
            f"{counts['users']} people, {counts['tickets']} new tickets, "
            f"{counts['articles']} new knowledge-base articles."
        )
        self.stdout.write(demo.logins_text())
