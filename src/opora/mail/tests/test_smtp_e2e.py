"""The outbox against a real SMTP server (aiosmtpd, started by the test on a free port).

What arrives: the threading headers, the subject tag, ``Auto-Submitted`` only where due, both
parts and the attachments. What goes wrong: a temporary refusal (451) is retried 1, 5, 15, 60
and 240 minutes later and fails after the sixth attempt; a permanent one (550) fails at once; a
port nobody listens on is retried, costing one connection attempt per run.
"""

from __future__ import annotations

import email
import email.policy
import io
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from opora.mail import outbox
from opora.mail.models import Mailbox, OutboundMessage, OutboundStatus
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import Channel, EventKind
from opora.tickets.notifications import send_event_notifications

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Receiver:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply = ""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings) -> Iterator[Receiver]:
    receiver = Receiver()
    controller = aiosmtpd_controller.Controller(receiver, hostname="127.0.0.1",
                                                port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield receiver
    finally:
        controller.stop()


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def notify(event: Any) -> OutboundMessage:
    send_event_notifications(event.pk)
    (row,) = OutboundMessage.objects.filter(event=event)
    return row


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_what_arrives_carries_the_thread_both_parts_and_the_files(clock, world, smtp):
    Mailbox.objects.create(name="Support", address="support@desk.example")
    ack = notify(world.ticket.events.get(kind=EventKind.CREATED))
    clock.shift(60)
    upload = check_upload(io.BytesIO(b"%PDF-1.4 manual"), "Инструкция по VPN.pdf")
    reply = notify(actions.reply(world.ticket, body="Настройте по инструкции", actor=world.l1_agent,
                                 channel=Channel.WEB, attachments=[upload]))
    assert [r.rcpt_tos for r in smtp.received] == [[world.requester.email]] * 2
    first, second = (r.message for r in smtp.received)

    assert first["Message-ID"] == f"<ticket-{world.ticket.pk}@desk.example>" == \
        f"<{ack.message_id}>"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["X-Auto-Response-Suppress"] == "All"

    assert second["Message-ID"] == f"<{reply.message_id}>"
    assert reply.message_id.endswith(f".{world.ticket.number}@desk.example")
    assert second["In-Reply-To"] == f"<{ack.message_id}>"
    assert second["References"] == f"<{ack.message_id}>"
    assert f"[{world.ticket.number}]" in second["Subject"]
    assert second["Auto-Submitted"] is None  # a person's reply
    assert second["X-Auto-Response-Suppress"] is None
    assert second["From"] == "Support <support@desk.example>"
    assert second["Reply-To"] == "support@desk.example"
    assert second["X-Opora-Ticket"] == world.ticket.number
    assert second["List-Unsubscribe"] == "<http://127.0.0.1:8000/portal/preferences/>"
    assert smtp.received[1].mail_from == "support@desk.example"

    assert "Настройте по инструкции" in text_of(second, "plain")
    assert "Настройте по инструкции" in text_of(second, "html")
    (attachment,) = list(second.iter_attachments())
    assert attachment.get_filename() == "Инструкция по VPN.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 manual"

    reply.refresh_from_db()
    assert (reply.status, reply.attempts, reply.sent_at) == (OutboundStatus.SENT, 1, T0 +
                                                            timedelta(seconds=60))


def test_a_temporary_refusal_is_retried_on_schedule_then_fails(clock, db, smtp, settings):
    settings.OPORA_MAIL_MAX_ATTEMPTS = 6
    smtp.data_reply = "451 4.3.0 Try again later"
    row = outbox.queue(to="someone@example.com", subject="Привет", text="Текст")
    waits = []
    for attempt in range(1, 7):
        at = datetime.now(UTC)
        result = outbox.send_due()
        assert result.tried == 1
        row.refresh_from_db()
        assert row.attempts == attempt
        assert "451" in row.last_error and "SMTPDataError" in row.last_error
        if row.status == OutboundStatus.FAILED:
            break
        assert outbox.send_due().tried == 0  # not due again before its time
        waits.append(row.next_attempt_at - at)
        clock.move_to(row.next_attempt_at, tick=False)
    assert waits == [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
    assert (row.status, row.attempts) == (OutboundStatus.FAILED, 6)
    assert smtp.received == []
    clock.shift(timedelta(days=1))
    assert outbox.send_due().tried == 0  # failed stays failed until someone sends it again

    smtp.data_reply = ""
    outbox.resend(row, actor=_manager())
    assert outbox.send_due().sent == 1
    assert [r.message["Subject"] for r in smtp.received] == ["Привет"]


def _manager() -> Any:
    from opora.testing.factories import ManagerFactory

    return ManagerFactory.create()


def test_a_permanent_refusal_fails_at_once_and_the_others_still_go(clock, db, smtp):
    smtp.refuse_rcpt["gone@example.com"] = "550 5.1.1 No such user"
    gone = outbox.queue(to="gone@example.com", subject="one", text="t")
    fine = outbox.queue(to="fine@example.com", subject="two", text="t")
    result = outbox.send_due()
    assert (result.sent, result.failed, result.retrying) == (1, 1, 0)
    gone.refresh_from_db()
    assert (gone.status, gone.attempts) == (OutboundStatus.FAILED, 1)
    assert "550" in gone.last_error and "No such user" in gone.last_error
    assert OutboundMessage.objects.get(pk=fine.pk).status == OutboundStatus.SENT
    assert [r.rcpt_tos for r in smtp.received] == [["fine@example.com"]]


def test_a_rejected_message_fails_at_once(clock, db, smtp):
    smtp.data_reply = "554 5.7.1 Message rejected as spam"
    row = outbox.queue(to="someone@example.com", subject="s", text="t")
    assert outbox.send_due().failed == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundStatus.FAILED, 1)


def test_a_dead_port_is_retried_with_one_attempt_per_run(clock, db, smtp, settings):
    live = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nobody listens there
    first = outbox.queue(to="a@example.com", subject="one", text="t")
    second = outbox.queue(to="b@example.com", subject="two", text="t")
    result = outbox.send_due()
    assert (result.tried, result.retrying) == (1, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (OutboundStatus.QUEUED, 1)
    assert first.next_attempt_at == T0 + timedelta(minutes=1)
    assert "ConnectionRefusedError" in first.last_error
    assert (second.attempts, second.last_error) == (0, "")  # untouched: the server is down

    settings.EMAIL_PORT = live
    clock.shift(60)
    assert outbox.send_due().sent == 2
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == ["a@example.com", "b@example.com"]
