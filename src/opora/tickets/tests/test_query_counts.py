"""Pinned SQL query counts of the ticket list and detail: a page of 100 rows costs what a page of
25 costs, and a long ticket what a short one costs. An N+1 anywhere fails here.

If a change adds a query on purpose, update the pin and say why in the commit.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import Channel
from opora.tickets.models import Ticket

pytestmark = pytest.mark.django_db

WEB = Channel.WEB

#: token → user (1), count (1), the page with its joins (1); for the desk also the current SLA
#: clocks of the page (1) — requesters are not shown SLA internals.
LIST_QUERIES = 3
STAFF_LIST_QUERIES = LIST_QUERIES + 1
#: token → user (1), the access check (1), the ticket with its joins (1), watchers (1),
#: timeline events with their actors (1), their attachments (1); for the desk also the SLA
#: clocks (1).
DETAIL_QUERIES = 6
STAFF_DETAIL_QUERIES = DETAIL_QUERIES + 1


def _varied_tickets(world: Any, count: int, requester: Any = None) -> list[Ticket]:
    """Tickets that differ in every related row a list row shows."""
    w = world
    cats = [f.CategoryFactory.create() for _ in range(3)]
    services = [f.ServiceFactory.create() for _ in range(3)]
    people = [w.requester, w.colleague, w.org_manager, w.outsider]
    tickets = []
    for i in range(count):
        t = f.TicketFactory.create(requester=requester or people[i % len(people)],
                            category=cats[i % 3], service=services[i % 3],
                            team=[w.l1, w.elsewhere][i % 2])
        if i % 3 == 0:
            agent = w.l1_agent if t.team == w.l1 else w.loner
            actions.assign(t, assignee=agent, actor=agent, channel=WEB)
        tickets.append(t)
    return tickets


def _count_list(api: Any, size: int, django_assert_num_queries: Any,
                queries: int = LIST_QUERIES) -> None:
    with django_assert_num_queries(queries):
        r = api.get(f"/api/v1/tickets/?page_size={size}")
    assert r.status_code == 200
    assert len(r.json()["results"]) == size


@pytest.mark.parametrize("size", [25, 100])
def test_list_for_an_agent(world, api, django_assert_num_queries, size):
    _varied_tickets(world, 110)
    api.as_user(world.manager)
    _count_list(api, size, django_assert_num_queries, STAFF_LIST_QUERIES)
    # An agent's list reads through the visibility filter (teams, assignments, watchers).
    api.as_user(world.l1_agent)
    _count_list(api, min(size, 50), django_assert_num_queries, STAFF_LIST_QUERIES)


@pytest.mark.parametrize("size", [25, 100])
def test_list_for_a_requester(world, api, django_assert_num_queries, size):
    _varied_tickets(world, 105, requester=world.requester)
    api.as_user(world.requester)
    _count_list(api, size, django_assert_num_queries)
    api.as_user(world.org_manager)
    _count_list(api, size, django_assert_num_queries)


def _long_ticket(world: Any, n: int) -> Ticket:
    """A ticket with ``n`` replies (each with a file, from changing people), ``n`` watchers and
    internal notes in between."""
    w = world
    t = w.ticket
    authors = [w.requester, w.l1_agent, w.l1_agent2, w.lead, w.org_manager]
    for i in range(n):
        author = authors[i % len(authors)]
        name = f"log-{i}.txt"
        upload = check_upload(SimpleUploadedFile(name, f"line {i}\n".encode()), name)
        actions.reply(t, body=f"Message {i}", actor=author, channel=WEB, attachments=[upload])
        if author.is_agent_side:
            actions.add_note(t, body=f"Note {i}", actor=author, channel=WEB)
        watcher = f.RequesterFactory.create(organisation=w.org) if i % 2 else f.AgentFactory.create()
        actions.add_watcher(t, user=watcher, actor=w.l1_agent, channel=WEB)
    return Ticket.objects.get(pk=t.pk)


@pytest.mark.parametrize("n", [2, 30])
@pytest.mark.parametrize("role", ["requester", "l1_agent", "manager"])
def test_detail(world, api, django_assert_num_queries, n, role):
    t = _long_ticket(world, n)
    api.as_user(getattr(world, role))
    expected = DETAIL_QUERIES if role == "requester" else STAFF_DETAIL_QUERIES
    with django_assert_num_queries(expected):
        r = api.get(f"/api/v1/tickets/{t.number}/")
    assert r.status_code == 200
    body = r.json()
    assert len(body["timeline"]) >= n + 1
    assert sum(len(e["attachments"]) for e in body["timeline"]) == n
    assert len(body["watchers"]) == (n if role != "requester" else n // 2)
