"""The confirm / reopen links of a resolution mail: signed, expiring, single-purpose, for one
ticket and one resolution; a GET only asks, the POST acts once, as the requester, by email."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import signing
from django.urls import reverse

from opora.mail.models import OutboundMessage
from opora.portal import email_links
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.models import Ticket
from opora.tickets.notifications import send_event_notifications


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English texts: people without a language of their own get English."""
    settings.LANGUAGE_CODE = "en"


T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def resolved(clock, world) -> Ticket:
    actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="Заменили картридж",
                    actor=world.l1_agent, channel=Channel.WEB)
    return Ticket.objects.get(pk=world.ticket.pk)


def url(ticket: Ticket, purpose: email_links.Purpose, token: str | None = None) -> str:
    ticket = Ticket.objects.get(pk=ticket.pk)  # the token names the current resolution
    return reverse(f"portal:email_{purpose}", kwargs={
        "ref": ticket.number, "token": token or email_links.make_token(ticket, purpose)})


def status(ticket: Ticket) -> str:
    return Ticket.objects.get(pk=ticket.pk).status


def test_the_links_in_the_resolution_mail_work(client, resolved):
    send_event_notifications(resolved.events.get(kind=EventKind.RESOLVED).pk)
    text = OutboundMessage.objects.get(to=resolved.requester.email,
                                       event__kind=EventKind.RESOLVED).body_text
    confirm = re.search(r"http://127\.0\.0\.1:8000(/portal/email/\S+/confirm/\S+/)", text)
    assert confirm is not None
    page = client.get(confirm.group(1))
    assert page.status_code == 200
    assert "Заменили картридж" in page.content.decode()
    assert client.post(confirm.group(1)).status_code == 200
    assert status(resolved) == Status.CLOSED


def test_a_get_changes_nothing_and_needs_no_sign_in(client, resolved):
    versions = resolved.version
    for purpose in email_links.PURPOSES:
        page = client.get(url(resolved, purpose))
        assert page.status_code == 200
        assert page["Cache-Control"].startswith("max-age=0")
        body = page.content.decode()
        assert resolved.number in body and 'method="post"' in body
    ticket = Ticket.objects.get(pk=resolved.pk)
    assert (ticket.status, ticket.version) == (Status.RESOLVED, versions)


def test_confirming_closes_as_the_requester_by_email_once(client, resolved):
    link = url(resolved, "confirm")
    done = client.post(link)
    assert done.status_code == 200
    assert resolved.number in done.content.decode()
    closed = Ticket.objects.get(pk=resolved.pk)
    assert closed.status == Status.CLOSED
    event = closed.events.get(kind=EventKind.CLOSED)
    assert (event.actor_id, event.channel, event.data["confirmed_by_requester"]) == (
        resolved.requester_id, Channel.EMAIL, True)
    again = client.post(link)
    assert again.status_code == 409
    assert closed.events.filter(kind=EventKind.CLOSED).count() == 1
    assert client.get(link).status_code == 409


def test_reopening_asks_for_a_reason_and_works_once(client, resolved):
    link = url(resolved, "reopen")
    refused = client.post(link, {"reason": "   "})
    assert refused.status_code == 400
    assert status(resolved) == Status.RESOLVED
    assert client.post(link, {"reason": "Опять не печатает"}).status_code == 200
    ticket = Ticket.objects.get(pk=resolved.pk)
    assert ticket.status != Status.RESOLVED and ticket.reopen_count == 1
    event = ticket.events.get(kind=EventKind.REOPENED)
    assert (event.actor_id, event.channel, event.body) == (
        resolved.requester_id, Channel.EMAIL, "Опять не печатает")
    assert client.post(link, {"reason": "Ещё раз"}).status_code == 409
    assert ticket.events.filter(kind=EventKind.REOPENED).count() == 1


def test_an_expired_link_says_so(client, clock, resolved):
    link = url(resolved, "confirm")
    clock.shift(email_links.MAX_AGE - timedelta(seconds=1))
    assert client.get(link).status_code == 200
    clock.shift(timedelta(seconds=2))
    for method in (client.get, client.post):
        page = method(link)
        assert page.status_code == 410
        assert "expired" in page.content.decode()
    assert status(resolved) == Status.RESOLVED


def test_forged_and_misused_tokens_do_nothing(client, resolved, world):
    token = email_links.make_token(resolved, "confirm")
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    unsigned = signing.TimestampSigner(salt="something else").sign_object(
        {"t": resolved.pk, "u": resolved.requester_id, "r": 0})
    another = actions.open_ticket(requester=world.requester, title="Другая", actor=world.requester,
                                  channel=Channel.PORTAL)
    for link, code in [
        (url(resolved, "confirm", forged), 400),
        (url(resolved, "confirm", unsigned), 400),
        (url(resolved, "confirm", "garbage"), 400),
        # a confirm token cannot reopen
        (url(resolved, "reopen", token), 400),
        # a token of one ticket used on another
        (reverse("portal:email_confirm", kwargs={"ref": another.number, "token": token}), 400),
    ]:
        page = client.post(link, {"reason": "x"})
        assert page.status_code == code, link
    assert status(resolved) == Status.RESOLVED
    assert status(another) == Status.NEW


def test_a_link_from_an_earlier_resolution_does_nothing(client, resolved, world):
    old = url(resolved, "confirm")
    actions.reopen(resolved, reason="Не помогло", actor=world.requester, channel=Channel.PORTAL)
    page = client.post(old)
    assert page.status_code == 409
    assert "no longer waiting for your confirmation" in page.content.decode()
    actions.resolve(resolved, code=ResolutionCode.FIXED, resolution="Теперь точно",
                    actor=world.l1_agent, channel=Channel.WEB)
    # Resolved again: the old link still belongs to the earlier resolution.
    assert client.post(old).status_code == 409
    assert status(resolved) == Status.RESOLVED
    assert client.post(url(resolved, "confirm")).status_code == 200
    assert status(resolved) == Status.CLOSED


def test_the_page_speaks_the_requesters_language(client, resolved):
    requester = resolved.requester
    requester.language = "en"
    requester.save()
    page = client.get(url(resolved, "reopen"), HTTP_ACCEPT_LANGUAGE="ru")
    assert page["Content-Language"] == "en"
    assert "What is still wrong?" in page.content.decode()


def test_a_disabled_requester_cannot_use_the_link(client, resolved):
    requester = resolved.requester
    requester.is_active = False
    requester.save()
    assert client.post(url(resolved, "confirm")).status_code == 403
    assert status(resolved) == Status.RESOLVED
