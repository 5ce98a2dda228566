"""Storing and processing: store first, process once, never lose a message.

The parser (``mail.parsing``) is imported by the ingestion when a message is processed, never
at import time, so these tests run against whatever parser the tree has.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection

from opora.mail import actions as mail_actions
from opora.mail import ingest
from opora.mail.models import InboundMessage, InboundStatus
from opora.tickets.choices import Channel, EventKind
from opora.tickets.models import Attachment, Ticket, TicketEvent

from .test_ingest_helpers import PNG, make_mail, make_mailbox, ticket_of


@pytest.fixture
def mailbox(world):
    return make_mailbox(address="support@desk.example", team=world.l1)


def _mail(world: Any, **kwargs: Any) -> bytes:
    kwargs.setdefault("sender", (world.requester.full_name, world.requester.email))
    return make_mail(**kwargs)


class Killed(BaseException):
    """What a worker stopped mid-message looks like (SIGTERM → SystemExit is a BaseException)."""


def _counts() -> tuple[int, int, int]:
    return Ticket.objects.count(), TicketEvent.objects.count(), Attachment.objects.count()


# --- store and process --------------------------------------------------------------------------


def test_a_message_is_stored_raw_and_opens_a_ticket(world, mailbox):
    raw = _mail(world, subject="Re: Не печатает принтер", cc=["support@desk.example"])
    message = ingest.receive(raw, mailbox=mailbox)

    assert message.status == InboundStatus.PROCESSED, message.error
    assert bytes(message.raw) == raw and message.size == len(raw)
    assert message.from_address == world.requester.email
    ticket = ticket_of(message)
    assert ticket.requester == world.requester
    assert ticket.channel == Channel.EMAIL
    assert ticket.team == world.l1
    assert ticket.title == "Не печатает принтер"  # "Re:" stripped
    assert "красная лампа" in ticket.description
    assert message.event is not None and message.event.kind == EventKind.CREATED
    assert message.attempts == 1 and message.processed_at is not None
    assert not ticket.watchers.exists()  # the mailbox itself never watches


def test_the_same_bytes_twice_are_one_message_and_one_ticket(world, mailbox):
    raw = _mail(world)
    first = ingest.receive(raw, mailbox=mailbox)
    tickets = Ticket.objects.count()
    second = ingest.receive(raw, mailbox=mailbox)

    assert second.pk == first.pk
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == tickets


def test_a_redelivery_with_other_transport_headers_is_the_same_message(world, mailbox):
    raw = _mail(world, message_id="same-id@client.example")
    first = ingest.receive(raw, mailbox=mailbox)
    again = b"Received: from relay2.example by mx.desk.example; Mon, 1 Jan 2024\r\n" + raw
    second = ingest.receive(again, mailbox=mailbox)

    assert second.pk == first.pk
    assert InboundMessage.objects.count() == 1


def test_receive_without_processing_leaves_it_waiting(world, mailbox):
    message = ingest.receive(_mail(world), mailbox=mailbox, process_now=False)
    assert message.status == InboundStatus.RECEIVED
    assert message.ticket is None

    done = ingest.process_pending()
    assert done == {InboundStatus.PROCESSED: 1}
    message.refresh_from_db()
    assert message.status == InboundStatus.PROCESSED and message.ticket is not None
    assert ingest.process_pending() == {}  # nothing is processed twice
    assert ingest.process(message.pk) is None


def test_garbage_bytes_are_kept_and_end_in_a_final_status(world, mailbox):
    message = ingest.receive(b"\x00\xff\xfe not a mail at all \r\n\r\n\x80", mailbox=mailbox)
    assert message.status in (InboundStatus.REFUSED, InboundStatus.IGNORED,
                              InboundStatus.PROCESSED)
    assert message.status != InboundStatus.QUARANTINED, message.error
    assert bytes(message.raw).startswith(b"\x00\xff")


def test_an_mbox_from_line_does_not_hide_the_message_id(world, mailbox):
    raw = b"From petr@client.example Mon Jan  1 10:00:00 2024\n" + _mail(
        world, message_id="mbox@client.example")
    message = ingest.receive(raw, mailbox=mailbox, process_now=False)
    assert message.message_id == "mbox@client.example"
    assert message.from_address == world.requester.email


def test_a_twin_the_quick_look_missed_is_ignored_as_a_duplicate(world, mailbox):
    first = ingest.receive(_mail(world, message_id="twin@client.example"), mailbox=mailbox)
    second = ingest.receive(_mail(world, message_id="twin@client.example", subject="Другое"),
                            mailbox=mailbox, process_now=False)
    assert second.pk == first.pk  # the usual case: found when stored
    # A row stored without its Message-ID (an old row, headers the quick look could not read).
    twin = InboundMessage.objects.create(
        mailbox=mailbox, raw=_mail(world, message_id="twin@client.example", subject="Третье"),
        sha256="f" * 64, size=1)
    tickets = Ticket.objects.count()
    result = ingest.process(twin.pk)
    assert result is not None
    assert (result.status, result.reason) == (InboundStatus.IGNORED, f"duplicate: {first.pk}")
    assert Ticket.objects.count() == tickets


# --- a worker killed mid-message, an error, the quarantine ----------------------------------------


def test_a_worker_killed_mid_message_writes_nothing_and_the_next_run_processes_it_once(
        world, mailbox, monkeypatch, settings):
    raw = _mail(world, attachments=[("screen.png", PNG, "image/png")])
    message = ingest.receive(raw, mailbox=mailbox, process_now=False)
    before = _counts()

    def die(message: InboundMessage) -> None:
        raise Killed

    monkeypatch.setattr(ingest, "_after_action", die)
    with pytest.raises(Killed):
        ingest.process(message.pk)

    message.refresh_from_db()
    assert message.status == InboundStatus.RECEIVED  # not quarantined: nobody caught it
    assert (message.ticket_id, message.event_id, message.attempts) == (None, None, 0)
    assert _counts() == before  # no ticket, no event, no attachment row
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]

    monkeypatch.setattr(ingest, "_after_action", ingest._noop)
    assert ingest.process_pending() == {InboundStatus.PROCESSED: 1}
    assert ingest.process_pending() == {}
    tickets, _events, attachments = _counts()
    assert tickets == before[0] + 1 and attachments == before[2] + 1
    message.refresh_from_db()
    assert message.attempts == 1
    assert TicketEvent.objects.filter(ticket=ticket_of(message),
                                      kind=EventKind.CREATED).count() == 1


def test_an_error_quarantines_the_message_and_reprocessing_after_the_fix_works(
        world, mailbox, monkeypatch):
    message = ingest.receive(_mail(world), mailbox=mailbox, process_now=False)
    before = _counts()

    def broken(message: InboundMessage) -> None:
        raise RuntimeError("the classifier is down")

    monkeypatch.setattr(ingest, "_after_action", broken)
    result = ingest.process(message.pk)

    assert result is not None and result.status == InboundStatus.QUARANTINED
    assert "RuntimeError: the classifier is down" in result.error
    assert result.attempts == 1 and result.ticket is None
    assert _counts() == before
    assert ingest.process_pending() == {}  # the quarantine waits for an administrator

    monkeypatch.setattr(ingest, "_after_action", ingest._noop)
    done = mail_actions.reprocess([result], actor=world.manager)

    assert done == {InboundStatus.PROCESSED: 1}
    result.refresh_from_db()
    assert result.status == InboundStatus.PROCESSED and result.error == ""
    assert result.attempts == 2
    assert Ticket.objects.count() == before[0] + 1
    assert LogEntry.objects.filter(object_id=str(result.pk), user=world.manager).exists()
    # A processed message is never processed again, even when asked.
    assert mail_actions.reprocess([result], actor=world.manager) == {"skipped": 1}
    assert Ticket.objects.count() == before[0] + 1


def test_only_managers_reprocess(world, mailbox):
    message = ingest.receive(_mail(world), mailbox=mailbox, process_now=False)
    InboundMessage.objects.filter(pk=message.pk).update(status=InboundStatus.QUARANTINED)
    from opora.accounts.team_actions import NotAllowed

    with pytest.raises(NotAllowed):
        mail_actions.reprocess([message], actor=world.l1_agent)
    message.refresh_from_db()
    assert message.status == InboundStatus.QUARANTINED


# --- the pipe command ---------------------------------------------------------------------------


def _pipe(raw: bytes, address: str) -> str:
    out = io.StringIO()
    call_command("ingest_email", mailbox=address, stdin=io.BytesIO(raw), stdout=out)
    return out.getvalue().strip()


def test_the_pipe_command_prints_the_ticket_number(world, mailbox):
    output = _pipe(_mail(world), "Support@Desk.example")
    message = InboundMessage.objects.get()
    assert output == f"{ticket_of(message).number} (processed)"


def test_the_pipe_command_exits_0_for_a_quarantined_message(world, mailbox, monkeypatch):
    monkeypatch.setattr(ingest, "_after_action",
                        lambda m: (_ for _ in ()).throw(ValueError("bug")))
    assert _pipe(_mail(world), mailbox.address) == "quarantined"
    assert InboundMessage.objects.get().status == InboundStatus.QUARANTINED


def test_the_pipe_command_asks_the_mta_to_retry_when_it_cannot_store(world, mailbox,
                                                                       monkeypatch):
    with pytest.raises(CommandError) as unknown:
        _pipe(_mail(world), "nobody@desk.example")
    assert unknown.value.returncode == 75

    def down(*args: Any, **kwargs: Any) -> InboundMessage:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(ingest, "receive", down)
    with pytest.raises(CommandError) as failed:
        _pipe(_mail(world), mailbox.address)
    assert failed.value.returncode == 75
    assert not InboundMessage.objects.exists()


def test_the_pipe_command_refuses_empty_input(world, mailbox):
    with pytest.raises(CommandError) as empty:
        _pipe(b"  \r\n", mailbox.address)
    assert empty.value.returncode == 65


# --- two workers at once (PostgreSQL) -----------------------------------------------------------

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite serialises whole-database writers (and its in-memory test "
           "database is shared across threads)",
)


def _run_together(*jobs: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(jobs), timeout=10)
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    return results


@pytest.mark.postgres_only
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_process_each_message_once(world, settings):
    settings.OPORA_MAIL_RATE_LIMIT = 0  # 40 messages from one person: not a flood here
    mailbox = make_mailbox(address="support@desk.example", team=world.l1)
    messages = [ingest.receive(_mail(world, subject=f"Письмо {i}"), mailbox=mailbox,
                               process_now=False) for i in range(30)]
    # Replies to one ticket too: they contend for the same ticket row.
    ticket = world.ticket
    messages += [ingest.receive(_mail(world, subject=f"Re: [{ticket.number}] ещё {i}"),
                                mailbox=mailbox, process_now=False) for i in range(10)]
    tickets, events = Ticket.objects.count(), TicketEvent.objects.count()

    results = _run_together(ingest.process_pending, ingest.process_pending, ingest.process_pending)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(sum(r.values()) for r in results) == 40
    rows = InboundMessage.objects.filter(pk__in=[m.pk for m in messages])
    assert set(rows.values_list("status", flat=True)) == {InboundStatus.PROCESSED}
    assert set(rows.values_list("attempts", flat=True)) == {1}
    assert Ticket.objects.count() == tickets + 30
    assert TicketEvent.objects.filter(kind=EventKind.CREATED).count() == tickets + 30
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.REPLY).count() == 10
    # Every processed message made exactly its own events (created + nothing else, or a reply).
    assert TicketEvent.objects.count() == events + 40



@pytest.mark.postgres_only
@requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_message_another_worker_holds_is_skipped_not_waited_for(world):
    from django.db import transaction

    mailbox = make_mailbox(address="support@desk.example", team=world.l1)
    message = ingest.receive(_mail(world), mailbox=mailbox, process_now=False)
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                InboundMessage.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(timeout=10)
    try:
        assert ingest.process(message.pk) is None  # skipped at once, not blocked
        assert ingest.process_pending() == {}
    finally:
        release.set()
        thread.join(timeout=30)
    assert done.is_set()
    assert ingest.process_pending() == {InboundStatus.PROCESSED: 1}


# --- the worker's poller ------------------------------------------------------------------------


def test_the_workers_mail_poller_polls_every_interval_and_survives_errors(monkeypatch):
    from opora.core.management.commands.worker import MailPoller
    from opora.mail import imap

    calls: list[int] = []
    third = threading.Event()

    def poll_all() -> list[imap.PollResult]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the IMAP server is down")  # logged, never raised
        if len(calls) >= 3:
            third.set()
        return [imap.PollResult(1, fetched=2)]

    monkeypatch.setattr(imap, "poll_all", poll_all)
    poller = MailPoller(interval=0.01)
    poller.start()
    try:
        assert third.wait(timeout=10)
    finally:
        poller.stopped.set()
        poller.join(timeout=10)
    assert not poller.is_alive()
    assert len(calls) >= 3
