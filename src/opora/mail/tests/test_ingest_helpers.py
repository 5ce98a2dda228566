"""Helpers the ingestion tests share (no tests here): building messages and mailboxes."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

from django.utils import timezone

from opora.mail.models import InboundMessage, Mailbox
from opora.tickets.models import Ticket

_counter = itertools.count(1)


def make_mailbox(**values: Any) -> Mailbox:
    n = next(_counter)
    values.setdefault("name", f"Support {n}")
    values.setdefault("address", f"support{n}@desk.example")
    values.setdefault("imap_host", "")
    return Mailbox.objects.create(**values)


def make_mail(
    *,
    sender: str | tuple[str, str] = ("Пётр Пользователев", "petr@client.example"),
    to: Iterable[str] = ("support@desk.example",),
    cc: Iterable[str] = (),
    subject: str = "Не печатает принтер",
    body: str = "Принтер на втором этаже не печатает, горит красная лампа.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[tuple[str, bytes, str]] = (),
    html: str | None = None,
) -> bytes:
    """A well-formed message as a mail client would send it."""
    msg = EmailMessage()
    msg["From"] = formataddr(sender) if isinstance(sender, tuple) else sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = f"<{message_id or f'm{next(_counter)}.{id(msg)}@client.example'}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    refs = list(references)
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, content, content_type in attachments:
        maintype, _slash, subtype = content_type.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(msg)


def message_id_of(raw: bytes) -> str:
    from email import message_from_bytes

    return str(message_from_bytes(raw)["Message-ID"]).strip().strip("<>")


def ticket_of(message: InboundMessage) -> Ticket:
    assert message.ticket_id is not None, (message.status, message.reason, message.error)
    return Ticket.objects.get(pk=message.ticket_id)


#: A PNG image (1 × 1 pixel), accepted as an attachment.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
