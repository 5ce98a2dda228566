"""Every message of ../shared/corpora/email through ``receive`` + ``process`` with a default
mailbox: no exception escapes, nothing is quarantined, and nothing is lost — every attachment the
parser found is on the ticket or named in its text as not accepted.

Files that are the corpora's metadata (MANIFEST.md, expectations in JSON/YAML) are skipped; the
rest is fed as it is, including plain-text bodies without headers (the reply-stripping corpora):
they must end in a final status too. The per-sender rate limit is off here: the corpora have
many messages from one address, and the limit is tested in test_safety.py.

Run with ``-s`` to see the counts per folder and status.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from opora.mail import ingest
from opora.mail.models import InboundMessage, InboundStatus
from opora.tickets.choices import EventKind
from opora.tickets.models import Attachment, TicketEvent

from .test_ingest_helpers import make_mailbox

FOLDERS = ["cpython-test_email", "crisp-email-reply-parser", "mail-parser",
           "php-mime-mail-parser", "request-tracker", "talon", "thunderbird-samples", "zammad"]
METADATA = {".md", ".json", ".yml", ".yaml"}


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() not in METADATA)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_corpus_message_is_processed_without_loss(db, settings, shared_corpora, folder):
    from opora.mail.parsing import parse_message

    settings.OPORA_MAIL_RATE_LIMIT = 0
    root = shared_corpora / "email" / folder
    if not root.is_dir():
        pytest.skip(f"email/{folder} is not in ../shared/corpora")
    mailbox = make_mailbox(address="helpdesk@opora.test")
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    duplicates = 0
    files = corpus_files(root)
    assert files
    for path in files:
        raw = path.read_bytes()
        before = InboundMessage.objects.count()
        message = ingest.receive(raw, mailbox=mailbox)
        if InboundMessage.objects.count() == before:
            # Corpora reuse Message-IDs for different mails; in another mailbox it is new.
            message = ingest.receive(raw, mailbox=make_mailbox())
            if InboundMessage.objects.count() == before:
                duplicates += 1  # the very same bytes as an earlier file
                continue
        reasons[f"{message.status} {message.reason.split(':')[0]}"] += 1
        statuses[message.status] += 1
        assert message.status != InboundStatus.QUARANTINED, (path, message.error)
        assert message.status != InboundStatus.RECEIVED, path
        if message.status == InboundStatus.PROCESSED and message.event_id:
            event = TicketEvent.objects.get(pk=message.event_id)
            parsed = parse_message(raw)
            if event.kind == EventKind.CREATED:
                kept = Attachment.objects.filter(event=event).count()
                # Each refused file is named in the text, in the language's quotes.
                refused = event.body.count("“") + event.body.count("«")
                assert kept + refused >= len(parsed.attachments), (path, kept, refused)
                if parsed.text.strip():
                    # The text is there (shortened only beyond the actions' limit).
                    head = parsed.text.strip()[:200]
                    assert head in event.body or len(parsed.text) > ingest.TEXT_MAX, path
    print(f"\n{folder}: {len(files)} files, {dict(statuses)}, identical duplicates "
          f"{duplicates}; {dict(reasons)}")
