"""The outbox: what the notification task queues (threading, senders, headers, languages,
attachments, links), refusals, the sender's claims, re-sending and the worker's sender loop.

Delivery here goes through Django's locmem backend (the test environment's own); the SMTP
conversation itself, with retries, is in ``test_smtp_e2e.py``.
"""

from __future__ import annotations

import hashlib
import io
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext

from opora.accounts.team_actions import NotAllowed
from opora.mail import outbox
from opora.mail.models import (
    InboundMessage,
    InboundStatus,
    Mailbox,
    OutboundMessage,
    OutboundStatus,
)
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import Channel, EventKind, ResolutionCode
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket, TicketEvent
from opora.tickets.notifications import send_event_notifications


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English texts: people without a language of their own get English."""
    settings.LANGUAGE_CODE = "en"


T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def notify(event: TicketEvent) -> list[OutboundMessage]:
    """Run the notification task's work for one event; the rows it wrote, by recipient."""
    send_event_notifications(event.pk)
    return list(OutboundMessage.objects.filter(event=event).order_by("to"))


def last_event(ticket: Ticket, kind: EventKind | None = None) -> TicketEvent:
    events = ticket.events.order_by("-id")
    return (events.filter(kind=kind) if kind else events)[0]


def only(rows: Sequence[T]) -> T:
    assert len(rows) == 1, rows
    return rows[0]


def inbound(ticket: Ticket, *, sender: str, message_id: str, mailbox: Mailbox | None = None,
            at: datetime | None = None) -> InboundMessage:
    """A message as the ingestion leaves it once processed into ``ticket``."""
    raw = f"Message-ID: <{message_id}>\r\nFrom: {sender}\r\n\r\nbody".encode()
    return InboundMessage.objects.create(
        mailbox=mailbox, raw=raw, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
        message_id=message_id, from_address=sender, status=InboundStatus.PROCESSED,
        ticket=ticket, received_at=at or T0, processed_at=at or T0)


@pytest.fixture
def support(db) -> Mailbox:
    return Mailbox.objects.create(name="Техподдержка", address="support@desk.example")


# --- the thread: the acknowledgement is the root ------------------------------------------------


