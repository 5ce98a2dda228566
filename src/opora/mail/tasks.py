"""Background jobs of the email channel. Thin: they call ``ingest``, ``imap`` and ``outbox``."""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger(__name__)


# --- incoming


@task()
def process_received_mail() -> dict[str, int]:
    """Process every stored message still waiting (e.g. piped in while no worker ran)."""
    from . import ingest

    return dict(ingest.process_pending())


@task()
def poll_mailbox(mailbox_id: int) -> int:
    """Fetch one mailbox's new mail now (the administration's "check now"); returns how many."""
    from . import imap
    from .models import Mailbox

    mailbox = Mailbox.objects.filter(pk=mailbox_id, is_active=True).first()
    if mailbox is None or not mailbox.imap_host:
        return 0
    return imap.poll(mailbox).fetched


# --- outgoing


@task()
def send_outbox() -> dict[str, int]:
    """Send every due message of the outbox now (the workers also do this every few seconds)."""
    from . import outbox

    result = outbox.send_due()
    return {"sent": result.sent, "retrying": result.retrying, "failed": result.failed}
