"""Notifications: queued only after the action commits, then sent by the real worker.

The first group runs inside the usual test transaction and looks at the on-commit hooks and the
``DBTaskResult`` queue. The second group commits for real (``transaction=True``), runs
django-tasks-db's ``Worker`` in batch mode — the task writes one outbox row
(``mail.OutboundMessage``) per person and sends them — and reads ``django.core.mail.outbox``,
checking that every mail delivered is an outbox row marked sent.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from opora.core.models import WorkerHeartbeat
from opora.mail.models import OutboundMessage, OutboundStatus
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket, TicketEvent

TASK_PATH = "opora.tickets.tasks.notify_ticket_event"
LOCALE = Path(__file__).resolve().parents[2] / "locale"


class Rollback(Exception):
    pass


def queued_event_ids() -> list[int]:
    rows = DBTaskResult.objects.order_by("enqueued_at", "id")
    assert {r.task_path for r in rows} <= {TASK_PATH}
    return [r.args_kwargs["args"][0] for r in rows]


# --- queued only after commit (inside the test transaction) -------------------------------------


class TestQueuedAfterCommit:
    def test_nothing_is_queued_until_the_transaction_commits(
        self, world, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            event = actions.reply(world.ticket, body="Перезагрузите", actor=world.l1_agent,
                                  channel=Channel.WEB)
            assert DBTaskResult.objects.count() == 0
        assert DBTaskResult.objects.count() == 0
        assert len(callbacks) == 1

        callbacks[0]()  # what the commit would run
        row = DBTaskResult.objects.get()
        assert (row.task_path, row.args_kwargs, row.status, row.queue_name) == (
            TASK_PATH, {"args": [event.pk], "kwargs": {}}, "READY", "default")

    def test_one_task_per_event(self, world, django_capture_on_commit_callbacks):
        actions.change_status(world.ticket, status=Status.IN_PROGRESS, actor=world.l1_agent,
                              channel=Channel.WEB)
        actions.change_status(world.ticket, status=Status.WAITING_REQUESTER,
                              actor=world.l1_agent, channel=Channel.WEB)
        last = TicketEvent.objects.order_by("-id").values_list("id", flat=True)[0]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            # The requester's answer writes a reply and a status change: two events, two tasks.
            actions.reply(world.ticket, body="Ответ", actor=world.requester,
                          channel=Channel.EMAIL)
        written = list(TicketEvent.objects.filter(id__gt=last).order_by("id"))
        assert [e.kind for e in written] == [EventKind.REPLY, EventKind.STATUS_CHANGED]
        assert len(callbacks) == 2
        assert queued_event_ids() == [e.pk for e in written]

    def test_a_rolled_back_action_queues_nothing(self, world, django_capture_on_commit_callbacks):
        events = TicketEvent.objects.count()
        with django_capture_on_commit_callbacks(execute=True) as callbacks, \
                pytest.raises(Rollback), transaction.atomic():
            actions.reply(world.ticket, body="Черновик", actor=world.l1_agent,
                          channel=Channel.WEB)
            raise Rollback
        assert callbacks == []
        assert DBTaskResult.objects.count() == 0
        assert TicketEvent.objects.count() == events

    def test_a_refused_action_queues_nothing(self, world, django_capture_on_commit_callbacks):
        actions.cancel(world.ticket, reason="Не нужно", actor=world.requester,
                       channel=Channel.PORTAL)
        with django_capture_on_commit_callbacks(execute=True) as callbacks, \
                pytest.raises(ActionError):
            actions.reply(world.ticket, body="Алло", actor=world.l1_agent, channel=Channel.WEB)
        assert callbacks == []
        assert DBTaskResult.objects.count() == 0

    def test_suppressed_notifications_queue_nothing_but_still_record(
        self, world, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks, \
                actions.notifications_suppressed():
            event = actions.reply(world.ticket, body="Импорт", actor=world.l1_agent,
                                  channel=Channel.SYSTEM)
            actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="Импорт",
                            actor=world.l1_agent, channel=Channel.SYSTEM)
        assert callbacks == []
        assert DBTaskResult.objects.count() == 0
        assert TicketEvent.objects.filter(pk=event.pk).exists()
        assert Ticket.objects.get(pk=world.ticket.pk).status == Status.RESOLVED

        # Outside the block (even after an error inside one) notifications flow again.
        with pytest.raises(Rollback), actions.notifications_suppressed():
            raise Rollback
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            closed = actions.close(world.ticket, actor=world.requester, channel=Channel.PORTAL)
        assert len(callbacks) == 1
        assert queued_event_ids() == [closed.events.order_by("-id")[0].pk]


# --- delivered by the worker (real commits) -----------------------------------------------------


def run_worker() -> None:
    """Run everything queued with django-tasks-db's worker, as ``opora worker --batch`` does."""
    Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
           startup_delay=False, max_tasks=None, worker_id="test-worker",
           excluded_queue_names=[]).run()
    failed = DBTaskResult.objects.exclude(status="SUCCESSFUL")
    assert not failed.exists(), [(r.exception_class_path, r.traceback) for r in failed]


