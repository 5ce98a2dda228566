"""``opora sla_scan``: fire reached SLA thresholds once now (the workers do this every 30 s)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from opora.sla.engine import scan


class Command(BaseCommand):
    help = "Fire every SLA threshold that has been reached (warnings and breaches)."

    def handle(self, *args: Any, **options: Any) -> None:
        fired = scan()
        self.stdout.write(f"{fired} thresholds fired.")