class TestThreading:
    def test_the_acknowledgement_is_the_root_of_the_thread(self, clock, world):
        ack = only(notify(last_event(world.ticket, EventKind.CREATED)))
        assert ack.to == world.requester.email
        assert ack.message_id == f"ticket-{world.ticket.pk}@opora.local"
        assert (ack.in_reply_to, ack.references) == ("", "")
        assert f"[{world.ticket.number}]" in ack.subject
        email = only(mail.outbox)  # sent at once by the task
        message = email.message()
        assert message["Message-ID"] == f"<ticket-{world.ticket.pk}@opora.local>"
        assert message["In-Reply-To"] is None and message["References"] is None
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["X-Opora-Ticket"] == world.ticket.number
        assert message["List-Unsubscribe"] == "<http://127.0.0.1:8000/portal/preferences/>"
        # No mailbox configured: from the default address, and no Reply-To.
        assert message["From"] == "Opora <servicedesk@opora.local>"
        assert message["Reply-To"] is None
        assert (ack.status, ack.attempts, ack.sent_at) == (OutboundStatus.SENT, 1, T0)

    def test_each_message_answers_the_newest_one_the_recipient_has_seen(self, clock, world):
        ack = only(notify(last_event(world.ticket, EventKind.CREATED)))
        clock.shift(60)
        reply = only(notify(actions.reply(world.ticket, body="Перезагрузите",
                                          actor=world.l1_agent, channel=Channel.WEB)))
        assert reply.message_id.endswith(f".{world.ticket.number}@opora.local")
        assert reply.in_reply_to == ack.message_id
        assert reply.references.split() == [ack.message_id]
        clock.shift(60)
        actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="Готово",
                        actor=world.l1_agent, channel=Channel.WEB)
        resolved = only(notify(last_event(world.ticket, EventKind.RESOLVED)))
        assert resolved.in_reply_to == reply.message_id
        assert resolved.references.split() == [ack.message_id, reply.message_id]
        sent = {m.extra_headers["Message-ID"]: m.message() for m in mail.outbox}
        assert sent[f"<{resolved.message_id}>"]["References"] == (
            f"<{ack.message_id}> <{reply.message_id}>")
        # A person's reply is not automatic; the resolution notice is.
        assert sent[f"<{reply.message_id}>"]["Auto-Submitted"] is None
        assert sent[f"<{reply.message_id}>"]["X-Auto-Response-Suppress"] is None
        assert sent[f"<{resolved.message_id}>"]["Auto-Submitted"] == "auto-generated"

    def test_a_ticket_opened_by_email_answers_the_requesters_message(self, clock, world,
                                                                      support):
        with transaction.atomic():
            ticket = actions.open_ticket(requester=world.requester, title="Не работает VPN",
                                         channel=Channel.EMAIL, actor=world.requester)
            inbound(ticket, sender=world.requester.email, message_id="first@client.example",
                    mailbox=support)
        ack = only(notify(last_event(ticket, EventKind.CREATED)))
        # The ticket's mailbox sends (and names the domain); the acknowledgement answers the
        # requester's mail and is the root of our side of the thread.
        assert ack.mailbox == support
        assert ack.message_id == f"ticket-{ticket.pk}@desk.example"
        assert (ack.in_reply_to, ack.references) == ("first@client.example",
                                                      "first@client.example")
        message = only(mail.outbox).message()
        assert message["From"] == "=?utf-8?b?0KLQtdGF0L/QvtC00LTQtdGA0LbQutCw?= " \
                                  "<support@desk.example>"
        assert message["Reply-To"] == "support@desk.example"

        # The requester answers by mail; the agent's next reply answers that answer.
        clock.shift(120)
        inbound(ticket, sender=world.requester.email, message_id="second@client.example",
                mailbox=support, at=T0 + timedelta(seconds=120))
        actions.reply(ticket, body="Вот скриншот", actor=world.requester, channel=Channel.EMAIL)
        clock.shift(60)
        reply = only(notify(actions.reply(ticket, body="Спасибо", actor=world.l1_agent,
                                          channel=Channel.WEB)))
        assert reply.in_reply_to == "second@client.example"
        assert reply.references.split() == ["first@client.example", ack.message_id,
                                            "second@client.example"]
        assert reply.message_id.endswith(f".{ticket.number}@desk.example")

    def test_someone_who_never_got_the_acknowledgement_still_gets_the_root(self, clock, world):
        only(notify(last_event(world.ticket, EventKind.CREATED)))
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        rows = notify(actions.reply(world.ticket, body="Ответ", actor=world.l1_agent,
                                    channel=Channel.WEB))
        colleague = next(r for r in rows if r.to == world.colleague.email)
        root = f"ticket-{world.ticket.pk}@opora.local"
        assert (colleague.in_reply_to, colleague.references) == (root, root)

    def test_references_keep_the_first_and_the_last_nine(self, clock, world):
        ack = only(notify(last_event(world.ticket, EventKind.CREATED)))
        ids = [ack.message_id]
        for n in range(14):
            clock.shift(60)
            row = only(notify(actions.reply(world.ticket, body=f"Ответ {n}",
                                            actor=world.l1_agent, channel=Channel.WEB)))
            assert row.in_reply_to == ids[-1]
            expected = ids if len(ids) <= 10 else [ids[0], *ids[-9:]]
            assert row.references.split() == expected
            ids.append(row.message_id)
        assert len(row.references.split()) == 10

    def test_failed_messages_are_not_part_of_the_conversation(self, clock, world):
        ack = only(notify(last_event(world.ticket, EventKind.CREATED)))
        OutboundMessage.objects.filter(pk=ack.pk).update(status=OutboundStatus.FAILED)
        reply = only(notify(actions.reply(world.ticket, body="Ответ", actor=world.l1_agent,
                                          channel=Channel.WEB)))
        # The root stays (it names the ticket), but nothing answers a mail never received.
        assert (reply.in_reply_to, reply.references) == (ack.message_id, ack.message_id)

    def test_internal_notifications_come_from_the_default_address(self, clock, world,
                                                                  support):
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        note = only(notify(actions.add_note(world.ticket, body="Похоже на драйвер",
                                            actor=world.l1_agent, channel=Channel.WEB)))
        assert note.to == world.l1_agent2.email
        assert note.mailbox is None
        assert note.message_id.endswith("@opora.local")
        message = mail.outbox[-1].message()
        assert message["From"] == "Opora <servicedesk@opora.local>"
        assert message["Reply-To"] is None  # a reply by mail must not become a public one
        assert message["Auto-Submitted"] == "auto-generated"
        assert "replies to it are not read" in note.body_text
        # Public mail of the same ticket comes from the mailbox and invites answers.
        reply = only(notify(actions.reply(world.ticket, body="Ответ", actor=world.requester,
                                          channel=Channel.PORTAL)))
        assert reply.to == world.l1_agent2.email and reply.mailbox == support
        assert "Reply to this message to write to the service desk" in reply.body_text

    def test_the_sending_mailbox_is_the_tickets_else_the_first_active(self, world, support):
        other = Mailbox.objects.create(name="Другой", address="other@desk.example")
        assert outbox.sender_for(world.ticket).mailbox == support
        inbound(world.ticket, sender=world.requester.email, message_id="x@client.example",
                mailbox=other)
        assert outbox.sender_for(world.ticket).mailbox == other
        other.is_active = False
        other.save()
        assert outbox.sender_for(world.ticket).mailbox == support
        support.is_active = False
        support.save()
        sender = outbox.sender_for(world.ticket)
        assert (sender.mailbox, sender.header) == (None, "Opora <servicedesk@opora.local>")

    def test_the_root_id_finds_its_ticket_even_without_the_acknowledgement(self, world,
                                                                            support):
        assert outbox.ticket_id_for([f"<ticket-{world.ticket.pk}@desk.example>"]) == \
            world.ticket.pk
        assert outbox.ticket_id_for([f"ticket-{world.ticket.pk}@opora.local"]) == \
            world.ticket.pk
        assert outbox.ticket_id_for([f"ticket-{world.ticket.pk}@evil.example"]) is None
        assert outbox.ticket_id_for(["nothing@client.example"]) is None


