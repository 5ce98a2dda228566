"""The agent workspace's queues: who sees which ticket in which queue, filters, sorting, paging,
the htmx partial, sidebar counts, saved filters, bulk actions (each ticket through its action)
and pinned query counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from opora.agent.models import SavedFilter
from opora.agent.queues import QUEUES, queue_counts, ticket_url
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, Priority, ResolutionCode, Status
from opora.tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db

WEB = Channel.WEB
SUMMARY = "Checked the cable and the port; the switch port is dead."


@pytest.fixture
def client(client):
    """Pages in English, so messages can be compared with the English source."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def desk(world):
    """Tickets in every state a queue cares about.

    L1 (Service desk: l1_agent, l1_agent2, lead), L2 (Network: l2_agent), Elsewhere (loner).
    """
    w = world
    now = timezone.now()
    d = SimpleNamespace(w=w)
    d.new = w.ticket  # L1, new, nobody on it
    d.mine = f.TicketFactory.create(requester=w.requester, team=w.l1)
    actions.change_status(d.mine, status=Status.IN_PROGRESS, actor=w.l1_agent, channel=WEB)
    d.colleague = f.TicketFactory.create(requester=w.colleague, team=w.l1)
    actions.assign(d.colleague, assignee=w.l1_agent2, actor=w.lead, channel=WEB)
    d.waiting = f.TicketFactory.create(requester=w.requester, team=w.l1)
    actions.assign(d.waiting, assignee=w.l1_agent, actor=w.l1_agent, channel=WEB)
    actions.change_status(d.waiting, status=Status.WAITING_REQUESTER, actor=w.l1_agent,
                          channel=WEB)
    d.escalated = f.TicketFactory.create(requester=w.outsider, team=w.l1)
    actions.escalate(d.escalated, to_team=w.l2, summary=SUMMARY, actor=w.l1_agent, channel=WEB)
    d.l2_mine = f.TicketFactory.create(requester=w.outsider, team=w.l2)
    actions.assign(d.l2_mine, assignee=w.l2_agent, actor=w.l2_agent, channel=WEB)
    d.elsewhere = f.TicketFactory.create(requester=w.outsider, team=w.elsewhere)
    d.resolved_recent = _resolved(w, now - timedelta(days=2))
    d.resolved_old = _resolved(w, now - timedelta(days=10))
    d.closed_recent = _resolved(w, now - timedelta(days=9))
    actions.close(d.closed_recent, actor=w.l1_agent, channel=WEB, now=now - timedelta(days=1))
    d.cancelled = f.TicketFactory.create(requester=w.requester, team=w.l1)
    actions.cancel(d.cancelled, reason="Opened twice", actor=w.requester, channel=Channel.PORTAL)
    for name in vars(d):
        if name != "w":
            getattr(d, name).refresh_from_db()
    return d


def _resolved(w: Any, when: datetime) -> Ticket:
    t = f.TicketFactory.create(requester=w.requester, team=w.l1)
    actions.resolve(t, code=ResolutionCode.FIXED, resolution="Replaced the toner.",
                    actor=w.l1_agent, channel=WEB, now=when)
    return t


def url(slug: str, query: str = "") -> str:
    base = reverse("agent:queue", args=[slug])
    return f"{base}?{query}" if query else base


def pks(response: Any) -> set[int]:
    return {row["ticket"].pk for row in response.context["rows"]}


def order(response: Any) -> list[int]:
    return [row["ticket"].pk for row in response.context["rows"]]


def sidebar_counts(html: str) -> dict[str, int]:
    return {slug: int(n) for slug, n in re.findall(r'data-queue-count="([\w-]+)">(\d+)<', html)}


def ids(d: Any, *names: str) -> set[int]:
    return {getattr(d, n).pk for n in names}


# --- membership ---------------------------------------------------------------------------------

