"""The email channel end to end, with real parts: a message arrives (``ingest.receive`` +
``process``) → a ticket; the agent replies on the ticket page (the test client, as the agent) →
the worker's task queues the mail and the outbox sends it to an SMTP server (aiosmtpd) → the
requester answers that mail (In-Reply-To its Message-ID, quoting it, the ticket number gone
from the subject) → the answer joins the same ticket as the requester's public reply.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from opora.mail.models import InboundStatus, Mailbox, OutboundMessage, OutboundStatus
from opora.tickets.choices import Channel, EventKind
from opora.tickets.models import Ticket

ingest = pytest.importorskip("opora.mail.ingest", reason="waits for the ingestion (brief G)")
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
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


def run_worker() -> None:
    """Run what is queued, as ``opora worker --batch`` does (the notification tasks)."""
    Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
           startup_delay=False, max_tasks=None, worker_id="journey", excluded_queue_names=[]
           ).run()
    failed = DBTaskResult.objects.exclude(status="SUCCESSFUL")
    assert not failed.exists(), [(r.exception_class_path, r.traceback) for r in failed]


def raw_mail(*, sender: str, to: str, subject: str, body: str, message_id: str,
             in_reply_to: str = "", references: str = "") -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body)
    return message.as_bytes()


def plain(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_conversation_by_email(world, smtp, client):
    support = Mailbox.objects.create(name="Support", address="support@desk.example")
    requester = world.requester
    run_worker()  # the fixture ticket's acknowledgement
    smtp.received.clear()

    # 1. The requester writes to the desk: a new ticket, and an acknowledgement by mail.
    first_id = make_msgid(domain="client.example")
    received = ingest.receive(raw_mail(
        sender=f"Пётр <{requester.email}>", to="support@desk.example",
        subject="Не печатает принтер на 3 этаже", body="Горит красная лампа.",
        message_id=first_id), mailbox=support)
    assert received.status == InboundStatus.PROCESSED
    ticket = Ticket.objects.get(pk=received.ticket_id)
    assert (ticket.channel, ticket.requester_id) == (Channel.EMAIL, requester.pk)
    run_worker()
    (ack,) = smtp.received
    assert ack["To"] == requester.email
    assert ack["Message-ID"] == f"<ticket-{ticket.pk}@desk.example>"
    assert ack["In-Reply-To"] == first_id
    assert f"[{ticket.number}]" in ack["Subject"]

    # 2. The agent answers on the ticket page.
    client.force_login(world.l1_agent)
    response = client.post(
        reverse("agent:ticket-action", kwargs={"ref": ticket.number, "name": "reply"}),
        {"version": Ticket.objects.get(pk=ticket.pk).version,
         "body": "Выключите принтер на минуту и включите снова."})
    assert response.status_code == 302, response.content.decode()[:2000]
    run_worker()
    (_ack, answer) = smtp.received
    sent = OutboundMessage.objects.get(ticket=ticket, event__kind=EventKind.REPLY)
    assert sent.status == OutboundStatus.SENT
    assert answer["Message-ID"] == f"<{sent.message_id}>"
    assert answer["In-Reply-To"] == ack["Message-ID"]
    assert answer["References"] == f"{first_id} {ack['Message-ID']}"
    assert answer["From"] == "Support <support@desk.example>"
    assert answer["Auto-Submitted"] is None  # a person wrote it
    assert "Выключите принтер на минуту" in plain(answer)

    # 3. The requester answers that mail; their client quotes it and (here) drops the number.
    quoted = "\n".join(f"> {line}" for line in plain(answer).splitlines())
    reply_raw = raw_mail(
        sender=f"Пётр <{requester.email}>", to=answer["Reply-To"],
        subject="Re: Не печатает принтер на 3 этаже",
        body=f"Спасибо, заработало!\n\nOn Mon, 10 Mar 2025, Support wrote:\n{quoted}\n",
        message_id=make_msgid(domain="client.example"),
        in_reply_to=answer["Message-ID"],
        references=f"{answer['References']} {answer['Message-ID']}")
    second = ingest.receive(reply_raw, mailbox=support)
    assert second.status == InboundStatus.PROCESSED
    assert second.ticket_id == ticket.pk  # the same ticket, found by the Message-ID

    event = ticket.events.order_by("-id").filter(kind=EventKind.REPLY)[0]
    assert (event.actor_id, event.channel, event.is_public) == (requester.pk, Channel.EMAIL, True)
    assert event.body.startswith("Спасибо, заработало!")
    assert "Выключите принтер" not in event.body  # the quoted history is not repeated
    assert Ticket.objects.filter(requester=requester).count() == 2  # the fixture's and this one