# --- what is sent ------------------------------------------------------------------------------


class TestContent:
    def test_acknowledgements_go_to_whoever_opened_the_ticket_but_never_to_monitoring(
            self, world):
        ack = only(notify(last_event(world.ticket, EventKind.CREATED)))
        assert ack.recipient == world.requester
        assert world.ticket.number in ack.body_text
        assert "We have registered your request under the number" in ack.body_text
        monitor = f.RequesterFactory.create(organisation=world.org, email="zabbix@org.example")
        alert = actions.open_ticket(requester=monitor, title="Disk full",
                                    channel=Channel.MONITORING, actor=monitor)
        assert notify(last_event(alert, EventKind.CREATED)) == []

    def test_language_and_time_zone_are_the_recipients(self, clock, world):
        world.requester.language, world.requester.time_zone = "ru", "Asia/Vladivostok"
        world.requester.save()
        world.colleague.language, world.colleague.time_zone = "en", "Europe/London"
        world.colleague.save()
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        rows = {r.to: r for r in notify(actions.reply(
            world.ticket, body="Перезагрузите", actor=world.l1_agent, channel=Channel.WEB))}
        russian, english = rows[world.requester.email], rows[world.colleague.email]
        assert "10 марта 2025 г. 19:00 (Asia/Vladivostok)" in russian.body_text
        assert "Новый ответ" in russian.subject and "Новый ответ" in russian.body_html
        assert '<html lang="ru">' in russian.body_html
        assert "Time: March 10, 2025, 9 a.m. (Europe/London)" in english.body_text
        assert english.subject.endswith("— New reply")
        assert '<html lang="en">' in english.body_html

    def test_the_html_part_escapes_what_people_wrote(self, world):
        body = 'Смотрите <script>alert("x")</script> <b>тут</b> https://example.com/a?b=1&c=2'
        row = only(notify(actions.reply(world.ticket, body=body, actor=world.l1_agent,
                                        channel=Channel.WEB)))
        assert body in row.body_text  # the text part is the message as written
        assert "<script>" not in row.body_html and "<b>тут</b>" not in row.body_html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in row.body_html
        assert 'href="https://example.com/a?b=1&amp;c=2"' in row.body_html

    def test_a_summary_and_the_ticket_page_for_each_side(self, world):
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        rows = {r.to: r for r in notify(actions.reply(
            world.ticket, body="Ответ", actor=world.requester, channel=Channel.PORTAL))}
        agent = rows[world.l1_agent2.email]
        assert f"/agent/tickets/{world.ticket.number}/" in agent.body_text
        assert "Priority: " in agent.body_text and "Team: Service desk" in agent.body_text
        assert "Description: Error 49.4C02 on the display." in agent.body_text
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        rows = {r.to: r for r in notify(actions.reply(
            world.ticket, body="Ответ", actor=world.l1_agent, channel=Channel.WEB))}
        requester = rows[world.requester.email]
        assert f"/portal/requests/{world.ticket.number}/" in requester.body_text
        assert "Team:" not in requester.body_text and "Priority:" not in requester.body_text
        assert world.l1_agent.full_name not in requester.body_text + requester.body_html

    def test_reply_attachments_travel_within_the_size_limit(self, world, settings):
        settings.OPORA_MAIL_MAX_ATTACHMENTS_BYTES = 1500
        small = check_upload(io.BytesIO(b"log line\n" * 100), "printer.log")
        large = check_upload(io.BytesIO(b"%PDF-1.4\n" + b"x" * 1000), "manual.pdf")
        event = actions.reply(world.ticket, body="Смотрите вложения", attachments=[small, large],
                              actor=world.l1_agent, channel=Channel.WEB)
        row = only(notify(event))
        assert "Attached:\n- printer.log (900" in row.body_text
        assert "Too large to attach; download from the ticket page:\n- manual.pdf" \
            in row.body_text
        email = outbox.build_email(row)
        assert [(name, content) for name, content, _type in email.attachments] == [
            ("printer.log", b"log line\n" * 100)]
        assert only(mail.outbox).attachments[0][0] == "printer.log"

    def test_note_attachments_reach_staff_only(self, world):
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        upload = check_upload(io.BytesIO(b"secret config"), "config.txt")
        row = only(notify(actions.add_note(world.ticket, body="Конфиг", attachments=[upload],
                                           actor=world.l1_agent, channel=Channel.WEB)))
        assert row.recipient == world.l1_agent2
        assert [a[0] for a in outbox.build_email(row).attachments] == ["config.txt"]

    def test_the_resolution_links_go_to_the_requester_only(self, world):
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="Заменили картридж",
                        actor=world.l1_agent, channel=Channel.WEB)
        rows = {r.to: r for r in notify(last_event(world.ticket, EventKind.RESOLVED))}
        requester, colleague = rows[world.requester.email], rows[world.colleague.email]
        base = f"http://127.0.0.1:8000/portal/email/{world.ticket.number}/"
        assert f"{base}confirm/" in requester.body_text and f"{base}reopen/" in requester.body_text
        assert f'href="{base}confirm/' in requester.body_html
        assert "Заменили картридж" in requester.body_text
        assert "The links are valid for 30 days." in requester.body_text
        assert "/portal/email/" not in colleague.body_text + colleague.body_html

    def test_an_unusable_address_does_not_stop_the_others(self, world):
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        type(world.colleague).objects.filter(pk=world.colleague.pk).update(
            email="broken address@example.com")
        rows = notify(actions.reply(world.ticket, body="Ответ", actor=world.l1_agent,
                                    channel=Channel.WEB))
        assert [r.to for r in rows] == [world.requester.email]

    def test_the_task_never_queues_twice_and_a_rollback_queues_nothing(self, world):
        event = last_event(world.ticket, EventKind.CREATED)
        assert send_event_notifications(event.pk) == 1
        assert send_event_notifications(event.pk) == 0
        assert OutboundMessage.objects.filter(event=event).count() == 1
        count = OutboundMessage.objects.count()
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.queue(to="x@example.com", subject="s", text="t")
            raise RuntimeError
        assert OutboundMessage.objects.count() == count

    def test_header_values_stay_on_one_line(self, world):
        row = outbox.queue(to="x@example.com", subject="a\r\nBcc: y@evil.example", text="t",
                           headers={"X-Test": "one\r\nBcc: z@evil.example"})
        message = outbox.build_email(row).message()
        assert message["Subject"] == "a Bcc: y@evil.example"
        assert message["X-Test"] == "one Bcc: z@evil.example"
        assert message["Bcc"] is None
        with pytest.raises(Exception):  # noqa: B017 - Django's ValidationError
            outbox.queue(to="x@example.com\r\nBcc: y@evil.example", subject="s", text="t")


