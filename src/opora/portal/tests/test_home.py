"""My requests: scope (own, watched, organisation), filters, sorting, paging, htmx partial."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel, ResolutionCode, Status

pytestmark = pytest.mark.django_db

HOME = reverse("portal:home")
WEB = Channel.WEB


def _numbers(response):
    return [t.number for t in response.context["page"].object_list]


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_requester_sees_own_and_watched_not_colleagues(world, login):
    w = world
    colleagues = f.TicketFactory.create(requester=w.colleague, title="Colleague's own")
    watched = f.TicketFactory.create(requester=w.colleague, title="Colleague's, watched")
    actions.add_watcher(watched, user=w.requester, actor=w.l1_agent, channel=WEB)
    foreign = f.TicketFactory.create(requester=w.outsider)
    response = login(w.requester).get(HOME)
    assert response.status_code == 200
    numbers = _numbers(response)
    assert w.ticket.number in numbers
    assert watched.number in numbers
    assert colleagues.number not in numbers
    assert foreign.number not in numbers
    assert b"My organisation" not in response.content


def test_requester_cannot_ask_for_the_organisation_tab(world, login):
    colleagues = f.TicketFactory.create(requester=world.colleague)
    response = login(world.requester).get(HOME, {"scope": "org"})
    assert response.status_code == 200
    assert response.context["scope"] == "mine"
    assert colleagues.number not in _numbers(response)


def test_org_manager_has_an_organisation_tab(world, login):
    w = world
    own = f.TicketFactory.create(requester=w.org_manager)
    foreign = f.TicketFactory.create(requester=w.outsider)
    client = login(w.org_manager)
    mine = client.get(HOME)
    assert _numbers(mine) == [own.number]
    assert b"My organisation" in mine.content
    org = client.get(HOME, {"scope": "org"})
    assert org.status_code == 200
    assert set(_numbers(org)) == {own.number, w.ticket.number}
    assert foreign.number not in _numbers(org)
    # The requester's name is shown on the organisation's list.
    assert w.requester.full_name in org.content.decode()


def test_other_organisation_manager_sees_none_of_ours(world, login):
    response = login(world.other_manager).get(HOME, {"scope": "org"})
    assert world.ticket.number not in _numbers(response)


def test_staff_may_look_but_are_pointed_to_the_workspace(world, login):
    own = f.TicketFactory.create(requester=world.l1_agent)
    response = login(world.l1_agent).get(HOME)
    assert response.status_code == 200
    assert _numbers(response) == [own.number]  # not the team's queue
    assert reverse("agent:home").encode() in response.content


def test_status_in_plain_words(world, login):
    w = world
    actions.change_status(w.ticket, status=Status.WAITING_REQUESTER, actor=w.l1_agent, channel=WEB)
    response = login(w.requester).get(HOME)
    assert "Waiting for your reply" in response.content.decode()
    # The organisation manager reads it about someone else.
    org = login(w.org_manager).get(HOME, {"scope": "org"})
    assert "Waiting for the requester&#x27;s reply" in org.content.decode()


def _closed(world, title):
    t = f.TicketFactory.create(requester=world.requester, title=title)
    actions.resolve(t, code=ResolutionCode.FIXED, resolution="Done.", actor=world.l1_agent,
                    channel=WEB)
    return t


def test_open_closed_all(world, login):
    w = world
    resolved = _closed(w, "Solved, awaiting confirmation")
    closed = _closed(w, "Closed one")
    actions.close(closed, actor=w.requester, channel=Channel.PORTAL)
    cancelled = f.TicketFactory.create(requester=w.requester)
    actions.cancel(cancelled, reason="Works again", actor=w.requester, channel=Channel.PORTAL)
    client = login(w.requester)
    # "Open" includes a solved request that still waits for the person's confirmation.
    assert set(_numbers(client.get(HOME))) == {w.ticket.number, resolved.number}
    assert set(_numbers(client.get(HOME, {"state": "closed"}))) == {closed.number,
                                                                     cancelled.number}
    assert len(_numbers(client.get(HOME, {"state": "all"}))) == 4
    # An unknown value falls back to the default instead of failing.
    assert client.get(HOME, {"state": "bogus", "sort": "bogus", "page": "x"}).status_code == 200


def test_text_search_by_title_and_number(world, login):
    w = world
    vpn = f.TicketFactory.create(requester=w.requester, title="VPN drops every hour")
    client = login(w.requester)
    assert _numbers(client.get(HOME, {"q": "vpn"})) == [vpn.number]
    assert _numbers(client.get(HOME, {"q": w.ticket.number})) == [w.ticket.number]
    empty = client.get(HOME, {"q": "nothing like this"})
    assert _numbers(empty) == []
    assert b"No requests match these filters." in empty.content


def test_sorting(world, login):
    w = world
    base = datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(base, tick=False):
        first = f.TicketFactory.create(requester=w.requester, title="first")
    with time_machine.travel(base + datetime.timedelta(hours=1), tick=False):
        second = f.TicketFactory.create(requester=w.requester, title="second")
    with time_machine.travel(base + datetime.timedelta(hours=2), tick=False):
        # The older one changes last, and now waits for the requester.
        actions.change_status(first, status=Status.WAITING_REQUESTER, actor=w.l1_agent,
                              channel=WEB)
    client = login(w.requester)
    mine = [first.number, second.number]

    def order(sort):
        return [n for n in _numbers(client.get(HOME, {"sort": sort})) if n in mine]

    assert order("-created") == [second.number, first.number]
    assert order("created") == [first.number, second.number]
    assert order("-updated") == [first.number, second.number]
    assert order("status") == [first.number, second.number]  # needs the requester first


def test_pagination(world, login):
    for _ in range(24):
        f.TicketFactory.create(requester=world.requester)
    client = login(world.requester)
    first = client.get(HOME)
    assert len(_numbers(first)) == 20
    assert b"Page 1 of 2" in first.content
    second = client.get(HOME, {"page": 2})
    assert len(_numbers(second)) == 5
    assert not set(_numbers(first)) & set(_numbers(second))


def test_htmx_gets_the_list_fragment(world, login):
    client = login(world.requester)
    full = client.get(HOME, {"q": world.ticket.number})
    partial = client.get(HOME, {"q": world.ticket.number}, HTTP_HX_REQUEST="true")
    assert b"<html" in full.content
    assert b"<html" not in partial.content
    assert partial.content.lstrip().startswith(b'<section id="request-list"')
    assert world.ticket.number.encode() in partial.content
    assert "HX-Request" in partial["Vary"]
    # A boosted navigation is a whole page.
    boosted = client.get(HOME, HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert b"<html" in boosted.content


#: session (1), user (1), count (1), the page of tickets with its joins (1).
LIST_QUERIES = 4


@pytest.mark.parametrize("count", [5, 50])
def test_list_query_count_does_not_grow(world, login, django_assert_num_queries, count):
    w = world
    cats = [f.CategoryFactory.create() for _ in range(3)]
    for i in range(count - 1):
        t = f.TicketFactory.create(requester=w.requester, category=cats[i % 3])
        if i % 2:
            actions.change_status(t, status=Status.IN_PROGRESS, actor=w.l1_agent, channel=WEB)
    client = login(w.requester)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(HOME, {"state": "all"})
    assert response.status_code == 200
    assert len(_numbers(response)) == min(count, 20)


@pytest.mark.parametrize("count", [5, 50])
def test_org_list_query_count_does_not_grow(world, login, django_assert_num_queries, count):
    w = world
    people = [w.requester, w.colleague, w.org_manager]
    for i in range(count - 1):
        f.TicketFactory.create(requester=people[i % 3])
    client = login(w.org_manager)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(HOME, {"scope": "org", "sort": "status"})
    assert len(_numbers(response)) == min(count, 20)
