"""Who wrote, who follows, what the message does to its ticket."""

from __future__ import annotations

from typing import Any

import pytest

from opora.accounts.models import Role, User
from opora.mail import ingest
from opora.mail.models import InboundStatus, OutboundMessage, UnknownSenderPolicy
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.models import Attachment, Ticket, TicketEvent

from .test_ingest_helpers import PNG, make_mail, make_mailbox, ticket_of

DESK = "support@desk.example"


@pytest.fixture
def mailbox(world):
    return make_mailbox(address=DESK, team=world.l1, organisation=world.other_org)


def _from(user: User, **kwargs: Any) -> bytes:
    return make_mail(sender=(user.full_name, user.email), **kwargs)


def _our_mail_to(ticket: Ticket, user: User, message_id: str) -> OutboundMessage:
    """What the outbox wrote when it told ``user`` about ``ticket``."""
    return OutboundMessage.objects.create(ticket=ticket, to=user.email, subject=ticket.title,
                                          body_text="…", message_id=message_id)


# --- unknown senders ----------------------------------------------------------------------------


def test_an_unknown_sender_becomes_a_requester_of_the_organisation_owning_the_domain(
        world, mailbox):
    world.org.email_domain = "north-wind.example"
    world.org.save()
    message = ingest.receive(make_mail(sender=("Анна Новикова", "Anna@North-Wind.example")),
                             mailbox=mailbox)

    ticket = ticket_of(message)
    anna = User.objects.get(email="anna@north-wind.example")
    assert (anna.full_name, anna.role, anna.organisation) == ("Анна Новикова", Role.REQUESTER,
                                                             world.org)
    assert not anna.has_usable_password()
    assert ticket.requester == anna and ticket.organisation == world.org
    # The next message of the same person finds the account, whatever the case of the address.
    again = ingest.receive(make_mail(sender="ANNA@north-wind.example", subject="Ещё"),
                           mailbox=mailbox)
    assert ticket_of(again).requester == anna
    assert User.objects.filter(email__iexact="anna@north-wind.example").count() == 1


def test_an_unknown_domain_goes_to_the_mailboxs_organisation(world, mailbox):
    message = ingest.receive(make_mail(sender="someone@gmail.example"), mailbox=mailbox)
    assert ticket_of(message).requester.organisation == world.other_org


def test_an_unknown_sender_is_refused_politely_when_the_mailbox_says_so(world, mailbox):
    mailbox.unknown_senders = UnknownSenderPolicy.REFUSE
    mailbox.save()
    tickets = Ticket.objects.count()
    message = ingest.receive(make_mail(sender="stranger@elsewhere.example"), mailbox=mailbox)

    assert (message.status, message.reason) == (InboundStatus.REFUSED, "unknown sender")
    assert Ticket.objects.count() == tickets
    assert not User.objects.filter(email="stranger@elsewhere.example").exists()
    refusal = OutboundMessage.objects.get()
    assert refusal.to == "stranger@elsewhere.example"
    assert refusal.in_reply_to == message.message_id
    # Known people are still welcome.
    known = ingest.receive(_from(world.requester), mailbox=mailbox)
    assert known.status == InboundStatus.PROCESSED


def test_a_disabled_account_is_refused_without_an_answer(world, mailbox):
    world.requester.is_active = False
    world.requester.save()
    message = ingest.receive(_from(world.requester), mailbox=mailbox)
    assert (message.status, message.reason) == (InboundStatus.REFUSED, "disabled account")
    assert not OutboundMessage.objects.exists()


# --- watchers from To and Cc --------------------------------------------------------------------


def test_people_in_to_and_cc_become_watchers(world, mailbox):
    world.org.email_domain = "north-wind.example"
    world.org.save()
    raw = _from(world.requester, to=[DESK, world.colleague.email.upper()],
                cc=[world.outsider.email, world.l2_agent.email, "new.colleague@north-wind.example",
                    "stranger@elsewhere.example", DESK, world.requester.email])
    ticket = ticket_of(ingest.receive(raw, mailbox=mailbox))

    new_colleague = User.objects.get(email="new.colleague@north-wind.example")
    assert new_colleague.organisation == world.org
    assert set(ticket.watchers.all()) == {world.colleague, world.l2_agent, new_colleague}
    # Another organisation's people and unknown outsiders are not added (nor created).
    assert not User.objects.filter(email="stranger@elsewhere.example").exists()
    added = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.WATCHER_ADDED)
    assert added.count() == 3 and set(added.values_list("channel", flat=True)) == {"email"}


