"""Background jobs of the ticket domain. Thin: they read and send; they never change tickets."""

from __future__ import annotations

import logging

from django_tasks import task

from . import notifications

logger = logging.getLogger(__name__)


@task()
def notify_ticket_event(event_id: int) -> int:
    """Tell the people concerned about one timeline event; returns how many were told."""
    return notifications.send_event_notifications(event_id)