# --- refusals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    from_address: str
    message_id: str = "their@stranger.example"
    subject: str = "Помогите"
    references: list[str] = field(default_factory=lambda: ["older@stranger.example"])
    auto: str = ""


class TestRefusal:
    def test_a_polite_refusal_threaded_to_the_message(self, clock, support, settings):
        settings.LANGUAGE_CODE = "en"
        row = outbox.queue_refusal(Parsed("Stranger@Elsewhere.example"), mailbox=support)
        assert row is not None
        assert row.to == "stranger@elsewhere.example"
        assert row.subject == "Not accepted: Помогите"
        assert "accepts mail from registered users only" in row.body_text
        assert "support@desk.example" in row.body_text
        assert (row.in_reply_to, row.references.split()) == (
            "their@stranger.example", ["older@stranger.example", "their@stranger.example"])
        assert row.message_id.endswith(".refusal@desk.example")
        assert row.ticket is None and row.mailbox == support
        message = only(outbox_sent()).message()
        assert message["Auto-Submitted"] == "auto-replied"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["X-Opora-Notice"] == "refusal"
        assert message["List-Unsubscribe"] is None

    def test_at_most_once_per_sender_and_day(self, clock, support):
        assert outbox.queue_refusal("stranger@elsewhere.example", mailbox=support) is not None
        clock.shift(timedelta(hours=23))
        assert outbox.queue_refusal(Parsed("STRANGER@elsewhere.example"), mailbox=support) is None
        assert outbox.queue_refusal("other@elsewhere.example", mailbox=support) is not None
        clock.shift(timedelta(hours=1, seconds=1))
        assert outbox.queue_refusal("stranger@elsewhere.example", mailbox=support) is not None
        assert OutboundMessage.objects.filter(to="stranger@elsewhere.example").count() == 2

    def test_in_the_sites_language(self, support, settings):
        settings.LANGUAGE_CODE = "ru"
        row = outbox.queue_refusal("stranger@elsewhere.example", mailbox=support)
        assert row is not None
        with translation.override("ru"):
            assert row.subject == gettext("Your message was not accepted")
            assert gettext("This is an automatic answer; it is sent at most once a day.") \
                in row.body_text
        assert '<html lang="ru">' in row.body_html

    def test_never_to_ourselves_to_automatic_mail_or_to_garbage(self, support):
        assert outbox.queue_refusal("support@desk.example", mailbox=support) is None
        assert outbox.queue_refusal("servicedesk@opora.local", mailbox=support) is None
        assert outbox.queue_refusal(Parsed("a@b.example", auto="auto-submitted"),
                                    mailbox=support) is None
        assert outbox.queue_refusal("not an address", mailbox=support) is None
        assert outbox.queue_refusal("", mailbox=None) is None
        assert not OutboundMessage.objects.exists()


