"""Which ticket a message continues: our Message-IDs, then the number in the subject, and never
a ticket the sender cannot see."""

from __future__ import annotations

import pytest

from opora.mail import ingest
from opora.mail import threading as mail_threading
from opora.mail.models import InboundStatus, OutboundMessage
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind
from opora.tickets.models import Ticket

from .test_ingest_helpers import make_mail, make_mailbox, ticket_of


@pytest.mark.parametrize(("subject", "expected"), [
    ("Re: Принтер", "Принтер"),
    ("RE: FW: Fwd: Принтер", "Принтер"),
    ("AW: WG: Drucker", "Drucker"),
    ("Ответ: Отв: Пересл: Принтер", "Принтер"),
    ("Re[2]: Принтер", "Принтер"),
    ("SV:VS: Tulostin", "Tulostin"),
    ("  Re:   много    пробелов ", "много пробелов"),
    ("Regarding the printer", "Regarding the printer"),
    ("Отчёт за май", "Отчёт за май"),
    ("", ""),
])
def test_clean_subject(subject, expected):
    assert mail_threading.clean_subject(subject) == expected


@pytest.mark.parametrize(("subject", "numbers"), [
    ("Re: [INC-000123] Принтер", ["INC-000123"]),
    ("AW: req-000124 und QST-000125", ["REQ-000124", "QST-000125"]),
    ("Ответ: [INC-000123] Re: INC-000123", ["INC-000123"]),
    ("XINC-000123 INC-12 INC-0001234", ["INC-0001234"]),
    ("PROBLEM-000123", []),
])
def test_ticket_numbers_in_a_subject(subject, numbers):
    assert mail_threading.ticket_numbers(subject) == numbers


def test_references_are_read_newest_first_after_in_reply_to():
    assert mail_threading.referenced_ids(["<c@x>"], ["<a@x>", "<b@x>", "<c@x>"]) == [
        "c@x", "b@x", "a@x"]


@pytest.fixture
def mailbox(world):
    return make_mailbox(address="support@desk.example", team=world.l1)


def _new_ticket_count_after(world, mailbox, raw: bytes) -> tuple[Ticket, int]:
    before = Ticket.objects.count()
    message = ingest.receive(raw, mailbox=mailbox)
    assert message.status == InboundStatus.PROCESSED, message.error
    return ticket_of(message), Ticket.objects.count() - before


def _from(user, **kwargs):
    return make_mail(sender=(user.full_name, user.email), **kwargs)


def test_our_message_id_in_in_reply_to_wins_over_the_subject(world, mailbox):
    other = actions.open_ticket(requester=world.requester, title="Другое", channel=Channel.PORTAL,
                                actor=world.requester)
    OutboundMessage.objects.create(ticket=world.ticket, to=world.requester.email, subject="x",
                                   body_text="x", message_id="out-1.INC@desk.example")
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.requester, subject=f"Re: [{other.number}]", in_reply_to="out-1.INC@desk.example"))
    assert (ticket.pk, new) == (world.ticket.pk, 0)


def test_our_message_id_deep_in_references(world, mailbox):
    OutboundMessage.objects.create(ticket=world.ticket, to=world.requester.email, subject="x",
                                   body_text="x", message_id="out-2.INC@desk.example")
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.requester, subject="Без номера", in_reply_to="unknown@mua.example",
        references=["out-2.INC@desk.example", "something@else.example"]))
    assert (ticket.pk, new) == (world.ticket.pk, 0)


def test_the_root_message_id_of_a_ticket_threads_even_without_an_outbox_row(world, mailbox):
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.requester, subject="Без номера",
        in_reply_to=f"ticket-{world.ticket.pk}@desk.example"))
    assert (ticket.pk, new) == (world.ticket.pk, 0)


def test_an_earlier_message_of_the_conversation_threads_a_reply_to_it(world, mailbox):
    first = ingest.receive(_from(world.requester, message_id="first@client.example",
                                 subject="Сломалась мышь"), mailbox=mailbox)
    # A colleague answers "to all" on the requester's original message.
    actions.add_watcher(ticket_of(first), user=world.colleague, actor=world.l1_agent,
                        channel=Channel.WEB)
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.colleague, subject="Re: Сломалась мышь", in_reply_to="first@client.example"))
    assert (ticket.pk, new) == (first.ticket_id, 0)


def test_the_number_in_the_subject(world, mailbox):
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.requester, subject=f"Ответ: AW: [{world.ticket.number.lower()}] Принтер"))
    assert (ticket.pk, new) == (world.ticket.pk, 0)


def test_an_organisation_manager_may_write_into_their_organisations_ticket(world, mailbox):
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.org_manager, subject=f"Re: {world.ticket.number}"))
    assert (ticket.pk, new) == (world.ticket.pk, 0)


def test_a_guessed_number_from_an_outsider_opens_a_new_ticket(world, mailbox):
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.outsider, subject=f"Re: [{world.ticket.number}] Принтер", body="Я не отсюда."))
    assert new == 1 and ticket.pk != world.ticket.pk
    assert ticket.requester == world.outsider
    assert not world.ticket.events.filter(kind=EventKind.REPLY).exists()


def test_a_leaked_message_id_from_an_outsider_opens_a_new_ticket(world, mailbox):
    OutboundMessage.objects.create(ticket=world.ticket, to=world.requester.email, subject="x",
                                   body_text="x", message_id="out-3.INC@desk.example")
    ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.outsider, subject="Re: x", in_reply_to="out-3.INC@desk.example"))
    assert new == 1 and ticket.pk != world.ticket.pk


def test_a_colleague_who_does_not_watch_cannot_write_into_the_ticket(world, mailbox):
    _ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.colleague, subject=f"Re: {world.ticket.number}"))
    assert new == 1


def test_a_number_that_does_not_exist_opens_a_new_ticket(world, mailbox):
    _ticket, new = _new_ticket_count_after(world, mailbox, _from(
        world.requester, subject="Re: [INC-999999] Принтер"))
    assert new == 1