def settle() -> None:
    """Send what the set-up queued and forget it, so a test sees only its own mail."""
    run_worker()
    mail.outbox.clear()


def sent() -> list[EmailMessage]:
    run_worker()
    messages = sorted(mail.outbox, key=lambda m: m.to[0])
    # Every mail went through the outbox: a row per person, sent, with the same Message-ID.
    rows = dict(OutboundMessage.objects.values_list("message_id", "status"))
    for message in messages:
        assert rows[message.extra_headers["Message-ID"].strip("<>")] == OutboundStatus.SENT
    return messages


def to(*people: Any) -> list[list[str]]:
    return sorted([p.email] for p in people)


def translated(language: str, message: str, **params: Any) -> str:
    with translation.override(language):
        return gettext(message) % params if params else gettext(message)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


delivery = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@delivery
class TestDelivered:
    def test_a_committed_action_is_queued_and_a_rolled_back_one_is_not(self, world):
        settle()
        with pytest.raises(Rollback), transaction.atomic():
            actions.reply(world.ticket, body="Черновик", actor=world.l1_agent,
                          channel=Channel.WEB)
            raise Rollback
        assert DBTaskResult.objects.exclude(status="SUCCESSFUL").count() == 0
        event = actions.reply(world.ticket, body="Ответ", actor=world.l1_agent,
                              channel=Channel.WEB)
        # Committed (autocommit): queued at once, before any worker ran.
        assert list(DBTaskResult.objects.filter(status="READY")
                    .values_list("args_kwargs", flat=True)) == [{"args": [event.pk], "kwargs": {}}]
        assert mail.outbox == []
        assert [m.to for m in sent()] == to(world.requester)

    def test_the_requester_gets_public_events(self, world):
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.lead,
                            channel=Channel.WEB)
        settle()
        actions.reply(world.ticket, body="Перезагрузите принтер", actor=world.l1_agent,
                      channel=Channel.WEB)
        messages = sent()
        assert [m.to for m in messages] == to(world.requester, world.colleague)
        for message in messages:
            assert "Перезагрузите принтер" in message.body
            assert world.ticket.number in message.subject
            assert message.extra_headers["X-Opora-Ticket"] == world.ticket.number
        task = DBTaskResult.objects.order_by("-enqueued_at")[0]
        assert task.return_value == 2

    def test_internal_notes_never_reach_the_requester_side(self, world):
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        for watcher in (world.colleague, world.l2_agent):
            actions.add_watcher(world.ticket, user=watcher, actor=world.lead, channel=Channel.WEB)
        settle()
        actions.add_note(world.ticket, body="Похоже на драйвер", actor=world.l1_agent,
                         channel=Channel.WEB)
        messages = sent()
        # The assignee and the staff watcher; never the requester nor their colleague.
        assert [m.to for m in messages] == to(world.l1_agent2, world.l2_agent)
        assert all("Похоже на драйвер" in m.body for m in messages)

    def test_escalation_summary_stays_internal(self, world):
        summary = "Сбой на коммутаторе core-sw-02, нужен доступ"
        settle()
        actions.escalate(world.ticket, to_team=world.l2, summary=summary, actor=world.l1_agent,
                         channel=Channel.WEB)
        messages = sent()
        by_person = {m.to[0]: m for m in messages}
        assert sorted(by_person) == sorted([world.l2_agent.email, world.requester.email])
        # The new team hears of the escalation with the summary...
        escalated = by_person[world.l2_agent.email]
        assert escalated.subject.endswith(translated("ru", "Escalated to your team"))
        assert summary in escalated.body
        # ...the requester only that the status changed.
        status = by_person[world.requester.email]
        assert status.subject.endswith(translated("ru", "Status changed"))
        assert summary not in status.body
        assert "core-sw" not in status.body

    def test_the_actor_is_never_mailed_about_their_own_action(self, world):
        actions.assign(world.ticket, assignee=world.l1_agent, actor=world.l1_agent,
                       channel=Channel.WEB)
        actions.add_watcher(world.ticket, user=world.requester, actor=world.requester,
                            channel=Channel.PORTAL)
        settle()
        actions.reply(world.ticket, body="Вот лог", actor=world.requester, channel=Channel.PORTAL)
        assert [m.to for m in sent()] == to(world.l1_agent)
        mail.outbox.clear()
        actions.reply(world.ticket, body="Спасибо, смотрю", actor=world.l1_agent,
                      channel=Channel.WEB)
        assert [m.to for m in sent()] == to(world.requester)

    def test_taking_a_ticket_yourself_mails_nobody_about_the_assignment(self, world):
        settle()
        actions.change_status(world.ticket, status=Status.IN_PROGRESS, actor=world.l1_agent,
                              channel=Channel.WEB)
        # Only the public status change, to the requester; not "assigned to you" to the actor.
        assert [(m.to, m.subject.endswith(translated("ru", "Status changed"))) for m in sent()] == [
            ([world.requester.email], True)
        ]

    def test_assignment_is_mailed_to_the_new_assignee_only(self, world):
        settle()
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        prefix = f"[{world.ticket.number}] {world.ticket.title} — "
        # The assignment is internal, the status change public: the requester hears only of the
        # latter; the new assignee only of the assignment (one mail, not two).
        assert sorted((m.to[0], m.subject) for m in sent()) == sorted([
            (world.l1_agent2.email, prefix + translated("ru", "Assigned to you")),
            (world.requester.email, prefix + translated("ru", "Status changed")),
        ])

    def test_each_recipient_gets_their_own_language(self, world):
        assert (LOCALE / "ru" / "LC_MESSAGES" / "django.mo").exists(), "the Russian catalogue"
        world.requester.language = "ru"
        world.requester.save()
        world.colleague.language = "en"
        world.colleague.save()
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.colleague,
                            channel=Channel.PORTAL)
        settle()
        actions.reply(world.ticket, body="Перезагрузите принтер", actor=world.l1_agent,
                      channel=Channel.WEB)
        by_person = {m.to[0]: m for m in sent()}
        number, title = world.ticket.number, world.ticket.title
        english = by_person[world.colleague.email]
        assert english.subject == f"[{number}] {title} — New reply"
        assert english.body.splitlines()[:3] == [
            f"Ticket {number}: {title}", "Status: New", "By: Service desk",
        ]
        russian = by_person[world.requester.email]
        lines = russian.body.splitlines()
        assert russian.subject == f"[{number}] {title} — " + translated("ru", "New reply")
        assert lines[:3] == [
            translated("ru", "Ticket %(number)s: %(title)s", number=number, title=title),
            translated("ru", "Status: %(status)s", status=translated("ru", "New")),
            translated("ru", "By: %(name)s", name=translated("ru", "Service desk")),
        ]
        # The catalogue really translates these (not the English text passed through).
        assert russian.subject != english.subject
        assert not set(lines[:3]) & set(english.body.splitlines()[:3])
        assert russian.subject.endswith("Новый ответ")
        # Requesters see "the service desk", not the agent's name.
        assert world.l1_agent.full_name not in f"{russian.body}\n{english.body}"

    def test_staff_see_who_acted_and_a_blank_language_uses_the_site_default(self, world, settings):
        settings.LANGUAGE_CODE = "en"
        world.l1_agent2.language = ""
        world.l1_agent2.save()
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        settle()
        actions.reply(world.ticket, body="Уже еду", actor=world.requester, channel=Channel.PORTAL)
        (message,) = sent()
        assert message.to == [world.l1_agent2.email]
        assert message.subject == f"[{world.ticket.number}] {world.ticket.title} — New reply"
        assert f"By: {world.requester.full_name}" in message.body.splitlines()

    def test_a_portal_registration_is_acknowledged_to_the_requester_themselves(self, world):
        settle()
        ticket = actions.open_ticket(requester=world.requester, title="Не печатает",
                                     channel=Channel.PORTAL, actor=world.requester)
        (message,) = sent()
        assert message.to == [world.requester.email]
        assert message.subject == (f"[{ticket.number}] Не печатает — "
                                   + translated("ru", "Your request was registered"))
        # ...but their own later actions are never mailed back to them.
        actions.reply(ticket, body="Дополнение", actor=world.requester, channel=Channel.PORTAL)
        mail.outbox.clear()
        assert sent() == []

    def test_a_delivery_failure_leaves_the_mail_in_the_outbox_for_a_retry(self, world,
                                                                          settings):
        settle()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
        actions.reply(world.ticket, body="Ответ", actor=world.l1_agent, channel=Channel.WEB)
        run_worker()  # the task itself succeeds: the outbox keeps the mail
        (row,) = OutboundMessage.objects.filter(status=OutboundStatus.QUEUED)
        assert (row.to, row.attempts) == (world.requester.email, 1)
        assert row.last_error
        assert mail.outbox == []

    def test_a_phone_registration_tells_the_requester(self, world):
        settle()
        ticket = actions.open_ticket(requester=world.requester, title="Не печатает",
                                     channel=Channel.PHONE, actor=world.l1_agent)
        (message,) = sent()
        assert message.to == [world.requester.email]
        assert message.subject == (f"[{ticket.number}] Не печатает — "
                                   + translated("ru", "Your request was registered"))

    def test_a_title_with_line_breaks_still_makes_a_valid_subject(self, world):
        settle()
        ticket = actions.open_ticket(requester=world.requester, title="Принтер\r\nBcc: x@evil.example",
                                     channel=Channel.PHONE, actor=world.l1_agent)
        (message,) = sent()
        assert "\r" not in message.subject and "\n" not in message.subject
        assert message.subject.startswith(f"[{ticket.number}] Принтер Bcc: x@evil.example — ")
        assert message.to == [world.requester.email]
        assert message.bcc == []
        assert message.message()["Bcc"] is None  # nothing injected as a header

    def test_suppressed_actions_send_nothing(self, world):
        settle()
        with actions.notifications_suppressed():
            actions.reply(world.ticket, body="Импорт", actor=world.l1_agent,
                          channel=Channel.SYSTEM)
        assert DBTaskResult.objects.exclude(status="SUCCESSFUL").count() == 0
        assert sent() == []

    def test_the_opora_worker_command_delivers_in_batch_mode(self, world):
        settle()
        actions.reply(world.ticket, body="Ответ", actor=world.l1_agent, channel=Channel.WEB)
        call_command("worker", batch=True, stdout=io.StringIO())
        assert [m.to for m in mail.outbox] == [[world.requester.email]]
        assert not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()
        assert not WorkerHeartbeat.objects.exists()  # the worker signs off
