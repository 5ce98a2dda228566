"""Which ticket an incoming message belongs to.

1. Our own Message-IDs quoted in In-Reply-To / References: those of the mail we sent
   (``OutboundMessage``) and of earlier messages that were processed into a ticket.
2. Else a ticket number in the subject (``[INC-000123]``, ``Re: AW: REQ-000124 …``).
3. Else none: the message opens a new ticket.

Either way the sender must be allowed to see the ticket (its requester, a watcher, their
organisation's manager, or service desk staff): a guessed or leaked reference from anyone else
opens a new ticket instead of writing into someone else's conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from opora.tickets.models import Ticket

from .models import InboundMessage, InboundStatus, OutboundMessage

if TYPE_CHECKING:
    from opora.accounts.models import User

#: Longest Message-ID kept and compared (longer ones are cut the same way on both sides).
MESSAGE_ID_MAX = 250
#: How many referenced Message-IDs are looked up (a References header can be very long).
MAX_REFERENCES = 50

#: Reply and forward prefixes of many mail clients and languages, with their counters
#: ("Re[2]:", "RE: FW:", "AW:", "WG:", "SV:", "Ответ:", "Отв:", "Пересл:", "Antw:", "TR:").
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|antwort|tr|rif|ответ|отв|пересл|перес)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
#: A ticket number as people and our subjects write it; numbers have at least six digits.
_NUMBER = re.compile(r"(?<![A-Za-z0-9])(INC|REQ|QST)-(\d{6,12})(?!\d)", re.IGNORECASE)

How = Literal["message_id", "subject"]


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: How


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and with white space collapsed."""
    text = " ".join((subject or "").split())
    while True:
        stripped = _PREFIX.sub("", text, count=1).strip()
        if stripped == text:
            return text
        text = stripped


def normalise_id(value: str) -> str:
    return value.strip().strip("<>").strip()[:MESSAGE_ID_MAX]


def referenced_ids(in_reply_to: Sequence[str], references: Sequence[str]) -> list[str]:
    """In-Reply-To first (the direct parent), then References from the newest to the oldest."""
    ordered: list[str] = []
    for value in [*in_reply_to, *reversed(references)]:
        mid = normalise_id(value)
        if mid and mid not in ordered:
            ordered.append(mid)
    return ordered[:MAX_REFERENCES]


def tickets_by_message_id(ids: Sequence[str]) -> list[Ticket]:
    """Tickets our referenced messages belong to, in the order of ``ids`` (best first)."""
    if not ids:
        return []
    found: dict[str, int] = {}
    for mid, ticket_id in OutboundMessage.objects.filter(
            message_id__in=ids, ticket__isnull=False).order_by().values_list("message_id",
                                                                              "ticket_id"):
        found.setdefault(mid, ticket_id)
    # Filtered on the Message-ID index only (a handful of rows); a status condition in SQL
    # makes SQLite walk every processed message instead.
    for mid, ticket_id, status in InboundMessage.objects.filter(
            message_id__in=ids).order_by().values_list("message_id", "ticket_id", "status"):
        if ticket_id is not None and status == InboundStatus.PROCESSED:
            found.setdefault(mid, ticket_id)
    order = [found[mid] for mid in ids if mid in found]
    if not order:
        # The root id of a ticket whose acknowledgement was never written (``outbox``).
        from .outbox import ticket_id_for

        root = ticket_id_for(ids)
        order = [root] if root is not None else []
    return _in_order(order)


def ticket_numbers(subject: str) -> list[str]:
    """``INC-000123``-style numbers in the subject, upper-case, first mention first."""
    numbers: list[str] = []
    for prefix, digits in _NUMBER.findall(subject or ""):
        number = f"{prefix.upper()}-{digits}"
        if number not in numbers:
            numbers.append(number)
    return numbers


def tickets_by_number(numbers: Sequence[str]) -> list[Ticket]:
    if not numbers:
        return []
    by_number = {t.number: t for t in Ticket.objects.filter(number__in=numbers)}
    return [by_number[n] for n in numbers if n in by_number]


def _in_order(ids: Iterable[int]) -> list[Ticket]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    by_id = Ticket.objects.in_bulk(wanted)
    return [by_id[i] for i in wanted if i in by_id]


def may_see(user: User, ticket: Ticket) -> bool:
    """Staff may write into any ticket by email; everyone else only into what they can see."""
    if not user.is_active:
        return False
    if user.is_agent_side or user.is_superuser:
        return True
    return Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()


def find_ticket(*, in_reply_to: Sequence[str], references: Sequence[str], subject: str,
                sender: User) -> Match | None:
    """The ticket this message continues, or ``None`` for a new one."""
    for ticket in tickets_by_message_id(referenced_ids(in_reply_to, references)):
        if may_see(sender, ticket):
            return Match(ticket, "message_id")
    for ticket in tickets_by_number(ticket_numbers(subject)):
        if may_see(sender, ticket):
            return Match(ticket, "subject")
    return None
