"""Background jobs of the service-level domain (thin: they call the engine)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from . import thresholds


@task()
def run_threshold_actions(firing_ids: list[int]) -> dict[str, Any]:
    """Notify, raise the priority or hand over, as each reached threshold says (once each).

    One task per scan batch: a scan that fires thousands of thresholds queues a handful of
    tasks, not thousands.
    """
    return {str(firing_id): thresholds.run(firing_id) for firing_id in firing_ids}
