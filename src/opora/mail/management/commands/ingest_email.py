"""``opora ingest_email --mailbox <address>``: one message on stdin, for a mail server's pipe.

    # /etc/aliases (Postfix, Exim):
    support: "|/opt/opora/bin/opora ingest_email --mailbox support@example.com"

The message is stored first, then processed. The exit status tells the mail server what to do:

- 0: stored (processed, ignored, refused — or quarantined, where it is safe and administrators
  see it); prints the ticket number or the status;
- 75 (EX_TEMPFAIL): it could not even be stored (unknown mailbox, database unreachable); the
  mail server keeps it and delivers it again later;
- 65 (EX_DATAERR): the input was empty.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opora.mail import ingest
from opora.mail.models import InboundStatus, Mailbox

EX_DATAERR = 65
EX_TEMPFAIL = 75
#: The largest message accepted on stdin (a mail server refuses bigger ones long before).
MAX_BYTES = 100 * 1024 * 1024

logger = logging.getLogger("opora.mail")


class Command(BaseCommand):
    help = "Receive one email message from standard input into a mailbox (for an MTA pipe)."
    #: Tests pass ``stdin=`` (a binary stream) through ``call_command``.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", required=True,
                            help="The address of the mailbox the message was sent to.")

    def handle(self, *args: Any, **options: Any) -> None:
        stream: IO[bytes] = options.get("stdin") or sys.stdin.buffer
        raw = stream.read(MAX_BYTES + 1)
        if not raw.strip():
            raise CommandError("empty message on standard input", returncode=EX_DATAERR)
        try:
            mailbox = Mailbox.objects.filter(address__iexact=options["mailbox"].strip()).first()
        except Exception as exc:
            logger.exception("ingest_email: database unreachable")
            raise CommandError(f"could not store the message: {exc}",
                               returncode=EX_TEMPFAIL) from exc
        if mailbox is None:
            raise CommandError(f"no mailbox with the address {options['mailbox']}",
                               returncode=EX_TEMPFAIL)
        try:
            message = ingest.receive(raw, mailbox=mailbox, process_now=False)
        except Exception as exc:
            logger.exception("ingest_email: the message could not be stored")
            raise CommandError(f"could not store the message: {exc}",
                               returncode=EX_TEMPFAIL) from exc
        # Stored: from here on nothing is lost, whatever processing does.
        try:
            message = ingest.process(message.pk) or message
            message.refresh_from_db()
        except Exception:
            logger.exception("ingest_email: stored as %s, processing failed", message.pk)
        if message.status == InboundStatus.PROCESSED and message.ticket_id:
            number = message.ticket.number if message.ticket else ""
            self.stdout.write(f"{number} ({message.status})")
        else:
            self.stdout.write(str(message.status))
