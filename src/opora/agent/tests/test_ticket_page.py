"""The agent's ticket page: who sees it, what it shows, and every form on it going through the
ticket actions (with the version guard, errors next to the form and nothing typed lost)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opora.agent.models import CannedResponse
from opora.agent.ticket import present
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import Channel, EventKind, Priority, ResolutionCode, Status
from opora.tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db

WEB = Channel.WEB
HX = {"HTTP_HX_REQUEST": "true"}

#: session (1), user (1), the ticket through the funnel with its joins (1), the agent's teams
#: (1), active teams (1), members of the ticket's team (1), categories (1), services (1), the
#: requester's other open tickets (1), timeline events with actors (1), their attachments (1),
#: watchers (1), canned responses (1), operator scripts from the knowledge base (1), the SLA card:
#: active agreements (1), the current clocks (1) and the SLA timeline (1), and the workspace
#: sidebar: queue counts (1) and saved filters (1). (The knowledge-base card loads by htmx.)
PAGE_QUERIES = 19
#: session (1), user (1), the ticket's version and last actor through the funnel (1).
POLL_QUERIES = 3


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def url(ticket: Ticket, tail: str = "") -> str:
    return f"/agent/tickets/{ticket.number}/{tail}"


def post(client: Any, ticket: Ticket, action: str, data: dict[str, Any] | None = None,
         *, version: int | None = None, htmx: bool = False) -> Any:
    ticket.refresh_from_db()
    payload = {"version": ticket.version if version is None else version, **(data or {})}
    return client.post(url(ticket, f"{action}/"), payload, **(HX if htmx else {}))


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind))


# --- who may open the page -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["l1_agent", "l1_agent2", "lead", "manager", "admin"])
def test_the_page_opens_for_the_desk_that_may_see_the_ticket(world, client, who):
    client.force_login(getattr(world, who))
    r = client.get(url(world.ticket))
    assert r.status_code == 200
    html = r.content.decode()
    assert world.ticket.number in html and world.ticket.title in html
    assert "<html" in html  # the full page


def test_the_page_also_opens_by_primary_key(world, client):
    client.force_login(world.l1_agent)
    assert client.get(f"/agent/tickets/{world.ticket.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["loner", "l2_agent"])
def test_agents_of_other_teams_get_404(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get(url(world.ticket)).status_code == 404
    assert post(client, world.ticket, "note", {"body": "x"}).status_code == 404
    assert client.get(url(world.ticket, "version/?v=1")).status_code == 404
    assert not events(world.ticket, EventKind.NOTE)


@pytest.mark.parametrize("who,sees", [("requester", True), ("org_manager", True),
                                       ("outsider", False), ("other_manager", False)])
def test_requesters_are_sent_to_the_portal_and_refused_posts(world, client, who, sees):
    client.force_login(getattr(world, who))
    r = client.get(url(world.ticket))
    # Their own view of the request, where the portal answers 404 to other organisations.
    assert r.status_code == 302 and r["Location"] == f"/portal/requests/{world.ticket.number}/"
    assert client.get(r["Location"]).status_code == (200 if sees else 404)
    for page in ("version/?v=1", "next/", "watchers/search/?q=ab"):
        assert client.get(url(world.ticket, page))["Location"] == "/portal/"
    assert client.get(url(world.ticket), **HX).status_code == 403
    assert post(client, world.ticket, "reply", {"body": "hi"}).status_code == 403
    assert post(client, world.ticket, "resolve", {"code": "fixed", "resolution": "x"}
                ).status_code == 403
    assert not events(world.ticket, EventKind.REPLY)


def test_anonymous_people_sign_in_first(world, client):
    r = client.get(url(world.ticket))
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_a_ticket_that_does_not_exist_is_404(world, client):
    client.force_login(world.manager)
    assert client.get("/agent/tickets/INC-999999/").status_code == 404
    assert client.get("/agent/tickets/99999999999999999999/").status_code == 404


# --- what it shows -------------------------------------------------------------------------------


def test_header_and_requester_card(world, client):
    w = world
    w.requester.phone = "+7 495 100-00-01"
    w.requester.save()
    actions.update_fields(w.ticket, changes={"is_major": True}, actor=w.l1_agent, channel=WEB)
    actions.escalate(w.ticket, to_team=w.l2, summary="Rebooted the switch, no link.",
                     actor=w.l1_agent, channel=WEB)
    client.force_login(w.l2_agent)
    html = client.get(url(w.ticket)).content.decode()
    assert "escalated — waiting for line 2" in html
    assert "Major incident" in html
    assert "Network" in html and ">Assigned<" in html
    assert w.requester.full_name in html and w.org.name in html
    assert "+7 495 100-00-01" in html and w.requester.email in html
    # Once someone works on it, it no longer waits for the line.
    actions.assign(w.ticket, assignee=w.l2_agent, actor=w.l2_agent, channel=WEB)
    assert "waiting for line" not in client.get(url(w.ticket)).content.decode()


def test_the_requesters_other_open_tickets_are_those_the_agent_may_see(world, client):
    w = world
    mine = f.TicketFactory.create(requester=w.requester, title="Scanner jammed", team=w.l1)
    hidden = f.TicketFactory.create(requester=w.requester, title="Secret elsewhere", team=w.elsewhere)
    done = f.TicketFactory.create(requester=w.requester, title="Old and resolved", team=w.l1)
    actions.resolve(done, code=ResolutionCode.FIXED, resolution="ok", actor=w.l1_agent,
                    channel=WEB)
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    card = html[html.index('id="requester-heading"'):html.index('id="workflow-heading"')]
    assert mine.number in card
    assert hidden.number not in card and "Secret elsewhere" not in html
    assert done.number not in card
    assert w.ticket.title not in card  # not the ticket itself


def test_internal_notes_are_set_apart_from_public_replies(world, client):
    w = world
    actions.reply(w.ticket, body="Please restart the printer.", actor=w.l1_agent, channel=WEB)
    actions.add_note(w.ticket, body="Toner is fine, it is the fuser.", actor=w.l1_agent,
                     channel=WEB)
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    note = re.search(r'<li class="[^"]*timeline-note is-internal"[^>]*>.*?</li>', html, re.S)
    assert note and "Toner is fine" in note.group(0) and "Internal note" in note.group(0)
    reply = re.search(r'<li class="[^"]*timeline-reply"[^>]*>.*?</li>', html, re.S)
    assert reply and "Please restart" in reply.group(0) and "Public reply" in reply.group(0)
    assert "Internal note" not in reply.group(0)


def test_changes_read_as_one_liners(world, client):
    w = world
    actions.assign(w.ticket, team=w.l2, actor=w.l1_agent, channel=WEB)
    actions.update_fields(w.ticket, changes={"impact": 1}, actor=w.manager, channel=WEB)
    actions.add_watcher(w.ticket, user=w.colleague, actor=w.manager, channel=WEB)
    client.force_login(w.manager)
    html = client.get(url(w.ticket)).content.decode()
    assert "<strong>Ольга Первова</strong> assigned to Network" in html
    assert "changed the status: New → Assigned" in html
    assert "changed impact: Medium → High" in html
    assert "changed priority: Medium → High" in html
    assert f"added {w.colleague.full_name} as a watcher" in html


def test_one_liners_for_every_kind_of_event(world):
    w = world
    t = w.ticket
    actions.assign(t, assignee=w.l1_agent, actor=w.l1_agent, channel=WEB)
    actions.assign(t, assignee=None, actor=w.lead, channel=WEB)
    actions.escalate(t, to_team=w.l4, summary="Vendor must replace the board.",
                     vendor_reference="HP-123", actor=w.l1_agent, channel=WEB)
    actions.resolve(t, code=ResolutionCode.FIXED, resolution="Board replaced.", actor=w.manager,
                    channel=WEB)
    actions.close(t, actor=w.requester, channel=Channel.PORTAL)
    actions.reopen(t, reason="Broken again", actor=w.manager, channel=WEB)
    actions.cancel(t, reason="Duplicate of another", actor=w.manager, channel=WEB)
    actions.add_watcher(t, user=w.manager, actor=w.manager, channel=WEB)
    actions.remove_watcher(t, user=w.manager, actor=w.manager, channel=WEB)
    rows = present(TicketEvent.objects.filter(ticket=t).select_related("actor")
                   .prefetch_related("attachments"))
    text = [(r.actor, " ".join(str(line) for line in r.lines)) for r in rows]
    assert ("Ольга Первова", "took the ticket") in text
    assert (w.lead.full_name, "removed the assignee Ольга Первова") in text
    assert ("Ольга Первова", "escalated to Vendor (line 4) vendor reference: HP-123") in text
    assert (w.manager.full_name, "resolved the ticket: Fixed") in text
    assert (w.requester.full_name, "confirmed the resolution and closed the ticket") in text
    assert (w.manager.full_name, "reopened the ticket") in text
    assert (w.manager.full_name, "cancelled the ticket") in text
    assert (w.manager.full_name, "started watching") in text
    assert (w.manager.full_name, "stopped watching") in text
    escalation = next(r for r in rows if r.event.kind == EventKind.ESCALATED)
    assert escalation.style == "internal" and escalation.body.startswith("Vendor must")


def test_bodies_are_markdown_and_sanitised(world, client):
    w = world
    actions.reply(w.ticket, body="**bold** <script>alert(1)</script> [x](javascript:alert(2))",
                  actor=w.requester, channel=Channel.PORTAL)
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)" not in html and "javascript:alert" not in html


def test_attachments_link_to_the_download_endpoint(world, client):
    w = world
    upload = check_upload(SimpleUploadedFile("log.txt", b"error 42"), "log.txt")
    event = actions.add_note(w.ticket, body="see log", attachments=[upload], actor=w.l1_agent,
                             channel=WEB)
    attachment = event.attachments.get()
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    assert f'href="/api/v1/attachments/{attachment.pk}/"' in html and "log.txt" in html
    r = client.get(f"/api/v1/attachments/{attachment.pk}/")  # the session is enough
    assert r.status_code == 200 and b"".join(r.streaming_content) == b"error 42"


def test_canned_responses_of_my_teams_or_everyone_in_the_requesters_language(world, client):
    w = world
    w.requester.language = "ru"
    w.requester.save()
    CannedResponse.objects.create(title="For all", body="Hello **all**")
    CannedResponse.objects.create(title="Desk RU", body="Здравствуйте", team=w.l1, language="ru")
    CannedResponse.objects.create(title="Desk EN", body="Hello", team=w.l1, language="en")
    CannedResponse.objects.create(title="Network only", body="ping", team=w.l2)
    CannedResponse.objects.create(title="Retired", body="old", is_active=False)
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    assert "For all" in html and "Desk RU" in html
    assert 'data-body="Hello **all**"' in html
    for absent in ("Desk EN", "Network only", "Retired"):
        assert absent not in html


def test_only_the_allowed_transitions_are_offered(world, client):
    w = world
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    assert 'id="resolve-panel"' in html and 'id="cancel-panel"' in html
    assert 'name="status" value="in_progress"' in html
    assert 'id="close-form"' not in html and 'id="reopen-panel"' not in html

    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="Done", actor=w.l1_agent,
                    channel=WEB)
    html = client.get(url(w.ticket)).content.decode()
    assert 'id="close-form"' in html and 'id="reopen-panel"' in html
    assert 'id="resolve-panel"' not in html and 'id="cancel-panel"' not in html
    assert 'name="status"' not in html
    # A resolved ticket is no longer assigned or escalated from the page either.
    assert 'id="assign-panel"' not in html and 'id="escalate-panel"' not in html


def test_polling_and_the_shortcuts_are_on_the_page(world, client):
    client.force_login(world.l1_agent)
    html = client.get(url(world.ticket, "?queue=mine")).content.decode()
    assert f'hx-get="/agent/tickets/{world.ticket.number}/version/?v={world.ticket.version}' in html
    assert 'hx-trigger="every 12s"' in html
    assert f'data-next-url="/agent/tickets/{world.ticket.number}/next/?queue=mine"' in html
    assert 'id="shortcuts-help" popover' in html and "<kbd>r</kbd>" in html
    assert "agent/ticket.js" in html
    assert "<script>" not in html and "onclick" not in html  # CSP: no inline scripts
    # Every form carries the version and the queue the agent came from.
    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    assert len(forms) >= 8
    for form in forms:
        assert f'name="version" value="{world.ticket.version}"' in form
        assert 'name="queue" value="mine"' in form


# --- the forms -----------------------------------------------------------------------------------


def test_reply_is_sent_and_redirects(world, client):
    client.force_login(world.l1_agent)
    r = post(client, world.ticket, "reply", {"body": "We are on it."})
    assert r.status_code == 302 and r["Location"] == url(world.ticket)
    [event] = events(world.ticket, EventKind.REPLY)
    assert event.body == "We are on it." and event.actor == world.l1_agent
    assert event.channel == WEB and event.is_public
    html = client.get(r["Location"]).content.decode()
    assert "Reply sent." in html


def test_reply_with_files_and_a_refused_file(world, client):
    w = world
    client.force_login(w.l1_agent)
    good = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    bad = SimpleUploadedFile("tool.exe", b"MZ" + b"0" * 64)
    r = post(client, w.ticket, "reply", {"body": "See the *screenshot*", "attachments": [good, bad]})
    assert r.status_code == 400
    html = r.content.decode()
    assert "Files of type “.exe” are not accepted." in html
    assert "See the *screenshot*</textarea>" in html
    assert not events(w.ticket, EventKind.REPLY)
    good.seek(0)
    r = post(client, w.ticket, "reply", {"body": "See it", "attachments": [good]})
    assert r.status_code == 302
    [event] = events(w.ticket, EventKind.REPLY)
    assert [a.filename for a in event.attachments.all()] == ["screen.png"]


def test_note_is_internal(world, client):
    client.force_login(world.l1_agent)
    assert post(client, world.ticket, "note", {"body": "Checked the logs"}).status_code == 302
    [event] = events(world.ticket, EventKind.NOTE)
    assert not event.is_public and event.channel == WEB


def test_an_empty_message_is_refused_and_the_other_editor_keeps_its_place(world, client):
    client.force_login(world.l1_agent)
    r = post(client, world.ticket, "note", {"body": "   "})
    assert r.status_code == 400
    html = r.content.decode()
    assert "Write a message or attach a file." in html
    # The note tab is the one open, so the error is visible.
    assert 'class="nav-link active" id="tab-note"' in html
    assert not events(world.ticket, EventKind.NOTE)


def test_change_status_with_a_comment(world, client):
    w = world
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "status", {"status": "in_progress", "comment": "Looking now"})
    assert r.status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.status == Status.IN_PROGRESS and w.ticket.assignee == w.l1_agent
    [event] = events(w.ticket, EventKind.STATUS_CHANGED)[-1:]
    assert event.body == "Looking now" and event.data["status"] == ["new", "in_progress"]


def test_a_move_the_workflow_refuses_is_shown_not_applied(world, client):
    w = world
    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="ok", actor=w.l1_agent,
                    channel=WEB)
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "status", {"status": "in_progress", "comment": "again"})
    assert r.status_code == 400
    html = r.content.decode()
    # The status buttons are gone from a resolved ticket: the message and the comment typed are
    # shown at the top of the page instead.
    alert = html[html.index('id="orphan-alert"'):]
    assert "cannot be moved to" in alert and "\nagain</textarea>" in alert
    w.ticket.refresh_from_db()
    assert w.ticket.status == Status.RESOLVED


def test_a_stale_form_that_no_longer_applies_keeps_its_text_at_the_top(world, client):
    w = world
    seen = w.ticket.version
    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="Done by a colleague",
                    actor=w.l1_agent2, channel=WEB)
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "resolve", {"code": "fixed", "resolution": "My own words"},
             version=seen)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone else changed this ticket" in html
    assert 'id="resolve-panel"' not in html
    assert "\nMy own words</textarea>" in html[html.index('id="orphan-alert"'):]


def test_resolve_needs_a_code_and_a_text(world, client):
    w = world
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "resolve", {"code": "workaround", "resolution": ""})
    assert r.status_code == 400
    html = r.content.decode()
    assert '<details id="resolve-panel" open>' in html
    assert '<option value="workaround" selected>' in html
    assert "This field is required." in html
    r = post(client, w.ticket, "resolve", {"code": "workaround", "resolution": "Use the web mail"})
    assert r.status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.status == Status.RESOLVED and w.ticket.resolution_code == "workaround"
    assert events(w.ticket, EventKind.RESOLVED)


def test_close_reopen_and_cancel(world, client):
    w = world
    client.force_login(w.l1_agent)
    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="ok", actor=w.l1_agent,
                    channel=WEB)
    r = post(client, w.ticket, "reopen", {"reason": ""})
    assert r.status_code == 400 and '<details id="reopen-panel" open>' in r.content.decode()
    assert post(client, w.ticket, "reopen", {"reason": "Still broken"}).status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.status == Status.ASSIGNED and events(w.ticket, EventKind.REOPENED)
    actions.resolve(w.ticket, code=ResolutionCode.FIXED, resolution="ok", actor=w.l1_agent,
                    channel=WEB)
    assert post(client, w.ticket, "close", {"comment": "Confirmed by phone"}).status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.status == Status.CLOSED
    other = f.TicketFactory.create(requester=w.requester)
    r = post(client, other, "cancel", {"reason": "Not IT's business"})
    assert r.status_code == 302
    other.refresh_from_db()
    assert other.status == Status.CANCELLED
    assert events(other, EventKind.CANCELLED)[0].body == "Not IT's business"


def test_assign_to_a_team_member(world, client):
    w = world
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "assign", {"team": w.l1.pk, "assignee": w.l1_agent2.pk})
    assert r.status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.assignee == w.l1_agent2
    assert events(w.ticket, EventKind.ASSIGNED)


def test_assigning_someone_outside_the_team_is_refused_with_the_choice_kept(world, client):
    w = world
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "assign", {"team": w.l1.pk, "assignee": w.l2_agent.pk})
    assert r.status_code == 400
    html = r.content.decode()
    assert "is not a member of the team" in html
    assert '<details id="assign-panel" open>' in html
    assert not events(w.ticket, EventKind.ASSIGNED)


def test_assigning_to_a_team_i_am_not_in_takes_me_back_to_my_queue(world, client):
    w = world
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "assign", {"team": w.l2.pk, "assignee": "", "queue": "my-teams"})
    assert r.status_code == 302 and r["Location"] == "/agent/queues/my-teams/"
    w.ticket.refresh_from_db()
    assert w.ticket.team == w.l2
    r = post(client, f.TicketFactory.create(requester=w.requester), "assign",
             {"team": w.l2.pk, "assignee": ""}, htmx=True)
    assert r.status_code == 204 and r["HX-Redirect"] == "/agent/"


def test_take_it(world, client):
    w = world
    client.force_login(w.l1_agent2)
    assert 'id="take-form"' in client.get(url(w.ticket)).content.decode()
    assert post(client, w.ticket, "take").status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.assignee == w.l1_agent2 and w.ticket.status == Status.ASSIGNED
    assert 'id="take-form"' not in client.get(url(w.ticket)).content.decode()


def test_escalate_needs_a_summary_and_a_higher_line(world, client):
    w = world
    client.force_login(w.l1_agent)
    html = client.get(url(w.ticket)).content.decode()
    panel = html[html.index('id="escalate-panel"'):]
    panel = panel[:panel.index("</details>")]
    assert "Network" in panel and "Vendor" in panel and "Elsewhere" not in panel
    r = post(client, w.ticket, "escalate", {"to_team": w.l2.pk, "summary": "short"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "at least 10 characters" in html and "\nshort</textarea>" in html
    r = post(client, w.ticket, "escalate", {"to_team": w.elsewhere.pk, "summary": "x" * 20})
    assert r.status_code == 400  # not a team of a higher line
    r = post(client, w.ticket, "escalate",
             {"to_team": w.l4.pk, "summary": "Board is dead, vendor to replace",
              "vendor_reference": "HP-42"})
    assert r.status_code == 302  # the L1 agent no longer sees it: back to the queues
    w.ticket.refresh_from_db()
    assert w.ticket.current_line == 4 and w.ticket.vendor_reference == "HP-42"
    assert w.ticket.status == Status.WAITING_VENDOR
    assert events(w.ticket, EventKind.ESCALATED)[0].body == "Board is dead, vendor to replace"


def test_reclassify(world, client):
    w = world
    category = f.CategoryFactory.create()
    service = f.ServiceFactory.create()
    client.force_login(w.l1_agent)
    data = {"title": "Printer on floor 3 is dead", "type": "incident", "category": category.pk,
            "service": service.pk, "impact": 1, "urgency": 1, "priority": "", "is_major": "on"}
    assert post(client, w.ticket, "fields", data).status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.title == "Printer on floor 3 is dead" and w.ticket.category == category
    assert w.ticket.priority == Priority.CRITICAL and w.ticket.is_major
    [event] = events(w.ticket, EventKind.FIELDS_CHANGED)
    assert set(event.data) == {"title", "category", "service", "impact", "urgency", "priority",
                               "is_major"}
    # An explicit override wins over the matrix; only what differs is sent.
    data.update(priority=Priority.LOW, is_major="on")
    assert post(client, w.ticket, "fields", data).status_code == 302
    w.ticket.refresh_from_db()
    assert w.ticket.priority == Priority.LOW
    assert set(events(w.ticket, EventKind.FIELDS_CHANGED)[-1].data) == {"priority"}
    # Nothing changed: the action says so, next to the form.
    r = post(client, w.ticket, "fields", data)
    assert r.status_code == 400 and "Nothing to change." in r.content.decode()


def test_reclassify_with_a_bad_value_keeps_the_title_typed(world, client):
    client.force_login(world.l1_agent)
    r = post(client, world.ticket, "fields", {"title": "New title typed", "type": "bogus",
                                               "impact": 2, "urgency": 2})
    assert r.status_code == 400
    html = r.content.decode()
    assert 'value="New title typed"' in html and '<details id="fields-panel" open>' in html


def test_watchers_add_search_and_remove(world, client):
    w = world
    inactive = f.RequesterFactory.create(organisation=w.org, full_name="Ghost Colleague",
                                  is_active=False)
    client.force_login(w.l1_agent)
    r = client.get(url(w.ticket, "watchers/search/?q=" + w.colleague.full_name[:6]), **HX)
    assert r.status_code == 200
    html = r.content.decode()
    assert w.colleague.full_name in html
    assert w.outsider.full_name not in html  # another organisation cannot watch
    r = client.get(url(w.ticket, "watchers/search/?q=Ghost"), **HX)
    assert inactive.full_name not in r.content.decode()
    assert post(client, w.ticket, "watch", {"user": w.colleague.pk}).status_code == 302
    assert list(w.ticket.watchers.all()) == [w.colleague]
    assert events(w.ticket, EventKind.WATCHER_ADDED)
    html = client.get(url(w.ticket)).content.decode()
    assert 'id="watcher-list"' in html and w.colleague.email in html
    # Someone of another organisation: the action refuses, the page says why.
    r = post(client, w.ticket, "watch", {"user": w.outsider.pk})
    assert r.status_code == 400 and "Only people of the ticket" in r.content.decode()
    assert post(client, w.ticket, "unwatch", {"user": w.colleague.pk}).status_code == 302
    assert not w.ticket.watchers.exists()
    assert events(w.ticket, EventKind.WATCHER_REMOVED)


def test_team_members_for_the_assign_dialog(world, client):
    client.force_login(world.l1_agent)
    r = client.get(f"/agent/team-members/?team={world.l2.pk}", **HX)
    html = r.content.decode()
    assert world.l2_agent.full_name in html and world.l1_agent.full_name not in html
    r = client.get("/agent/team-members/?team=abc", **HX)
    assert r.status_code == 200 and "<option" in r.content.decode()


# --- lost updates --------------------------------------------------------------------------------


def test_a_stale_version_is_refused_with_the_text_kept(world, client):
    w = world
    seen = w.ticket.version
    actions.reply(w.ticket, body="Meanwhile, a colleague answered.", actor=w.l1_agent2,
                  channel=WEB)
    client.force_login(w.l1_agent)
    r = post(client, w.ticket, "reply", {"body": "My long careful answer"}, version=seen)
    assert r.status_code == 409
    html = r.content.decode()
    assert "Someone else changed this ticket" in html
    assert "changed by someone else" in html
    assert "\nMy long careful answer</textarea>" in html
    # The current state is shown (with the colleague's reply), and the forms carry the new version.
    assert "Meanwhile, a colleague answered." in html
    w.ticket.refresh_from_db()
    assert f'name="version" value="{w.ticket.version}"' in html
    assert len(events(w.ticket, EventKind.REPLY)) == 1


@pytest.mark.parametrize("action,data", [
    ("status", {"status": "in_progress"}),
    ("resolve", {"code": "fixed", "resolution": "Done"}),
    ("assign", {"team": "l1", "assignee": ""}),
    ("fields", {"title": "Changed", "type": "incident", "impact": 2, "urgency": 2}),
    ("cancel", {"reason": "Not needed"}),
])
def test_every_ticket_form_refuses_a_stale_version(world, client, action, data):
    w = world
    data = {k: (w.l1.pk if v == "l1" else v) for k, v in data.items()}
    seen = w.ticket.version
    actions.add_note(w.ticket, body="x", actor=w.l1_agent2, channel=WEB)
    client.force_login(w.lead)
    before = w.ticket.events.count()
    r = post(client, w.ticket, action, data, version=seen)
    assert r.status_code == 409 and "Someone else changed this ticket" in r.content.decode()
    assert w.ticket.events.count() == before


def test_a_form_without_a_version_is_refused(world, client):
    client.force_login(world.l1_agent)
    r = client.post(url(world.ticket, "note/"), {"body": "no version"})
    assert r.status_code == 400
    assert not events(world.ticket, EventKind.NOTE)


def test_an_unknown_action_is_404(world, client):
    client.force_login(world.l1_agent)
    assert post(client, world.ticket, "delete", {}).status_code == 404
    assert client.get(url(world.ticket, "reply/")).status_code == 405


# --- htmx ----------------------------------------------------------------------------------------


def test_htmx_gets_the_fragment(world, client):
    client.force_login(world.l1_agent)
    r = client.get(url(world.ticket), **HX)
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="ticket-main"')


def test_htmx_post_returns_the_updated_fragment(world, client):
    client.force_login(world.l1_agent)
    r = post(client, world.ticket, "note", {"body": "Swapped in place"}, htmx=True)
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html
    assert "Internal note added." in html and "Swapped in place" in html
    world.ticket.refresh_from_db()
    assert f"version/?v={world.ticket.version}" in html


def test_htmx_errors_come_back_as_a_swappable_fragment(world, client):
    client.force_login(world.l1_agent)
    r = post(client, world.ticket, "cancel", {"reason": ""}, htmx=True)
    assert r.status_code == 200  # htmx swaps only 2xx answers
    html = r.content.decode()
    assert "<html" not in html and '<details id="cancel-panel" open>' in html


# --- live changes --------------------------------------------------------------------------------


def test_the_version_poll(world, client, django_assert_num_queries):
    w = world
    client.force_login(w.l1_agent)
    v = w.ticket.version
    with django_assert_num_queries(POLL_QUERIES):
        r = client.get(url(w.ticket, f"version/?v={v}"), **HX)
    assert r.status_code == 204
    actions.add_note(w.ticket, body="x", actor=w.l1_agent2, channel=WEB)
    with django_assert_num_queries(POLL_QUERIES):
        r = client.get(url(w.ticket, f"version/?v={v}"), **HX)
    assert r.status_code == 286  # htmx stops polling; the banner stays
    html = r.content.decode()
    assert f"This ticket was changed by {w.l1_agent2.full_name}." in html
    assert f'href="{url(w.ticket)}"' in html
    actions.add_note(w.ticket, body="y", actor=w.l1_agent, channel=WEB)
    r = client.get(url(w.ticket, f"version/?v={v}"), **HX)
    assert "You changed this ticket in another window." in r.content.decode()
    assert client.get(url(w.ticket, "version/?v=x"), **HX).status_code == 204


# --- the next ticket -----------------------------------------------------------------------------


def test_next_ticket_of_the_queue_i_came_from(world, client):
    w = world
    second = f.TicketFactory.create(requester=w.colleague, team=w.l1)
    third = f.TicketFactory.create(requester=w.colleague, team=w.l1)
    for t in (w.ticket, third):
        actions.assign(t, assignee=w.l1_agent, actor=w.l1_agent, channel=WEB)
    client.force_login(w.l1_agent)
    # "My tickets", newest first: third, then the first ticket; the second is not mine.
    r = client.get(url(third, "next/?queue=mine"))
    assert r["Location"] == url(w.ticket) + "?queue=mine"
    r = client.get(url(w.ticket, "next/?queue=mine"))
    assert r["Location"] == url(w.ticket) + "?queue=mine"  # the end of the queue
    # The queue is also read from the Referer.
    r = client.get(url(third, "next/"), HTTP_REFERER="http://testserver/agent/queues/my-teams/")
    assert r["Location"] == url(second) + "?queue=my-teams"
    # Unknown: the next open ticket of my teams by creation time, wrapping round.
    assert client.get(url(w.ticket, "next/"))["Location"] == url(second)
    assert client.get(url(third, "next/"))["Location"] == url(w.ticket)


def test_the_queue_from_the_referer_is_carried_on_the_page(world, client):
    client.force_login(world.l1_agent)
    html = client.get(url(world.ticket),
                      HTTP_REFERER="http://testserver/agent/queues/unassigned/?ordering=-priority"
                      ).content.decode()
    assert 'name="queue" value="unassigned"' in html
    html = client.get(url(world.ticket), HTTP_REFERER="http://evil.example/agent/queues/x/"
                      ).content.decode()
    assert 'name="queue"' not in html


# --- query counts --------------------------------------------------------------------------------


def _busy_ticket(world: Any, n: int) -> Ticket:
    """A ticket with ``n`` events of every kind, from several people, some with files."""
    w = world
    t = f.TicketFactory.create(requester=w.requester, team=w.l1)
    people = [w.l1_agent, w.l1_agent2, w.lead, w.manager]
    CannedResponse.objects.create(title="Hello", body="Hello")
    f.TicketFactory.create(requester=w.requester, team=w.l1)
    actions.add_watcher(t, user=w.colleague, actor=w.manager, channel=WEB)
    actions.add_watcher(t, user=w.lead, actor=w.lead, channel=WEB)
    for i in range(n - 3):
        who = people[i % len(people)]
        files = [check_upload(SimpleUploadedFile(f"f{i}.txt", b"x"), f"f{i}.txt")] \
            if i % 3 == 0 else []
        if i % 4 == 0:
            actions.add_note(t, body=f"note {i}", attachments=files, actor=who, channel=WEB)
        elif i % 4 == 1:
            actions.reply(t, body=f"reply {i}", attachments=files, actor=who, channel=WEB)
        elif i % 4 == 2:
            actions.update_fields(t, changes={"impact": 1 + i % 3}, actor=who, channel=WEB)
        else:
            actions.reply(t, body=f"answer {i}", actor=w.requester, channel=Channel.PORTAL)
    assert t.events.count() == n
    return t


@pytest.mark.parametrize("n", [3, 40])
def test_the_page_costs_the_same_for_3_and_40_events(world, client, django_assert_num_queries, n):
    t = _busy_ticket(world, n)
    client.force_login(world.l1_agent)
    with django_assert_num_queries(PAGE_QUERIES):
        r = client.get(url(t))
    assert r.status_code == 200
    assert len(re.findall(r'id="event-\d+"', r.content.decode())) == n
