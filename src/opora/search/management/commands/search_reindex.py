"""``opora search_reindex``: rebuild the search index of articles and tickets from scratch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opora.search import indexing
from opora.search.models import Kind


class Command(BaseCommand):
    help = "Rebuild the full-text search index of articles and tickets (batched, with progress)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", choices=[k.value for k in Kind],
                            help="Rebuild one kind only.")
        parser.add_argument("--batch-size", type=int, default=500,
                            help="Objects per batch and transaction (default 500).")

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = [options["only"]] if options["only"] else [Kind.ARTICLE, Kind.TICKET]

        def progress(kind: str, done: int, total: int) -> None:
            self.stdout.write(f"{kind}: {done}/{total}")

        counts = indexing.reindex(kinds=kinds, batch_size=max(1, options["batch_size"]),
                                  progress=progress)
        summary = ", ".join(f"{count} {kind}s" for kind, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Search index rebuilt: {summary}."))
