"""Demo data: the organisations, the teams on lines 1–4, the printed logins that work, tickets in
many statuses whose timelines tell a consistent story, and a second load that reuses people."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.core.management import call_command

from opora.accounts.models import Department, Organisation, Role, Team, TeamMembership, User
from opora.catalog.models import Service
from opora.core import demo
from opora.tickets.choices import EventKind, Status
from opora.tickets.models import Ticket, TicketEvent
from opora.tickets.selectors import priority_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICKETS = 60


@pytest.fixture
def loaded():
    counts = demo.load(tickets=TICKETS, seed=2026, now=NOW)
    return counts


def test_counts_organisations_and_teams(loaded):
    assert loaded["tickets"] == TICKETS == Ticket.objects.count()
    assert loaded["organisations"] == Organisation.objects.count() == 4  # 3 clients + provider
    assert loaded["teams"] == Team.objects.count() == 6
    assert loaded["users"] == User.objects.count()
    assert set(Team.objects.values_list("line", flat=True)) == {1, 2, 3, 4}
    # Every team has people, and every staff member is in a team.
    for team in Team.objects.all():
        assert team.members.exists(), team
    staff = User.objects.filter(role__in=[Role.AGENT, Role.TEAM_LEAD])
    assert not staff.filter(memberships__isnull=True).exists()
    # Requesters belong to client organisations, staff to the provider.
    provider = Organisation.objects.get(email_domain="opora.local")
    assert not User.objects.filter(role=Role.REQUESTER, organisation=provider).exists()
    assert not User.objects.filter(role__in=[Role.AGENT, Role.ADMIN]).exclude(
        organisation=provider).exists()
    assert Department.objects.count() == 7


def test_the_knowledge_base_has_published_articles_once(loaded):
    from opora.kb.choices import ArticleStatus
    from opora.kb.models import Article

    assert loaded["articles"] >= 10
    assert Article.objects.filter(status=ArticleStatus.PUBLISHED).count() == loaded["articles"]
    assert demo.load(tickets=0, seed=2026, now=NOW)["articles"] == 0
    assert User.objects.get(email="admin@opora.local").is_superuser


def test_the_printed_logins_exist_and_get_a_token(loaded, api):
    out = io.StringIO()
    call_command("demo", "--tickets", "0", stdout=out)
    text = out.getvalue()
    assert f"password for all: {demo.PASSWORD}" in text
    emails = re.findall(r"^\s+(\S+@\S+)\s{2,}\S", text, flags=re.MULTILINE)
    assert emails == [login.email for login in demo.LOGINS]
    cache.clear()  # the token endpoint's anonymous throttle
    for login in demo.LOGINS:
        user = User.objects.get(email=login.email)
        assert (user.full_name, user.role, user.is_active) == (login.full_name, login.role, True)
        r = api.post("/api/v1/auth/token/", {"email": login.email, "password": demo.PASSWORD},
                     format="json")
        assert r.status_code == 200, (login.email, r.content)
        api.credentials(HTTP_AUTHORIZATION=f"Token {r.json()['token']}")
        assert api.get("/api/v1/users/me/").json()["email"] == login.email
        api.credentials()
    cache.clear()


def test_tickets_come_in_many_statuses(loaded):
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert {Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_REQUESTER,
            Status.RESOLVED, Status.CLOSED} <= set(statuses), statuses
    assert Ticket.objects.filter(current_line__gt=1).exists()  # some were escalated
    assert Ticket.objects.filter(reopen_count__gt=0).exists() or statuses[Status.CLOSED]
    assert len(set(Ticket.objects.values_list("channel", flat=True))) >= 4
    assert len(set(Ticket.objects.values_list("requester", flat=True))) >= 5


def test_every_timeline_is_consistent(loaded):
    for ticket in Ticket.objects.select_related("requester", "team", "assignee"):
        # SLA warnings and breaches are written by the scan afterwards and change nothing on the
        # ticket; the story is told by the other entries.
        events = list(TicketEvent.objects.filter(ticket=ticket).exclude(
            kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACHED]).order_by("id"))
        first = events[0]
        assert first.kind == EventKind.CREATED
        assert (first.created_at, first.channel) == (ticket.created_at, ticket.channel)
        times = [e.created_at for e in events]
        assert times == sorted(times), ticket.number
        assert ticket.created_at <= times[-1] <= NOW
        assert ticket.updated_at == times[-1], ticket.number
        # Replaying the status changes ends where the ticket is.
        status = Status.NEW
        for event in events:
            if "status" in event.data:
                old, new = event.data["status"]
                assert old == status, (ticket.number, event.kind, old, status)
                status = new
        assert status == ticket.status, ticket.number
        kinds = {e.kind for e in events}
        assert ticket.organisation_id == ticket.requester.organisation_id
        assert ticket.priority == priority_for(ticket.impact, ticket.urgency)
        assert ticket.number == Ticket.make_number(ticket.type, ticket.pk)
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            assert EventKind.RESOLVED in kinds and ticket.resolved_at and ticket.resolution
        if ticket.status == Status.CLOSED:
            assert EventKind.CLOSED in kinds and ticket.closed_at >= ticket.resolved_at
        if ticket.reopen_count:
            assert EventKind.REOPENED in kinds and ticket.resolved_at is None
        if ticket.current_line > 1:
            assert EventKind.ESCALATED in kinds and ticket.escalated_at
        assert ticket.team is not None and ticket.team.line == ticket.current_line
        if ticket.assignee is not None:
            assert TeamMembership.objects.filter(team=ticket.team, user=ticket.assignee).exists()
        if ticket.first_response_at is not None:
            assert ticket.first_response_at >= ticket.created_at


def test_the_same_seed_gives_the_same_tickets(db):
    demo.load(tickets=15, seed=7, now=NOW)
    first = list(Ticket.objects.order_by("pk").values_list("title", "status", "created_at"))
    demo.load(tickets=15, seed=7, now=NOW)
    rows = list(Ticket.objects.order_by("pk").values_list("title", "status", "created_at"))
    assert rows[15:] == first


def test_loading_twice_does_not_duplicate_people(loaded):
    def population():
        return (User.objects.count(), Organisation.objects.count(), Team.objects.count(),
                TeamMembership.objects.count(), Department.objects.count(),
                Service.objects.count())

    before = population()
    again = demo.load(tickets=5, seed=99, now=NOW)
    assert population() == before
    assert again["tickets"] == 5 and Ticket.objects.count() == TICKETS + 5
    assert User.objects.filter(email="user@sever.example").count() == 1


def test_service_levels_are_running_on_the_demo_tickets(loaded):
    from opora.sla.models import Agreement, CalendarDay, Clock, Firing

    assert CalendarDay.objects.filter(calendar__name="Business hours", source="production",
                                      kind="holiday").count() > 30  # three years of holidays
    assert set(Agreement.objects.values_list("kind", flat=True)) == {"sla", "ola", "uc"}
    # Every ticket has a resolution clock; open ones are running or paused, closed ones stopped.
    assert not Ticket.objects.exclude(sla_clocks__metric="resolution").exists()
    outcomes = set(Clock.objects.values_list("outcome", flat=True))
    assert {"met", "breached"} <= outcomes
    # The demo's warnings and breaches were recorded, without mailing anyone.
    assert Firing.objects.exists()
    assert not Firing.objects.filter(done_at__isnull=True).exists()
