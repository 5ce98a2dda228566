"""The outbox: every message Opora sends is first a row, then an SMTP delivery with retries.

Queueing
    ``queue`` writes an ``OutboundMessage`` (status "queued") in the caller's transaction: the
    notification task for ticket events (``tickets.notifications``), ``queue_refusal`` for mail
    the ingestion refuses. A request or an ingestion that rolls back therefore sends nothing.

Sending
    ``send_due`` claims one due row at a time — ``SELECT … FOR UPDATE SKIP LOCKED`` on
    PostgreSQL (SQLite serialises writers) — by moving its next attempt a lease ahead, commits,
    and sends it through Django's mail connection (the ``EMAIL_*`` settings) outside any
    transaction, so no lock is held while an SMTP server is slow. The outcome is written after:
    sent; or, on failure, one more attempt and the next one 1, 5, 15, 60 then 240 minutes later,
    until ``OPORA_MAIL_MAX_ATTEMPTS`` (default 6) attempts failed — then "failed", shown in the
    outbox page where a manager can send it again. A 5xx answer about the recipient or the
    message itself (550 no such user, 552 too large, 554 rejected) fails at once: asking again
    cannot help. Delivery is at least once: a worker killed between the SMTP server's "250 OK"
    and the write leaves the row to be sent again after the lease.
    Every worker runs ``send_due`` every few seconds (``MailSender`` in ``opora worker``), and
    the notification task tries its own rows at once.

Threading (how mail clients, and our ingestion, tie the messages of a ticket together)
    - The ticket's *root* Message-ID is ``<ticket-{pk}@{domain}>``. The acknowledgement the
      requester receives when the ticket is opened carries it, so the acknowledgement is the
      root of the thread; for a ticket opened by email it answers the requester's message
      (In-Reply-To / References name that message), so it sits under it in their client.
    - Every other message has ``<{random}.{ticket number}@{domain}>``; the domain is that of
      the mailbox the message is sent from, else of ``DEFAULT_FROM_EMAIL``.
    - In-Reply-To names the newest message of the ticket the recipient has seen: their own last
      message that became part of the ticket (``InboundMessage``), else our last message to
      them, else the root.
    - References is that conversation in order, always with the root in it; when it is longer
      than ten, the first and the last nine.
    Replies quoting any of our Message-IDs find their ticket through ``OutboundMessage``
    (``mail.threading``).

Senders
    A ticket's public mail comes from the mailbox the ticket came through (its first received
    message), else the first active mailbox, else ``DEFAULT_FROM_EMAIL``; Reply-To is the same
    address, so an answer comes back into the ticket. Internal notifications (notes,
    assignments, escalations) come from ``DEFAULT_FROM_EMAIL`` without a Reply-To to a mailbox:
    an agent answering one by mail must not turn an internal matter into a public reply.
"""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.contrib.admin.models import CHANGE
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opora.core.audit import log_change
from opora.tickets.choices import EventKind
from opora.tickets.errors import ActionError

from .models import InboundMessage, InboundStatus, Mailbox, OutboundMessage, OutboundStatus

if TYPE_CHECKING:
    from opora.accounts.models import User
    from opora.tickets.models import Attachment, Ticket, TicketEvent

logger = logging.getLogger(__name__)

#: Minutes to wait after the 1st, 2nd, … failed attempt (the last value repeats).
BACKOFF_MINUTES = (1, 5, 15, 60, 240)
#: How long a claimed row is left alone before another worker may take it (a killed sender).
LEASE = timedelta(minutes=10)
#: References keep the first and the last nine Message-IDs of a longer conversation.
MAX_REFERENCES = 10
#: Seconds an SMTP operation may take when ``EMAIL_TIMEOUT`` is not set.
DEFAULT_TIMEOUT = 30
#: The header marking a refusal (``queue_refusal``); one per sender and day.
NOTICE_HEADER = "X-Opora-Notice"