def outbox_sent() -> list[Any]:
    outbox.send_due()
    return list(mail.outbox)


# --- sending: claims, lease, restriction -------------------------------------------------------


class TestSending:
    def test_only_due_messages_and_only_the_given_ones(self, clock, db):
        due = outbox.queue(to="a@example.com", subject="due", text="t")
        later = outbox.queue(to="b@example.com", subject="later", text="t",
                             now=T0 + timedelta(minutes=5))
        other = outbox.queue(to="c@example.com", subject="other", text="t")
        result = outbox.send_due(ids=[due.pk, later.pk])
        assert (result.sent, result.tried) == (1, 1)
        assert [m.subject for m in mail.outbox] == ["due"]
        assert OutboundMessage.objects.get(pk=other.pk).status == OutboundStatus.QUEUED
        assert outbox.send_due(T0 + timedelta(minutes=5)).sent == 2

    def test_a_claimed_message_is_left_alone_until_its_lease_ends(self, clock, db):
        row = outbox.queue(to="a@example.com", subject="s", text="t")
        claimed = outbox._claim(T0, None)
        assert claimed is not None and claimed.pk == row.pk
        assert outbox.send_due(T0 + outbox.LEASE - timedelta(seconds=1)).tried == 0
        assert outbox.send_due(T0 + outbox.LEASE).sent == 1

    def test_a_message_that_cannot_be_built_fails_alone(self, clock, world):
        upload = check_upload(io.BytesIO(b"x" * 10), "a.txt")
        event = actions.reply(world.ticket, body="Файл", attachments=[upload],
                              actor=world.l1_agent, channel=Channel.WEB)
        event.attachments.get().file.delete(save=False)  # the file vanished from the storage
        fine = outbox.queue(to="a@example.com", subject="fine", text="t")
        row = only(notify(event))  # the task tried at once: one failed attempt recorded
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboundStatus.QUEUED, 1)
        assert row.next_attempt_at == T0 + timedelta(minutes=1)
        assert "FileNotFoundError" in row.last_error
        assert outbox.send_due().sent == 1
        assert OutboundMessage.objects.get(pk=fine.pk).status == OutboundStatus.SENT


