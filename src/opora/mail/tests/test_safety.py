"""Mail that never opens a ticket and is never answered: automatic mail, bounces, bulk, loops,
floods."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from opora.mail import ingest, safety
from opora.mail.models import InboundStatus, OutboundMessage, UnknownSenderPolicy
from opora.tickets.models import Ticket, TicketEvent

from .test_ingest_helpers import make_mail, make_mailbox

DESK = "support@desk.example"

BOUNCE = b"""\
From: Mail Delivery System <MAILER-DAEMON@mx.client.example>
To: support@desk.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.client.example>
Date: Mon, 1 Jan 2024 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.client.example. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.client.example
Final-Recipient: rfc822; gone@client.example
Action: failed
Status: 5.1.1

--B
Content-Type: text/rfc822-headers

From: support@desk.example
To: gone@client.example
Subject: [INC-000001] Printer

--B--
"""


@pytest.fixture
def mailbox(world):
    return make_mailbox(address=DESK, team=world.l1)


def _assert_nothing_happened(before: tuple[int, int]) -> None:
    assert (Ticket.objects.count(), TicketEvent.objects.count()) == before
    assert not OutboundMessage.objects.exists()


def _before() -> tuple[int, int]:
    return Ticket.objects.count(), TicketEvent.objects.count()


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"X-Autoreply": "yes"},
    {"X-Auto-Response-Suppress": "All"},
], ids=lambda h: next(iter(h.items()))[0] + ":" + next(iter(h.values())))
@pytest.mark.parametrize("policy", [UnknownSenderPolicy.CREATE, UnknownSenderPolicy.REFUSE])
def test_automatic_mail_is_ignored_and_never_answered(world, mailbox, headers, policy):
    mailbox.unknown_senders = policy
    mailbox.save()
    before = _before()
    for sender in (world.requester.email, "autoresponder@elsewhere.example"):
        message = ingest.receive(make_mail(sender=sender, subject="Out of office",
                                           headers=headers), mailbox=mailbox)
        assert message.status == InboundStatus.IGNORED
        assert message.reason.startswith("automatic: ")
    _assert_nothing_happened(before)


def test_a_reply_to_a_ticket_marked_automatic_is_ignored_too(world, mailbox):
    before = _before()
    message = ingest.receive(make_mail(sender=world.requester.email,
                                       subject=f"Re: [{world.ticket.number}] Принтер",
                                       headers={"Auto-Submitted": "auto-replied"}),
                             mailbox=mailbox)
    assert message.status == InboundStatus.IGNORED
    _assert_nothing_happened(before)


def test_a_bounce_is_ignored(world, mailbox):
    before = _before()
    message = ingest.receive(BOUNCE, mailbox=mailbox)
    assert message.status == InboundStatus.IGNORED
    assert message.reason.startswith("automatic: ")
    _assert_nothing_happened(before)


@pytest.mark.parametrize("headers", [
    {"X-Opora-Ticket": "INC-000001"},
    {"X-Opora-Notice": "refusal"},
    {"X-Loop": "opora"},
])
def test_our_own_mail_coming_back_is_ignored(world, mailbox, headers):
    before = _before()
    message = ingest.receive(make_mail(sender=world.requester.email, headers=headers),
                             mailbox=mailbox)
    assert (message.status, message.reason.split(":")[0]) == (InboundStatus.IGNORED, "loop")
    _assert_nothing_happened(before)


def test_mail_from_one_of_our_mailboxes_is_a_loop(world, mailbox):
    other = make_mailbox(address="it@desk.example")
    before = _before()
    for sender in (DESK, "IT@desk.example", other.address):
        message = ingest.receive(make_mail(sender=sender, subject=f"Re: {sender}"),
                                 mailbox=mailbox)
        assert message.status == InboundStatus.IGNORED
        assert message.reason.startswith("loop: ")
    _assert_nothing_happened(before)


def test_a_flood_from_one_sender_is_refused_without_an_answer(world, mailbox, settings):
    settings.OPORA_MAIL_RATE_LIMIT = 20
    settings.OPORA_MAIL_RATE_WINDOW = 600
    start = timezone.now()
    statuses = []
    with time_machine.travel(start, tick=False) as clock:
        for i in range(25):
            clock.move_to(start + timedelta(seconds=10 * i))
            message = ingest.receive(make_mail(sender="loop@elsewhere.example",
                                               subject=f"Ticket {i}"), mailbox=mailbox)
            statuses.append((message.status, message.reason))
        assert statuses[:20] == [(InboundStatus.PROCESSED, "")] * 20
        assert statuses[20:] == [(InboundStatus.REFUSED, "rate limit")] * 5
        tickets = Ticket.objects.count()
        # Another sender is not affected.
        other = ingest.receive(make_mail(sender=world.requester.email), mailbox=mailbox)
        assert other.status == InboundStatus.PROCESSED
        # Ten minutes after the burst began the sender may write again.
        clock.move_to(start + timedelta(seconds=10 * 24 + 601))
        later = ingest.receive(make_mail(sender="loop@elsewhere.example", subject="Later"),
                               mailbox=mailbox)
        assert later.status == InboundStatus.PROCESSED
    assert Ticket.objects.count() == tickets + 2
    assert not OutboundMessage.objects.filter(to="loop@elsewhere.example").exists()


def test_the_rate_limit_is_not_answered_even_under_refuse(world, mailbox, settings):
    settings.OPORA_MAIL_RATE_LIMIT = 2
    mailbox.unknown_senders = UnknownSenderPolicy.REFUSE
    mailbox.save()
    for i in range(3):
        last = ingest.receive(make_mail(sender="stranger@elsewhere.example", subject=f"{i}"),
                              mailbox=mailbox)
    assert (last.status, last.reason) == (InboundStatus.REFUSED, "rate limit")
    # Only the first two got the (once a day) polite refusal; the flood gets none.
    assert OutboundMessage.objects.filter(to="stranger@elsewhere.example").count() == 1


def test_reasons_are_described_for_administrators():
    assert safety.describe("rate limit") != "rate limit"
    assert safety.describe("automatic: precedence:bulk").endswith(": precedence:bulk")
    assert safety.describe("something new") == "something new"
