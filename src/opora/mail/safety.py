"""Mail that must never open a ticket and never be answered.

- automatic mail: auto-replies, bounces and delivery reports, bulk and list mail (the parser
  names why in ``ParsedMessage.auto``);
- loops: mail we sent ourselves coming back (our ``X-Opora-Ticket`` / ``X-Loop`` headers), or
  mail whose sender is one of our own mailboxes;
- floods: more than ``OPORA_MAIL_RATE_LIMIT`` messages from one sender within
  ``OPORA_MAIL_RATE_WINDOW`` seconds, counted from the stored messages (so every worker and the
  pipe command see the same count) — refused without an answer, which is what breaks a loop
  with an auto-responder that does not mark its mail.

``InboundMessage.reason`` keeps a stable code (``"rate limit"``, ``"automatic: precedence:bulk"``
…); ``describe`` turns it into the administrator's language.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Lower
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import InboundMessage, InboundStatus, Mailbox

#: Headers our own outgoing mail carries (written by the outbox).
OWN_HEADERS = ("x-opora-ticket", "x-opora-event", "x-opora-notice")
LOOP_MARK = "opora"

# Reason codes (the part before ": " when a detail follows).
AUTOMATIC = "automatic"
LOOP = "loop"
RATE_LIMIT = "rate limit"
UNKNOWN_SENDER = "unknown sender"
NO_SENDER = "no sender address"
INVALID_SENDER = "invalid sender address"
DISABLED_ACCOUNT = "disabled account"
RECOVERY_WITHOUT_PROBLEM = "recovery without a problem"
DUPLICATE = "duplicate"

REASON_LABELS: Mapping[str, Promise] = {
    AUTOMATIC: _("Automatic mail (auto-reply, bounce, bulk)"),
    LOOP: _("Mail loop (our own mail came back)"),
    RATE_LIMIT: _("Too many messages from this sender"),
    UNKNOWN_SENDER: _("Unknown sender (the mailbox refuses them)"),
    NO_SENDER: _("No sender address"),
    INVALID_SENDER: _("Invalid sender address"),
    DISABLED_ACCOUNT: _("The sender's account is disabled"),
    RECOVERY_WITHOUT_PROBLEM: _("Monitoring recovery without an open problem"),
    DUPLICATE: _("The same message as an earlier one (number)"),
}


@dataclass(frozen=True)
class Verdict:
    """Why a message is ignored (automatic, loop) or refused (rate limit)."""

    status: InboundStatus
    reason: str


def describe(reason: str) -> str:
    """The stored reason code as a sentence in the current language, with its detail."""
    code, _sep, detail = reason.partition(": ")
    label = REASON_LABELS.get(code)
    if label is None:
        return reason
    return f"{label}: {detail}" if detail else str(label)


def own_addresses() -> frozenset[str]:
    """Every mailbox address we send from (active or not: old mail still comes back)."""
    return frozenset(Mailbox.objects.annotate(a=Lower("address")).values_list("a", flat=True))


def loop_verdict(headers: Mapping[str, str], sender: str,
                 own: Collection[str]) -> Verdict | None:
    """Our own mail coming back, or mail sent by one of our mailboxes."""
    for name in OWN_HEADERS:
        if headers.get(name):
            return Verdict(InboundStatus.IGNORED, f"{LOOP}: {name}")
    x_loop = (headers.get("x-loop") or "").lower()
    if x_loop and (LOOP_MARK in x_loop or any(address in x_loop for address in own)):
        return Verdict(InboundStatus.IGNORED, f"{LOOP}: x-loop")
    if sender and sender in own:
        return Verdict(InboundStatus.IGNORED, f"{LOOP}: {sender}")
    return None


def auto_verdict(auto: str) -> Verdict | None:
    """The parser recognised automatic mail (``ParsedMessage.auto``)."""
    if auto:
        return Verdict(InboundStatus.IGNORED, f"{AUTOMATIC}: {auto}"[:200])
    return None


def rate_limited(message: InboundMessage, sender: str) -> bool:
    """More than the allowed number of messages from ``sender`` arrived in the window that ends
    with this one (this one included)."""
    limit = settings.OPORA_MAIL_RATE_LIMIT
    if not sender or limit <= 0:
        return False
    since = message.received_at - timedelta(seconds=settings.OPORA_MAIL_RATE_WINDOW)
    earlier = (InboundMessage.objects
               .filter(from_address=sender, received_at__gt=since,
                       received_at__lte=message.received_at)
               .exclude(pk=message.pk)
               .exclude(received_at=message.received_at, pk__gt=message.pk))
    return earlier[:limit].count() >= limit


def rate_limit_verdict(message: InboundMessage, sender: str) -> Verdict | None:
    if rate_limited(message, sender):
        return Verdict(InboundStatus.REFUSED, RATE_LIMIT)
    return None