def test_no_new_watchers_are_created_when_the_mailbox_refuses_unknown_senders(world, mailbox):
    world.org.email_domain = "north-wind.example"
    world.org.save()
    mailbox.unknown_senders = UnknownSenderPolicy.REFUSE
    mailbox.save()
    raw = _from(world.requester, cc=["new.colleague@north-wind.example", world.colleague.email])
    ticket = ticket_of(ingest.receive(raw, mailbox=mailbox))
    assert list(ticket.watchers.all()) == [world.colleague]
    assert not User.objects.filter(email="new.colleague@north-wind.example").exists()


# --- replies ------------------------------------------------------------------------------------


def test_a_requester_reply_is_their_public_reply_without_the_quoted_history(world, mailbox):
    ticket = world.ticket
    _our_mail_to(ticket, world.requester, "a1.INC@desk.example")
    body = ("Спасибо, заработало.\n\n"
            "On Mon, 1 Jan 2024 at 10:00, Service desk <support@desk.example> wrote:\n"
            "> Перезагрузите принтер.\n")
    message = ingest.receive(_from(world.requester, subject="Re: что-то другое", body=body,
                                   in_reply_to="a1.INC@desk.example"), mailbox=mailbox)

    assert message.ticket_id == ticket.pk and message.status == InboundStatus.PROCESSED
    event = message.event
    assert event is not None
    assert (event.kind, event.actor, event.channel) == (EventKind.REPLY, world.requester,
                                                        Channel.EMAIL)
    assert event.body == "Спасибо, заработало."
    assert "Перезагрузите" not in event.body  # but the raw message keeps everything
    assert "Перезагрузите".encode() in bytes(message.raw) or b"=D0" in bytes(message.raw)


def test_an_agent_reply_by_email_is_their_public_reply(world, mailbox):
    ticket = world.ticket
    message = ingest.receive(_from(world.l1_agent, subject=f"Re: [{ticket.number}] Принтер",
                                   body="Замените картридж."), mailbox=mailbox)
    event = message.event
    assert event is not None and message.ticket_id == ticket.pk
    assert (event.kind, event.actor, event.is_public) == (EventKind.REPLY, world.l1_agent, True)
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == event.created_at


def _resolve(ticket: Ticket, agent: User) -> None:
    actions.resolve(ticket, code=ResolutionCode.FIXED, resolution="Заменили картридж",
                    actor=agent, channel=Channel.WEB)


def test_a_requester_reply_reopens_a_resolved_ticket(world, mailbox):
    _resolve(world.ticket, world.l1_agent)
    message = ingest.receive(_from(world.requester, subject=f"Re: {world.ticket.number}",
                                   body="Нет, опять не печатает."), mailbox=mailbox)

    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.ASSIGNED and ticket.reopen_count == 1
    assert message.event is not None and message.event.kind == EventKind.REOPENED
    assert message.event.body == "Нет, опять не печатает."
    assert message.event.channel == Channel.EMAIL


def test_without_reopen_on_reply_the_answer_only_lands_as_a_reply(world, mailbox):
    mailbox.reopen_on_reply = False
    mailbox.save()
    _resolve(world.ticket, world.l1_agent)
    message = ingest.receive(_from(world.requester, subject=f"Re: {world.ticket.number}",
                                   body="Спасибо!"), mailbox=mailbox)
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.RESOLVED
    assert message.event is not None and message.event.kind == EventKind.REPLY


