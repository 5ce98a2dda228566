"""From raw bytes to a ticket change: store first, then process once.

``receive`` keeps the raw message before anything else can go wrong (a second delivery of the
same bytes, or of the same Message-ID to the same mailbox, returns the row already stored).
``process`` then, in ONE transaction: claims the row (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite serialises writers), parses, decides, calls the ticket actions and marks the
row processed / ignored / refused with its ticket and timeline entry. So:

- a worker killed mid-message leaves the row "received" and the next run processes it;
- two workers never process one message twice (the second skips the locked or finished row);
- any exception rolls everything back and then, in a separate transaction, puts the message in
  the quarantine with the error, where administrators see it and re-process it after a fix.

Who the sender is, which ticket the message continues (``threading``), what is never answered
(``safety``) and monitoring mail (``monitoring``) live in their own modules; every write goes
through ``tickets.actions`` (channel email or monitoring) and ``mail.actions``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from opora.accounts.models import Organisation, User
from opora.tickets import actions as ticket_actions
from opora.tickets.attachments import CheckedUpload, check_upload
from opora.tickets.choices import Channel, EventKind, Status
from opora.tickets.errors import ActionError
from opora.tickets.models import Attachment, Ticket, TicketEvent
from opora.tickets.permissions import can

from . import actions as mail_actions
from . import monitoring, safety, threading
from .models import InboundMessage, InboundStatus, Mailbox, UnknownSenderPolicy

if TYPE_CHECKING:
    from .parsing import ParsedAttachment, ParsedMessage

logger = logging.getLogger("opora.mail")

#: Longest text put into a ticket (the actions accept 100,000 characters); the rest stays in the
#: original message, which is always kept.
TEXT_MAX = ticket_actions.BODY_MAX - 1_000
#: At most this many people from To/Cc become watchers of one ticket.
MAX_WATCHERS = 20
#: How many received messages ``process_pending`` reads at a time.
BATCH = 100
ERROR_MAX = 4_000


def _noop(message: InboundMessage) -> None:
    return None


#: Called inside the processing transaction right after the ticket action; tests replace it to
#: simulate a worker dying mid-message.
_after_action: Callable[[InboundMessage], None] = _noop


# --- receive ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Envelope:
    message_id: str
    from_address: str
    subject: str


def _decoded(value: Any) -> str:
    try:
        return str(make_header(decode_header(str(value))))
    except Exception:
        return str(value)


#: A header line ("Name: value"); anything else before the first one (an mbox "From " line,
#: a relay's junk) is skipped when reading the envelope.
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")


def _headers_start(raw: bytes) -> int:
    start = 0
    for _line in range(5):
        end = raw.find(b"\n", start)
        line = raw[start:] if end < 0 else raw[start:end + 1]
        if not line.strip() or _HEADER_LINE.match(line):
            break
        start = len(raw) if end < 0 else end + 1
    return start


def _message_id(value: str) -> str:
    ids = re.findall(r"<([^<>\s]+)>", value) or [t for t in value.split() if "@" in t]
    return threading.normalise_id(ids[0]) if ids else ""


def envelope(raw: bytes) -> _Envelope:
    """Message-ID, sender and subject read from the headers only (cheap, never raises): what
    the stored row shows before the message is processed."""
    try:
        headers = BytesHeaderParser(policy=email_policy.compat32).parsebytes(
            raw[_headers_start(raw):])
        mid = _message_id(str(headers.get("Message-ID", "") or ""))
        pairs = getaddresses([str(headers.get("From", "") or "")])
        address = next((a for _n, a in pairs if "@" in a), "")
        subject = " ".join(_decoded(headers.get("Subject", "") or "").split())
    except Exception:
        return _Envelope("", "", "")
    return _Envelope(mid, address.strip().lower()[:320], subject[:998])


def receive(raw: bytes, *, mailbox: Mailbox | None, process_now: bool = True) -> InboundMessage:
    """Store ``raw`` (once) and, unless ``process_now`` is false, process it.

    Raises only when the message could not be stored at all (the database is unreachable): the
    caller (an MTA through ``opora ingest_email``) must then deliver it again later.
    """
    digest = hashlib.sha256(raw).hexdigest()
    env = envelope(raw)
    existing = _existing(digest, env.message_id, mailbox)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                mailbox=mailbox, raw=raw, sha256=digest, size=len(raw),
                message_id=env.message_id, from_address=env.from_address, subject=env.subject,
                received_at=timezone.now())
    except IntegrityError:
        # The same message stored by another delivery a moment ago.
        existing = _existing(digest, env.message_id, mailbox)
        if existing is None:
            raise
        return existing
    if process_now:
        return process(message.pk) or InboundMessage.objects.get(pk=message.pk)
    return message


def _existing(digest: str, message_id: str, mailbox: Mailbox | None) -> InboundMessage | None:
    # Two indexed look-ups, not one OR: SQLite would scan the whole table for the OR.
    found = InboundMessage.objects.filter(sha256=digest).first()
    if found is None and message_id and mailbox is not None:
        # The condition of the unique index, repeated so that SQLite uses that index.
        found = (InboundMessage.objects.filter(mailbox=mailbox, message_id=message_id)
                 .exclude(message_id="").first())
    return found


# --- process ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What processing decided: the status to record and the ticket change it made."""

    status: InboundStatus
    reason: str = ""
    ticket: Ticket | None = None
    event: TicketEvent | None = None
    files: list[str] = field(default_factory=list)