EXPECTED = {
    "l1_agent": {
        "mine": ("mine", "waiting"),
        "my-teams": ("new", "mine", "colleague", "waiting"),
        "unassigned": ("new",),
        # The agent who escalated keeps following the ticket (a watcher), so still sees it.
        "all-open": ("new", "mine", "colleague", "waiting", "escalated"),
        "waiting": ("waiting",),
        # Nothing is due within the hour: the nearest first response is 2 business hours away.
        "breaching-soon": (),
        "recently-resolved": ("resolved_recent", "closed_recent"),
    },
    "l2_agent": {
        "mine": ("l2_mine",),
        "my-teams": ("escalated", "l2_mine"),
        "unassigned": ("escalated",),
        "all-open": ("escalated", "l2_mine"),
        "waiting": (),
        "breaching-soon": (),
        "recently-resolved": (),
    },
    "manager": {
        "mine": (),
        "my-teams": (),
        "unassigned": ("new", "escalated", "elsewhere"),
        "all-open": ("new", "mine", "colleague", "waiting", "escalated", "l2_mine", "elsewhere"),
        "waiting": ("waiting",),
        # Nothing is due within the hour: the nearest first response is 2 business hours away.
        "breaching-soon": (),
        "recently-resolved": ("resolved_recent", "closed_recent"),
    },
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("slug", [q.slug for q in QUEUES])
def test_queue_membership(desk, client, who, slug):
    client.force_login(getattr(desk.w, who))
    r = client.get(url(slug))
    assert r.status_code == 200
    assert pks(r) == ids(desk, *EXPECTED[who][slug])


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_sidebar_counts_match_the_queues(desk, client, who):
    client.force_login(getattr(desk.w, who))
    r = client.get(reverse("agent:home"))
    assert sidebar_counts(r.content.decode()) == {
        slug: len(members) for slug, members in EXPECTED[who].items()}


def test_sidebar_counts_take_one_query(desk, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = queue_counts(desk.w.manager)
    assert counts["all-open"] == 7


def test_the_sidebar_works_on_any_workspace_page(desk, rf, django_assert_num_queries):
    """Pages of other areas extend agent/base.html and get the sidebar: counts and saved
    filters in two queries, no queue marked current."""
    SavedFilter.objects.create(user=desk.w.l1_agent, name="Critical", query="priority=1")
    request = rf.get("/agent/tickets/INC-000001/")
    request.user = desk.w.l1_agent
    with django_assert_num_queries(2):
        html = render_to_string("agent/base.html", request=request)
    assert sidebar_counts(html) == {
        slug: len(members) for slug, members in EXPECTED["l1_agent"].items()}
    assert "Critical" in html and 'href="/agent/queues/all-open/?priority=1"' in html
    assert 'aria-current="page"' not in html


def test_home_shows_my_teams(desk, client):
    client.force_login(desk.w.l1_agent)
    r = client.get(reverse("agent:home"))
    assert r.status_code == 200
    assert r.context["queue"].slug == "my-teams"
    assert pks(r) == ids(desk, *EXPECTED["l1_agent"]["my-teams"])
    assert 'aria-current="page"' in r.content.decode()


def test_unknown_queue_is_404(world, client):
    client.force_login(world.l1_agent)
    assert client.get("/agent/queues/everything/").status_code == 404


# --- who may come in ----------------------------------------------------------------------------


def _workspace_urls(world: Any) -> list[tuple[str, str]]:
    saved = SavedFilter.objects.create(user=world.requester, name="Mine")
    gets = [reverse("agent:home")] + [url(q.slug) for q in QUEUES]
    posts = [reverse("agent:queue_bulk", args=["all-open"]),
             reverse("agent:saved_filter_create", args=["all-open"]),
             reverse("agent:saved_filter_delete", args=[saved.pk])]
    return [("get", u) for u in gets] + [("post", u) for u in posts]


@pytest.mark.parametrize("who", ["requester", "org_manager", "outsider"])
def test_requesters_are_kept_out(world, client, who):
    client.force_login(getattr(world, who))
    for method, target in _workspace_urls(world):
        r = getattr(client, method)(target, {"ticket": f"{world.ticket.pk}:1", "action": "assign",
                                             "team": world.l2.pk, "name": "x"})
        if method == "get":
            assert r.status_code == 302 and r["Location"] == reverse("portal:home"), target
        else:
            assert r.status_code == 403, target
        assert client.get(target, HTTP_HX_REQUEST="true").status_code == 403, target
    world.ticket.refresh_from_db()
    assert world.ticket.team == world.l1
    assert SavedFilter.objects.filter(name="x").count() == 0


def test_anonymous_goes_to_login(world, client):
    for method, target in _workspace_urls(world):
        r = getattr(client, method)(target)
        assert r.status_code == 302, target
        assert r["Location"].startswith(reverse("web:login") + "?next="), target
    r = client.get(url("all-open"), HTTP_HX_REQUEST="true")
    assert r["HX-Redirect"].startswith(reverse("web:login"))


# --- rows ---------------------------------------------------------------------------------------


def test_row_shows_what_an_agent_needs(desk, client):
    w = desk.w
    major = f.TicketFactory.create(requester=w.requester, team=w.l1, is_major=True,
                            title="Nobody can log in")
    client.force_login(w.manager)
    html = client.get(url("all-open")).content.decode()
    assert ticket_url(major.number) in html
    assert "Major incident" in html
    assert "Escalated — waiting for line 2" in html
    assert w.requester.full_name in html and w.org.name in html
    assert "Nobody can log in" in html
    assert f'name="ticket" value="{major.pk}:{major.version}"' in html
    assert f'for="select-{major.pk}"' in html
    assert "Select all on this page" in html
    # The escalated ticket is marked; the one with an agent on line 2 is not.
    row = re.search(rf'value="{desk.l2_mine.pk}:.*?</tr>', html, re.S)
    assert row and "waiting for line" not in row.group(0)


def test_ticket_link_falls_back_without_the_ticket_route():
    assert ticket_url("INC-000042").endswith("INC-000042/")
    assert ticket_url(None) == ""


def test_times_are_in_the_users_time_zone(world, client):
    world.manager.time_zone = "Asia/Vladivostok"
    world.manager.save()
    f.TicketFactory.create(requester=world.requester, team=world.l1,
                    now=datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    client.force_login(world.manager)
    html = client.get(url("all-open")).content.decode()
    assert 'datetime="2024-03-01T20:00:00+10:00"' in html


# --- filters, sorting, paging -------------------------------------------------------------------


def test_filters(desk, client):
    w = desk.w
    actions.update_fields(desk.colleague, changes={"priority": Priority.CRITICAL},
                          actor=w.lead, channel=WEB)
    old = f.TicketFactory.create(requester=w.requester, team=w.l1, title="Scanner jams",
                          now=timezone.now() - timedelta(days=30))
    client.force_login(w.manager)
    assert pks(client.get(url("all-open", "status=waiting_requester"))) == {desk.waiting.pk}
    assert pks(client.get(url("all-open", "status=new&status=in_progress"))) == ids(
        desk, "new", "mine", "elsewhere") | {old.pk}
    assert pks(client.get(url("all-open", "priority=1"))) == {desk.colleague.pk}
    assert pks(client.get(url("all-open", f"team={w.l2.pk}"))) == ids(desk, "escalated", "l2_mine")
    assert pks(client.get(url("all-open", f"assignee={w.l1_agent.pk}"))) == ids(
        desk, "mine", "waiting")
    assert pks(client.get(url("all-open", f"organisation={w.other_org.pk}"))) == ids(
        desk, "escalated", "l2_mine", "elsewhere")
    assert pks(client.get(url("all-open", "q=scanner"))) == {old.pk}
    assert pks(client.get(url("all-open", f"q={desk.mine.number}"))) == {desk.mine.pk}
    before = (timezone.now() - timedelta(days=20)).date().isoformat()
    assert pks(client.get(url("all-open", f"created_before={before}"))) == {old.pk}
    r = client.get(url("all-open", f"created_after={before}&type=incident&channel=portal"))
    assert old.pk not in pks(r) and desk.new.pk in pks(r)
    # The form shows what was chosen.
    html = client.get(url("all-open", "status=new&q=printer")).content.decode()
    assert re.search(r'value="new"\s+id="f-status-new" checked', html)
    assert 'value="printer"' in html


def test_an_invalid_filter_is_shown_and_lists_nothing(desk, client):
    client.force_login(desk.w.manager)
    r = client.get(url("all-open", "team=not-a-team&q=printer"))
    assert r.status_code == 200
    assert pks(r) == set()
    html = r.content.decode()
    assert "Some filters are not valid" in html
    assert "invalid-feedback" in html
    assert 'value="printer"' in html


def test_sorting(desk, client):
    client.force_login(desk.w.manager)
    by_title = sorted(
        Ticket.objects.filter(pk__in=ids(desk, *EXPECTED["manager"]["all-open"])),
        key=lambda t: (t.title, t.pk))
    r = client.get(url("all-open", "ordering=title"))
    assert order(r) == [t.pk for t in by_title]
    assert re.search(r'<th scope="col" aria-sort="ascending"><a [^>]*>Title <span', r.content.decode())
    r = client.get(url("all-open", "ordering=-title"))
    assert order(r) == [t.pk for t in reversed(by_title)]
    assert 'aria-sort="descending"' in r.content.decode()
    # Priority first (critical on top), then the assignee's name with nobody last.
    r = client.get(url("all-open", "ordering=assignee"))
    names = [row["ticket"].assignee.full_name if row["ticket"].assignee else None
             for row in r.context["rows"]]
    assigned = [n for n in names if n]
    assert assigned == sorted(assigned) and names[len(assigned):] == [None] * (
        len(names) - len(assigned))
    # Unknown column: the default (newest first) with its indicator on "Created".
    r = client.get(url("all-open", "ordering=password"))
    assert r.context["ordering"] == ["-created_at"]
    assert re.search(r'aria-sort="descending"><a [^>]*>Created <span', r.content.decode())


def test_sort_links_keep_the_filters_and_restart_paging(desk, client):
    client.force_login(desk.w.manager)
    html = client.get(url("all-open", "status=new&page=2")).content.decode()
    assert f'href="{url("all-open", "status=new&amp;ordering=title")}"' in html


def test_paging(world, client):
    for i in range(30):
        f.TicketFactory.create(requester=world.requester, team=world.l1, title=f"Ticket {i:02d}")
    client.force_login(world.manager)
    r = client.get(url("all-open"))
    assert len(r.context["rows"]) == 25
    assert "Tickets found: 31" in r.content.decode()
    assert "Page 1 of 2" in r.content.decode()
    second = client.get(url("all-open", "page=2"))
    assert len(second.context["rows"]) == 6
    assert pks(r).isdisjoint(pks(second))
    assert len(client.get(url("all-open", "page_size=50")).context["rows"]) == 31
    assert len(client.get(url("all-open", "page_size=7")).context["rows"]) == 25
    assert len(client.get(url("all-open", "page=99")).context["rows"]) == 6
    assert len(client.get(url("all-open", "page=x")).context["rows"]) == 25


# --- htmx ---------------------------------------------------------------------------------------


def test_htmx_gets_the_results_only(desk, client):
    client.force_login(desk.w.manager)
    full = client.get(url("all-open", "status=new")).content.decode()
    assert "<html" in full and 'id="queue-sidebar"' in full and 'id="queue-filters"' in full
    assert 'id="queue-table"' in full
    r = client.get(url("all-open", "status=new&ordering=title"), HTTP_HX_REQUEST="true")
    part = r.content.decode()
    assert "HX-Request" in r["Vary"]
    assert "<html" not in part and 'id="queue-sidebar"' not in part
    assert 'id="queue-filters"' not in part
    assert 'id="queue-table"' in part
    # The filter form's hidden sort follows the table's (out-of-band).
    assert re.search(r'id="queue-filter-state" hx-swap-oob="true"><input type="hidden" '
                     r'name="ordering" value="title">', part)
    # A reload of a pushed URL (history restore) needs the whole page.
    restore = client.get(url("all-open", "status=new"), HTTP_HX_REQUEST="true",
                         HTTP_HX_HISTORY_RESTORE_REQUEST="true").content.decode()
    assert "<html" in restore


def test_controls_target_the_results(desk, client):
    client.force_login(desk.w.manager)
    html = client.get(url("all-open")).content.decode()
    assert 'hx-get="/agent/queues/all-open/"' in html and 'hx-push-url="true"' in html
    assert 'hx-post="/agent/queues/all-open/bulk/"' in html
    assert "onclick" not in html and "<script>" not in html
    assert "agent/queues.js" in html


# --- saved filters ------------------------------------------------------------------------------


def test_save_a_filter(desk, client):
    w = desk.w
    client.force_login(w.l1_agent)
    target = reverse("agent:saved_filter_create", args=["all-open"])
    r = client.post(f"{target}?status=new&page=2&ordering=title&junk=1", {"name": "  New ones "})
    assert r.status_code == 302
    assert r["Location"] == url("all-open", "ordering=title&status=new")
    saved = SavedFilter.objects.get(user=w.l1_agent)
    assert (saved.name, saved.queue, saved.query) == ("New ones", "all-open",
                                                      "ordering=title&status=new")
    html = client.get(r["Location"]).content.decode()
    assert "New ones" in html
    assert 'href="/agent/queues/all-open/?ordering=title&amp;status=new"' in html


def test_a_duplicate_name_is_refused_and_the_text_kept(desk, client):
    w = desk.w
    SavedFilter.objects.create(user=w.l1_agent, name="New ones", query="status=new")
    client.force_login(w.l1_agent)
    target = reverse("agent:saved_filter_create", args=["my-teams"])
    r = client.post(f"{target}?status=assigned", {"name": "new ONES"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "You already have a saved filter named “new ONES”" in html
    assert 'value="new ONES"' in html
    assert SavedFilter.objects.filter(user=w.l1_agent).count() == 1
    r = client.post(target, {"name": "  "})
    assert r.status_code == 200 and "This field is required." in r.content.decode()
    # Another person may use the same name.
    client.force_login(w.l1_agent2)
    assert client.post(target, {"name": "New ones"}).status_code == 302


def test_saved_filters_are_private(desk, client):
    w = desk.w
    saved = SavedFilter.objects.create(user=w.l1_agent, name="Only mine", query="status=new")
    client.force_login(w.l1_agent2)
    assert "Only mine" not in client.get(reverse("agent:home")).content.decode()
    r = client.post(reverse("agent:saved_filter_delete", args=[saved.pk]))
    assert r.status_code == 404
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    client.force_login(w.l1_agent)
    r = client.post(reverse("agent:saved_filter_delete", args=[saved.pk]),
                    {"next": url("mine")})
    assert r.status_code == 302 and r["Location"] == url("mine")
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


def test_delete_does_not_redirect_elsewhere(world, client):
    saved = SavedFilter.objects.create(user=world.l1_agent, name="x")
    client.force_login(world.l1_agent)
    r = client.post(reverse("agent:saved_filter_delete", args=[saved.pk]),
                    {"next": "https://evil.example/"})
    assert r["Location"] == reverse("agent:home")


# --- bulk actions -------------------------------------------------------------------------------


def bulk(client: Any, slug: str, tickets: list[Ticket], query: str = "", stale: tuple = (),
         headers: dict[str, str] | None = None, **data: Any) -> Any:
    values = [f"{t.pk}:{t.version - 1 if t in stale else t.version}" for t in tickets]
    target = reverse("agent:queue_bulk", args=[slug])
    return client.post(f"{target}?{query}" if query else target, {"ticket": values, **data},
                       headers=headers)


def outcomes(response: Any) -> dict[str, tuple[bool, str]]:
    return {o.label: (o.ok, o.message) for o in response.context["bulk_outcomes"]}


def ticked(html: str, ticket: Ticket) -> bool:
    return re.search(rf'value="{ticket.pk}:\d+"\s+id="select-{ticket.pk}" checked', html) is not None


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind))


def test_bulk_assign_reports_each_ticket(desk, client):
    w, d = desk.w, desk
    client.force_login(w.manager)
    r = bulk(client, "all-open", [d.new, d.resolved_recent, d.elsewhere], action="assign",
             assignee=w.l1_agent2.pk)
    assert r.status_code == 200
    result = outcomes(r)
    assert result[d.new.number] == (True, "Done")
    assert result[d.resolved_recent.number] == (
        False, "Only an open ticket can be assigned; reopen it first.")
    assert result[d.elsewhere.number][0] is False
    assert "is not a member of the team" in result[d.elsewhere.number][1]
    d.new.refresh_from_db()
    assert d.new.assignee == w.l1_agent2 and d.new.status == Status.ASSIGNED
    (event,) = events(d.new, EventKind.ASSIGNED)
    assert event.actor == w.manager and event.channel == WEB
    assert not events(d.elsewhere, EventKind.ASSIGNED)
    html = r.content.decode()
    assert "Done: 1; refused: 2." in html
    assert 'data-outcome="refused"' in html and 'data-outcome="done"' in html
    # Refused rows stay ticked for another try; the done one does not.
    assert f'value="{d.elsewhere.pk}:{d.elsewhere.version}"\n' in html
    assert ticked(html, d.elsewhere)
    d.new.refresh_from_db()
    assert not ticked(html, d.new)


def test_bulk_assign_to_a_team(desk, client):
    w, d = desk.w, desk
    client.force_login(w.l1_agent)
    r = bulk(client, "my-teams", [d.new, d.mine], action="assign", team=w.l3.pk)
    assert outcomes(r) == {d.new.number: (True, "Done"), d.mine.number: (True, "Done")}
    d.new.refresh_from_db()
    d.mine.refresh_from_db()
    assert d.new.team == w.l3 and d.new.current_line == 3
    assert d.mine.team == w.l3 and d.mine.assignee is None


def test_bulk_stale_rows_are_refused_the_others_done(desk, client):
    w, d = desk.w, desk
    client.force_login(w.l1_agent)
    r = bulk(client, "my-teams", [d.mine, d.colleague], stale=(d.mine,), action="status",
             status=Status.WAITING_REQUESTER)
    result = outcomes(r)
    assert result[d.mine.number][0] is False
    assert "changed by someone else" in result[d.mine.number][1]
    assert result[d.colleague.number] == (True, "Done")
    d.mine.refresh_from_db()
    d.colleague.refresh_from_db()
    assert d.mine.status == Status.IN_PROGRESS
    assert d.colleague.status == Status.WAITING_REQUESTER
    (event,) = [e for e in events(d.colleague, EventKind.STATUS_CHANGED)
                if e.data["status"][1] == Status.WAITING_REQUESTER]
    assert event.actor == w.l1_agent and event.channel == WEB


def test_bulk_status_refuses_moves_the_workflow_forbids(desk, client):
    w, d = desk.w, desk
    client.force_login(w.manager)
    before = events(d.resolved_recent, EventKind.STATUS_CHANGED)
    r = bulk(client, "recently-resolved", [d.resolved_recent], action="status",
             status=Status.IN_PROGRESS)
    ok, message = outcomes(r)[d.resolved_recent.number]
    assert not ok and "cannot be moved" in message
    assert events(d.resolved_recent, EventKind.STATUS_CHANGED) == before


def test_bulk_escalate(desk, client):
    w, d = desk.w, desk
    client.force_login(w.manager)
    r = bulk(client, "all-open", [d.new, d.escalated], action="escalate", to_team=w.l2.pk,
             summary=SUMMARY)
    result = outcomes(r)
    assert result[d.new.number] == (True, "Done")
    assert result[d.escalated.number] == (
        False, "Escalation goes to a higher line: the ticket is on line 2.")
    d.new.refresh_from_db()
    assert (d.new.team, d.new.current_line, d.new.assignee) == (w.l2, 2, None)
    (event,) = events(d.new, EventKind.ESCALATED)
    assert event.body == SUMMARY and event.channel == WEB and event.actor == w.manager
    assert len(events(d.escalated, EventKind.ESCALATED)) == 1  # only the fixture's


def test_bulk_escalate_needs_a_summary_and_keeps_the_input(desk, client):
    w, d = desk.w, desk
    client.force_login(w.manager)
    r = bulk(client, "all-open", [d.new], action="escalate", summary="Rebooted it twice")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Choose the team to escalate to." in html
    assert ">Rebooted it twice</textarea>" in html
    assert ticked(html, d.new)
    assert "bulk_outcomes" not in r.context or not r.context["bulk_outcomes"]
    r = bulk(client, "all-open", [d.new], action="escalate", to_team=w.l2.pk, summary="")
    assert "Describe what was done and found." in r.content.decode()
    assert f'<option value="{w.l2.pk}" selected>' in r.content.decode()
    # Too short for the action: every ticket reports the action's own message.
    r = bulk(client, "all-open", [d.new], action="escalate", to_team=w.l2.pk, summary="short")
    assert "at least 10 characters" in outcomes(r)[d.new.number][1]
    assert not events(d.new, EventKind.ESCALATED)


def test_bulk_form_errors(desk, client):
    w, d = desk.w, desk
    client.force_login(w.manager)
    assert "Select at least one ticket." in bulk(
        client, "all-open", [], action="assign", team=w.l1.pk).content.decode()
    assert "Choose an agent or a team." in bulk(
        client, "all-open", [d.new], action="assign").content.decode()
    assert "Choose the new status." in bulk(
        client, "all-open", [d.new], action="status").content.decode()
    assert "Choose what to do" in bulk(client, "all-open", [d.new], action="delete").content.decode()
    r = client.post(reverse("agent:queue_bulk", args=["all-open"]),
                    {"ticket": ["x:1", "99999999999999999999999:1"], "action": "assign",
                     "team": w.l2.pk})
    assert r.status_code == 200 and "The selection is not valid" in r.content.decode()
    d.new.refresh_from_db()
    assert d.new.team == w.l1


def test_bulk_cannot_touch_invisible_tickets(desk, client):
    w, d = desk.w, desk
    client.force_login(w.l1_agent)
    r = bulk(client, "my-teams", [d.l2_mine, d.new], action="assign", assignee=w.l1_agent.pk)
    result = outcomes(r)
    assert result[f"#{d.l2_mine.pk}"] == (False, "Ticket not found.")
    assert result[d.new.number] == (True, "Done")
    d.l2_mine.refresh_from_db()
    assert d.l2_mine.assignee == w.l2_agent


def test_bulk_over_htmx_refreshes_results_and_sidebar(desk, client):
    w, d = desk.w, desk
    client.force_login(w.l1_agent)
    r = bulk(client, "unassigned", [d.new], query="ordering=title", action="assign",
             assignee=w.l1_agent.pk, headers={"HX-Request": "true"})
    part = r.content.decode()
    assert "<html" not in part
    assert 'id="queue-sidebar" class="queue-sidebar" hx-swap-oob="true"' in part
    assert sidebar_counts(part)["unassigned"] == 0
    assert sidebar_counts(part)["mine"] == 3
    assert 'name="ordering" value="title"' in part
    assert d.new.pk not in pks(r)


def test_bulk_keeps_the_page_query(desk, client):
    client.force_login(desk.w.manager)
    html = client.get(url("all-open", "status=new&ordering=title")).content.decode()
    assert 'action="/agent/queues/all-open/bulk/?status=new&amp;ordering=title"' in html


# --- pinned query counts ------------------------------------------------------------------------

#: session (1), user (1), sidebar counts (1), saved filters (1), the queue's count (1) and page
#: with its joins (1), the SLA clocks of the page (1), the filter choices: teams, staff,
#: categories, organisations (4).
PAGE_QUERIES = 11
#: session, user, the count and the page, the SLA clocks of the page, and teams and staff for
#: the bulk form.
PARTIAL_QUERIES = 7


def _many(world: Any, count: int) -> None:
    cats = [f.CategoryFactory.create() for _ in range(3)]
    people = [world.requester, world.colleague, world.org_manager, world.outsider]
    for i in range(count):
        t = f.TicketFactory.create(requester=people[i % 4], team=[world.l1, world.l2][i % 2],
                            category=cats[i % 3], is_major=i % 5 == 0)
        if i % 3 == 0:
            agent = world.l1_agent if t.team == world.l1 else world.l2_agent
            actions.assign(t, assignee=agent, actor=agent, channel=WEB)


@pytest.mark.parametrize("size", [25, 100])
def test_query_counts_do_not_grow_with_rows(world, client, django_assert_num_queries, size):
    _many(world, size)
    SavedFilter.objects.create(user=world.manager, name="Critical", query="priority=1")
    client.force_login(world.manager)
    with django_assert_num_queries(PAGE_QUERIES):
        r = client.get(url("all-open", f"page_size={size}"))
    assert len(r.context["rows"]) == size
    with django_assert_num_queries(PARTIAL_QUERIES):
        r = client.get(url("all-open", f"page_size={size}"), HTTP_HX_REQUEST="true")
    assert len(r.context["rows"]) == size
