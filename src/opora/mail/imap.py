"""Reading mailboxes over IMAP (SSL/TLS, STARTTLS, or plain for a local server).

``poll(mailbox)`` logs in with the password from ``os.environ[mailbox.password_env]``, selects
the folder and fetches the messages above the last UID read (in batches), stores each through
``ingest.receive`` and marks it ``\\Seen``; the position (UIDVALIDITY, last UID) is saved after
every batch, so a crash re-reads at most one batch — which the store's de-duplication absorbs.
When the folder's UIDVALIDITY changes (the folder was recreated) the position is forgotten; a
mailbox without a position (new, or pointed at another folder) reads the folder's UNSEEN mail
only, not years of archive. Errors are recorded on the mailbox (the administration page shows
them) and logged; they never escape into the worker's loop.

The server's certificate is always verified (SSL/TLS and STARTTLS); a server with a private
CA is trusted by pointing ``SSL_CERT_FILE`` at that CA's certificate in the worker's environment.

Only one worker polls a mailbox at a time: ``poll_claimed_until`` is a short lease taken with a
conditional UPDATE, so a crashed worker's lease simply runs out.
"""

from __future__ import annotations

import imaplib
import logging
import os
import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import ingest
from .models import Mailbox, Security

logger = logging.getLogger("opora.mail.imap")

BATCH = 50
TIMEOUT = 60
LEASE = timedelta(minutes=10)
_UID = re.compile(rb"UID (\d+)")


class ImapProblem(Exception):
    """A connection, login or protocol failure, with a message for the administrator."""


@dataclass(frozen=True)
class PollResult:
    mailbox_id: int
    fetched: int = 0
    error: str = ""
    skipped: bool = False


def _password(mailbox: Mailbox) -> str:
    name = mailbox.password_env
    if not name:
        raise ImapProblem(_("No password variable is configured."))
    value = os.environ.get(name)
    if value is None:
        raise ImapProblem(_("The environment variable %(name)s is not set.") % {"name": name})
    return value


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(typ: str, data: Sequence[object], what: str) -> Sequence[object]:
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise ImapProblem(f"{what}: {typ} {detail}".strip())
    return data