def process(pk: int) -> InboundMessage | None:
    """Process one received message; ``None`` when another worker has it or it is done."""
    files: list[str] = []
    try:
        with transaction.atomic():
            message = _claim(pk)
            if message is None:
                return None
            outcome = _decide(message, files)
            _after_action(message)
            message.status = outcome.status
            message.reason = outcome.reason[:200]
            message.ticket = outcome.ticket
            message.event = outcome.event
            message.error = ""
            message.attempts += 1
            message.processed_at = timezone.now()
            message.save(update_fields=["status", "reason", "ticket", "event", "error",
                                        "attempts", "processed_at", "message_id",
                                        "from_address", "subject"])
        return message
    except Exception as exc:
        _remove(files)
        logger.exception("mail %s could not be processed; quarantined", pk)
        _quarantine(pk, exc)
        return InboundMessage.objects.filter(pk=pk).first()
    except BaseException:
        # A worker stopping (SIGTERM, Ctrl-C) mid-message: everything rolled back, the message
        # stays "received" for the next run.
        _remove(files)
        raise


def _claim(pk: int) -> InboundMessage | None:
    qs = InboundMessage.objects.filter(pk=pk, status=InboundStatus.RECEIVED)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    message = qs.select_related("mailbox").first()
    return message


def _quarantine(pk: int, exc: BaseException) -> None:
    summary = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = f"{type(exc).__name__}: {exc}\n\n{summary[-(ERROR_MAX - 200):]}"[:ERROR_MAX]
    try:
        with transaction.atomic():
            InboundMessage.objects.filter(pk=pk, status=InboundStatus.RECEIVED).update(
                status=InboundStatus.QUARANTINED, error=text, attempts=F("attempts") + 1,
                processed_at=timezone.now())
    except Exception:
        logger.exception("mail %s could not even be quarantined; it stays received", pk)


def _remove(files: Sequence[str]) -> None:
    """Attachment files written by actions whose transaction was rolled back afterwards."""
    from django.core.files.storage import default_storage

    for name in files:
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("could not remove %s", name, exc_info=True)