_ROOT = re.compile(r"^ticket-(\d+)@(.+)$")


def max_attempts() -> int:
    return max(1, int(getattr(settings, "OPORA_MAIL_MAX_ATTEMPTS", 6)))


def max_attachment_bytes() -> int:
    """Attachments of one message above this total are linked to, not attached."""
    return int(getattr(settings, "OPORA_MAIL_MAX_ATTACHMENTS_BYTES", 10 * 1024 * 1024))


def one_line(value: str) -> str:
    """Header values on one line: a CR or LF would make the message unsendable or inject."""
    return " ".join(str(value).split())


# --- who sends ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """The From (and Reply-To) of a message: a mailbox, or ``DEFAULT_FROM_EMAIL``."""

    mailbox: Mailbox | None
    name: str
    address: str

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower() or "localhost"

    @property
    def header(self) -> str:
        return formataddr((self.name, self.address)) if self.name else self.address


def default_sender() -> Sender:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return Sender(None, name, address or settings.DEFAULT_FROM_EMAIL)


def mailbox_sender(mailbox: Mailbox) -> Sender:
    return Sender(mailbox, mailbox.name, mailbox.address)


def sender_for(ticket: Ticket | None) -> Sender:
    """The mailbox the ticket came through, else the first active one, else the default."""
    mailbox = None
    if ticket is not None:
        mailbox = (Mailbox.objects.filter(messages__ticket=ticket, is_active=True)
                   .order_by("messages__received_at", "messages__id").first())
    if mailbox is None:
        mailbox = Mailbox.objects.filter(is_active=True).order_by("id").first()
    return mailbox_sender(mailbox) if mailbox is not None else default_sender()


# --- threading ----------------------------------------------------------------------------------


def new_message_id(domain: str, tag: str) -> str:
    return f"{secrets.token_hex(8)}.{tag}@{domain}"


def root_message_id(ticket: Ticket, domain: str) -> str:
    """The acknowledgement's Message-ID if it was written, else the one it would have."""
    existing = (OutboundMessage.objects.filter(ticket=ticket,
                                               message_id__startswith=f"ticket-{ticket.pk}@")
                .values_list("message_id", flat=True).first())
    return existing or f"ticket-{ticket.pk}@{domain}"


def seen_by(ticket: Ticket, address: str) -> list[str]:
    """Message-IDs of the ticket's conversation with ``address``, oldest first: what they
    wrote that became part of the ticket and what we sent them (except what never went out)."""
    address = address.strip().lower()
    rows: list[tuple[datetime, int, str]] = [
        (at, 0, mid) for mid, at in InboundMessage.objects.filter(
            ticket=ticket, from_address=address, status=InboundStatus.PROCESSED,
        ).exclude(message_id="").values_list("message_id", "received_at")
    ]
    sent = OutboundMessage.objects.filter(ticket=ticket, to__iexact=address).exclude(
        status=OutboundStatus.FAILED)
    rows += [(at, 1, mid) for mid, at in sent.values_list("message_id", "created_at")]
    return list(dict.fromkeys(mid for _at, _side, mid in sorted(rows)))