@contextmanager
def connect(mailbox: Mailbox, *, timeout: float = TIMEOUT) -> Iterator[imaplib.IMAP4]:
    """A logged-in connection (logged out at the end)."""
    if not mailbox.imap_host:
        raise ImapProblem(_("No IMAP server is configured."))
    password = _password(mailbox)
    context = ssl.create_default_context()
    try:
        imap: imaplib.IMAP4
        if mailbox.imap_security == Security.SSL:
            imap = imaplib.IMAP4_SSL(mailbox.imap_host, mailbox.imap_port, ssl_context=context,
                                     timeout=timeout)
        else:
            imap = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
            if mailbox.imap_security == Security.STARTTLS:
                imap.starttls(ssl_context=context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise ImapProblem(_("Cannot connect to %(host)s:%(port)s: %(error)s") % {
            "host": mailbox.imap_host, "port": mailbox.imap_port, "error": exc}) from exc
    try:
        try:
            imap.login(mailbox.imap_user, password)
        except imaplib.IMAP4.error as exc:
            raise ImapProblem(_("Login failed: %(error)s") % {"error": _text(exc)}) from exc
        yield imap
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            imap.logout()


def _text(exc: BaseException) -> str:
    value = exc.args[0] if exc.args else exc
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _select(imap: imaplib.IMAP4, folder: str) -> tuple[int, int | None]:
    """Select ``folder`` read-write; returns its message count and UIDVALIDITY."""
    typ, data = imap.select(_quote(folder))
    _check(typ, data, _("Cannot open the folder %(folder)s") % {"folder": folder})
    count = int(data[0]) if data and data[0] else 0
    _typ, validity = imap.response("UIDVALIDITY")
    uid_validity = int(validity[0]) if validity and validity[0] else None
    return count, uid_validity


def test_connection(mailbox: Mailbox) -> tuple[bool, str]:
    """Log in and count the folder's messages: what the "test connection" button reports."""
    try:
        with connect(mailbox, timeout=20) as imap:
            count, _validity = _select(imap, mailbox.imap_folder)
    except ImapProblem as exc:
        return False, str(exc)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, _("Connected. The folder %(folder)s holds %(count)d messages.") % {
        "folder": mailbox.imap_folder, "count": count}


def _claim(mailbox: Mailbox) -> bool:
    now = timezone.now()
    return bool(Mailbox.objects.filter(pk=mailbox.pk).filter(
        Q(poll_claimed_until__isnull=True) | Q(poll_claimed_until__lt=now)
    ).update(poll_claimed_until=now + LEASE))


def _new_uids(imap: imaplib.IMAP4, last_uid: int) -> list[int]:
    if last_uid:
        typ, data = imap.uid("SEARCH", f"UID {last_uid + 1}:*")
    else:
        typ, data = imap.uid("SEARCH", "UNSEEN")
    _check(typ, data, "UID SEARCH")
    uids = sorted({int(x) for x in (data[0] or b"").split()})
    # "N:*" also matches the highest message when N is above it: keep only new ones.
    return [uid for uid in uids if uid > last_uid]


def _fetch(imap: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    typ, data = imap.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    _check(typ, data, "UID FETCH")
    messages: list[tuple[int, bytes]] = []
    for i, item in enumerate(data):
        if not (isinstance(item, tuple) and len(item) >= 2):
            continue
        match = _UID.search(item[0])
        if match is None and i + 1 < len(data) and isinstance(data[i + 1], bytes):
            # Some servers send the UID after the message literal: "… BODY[] {n}" raw " UID 7)".
            match = _UID.search(data[i + 1])
        if match is not None:
            messages.append((int(match.group(1)), bytes(item[1])))
    return sorted(messages)


def poll(mailbox: Mailbox, *, process: bool = True) -> PollResult:
    """Fetch new mail of one mailbox (then process everything received, unless told not to).
    Never raises: an error is recorded on the mailbox and returned."""
    if not _claim(mailbox):
        return PollResult(mailbox.pk, skipped=True)
    fetched = 0
    error = ""
    try:
        mailbox.refresh_from_db()
        with connect(mailbox) as imap:
            _count, uid_validity = _select(imap, mailbox.imap_folder)
            last_uid = mailbox.last_uid
            if uid_validity is None or uid_validity != mailbox.uid_validity:
                if mailbox.uid_validity is not None:
                    logger.warning("mailbox %s: UIDVALIDITY changed (%s → %s), reading unseen "
                                   "mail again", mailbox.address, mailbox.uid_validity,
                                   uid_validity)
                last_uid = 0
                Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=uid_validity,
                                                             last_uid=0)
            uids = _new_uids(imap, last_uid)
            for start in range(0, len(uids), BATCH):
                batch = uids[start:start + BATCH]
                for uid, raw in _fetch(imap, batch):
                    ingest.receive(raw, mailbox=mailbox, process_now=False)
                    fetched += 1
                    last_uid = max(last_uid, uid)
                last_uid = max([last_uid, *batch])
                imap.uid("STORE", ",".join(map(str, batch)), "+FLAGS.SILENT", r"(\Seen)")
                Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=last_uid)
    except (ImapProblem, OSError, imaplib.IMAP4.error) as exc:
        error = str(exc) if isinstance(exc, ImapProblem) else f"{type(exc).__name__}: {exc}"
        logger.warning("mailbox %s: %s", mailbox.address, error)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("mailbox %s: polling failed", mailbox.address)
    finally:
        try:
            Mailbox.objects.filter(pk=mailbox.pk).update(
                last_polled_at=timezone.now(), last_error=error[:2000], poll_claimed_until=None)
        except Exception:
            logger.exception("mailbox %s: could not record the poll", mailbox.address)
    if process and fetched:
        ingest.process_pending()
    return PollResult(mailbox.pk, fetched=fetched, error=error)


def poll_all() -> list[PollResult]:
    """Poll every active IMAP mailbox, then process whatever waits (also mail piped in while a
    worker was down). What the worker's mail poller runs."""
    results = [poll(mailbox, process=False) for mailbox in
               Mailbox.objects.filter(is_active=True).exclude(imap_host="").order_by("pk")]
    ingest.process_pending()
    return results