# --- re-sending (managers) ---------------------------------------------------------------------


class TestResend:
    def test_a_manager_sends_a_failed_message_again_and_it_is_audited(self, clock, world):
        row = outbox.queue(to="a@example.com", subject="s", text="t")
        OutboundMessage.objects.filter(pk=row.pk).update(status=OutboundStatus.FAILED,
                                                         attempts=6, last_error="boom")
        clock.shift(3600)
        outbox.resend(row, actor=world.manager)
        row.refresh_from_db()
        assert (row.status, row.attempts, row.next_attempt_at) == (
            OutboundStatus.QUEUED, 0, T0 + timedelta(hours=1))
        entry = LogEntry.objects.get(object_id=str(row.pk))
        assert entry.user_id == world.manager.pk
        with pytest.raises(ActionError) as excinfo:
            outbox.resend(row, actor=world.manager)
        assert excinfo.value.code == "no_change"
        with pytest.raises(NotAllowed):
            outbox.resend(row, actor=world.l1_agent)

    def test_every_failed_message_again(self, world):
        rows = [outbox.queue(to=f"p{n}@example.com", subject="s", text="t") for n in range(3)]
        OutboundMessage.objects.filter(pk__in=[r.pk for r in rows[:2]]).update(
            status=OutboundStatus.FAILED, attempts=6)
        with pytest.raises(NotAllowed):
            outbox.resend_failed(actor=world.lead)
        assert outbox.resend_failed(actor=world.admin) == 2
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"queued"}
        assert outbox.resend_failed(actor=world.admin) == 0
        assert LogEntry.objects.count() == 2


# --- committing: two senders, the worker's loop and the batch run ------------------------------

committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: SKIP LOCKED (SQLite serialises the whole database)")
@committed
def test_two_senders_never_send_the_same_message(db):
    rows = [outbox.queue(to=f"p{n}@example.com", subject=f"m{n}", text="t") for n in range(40)]
    barrier = threading.Barrier(2)
    results: list[outbox.SendResult] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(outbox.send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.sent for r in results) == 40
    sent_ids = sorted(m.extra_headers["Message-ID"] for m in mail.outbox)
    assert sent_ids == sorted(f"<{r.message_id}>" for r in rows)  # each exactly once
    assert OutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 40


@committed
def test_the_workers_mail_sender_sends_what_is_due(db):
    from opora.core.management.commands.worker import MailSender

    row = outbox.queue(to="a@example.com", subject="refusal", text="t")
    sender = MailSender(interval=0.05)
    sender.start()
    try:
        for _ in range(400):  # a safety bound, never an assertion on time
            if OutboundMessage.objects.get(pk=row.pk).status == OutboundStatus.SENT:
                break
            sender.stopped.wait(0.05)
    finally:
        sender.stopped.set()
        sender.join(timeout=10)
    assert OutboundMessage.objects.get(pk=row.pk).status == OutboundStatus.SENT
    assert [m.subject for m in mail.outbox] == ["refusal"]


@pytest.fixture
def keep_signal_handlers():
    """The worker command installs its own SIGINT/SIGTERM handlers; give pytest its own back."""
    names = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in names}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@committed
def test_a_batch_run_of_the_worker_sends_mail_queued_outside_tasks(db, keep_signal_handlers):
    outbox.queue(to="a@example.com", subject="queued by the ingestion", text="t")
    call_command("worker", batch=True, stdout=io.StringIO())
    assert [m.subject for m in mail.outbox] == ["queued by the ingestion"]
    mail.outbox.clear()
    outbox.queue(to="b@example.com", subject="left", text="t")
    call_command("worker", batch=True, no_mail_send=True, stdout=io.StringIO())
    assert mail.outbox == []