def test_a_watching_colleague_does_not_reopen_but_replies(world, mailbox):
    actions.add_watcher(world.ticket, user=world.colleague, actor=world.l1_agent,
                        channel=Channel.WEB)
    _resolve(world.ticket, world.l1_agent)
    message = ingest.receive(_from(world.colleague, subject=f"Re: {world.ticket.number}",
                                   body="У меня тоже не печатает."), mailbox=mailbox)
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.RESOLVED
    assert message.event is not None and message.event.kind == EventKind.REPLY


def test_a_reply_to_a_closed_ticket_opens_a_new_one_that_names_the_old(world, mailbox):
    _resolve(world.ticket, world.l1_agent)
    actions.close(world.ticket, actor=world.requester, channel=Channel.PORTAL)
    message = ingest.receive(_from(world.requester, subject=f"Re: [{world.ticket.number}] Принтер",
                                   body="Снова сломался."), mailbox=mailbox)

    new = ticket_of(message)
    assert new.pk != world.ticket.pk
    assert world.ticket.number in new.description and "Снова сломался." in new.description
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.CLOSED


def test_an_agent_writing_to_a_closed_ticket_leaves_a_note(world, mailbox):
    _resolve(world.ticket, world.l1_agent)
    actions.close(world.ticket, actor=world.requester, channel=Channel.PORTAL)
    message = ingest.receive(_from(world.l1_agent, subject=f"Re: [{world.ticket.number}]",
                                   body="Для истории: картридж списан."), mailbox=mailbox)
    assert message.ticket_id == world.ticket.pk
    assert message.event is not None and message.event.kind == EventKind.NOTE
    assert Ticket.objects.get(pk=world.ticket.pk).status == Status.CLOSED


# --- attachments and long text ------------------------------------------------------------------


def test_attachments_are_kept_and_a_refused_one_is_noted(world, mailbox):
    raw = _from(world.requester, attachments=[
        ("экран.png", PNG, "image/png"),
        ("report.csv", "дата;ошибка\n2024-01-01;49.4C02\n".encode(), "text/csv"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/octet-stream"),
    ])
    message = ingest.receive(raw, mailbox=mailbox)

    ticket = ticket_of(message)
    files = {a.filename: a for a in Attachment.objects.filter(ticket=ticket)}
    assert set(files) == {"экран.png", "report.csv"}
    assert files["экран.png"].file.read() == PNG
    assert files["экран.png"].event_id == message.event_id
    assert "setup.exe" in ticket.description  # noted, not silently dropped
    assert message.status == InboundStatus.PROCESSED


def test_a_reply_with_only_an_attachment(world, mailbox):
    message = ingest.receive(_from(world.requester, subject=f"Re: {world.ticket.number}",
                                   body="", attachments=[("photo.png", PNG, "image/png")]),
                             mailbox=mailbox)
    assert message.status == InboundStatus.PROCESSED, message.error
    assert Attachment.objects.filter(ticket=world.ticket, event=message.event).count() == 1


def test_a_very_long_message_is_shortened_in_the_ticket_and_kept_whole_raw(world, mailbox):
    body = "Строка журнала ошибки 0x0000007B\n" * 5_000
    message = ingest.receive(_from(world.requester, body=body), mailbox=mailbox)
    ticket = ticket_of(message)
    assert len(ticket.description) <= actions.BODY_MAX
    assert "original message" in ticket.description or "исходном" in ticket.description
    assert len(bytes(message.raw)) > len(body)


def test_an_empty_subject_gets_a_title(world, mailbox):
    message = ingest.receive(_from(world.requester, subject=""), mailbox=mailbox)
    assert ticket_of(message).title


def test_a_sender_without_from_is_found_by_return_path(world, mailbox):
    raw = _from(world.requester).replace(b"From:", b"X-Old-From:", 1)
    raw = f"Return-Path: <{world.requester.email}>\r\n".encode() + raw
    message = ingest.receive(raw, mailbox=mailbox)
    assert ticket_of(message).requester == world.requester


def test_a_staff_member_from_another_team_may_still_reply(world, mailbox):
    other = f.AgentFactory.create()
    message = ingest.receive(_from(other, subject=f"Re: {world.ticket.number}"), mailbox=mailbox)
    assert message.ticket_id == world.ticket.pk