def process_pending(*, limit: int | None = None) -> Counter[str]:
    """Process every received message, oldest first; returns how many ended in each status.

    Safe with any number of workers at once: each message is claimed under a lock.
    """
    done: Counter[str] = Counter()
    last = 0
    while limit is None or sum(done.values()) < limit:
        ids = list(InboundMessage.objects.filter(status=InboundStatus.RECEIVED, pk__gt=last)
                   .order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        for pk in ids:
            last = pk
            message = process(pk)
            if message is not None:
                done[message.status] += 1
            if limit is not None and sum(done.values()) >= limit:
                break
    return done


# --- deciding -----------------------------------------------------------------------------------


def sender_address(parsed: ParsedMessage) -> str:
    """From, else Sender, else Return-Path (mail without From still has an author)."""
    if parsed.from_address:
        return parsed.from_address.strip().rstrip(".").lower()
    for header in ("sender", "return-path"):
        address = parseaddr(parsed.headers.get(header, ""))[1].strip().rstrip(".").lower()
        if "@" in address:
            return address
    return ""


def _decide(message: InboundMessage, files: list[str]) -> Outcome:
    from .parsing import parse_message

    mailbox = message.mailbox
    parsed = parse_message(bytes(message.raw))
    sender = sender_address(parsed)
    message.from_address = sender[:320]
    message.subject = parsed.subject[:998]
    parsed_id = threading.normalise_id(parsed.message_id)
    if parsed_id and not message.message_id:
        # The parser found the Message-ID the quick look at receive time missed.
        twin = (InboundMessage.objects.filter(mailbox=mailbox, message_id=parsed_id)
                .exclude(message_id="").exclude(pk=message.pk)
                .values_list("pk", flat=True).first())
        if twin is not None:
            return Outcome(InboundStatus.IGNORED, f"{safety.DUPLICATE}: {twin}")
        message.message_id = parsed_id

    own = safety.own_addresses()
    verdict = safety.loop_verdict(parsed.headers, sender, own)
    if verdict is not None:
        return Outcome(verdict.status, verdict.reason)
    if monitoring.is_monitoring_sender(mailbox, sender):
        alert = monitoring.parse_alert(parsed.subject, parsed.text)
        if alert is not None:
            requester = _monitoring_requester(sender, parsed, mailbox)
            result = monitoring.handle(alert, subject=parsed.subject, text=parsed.text,
                                       requester=requester, mailbox=mailbox)
            return Outcome(result.status, result.reason, result.ticket, result.event)
    verdict = safety.auto_verdict(parsed.auto)
    if verdict is not None:
        return Outcome(verdict.status, verdict.reason)
    if not sender:
        return Outcome(InboundStatus.REFUSED, safety.NO_SENDER)
    verdict = safety.rate_limit_verdict(message, sender)
    if verdict is not None:
        return Outcome(verdict.status, verdict.reason)

    user = _user_by_address(sender)
    if user is None:
        if mailbox is not None and mailbox.unknown_senders == UnknownSenderPolicy.REFUSE:
            _queue_refusal(parsed, mailbox=mailbox)
            return Outcome(InboundStatus.REFUSED, safety.UNKNOWN_SENDER)
        user = _create_requester(sender, parsed.from_name, mailbox)
        if user is None:
            return Outcome(InboundStatus.REFUSED, safety.INVALID_SENDER)
    if not user.is_active:
        return Outcome(InboundStatus.REFUSED, safety.DISABLED_ACCOUNT)

    match = threading.find_ticket(in_reply_to=parsed.in_reply_to,
                                  references=parsed.references, subject=parsed.subject,
                                  sender=user)
    uploads, notes = _uploads(parsed.attachments)
    if match is None:
        outcome = _new_ticket(parsed, user, mailbox, uploads, notes, text=parsed.text)
    else:
        outcome = _continue(match.ticket, parsed, user, mailbox, uploads, notes)
    if uploads and outcome.event is not None:
        files.extend(Attachment.objects.filter(ticket_id=outcome.event.ticket_id,
                                               created_at__gte=outcome.event.created_at)
                     .values_list("file", flat=True))
    if outcome.ticket is not None:
        _add_watchers(outcome.ticket, parsed, sender=user, own=own, mailbox=mailbox)
    return outcome


def _continue(ticket: Ticket, parsed: ParsedMessage, user: User, mailbox: Mailbox | None,
              uploads: list[CheckedUpload], notes: list[str]) -> Outcome:
    """A message in an existing conversation."""
    body = _body(parsed.reply_text or parsed.text, notes)
    staff = user.is_agent_side or user.is_superuser
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        if staff:
            # Staff may write after the end; the text is kept as a note, nothing reopens.
            event = ticket_actions.add_note(ticket, body=body or _("(empty message)"),
                                            actor=user, channel=Channel.EMAIL,
                                            attachments=uploads)
            return Outcome(InboundStatus.PROCESSED, ticket=ticket, event=event)
        intro = _("Follow-up to %(number)s, which is closed.") % {"number": ticket.number}
        return _new_ticket(parsed, user, mailbox, uploads, notes,
                           text=f"{intro}\n\n{parsed.reply_text or parsed.text}")
    if (ticket.status == Status.RESOLVED and not staff
            and (mailbox is None or mailbox.reopen_on_reply) and can(user, ticket, "confirm")):
        ticket = ticket_actions.reopen(ticket, reason=body or _("Reopened by email."),
                                       actor=user, channel=Channel.EMAIL)
        reopened = _last_event(ticket, EventKind.REOPENED)
        if uploads:
            ticket_actions.reply(ticket, body="", actor=user, channel=Channel.EMAIL,
                                 attachments=uploads)
        return Outcome(InboundStatus.PROCESSED, ticket=ticket, event=reopened)
    event = ticket_actions.reply(ticket, body=body if (body or uploads) else _("(empty message)"),
                                 actor=user, channel=Channel.EMAIL, attachments=uploads)
    return Outcome(InboundStatus.PROCESSED, ticket=ticket, event=event)


def _new_ticket(parsed: ParsedMessage, user: User, mailbox: Mailbox | None,
                uploads: list[CheckedUpload], notes: list[str], *, text: str) -> Outcome:
    title = threading.clean_subject(parsed.subject)[:ticket_actions.TITLE_MAX].strip()
    team = mailbox.team if mailbox is not None and mailbox.team_id else None
    ticket = ticket_actions.open_ticket(
        requester=user, title=title or _("(no subject)"), description=_body(text, notes),
        channel=Channel.EMAIL,
        # Routing to the mailbox's team is the desk's configuration, not the sender's choice.
        actor=None if team is not None else user, team=team,
        category=mailbox.category if mailbox is not None else None, attachments=uploads)
    return Outcome(InboundStatus.PROCESSED, ticket=ticket,
                   event=_last_event(ticket, EventKind.CREATED))


def _last_event(ticket: Ticket, kind: EventKind) -> TicketEvent | None:
    return TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("-id").first()


def _body(text: str, notes: Sequence[str]) -> str:
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        text = text[:TEXT_MAX].rstrip() + "\n\n" + _(
            "[The message is longer; the rest is in the original message.]")
    if notes:
        text = (text + "\n\n" if text else "") + "\n".join(notes)
    return text


def _uploads(attachments: Sequence[ParsedAttachment]) -> tuple[list[CheckedUpload], list[str]]:
    """The attachments the ticket accepts; each refused one is noted in the text (the message
    itself keeps it)."""
    uploads: list[CheckedUpload] = []
    notes: list[str] = []
    for attachment in attachments:
        upload = SimpleUploadedFile(attachment.filename or "attachment", attachment.content,
                                    content_type=attachment.content_type)
        try:
            uploads.append(check_upload(upload, attachment.filename or "attachment",
                                        size=len(attachment.content)))
        except ActionError as exc:
            notes.append(_("The attachment “%(name)s” was not accepted: %(reason)s")
                         % {"name": attachment.filename, "reason": exc.message})
    return uploads, notes


# --- people -------------------------------------------------------------------------------------


def _user_by_address(address: str) -> User | None:
    return (User.objects.annotate(e=Lower("email")).filter(e=address.lower())
            .order_by("pk").first())


def _organisation_for(address: str, mailbox: Mailbox | None) -> Organisation | None:
    domain = address.rpartition("@")[2].lower()
    if domain:
        owner = (Organisation.objects.filter(is_active=True)
                 .annotate(d=Lower("email_domain")).filter(d__in=[domain, f"@{domain}"])
                 .order_by("pk").first())
        if owner is not None:
            return owner
    if mailbox is not None and mailbox.organisation_id:
        return mailbox.organisation
    return None


def _valid(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _create_requester(address: str, name: str, mailbox: Mailbox | None, *,
                      notifications: bool = True) -> User | None:
    if not _valid(address):
        return None
    return mail_actions.requester_from_mail(
        email=address, full_name=name, organisation=_organisation_for(address, mailbox),
        email_notifications=notifications, looked_up=True)


def _monitoring_requester(address: str, parsed: ParsedMessage, mailbox: Mailbox | None) -> User:
    user = _user_by_address(address)
    if user is None:
        # A monitoring system gets no mail about the incidents it opens.
        user = _create_requester(address, parsed.from_name or address.partition("@")[0],
                                 mailbox, notifications=False)
    if user is None:
        raise ActionError(_("Enter a valid email address."), code="invalid")
    return user


def _add_watchers(ticket: Ticket, parsed: ParsedMessage, *, sender: User,
                  own: frozenset[str], mailbox: Mailbox | None) -> None:
    """People in To and Cc follow the ticket: accounts that may see it, and — for the
    requester's own organisation's domain, when the mailbox creates unknown senders — new
    requesters."""
    addresses: list[str] = []
    for _name, address in [*parsed.to, *parsed.cc]:
        address = address.strip().lower()
        if (address and address not in own and address != sender.email.lower()
                and address not in addresses):
            addresses.append(address)
    addresses = addresses[:MAX_WATCHERS]
    if not addresses:
        return
    users: dict[str, User] = {
        u.e: u for u in User.objects.annotate(e=Lower("email")).filter(e__in=addresses)}
    watching = set(ticket.watchers.values_list("pk", flat=True))
    domain = ""
    if ticket.organisation_id:
        domain = (Organisation.objects.filter(pk=ticket.organisation_id)
                  .values_list("email_domain", flat=True).first() or "").lower().lstrip("@")
    create = mailbox is None or mailbox.unknown_senders == UnknownSenderPolicy.CREATE
    names = {a.strip().lower(): n for n, a in [*parsed.to, *parsed.cc]}
    for address in addresses:
        user = users.get(address)
        if user is None:
            if not (create and domain and address.rpartition("@")[2] == domain):
                continue
            user = _create_requester(address, names.get(address, ""), mailbox)
            if user is None:
                continue
        if (not user.is_active or user.pk == ticket.requester_id or user.pk in watching
                or not (user.is_agent_side or user.organisation_id == ticket.organisation_id)):
            continue
        ticket_actions.add_watcher(ticket, user=user, actor=None, channel=Channel.EMAIL)
        watching.add(user.pk)


# --- answers ------------------------------------------------------------------------------------


def _queue_refusal(parsed: ParsedMessage, *, mailbox: Mailbox) -> None:
    """The polite answer to an unknown sender (policy "refuse"), queued in the outbox in this
    transaction: a rollback sends nothing; the outbox answers a sender at most once a day."""
    from . import outbox

    outbox.queue_refusal(parsed, mailbox=mailbox, reason="unknown_sender")