def cap_references(ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_REFERENCES:
        return [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return ids


@dataclass(frozen=True)
class Thread:
    message_id: str
    in_reply_to: str
    references: list[str]


def thread_for(ticket: Ticket, address: str, *, domain: str, root_domain: str,
               as_root: bool = False) -> Thread:
    """Message-ID, In-Reply-To and References of a new message of ``ticket`` to ``address``.

    ``as_root``: the acknowledgement, which takes the root id unless it is taken already.
    """
    root = root_message_id(ticket, root_domain)
    chain = seen_by(ticket, address)
    if as_root and not OutboundMessage.objects.filter(message_id=root).exists():
        return Thread(root, chain[-1] if chain else "", cap_references(chain))
    if root not in chain:
        chain.insert(0, root)
    return Thread(new_message_id(domain, ticket.number or f"t{ticket.pk}"), chain[-1],
                  cap_references(chain))


def ticket_id_for(message_ids: Sequence[str]) -> int | None:
    """The ticket a reply belongs to by our Message-IDs it quotes (best first), including the
    root id of a ticket whose acknowledgement was never written (notifications were off)."""
    ids = [m.strip().strip("<>") for m in message_ids if m.strip()]
    found = dict(OutboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
                 .values_list("message_id", "ticket_id"))
    domains = {default_sender().domain} | {
        a.rpartition("@")[2].lower() for a in Mailbox.objects.values_list("address", flat=True)}
    for mid in ids:
        if mid in found:
            return found[mid]
        match = _ROOT.match(mid)
        if match and match.group(2).lower() in domains:
            return int(match.group(1))
    return None


# --- queueing -----------------------------------------------------------------------------------


def standard_headers(*, automatic: bool, ticket: Ticket | None = None,
                     event: TicketEvent | None = None,
                     unsubscribe: bool = True) -> dict[str, str]:
    """``Auto-Submitted`` and ``X-Auto-Response-Suppress`` on what a system sends (never on a
    person's reply); the ticket's number; where to stop the notifications."""
    headers: dict[str, str] = {}
    if automatic:
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    if ticket is not None:
        headers["X-Opora-Ticket"] = ticket.number or str(ticket.pk)
    if event is not None:
        headers["X-Opora-Event"] = str(event.pk)
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{absolute(reverse('portal:preferences'))}>"
    return headers


def absolute(path: str) -> str:
    return f"{settings.OPORA_BASE_URL.rstrip('/')}{path}"


def queue(
    *,
    to: str,
    subject: str,
    text: str,
    html: str = "",
    sender: Sender | None = None,
    ticket: Ticket | None = None,
    event: TicketEvent | None = None,
    recipient: User | None = None,
    message_id: str | None = None,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> OutboundMessage:
    """Write one message to send (status queued, due now) in the caller's transaction.

    ``headers`` are the other headers (``standard_headers``); threading headers are given
    explicitly, without angle brackets.
    """
    sender = sender or default_sender()
    address = one_line(to)
    validate_email(address)
    now = now or timezone.now()
    return OutboundMessage.objects.create(
        ticket=ticket, event=event, mailbox=sender.mailbox, recipient=recipient, to=address,
        subject=one_line(subject)[:998], body_text=text, body_html=html,
        message_id=message_id or new_message_id(sender.domain, "opora"),
        in_reply_to=in_reply_to, references=" ".join(references),
        headers={one_line(k): one_line(v) for k, v in (headers or {}).items()},
        status=OutboundStatus.QUEUED, next_attempt_at=now, created_at=now,
    )


def queue_for_ticket(
    ticket: Ticket,
    *,
    recipient: User,
    subject: str,
    text: str,
    html: str = "",
    event: TicketEvent | None = None,
    public: bool = True,
    automatic: bool = True,
    as_root: bool = False,
    public_sender: Sender | None = None,
    now: datetime | None = None,
) -> OutboundMessage:
    """A message about ``ticket`` to ``recipient``, threaded into their conversation.

    ``public``: from the ticket's mailbox (answers come back into the ticket); otherwise an
    internal notification from ``DEFAULT_FROM_EMAIL``. ``as_root``: the acknowledgement.
    """
    ticket_sender = public_sender or sender_for(ticket)
    sender = ticket_sender if public else default_sender()
    thread = thread_for(ticket, recipient.email, domain=sender.domain,
                        root_domain=ticket_sender.domain, as_root=as_root and public)
    return queue(
        to=recipient.email, subject=subject, text=text, html=html, sender=sender, ticket=ticket,
        event=event, recipient=recipient, message_id=thread.message_id,
        in_reply_to=thread.in_reply_to, references=thread.references,
        headers=standard_headers(automatic=automatic, ticket=ticket, event=event), now=now,
    )


# --- refusals -----------------------------------------------------------------------------------


class IncomingLike(Protocol):
    """What ``queue_refusal`` reads of a parsed message (``mail.parsing.ParsedMessage``)."""

    @property
    def from_address(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def references(self) -> list[str]: ...


def _own_addresses() -> set[str]:
    own = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    own.add(default_sender().address.lower())
    return own


def queue_refusal(
    parsed_or_address: IncomingLike | str,
    *,
    mailbox: Mailbox | None,
    reason: str = "unknown_sender",
    now: datetime | None = None,
) -> OutboundMessage | None:
    """A polite refusal to a sender whose mail the mailbox does not accept, in the mailbox's
    language (the site's default), at most once per sender and day; ``None`` when nothing is
    queued (already refused today, an invalid address, our own address, automatic mail).

    The ingestion never calls this for automatic mail (auto-replies, bounces); a parsed message
    flagged ``auto`` is refused silently here too.
    """
    now = now or timezone.now()
    if isinstance(parsed_or_address, str):
        address, original_id, original_refs, original_subject = parsed_or_address, "", [], ""
    else:
        if getattr(parsed_or_address, "auto", ""):
            return None
        address = parsed_or_address.from_address
        original_id = parsed_or_address.message_id.strip().strip("<>")
        original_refs = [r.strip().strip("<>") for r in parsed_or_address.references]
        original_subject = parsed_or_address.subject
    address = one_line(address).lower()
    try:
        validate_email(address)
    except ValidationError:
        return None
    if address in _own_addresses():
        return None
    with transaction.atomic():
        if mailbox is not None:
            # Serialise refusals per mailbox: two workers never both refuse the same sender.
            Mailbox.objects.select_for_update().filter(pk=mailbox.pk).first()
        already = OutboundMessage.objects.filter(
            to=address, created_at__gte=now - timedelta(days=1),
            **{f"headers__{NOTICE_HEADER}": "refusal"},
        ).exists()
        if already:
            return None
        sender = mailbox_sender(mailbox) if mailbox is not None else default_sender()
        language = getattr(mailbox, "language", "") or settings.LANGUAGE_CODE
        with translation.override(language):
            context = {"reason": reason, "address": sender.address, "language": language,
                       "original_subject": one_line(original_subject),
                       "portal_url": absolute(reverse("portal:home"))}
            text = render_text("refusal", context, language)
            html = render_html("refusal", context, language)
            subject = (_("Not accepted: %(subject)s") % {"subject": context["original_subject"]}
                       if context["original_subject"] else _("Your message was not accepted"))
        headers = standard_headers(automatic=False, unsubscribe=False)
        # RFC 3834: an answer to a message is "auto-replied".
        headers.update({"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All",
                        NOTICE_HEADER: "refusal", "X-Opora-Reason": reason})
        return queue(
            to=address, subject=subject, text=text, html=html, sender=sender,
            message_id=new_message_id(sender.domain, "refusal"), in_reply_to=original_id,
            references=cap_references([*original_refs, original_id] if original_id else []),
            headers=headers, now=now,
        )


# --- rendering ----------------------------------------------------------------------------------

_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy_text(text: str) -> str:
    """Templates leave blank lines where blocks are empty: at most one blank line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    # "-- " (with its space) is the signature separator mail clients and reply parsers know.
    lines = ["-- " if line == "--" else line for line in lines]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n") + "\n"


def _names(kind: str, language: str, ext: str) -> list[str]:
    # ``mail/<kind>.<language>.txt`` replaces the translated template for one language.
    return [f"mail/{kind}.{language}.{ext}", f"mail/{kind}.{ext}"]


def render_text(kind: str, context: Mapping[str, Any], language: str) -> str:
    return tidy_text(select_template(_names(kind, language, "txt")).render(dict(context)))


def render_html(kind: str, context: Mapping[str, Any], language: str) -> str:
    return select_template(_names(kind, language, "html")).render(dict(context)).strip() + "\n"


# --- attachments --------------------------------------------------------------------------------

#: Event kinds whose files travel with the mail (the conversation); others only link.
ATTACHING_KINDS = frozenset({EventKind.REPLY, EventKind.NOTE})


def attachments_for(event: TicketEvent | None, recipient: User | None
                    ) -> tuple[list[Attachment], list[Attachment]]:
    """(attached, too large to attach) of the event's files this recipient may have.

    Deterministic, so the text written when queueing and the files attached when sending agree.
    """
    if event is None or event.kind not in ATTACHING_KINDS:
        return [], []
    staff = recipient is not None and recipient.is_agent_side
    files = [a for a in event.attachments.all() if a.is_public or staff]
    attached, linked, total = [], [], 0
    for attachment in files:
        if total + attachment.size <= max_attachment_bytes():
            attached.append(attachment)
            total += attachment.size
        else:
            linked.append(attachment)
    return attached, linked


# --- sending ------------------------------------------------------------------------------------


def build_email(message: OutboundMessage) -> EmailMultiAlternatives:
    """The message as it goes over SMTP, from the row alone (plus the event's files)."""
    sender = mailbox_sender(message.mailbox) if message.mailbox else default_sender()
    headers = {"Message-ID": f"<{message.message_id}>"}
    if message.in_reply_to:
        headers["In-Reply-To"] = f"<{message.in_reply_to}>"
    if message.references:
        headers["References"] = " ".join(f"<{r}>" for r in message.references.split())
    headers.update({str(k): one_line(str(v)) for k, v in message.headers.items()})
    email = EmailMultiAlternatives(
        subject=one_line(message.subject), body=message.body_text, from_email=sender.header,
        to=[message.to], reply_to=[sender.address] if sender.mailbox else None, headers=headers,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    attached, _linked = attachments_for(message.event, message.recipient)
    for attachment in attached:
        with attachment.file.open("rb") as fh:
            content = fh.read()
        email.attach(attachment.filename, content, attachment.content_type or None)
    return email


@dataclass
class SendResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def tried(self) -> int:
        return self.sent + self.retrying + self.failed


def _claim(now: datetime, ids: Collection[int] | None) -> OutboundMessage | None:
    with transaction.atomic():
        due = OutboundMessage.objects.filter(status=OutboundStatus.QUEUED, next_attempt_at__lte=now)
        if ids is not None:
            due = due.filter(pk__in=list(ids))
        row = (due.select_for_update(skip_locked=True, of=("self",)).select_related("mailbox")
               .order_by("next_attempt_at", "id").first())
        if row is None:
            return None
        OutboundMessage.objects.filter(pk=row.pk).update(next_attempt_at=now + LEASE)
    return row


def is_permanent(exc: BaseException) -> bool:
    """A 5xx about the recipients or the message: sending it again cannot succeed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def is_connection_problem(exc: BaseException) -> bool:
    """The server is unreachable or the session broke: the next message would fare no better."""
    if isinstance(exc, smtplib.SMTPException):
        return isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected
                          | smtplib.SMTPHeloError | smtplib.SMTPAuthenticationError
                          | smtplib.SMTPNotSupportedError)
    return isinstance(exc, OSError)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _sent(row: OutboundMessage, now: datetime) -> None:
    OutboundMessage.objects.filter(pk=row.pk).update(
        status=OutboundStatus.SENT, sent_at=now, attempts=row.attempts + 1, next_attempt_at=now)


def _failed(row: OutboundMessage, now: datetime, error: str, *, permanent: bool) -> bool:
    """Record a failed attempt; ``True`` when the message has failed for good."""
    attempts = row.attempts + 1
    final = permanent or attempts >= max_attempts()
    wait = BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1]
    OutboundMessage.objects.filter(pk=row.pk).update(
        attempts=attempts, last_error=error,
        status=OutboundStatus.FAILED if final else OutboundStatus.QUEUED,
        next_attempt_at=now if final else now + timedelta(minutes=wait),
    )
    logger.warning("mail %s to %s: attempt %d failed%s: %s", row.message_id, row.to, attempts,
                   " for good" if final else "", error)
    return final


def _close(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # a dead session cannot even say goodbye; it is dropped either way
        logger.debug("closing the mail connection failed", exc_info=True)


def send_due(now: datetime | None = None, *, ids: Collection[int] | None = None,
             limit: int = 100) -> SendResult:
    """Send up to ``limit`` due messages (only ``ids`` when given); see the module docstring.

    An unreachable server ends the run after the first message: the rest stay due, so a dead
    relay costs one connection attempt per run, not one per message.
    """
    result = SendResult()
    connection: BaseEmailBackend | None = None
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_TIMEOUT
    try:
        while result.tried < limit:
            at = now or timezone.now()
            row = _claim(at, ids)
            if row is None:
                break
            try:
                email = build_email(row)
            except Exception as exc:  # e.g. an attachment's file is gone: this message only
                logger.exception("mail %s could not be built", row.message_id)
                if _failed(row, now or timezone.now(), _describe(exc), permanent=False):
                    result.failed += 1
                else:
                    result.retrying += 1
                continue
            try:
                if connection is None:
                    connection = get_connection(timeout=timeout)
                    connection.open()
                if not connection.send_messages([email]):
                    raise smtplib.SMTPException("the mail backend did not send the message")
            except Exception as exc:
                if _failed(row, now or timezone.now(), _describe(exc),
                           permanent=is_permanent(exc)):
                    result.failed += 1
                else:
                    result.retrying += 1
                if connection is not None:
                    _close(connection)
                    connection = None
                if is_connection_problem(exc):
                    break
            else:
                _sent(row, now or timezone.now())
                result.sent += 1
    finally:
        if connection is not None:
            _close(connection)
    return result


# --- administration -----------------------------------------------------------------------------


def _require_manager(actor: User) -> None:
    from opora.accounts.team_actions import NotAllowed, is_desk_manager

    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))


def resend(message: OutboundMessage, *, actor: User, now: datetime | None = None
           ) -> OutboundMessage:
    """Send a failed (or already sent) message again, with a fresh set of attempts; the admin
    log records who asked."""
    _require_manager(actor)
    now = now or timezone.now()
    with transaction.atomic():
        locked = OutboundMessage.objects.select_for_update().get(pk=message.pk)
        if locked.status == OutboundStatus.QUEUED:
            raise ActionError(_("This message is already waiting to be sent."), code="no_change")
        locked.status, locked.attempts, locked.next_attempt_at = OutboundStatus.QUEUED, 0, now
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        log_change(actor, locked, CHANGE, [{"changed": {"fields": ["status"]}}])
    return locked


def resend_failed(*, actor: User, ids: Collection[int] | None = None,
                  now: datetime | None = None) -> int:
    """Queue every failed message (of ``ids`` when given) again, e.g. after fixing the relay."""
    _require_manager(actor)
    now = now or timezone.now()
    with transaction.atomic():
        failed = OutboundMessage.objects.select_for_update().filter(status=OutboundStatus.FAILED)
        if ids is not None:
            failed = failed.filter(pk__in=list(ids))
        rows = list(failed)
        if not rows:
            return 0
        OutboundMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=OutboundStatus.QUEUED, attempts=0, next_attempt_at=now)
        for row in rows:
            log_change(actor, row, CHANGE, [{"changed": {"fields": ["status"]}}])
    return len(rows)


__all__ = [
    "BACKOFF_MINUTES",
    "SendResult",
    "Sender",
    "attachments_for",
    "build_email",
    "queue",
    "queue_for_ticket",
    "queue_refusal",
    "resend",
    "resend_failed",
    "send_due",
    "sender_for",
    "thread_for",
    "ticket_id_for",
]
