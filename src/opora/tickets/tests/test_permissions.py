"""The permission matrix over HTTP: every role × every ticket endpoint → the status code, what
the requester side may see of a ticket, and who sees what in the directory endpoints.

A ticket a person may not see answers exactly like a ticket that does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opora.accounts.models import Organisation, Team, User
from opora.catalog.models import Category, Service
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import PUBLIC_EVENT_KINDS, Channel, ResolutionCode
from opora.tickets.models import Attachment, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
WEB = Channel.WEB
NOWHERE = 999_999  # an id no ticket, attachment or person has

ROLES = ["anonymous", "requester", "colleague", "org_manager", "outsider", "other_manager",
         "l1_agent", "l2_agent", "loner", "lead", "manager", "admin"]
#: Who sees the world's ticket (requested by ``requester``, in the L1 team ``l1``).
SEES = {"requester", "org_manager", "l1_agent", "lead", "manager", "admin"}
STAFF = {"l1_agent", "l2_agent", "loner", "lead", "manager", "admin"}


@dataclass(frozen=True)
class Endpoint:
    state: str  # "open", "resolved" or "watched" (l1_agent2 follows the ticket)
    method: str
    action: str
    payload: dict[str, Any] | None
    ok: int
    who: str  # "all": anyone who sees the ticket; "staff": the service desk only


ENDPOINTS = {
    "retrieve": Endpoint("open", "get", "", None, 200, "all"),
    "reply": Endpoint("open", "post", "reply", {"body": "Any news?"}, 201, "all"),
    "note": Endpoint("open", "post", "note", {"body": "Internal finding"}, 201, "staff"),
    "assign": Endpoint("open", "post", "assign", {"assignee": "@l1_agent2"}, 200, "staff"),
    "escalate": Endpoint("open", "post", "escalate",
                         {"to_team": "@l2", "summary": "Restarted twice, error 809 remains."},
                         200, "staff"),
    "status": Endpoint("open", "post", "status", {"status": "in_progress"}, 200, "staff"),
    "resolve": Endpoint("open", "post", "resolve", {"code": "fixed", "resolution": "Done."}, 200,
                        "staff"),
    "close": Endpoint("resolved", "post", "close", {"comment": "Thanks"}, 200, "all"),
    "reopen": Endpoint("resolved", "post", "reopen", {"reason": "Broken again"}, 200, "all"),
    "cancel": Endpoint("open", "post", "cancel", {"reason": "Not needed any more"}, 200, "all"),
    "patch": Endpoint("open", "patch", "", {"title": "Renamed", "impact": 1}, 200, "staff"),
    "watch_self": Endpoint("open", "post", "watchers", {"user": "@me"}, 200, "all"),
    "watch_other": Endpoint("open", "post", "watchers", {"user": "@l1_agent2"}, 200, "staff"),
    "unwatch_other": Endpoint("watched", "delete", "watchers/@l1_agent2", None, 200, "staff"),
}


def login(api: Any, world: Any, role: str) -> User | None:
    if role == "anonymous":
        return None
    user = getattr(world, role)
    api.as_user(user)
    return user


def expected(role: str, who: str, ok: int) -> int:
    if role == "anonymous":
        return 401
    if role not in SEES:
        return 404
    if who == "staff" and role not in STAFF:
        return 403
    return ok


def resolve_refs(value: Any, world: Any, me: User | None) -> Any:
    if isinstance(value, dict):
        return {k: resolve_refs(v, world, me) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("@"):
        return (me.pk if me else NOWHERE) if value == "@me" else getattr(world, value[1:]).pk
    return value


def path(ref: Any, action: str) -> str:
    return f"{TICKETS}{ref}/{action + '/' if action else ''}"


def state_of(ticket: Ticket) -> tuple[Any, ...]:
    t = Ticket.objects.get(pk=ticket.pk)
    return (t.version, t.status, t.title, t.team_id, t.assignee_id, t.updated_at,
            TicketEvent.objects.filter(ticket=t).count(),
            sorted(t.watchers.values_list("pk", flat=True)))


def call(api: Any, endpoint: Endpoint, ref: Any, world: Any, me: User | None) -> Any:
    action = endpoint.action
    if "@" in action:
        head, _, name = action.partition("@")
        action = f"{head}{getattr(world, name).pk}"
    payload = resolve_refs(endpoint.payload, world, me)
    method = getattr(api, endpoint.method)
    if payload is None:
        return method(path(ref, action))
    return method(path(ref, action), payload, format="json")


@pytest.mark.parametrize("name", list(ENDPOINTS))
@pytest.mark.parametrize("role", ROLES)
def test_ticket_endpoint_matrix(world, api, role, name):
    endpoint = ENDPOINTS[name]
    ticket = world.ticket
    if endpoint.state == "resolved":
        actions.resolve(ticket, code=ResolutionCode.FIXED, resolution="Cable replaced.",
                        actor=world.l1_agent, channel=WEB)
    if endpoint.state == "watched":
        actions.add_watcher(ticket, user=world.l1_agent2, actor=world.l1_agent, channel=WEB)
    me = login(api, world, role)
    before = state_of(ticket)
    response = call(api, endpoint, ticket.pk, world, me)
    want = expected(role, endpoint.who, endpoint.ok)
    assert response.status_code == want, (role, name, response.content[:400])
    body = response.json()
    if want >= 400:
        assert set(body) == {"detail", "code"}, body
        assert body["code"] == {401: "not_authenticated", 403: "permission_denied",
                                404: "not_found"}[want]
        assert state_of(ticket) == before  # a refusal changes nothing
    else:
        assert body["id"] == ticket.pk
        if endpoint.method != "get":
            assert state_of(ticket) != before
    if want == 404:
        # Invisible answers exactly like nonexistent, by id and by number.
        assert call(api, endpoint, NOWHERE, world, me).json() == body
        assert call(api, endpoint, "INC-999999", world, me).json() == body
        by_number = call(api, endpoint, ticket.number, world, me)
        assert (by_number.status_code, by_number.json()) == (404, body)
        assert state_of(ticket) == before


@pytest.mark.parametrize("role", ROLES)
def test_list_contains_the_ticket_only_for_who_sees_it(world, api, role):
    login(api, world, role)
    response = api.get(f"{TICKETS}?page_size=200")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    found = [row["number"] for row in response.json()["results"]]
    assert (world.ticket.number in found) == (role in SEES)
    visible = set(Ticket.objects.visible_to(getattr(world, role)).values_list("number", flat=True))
    assert set(found) == visible


def _attachments(world: Any) -> tuple[Attachment, Attachment]:
    ticket = world.ticket

    def file(name: str) -> Any:
        return check_upload(SimpleUploadedFile(name, b"2026-03-01 12:00 error 809\n"), name)

    actions.reply(ticket, body="Log attached", actor=world.requester, channel=WEB,
                  attachments=[file("client.log")])
    actions.add_note(ticket, body="Server side", actor=world.l1_agent, channel=WEB,
                     attachments=[file("server.log")])
    public = Attachment.objects.get(filename="client.log")
    internal = Attachment.objects.get(filename="server.log")
    assert (public.is_public, internal.is_public) == (True, False)
    return public, internal


@pytest.mark.parametrize("role", ROLES)
def test_attachment_download_matrix(world, api, role):
    public, internal = _attachments(world)
    login(api, world, role)
    nowhere = api.get(f"/api/v1/attachments/{NOWHERE}/")
    for attachment, who in ((public, "all"), (internal, "staff")):
        response = api.get(f"/api/v1/attachments/{attachment.pk}/")
        want = expected(role, who, 200)
        if want == 403:
            want = 404  # an internal file does not exist for the requester side
        assert response.status_code == want, (role, attachment.filename)
        if want == 200:
            assert b"".join(response.streaming_content).startswith(b"2026-03-01")
        else:
            assert response.json() == nowhere.json()


# --- what the requester side sees of a ticket --------------------------------------------------


@pytest.fixture
def busy_ticket(world):
    """A ticket with everything the desk does internally, and a public conversation."""
    w, t = world, world.ticket
    log = check_upload(SimpleUploadedFile("trace.log", b"internal trace"), "trace.log")
    actions.assign(t, assignee=w.l1_agent, actor=w.l1_agent, channel=WEB)
    actions.reply(t, body="We are on it.", actor=w.l1_agent, channel=WEB)
    actions.add_note(t, body="Looks like the switch port", actor=w.l1_agent, channel=WEB,
                     attachments=[log])
    actions.add_watcher(t, user=w.l1_agent2, actor=w.l1_agent, channel=WEB)
    actions.add_watcher(t, user=w.colleague, actor=w.l1_agent, channel=WEB)
    actions.update_fields(t, changes={"impact": 1}, actor=w.l1_agent, channel=WEB)
    actions.escalate(t, to_team=w.l2, summary="Port 12 flaps, errors on the interface.",
                     vendor_reference="", actor=w.l1_agent, channel=WEB)
    actions.assign(t, assignee=w.l2_agent, actor=w.l2_agent, channel=WEB)
    actions.reply(t, body="Replaced the patch cord, please check.", actor=w.l2_agent,
                  channel=WEB)
    actions.escalate(t, to_team=w.l4, summary="Firmware bug, vendor case opened.",
                     vendor_reference="VND-77", actor=w.l2_agent, channel=WEB)
    t.refresh_from_db()
    return t


STAFF_NAMES = ("l1_agent", "l1_agent2", "l2_agent")


@pytest.mark.parametrize("role", ["requester", "org_manager", "colleague"])
def test_requester_side_never_sees_the_inside_of_the_desk(world, api, busy_ticket, role):
    t = busy_ticket
    api.as_user(getattr(world, role))
    r = api.get(path(t.pk, ""), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 200, r.content
    body = r.json()
    text = json.dumps(body, ensure_ascii=False)
    for name in STAFF_NAMES:
        assert getattr(world, name).full_name not in text, name
        assert getattr(world, name).email not in text, name
    assert "switch port" not in text and "Port 12" not in text and "VND-77" not in text
    assert "trace.log" not in text
    for field in ("team", "assignee", "current_line", "escalated_at"):
        assert body[field] is None, field
    assert body["vendor_reference"] == ""
    kinds = [e["kind"] for e in body["timeline"]]
    assert set(kinds) <= PUBLIC_EVENT_KINDS
    assert kinds == ["created", "status_changed", "reply", "reply", "status_changed"]
    assert all(e["is_public"] for e in body["timeline"])
    for event in body["timeline"]:
        if event["kind"] != "created":
            assert event["actor"] == {"id": None, "full_name": "Service desk"}, event
    assert body["timeline"][0]["actor"]["id"] == world.requester.pk
    # Watchers of the requester's own side are shown; engineers who follow it are not.
    assert body["watchers"] == [{"id": world.colleague.pk, "full_name": world.colleague.full_name}]
    # The list row hides the routing too.
    [row] = [row for row in api.get(TICKETS).json()["results"] if row["id"] == t.pk]
    assert (row["team"], row["assignee"], row["current_line"], row["escalated_at"]) == (
        None, None, None, None)
    assert not any(getattr(world, n).full_name in json.dumps(row, ensure_ascii=False)
                   for n in STAFF_NAMES)
    # The internal file is not there, not even by its id.
    internal = Attachment.objects.get(filename="trace.log")
    assert api.get(f"/api/v1/attachments/{internal.pk}/").json() == api.get(
        f"/api/v1/attachments/{NOWHERE}/").json()


def test_the_desk_sees_everything_with_names(world, api, busy_ticket):
    t = busy_ticket
    api.as_user(world.manager)
    body = api.get(path(t.pk, "")).json()
    kinds = {e["kind"] for e in body["timeline"]}
    assert {"note", "assigned", "escalated", "fields_changed", "watcher_added"} <= kinds
    assert body["team"]["id"] == world.l4.pk and body["current_line"] == 4
    assert body["vendor_reference"] == "VND-77"
    # Both agents who handed the ticket over keep following it.
    assert {w["id"] for w in body["watchers"]} == {
        world.l1_agent2.pk, world.colleague.pk, world.l1_agent.pk, world.l2_agent.pk}
    actors = {e["actor"]["full_name"] for e in body["timeline"] if e["actor"]}
    assert {world.l1_agent.full_name, world.l2_agent.full_name} <= actors
    [note] = [e for e in body["timeline"] if e["kind"] == "note"]
    assert note["attachments"][0]["filename"] == "trace.log"


def test_after_an_escalation_the_l2_agent_sees_the_ticket(world, api):
    t = world.ticket
    api.as_user(world.l2_agent)
    assert api.get(path(t.pk, "")).status_code == 404
    assert t.number not in [r["number"] for r in api.get(TICKETS).json()["results"]]
    api.as_user(world.l1_agent)
    r = api.post(path(t.pk, "escalate"), {"to_team": world.l2.pk,
                                          "summary": "Checked cabling, error 809 remains."},
                 format="json")
    assert r.status_code == 200, r.json()
    api.as_user(world.l2_agent)
    assert api.get(path(t.pk, "")).status_code == 200
    assert t.number in [r["number"] for r in api.get(TICKETS).json()["results"]]
    r = api.post(path(t.pk, "assign"), {"assignee": world.l2_agent.pk}, format="json")
    assert r.status_code == 200, r.json()
    # Agents of other teams still do not.
    api.as_user(world.loner)
    assert api.get(path(t.pk, "")).status_code == 404


@pytest.mark.parametrize("watcher", ["colleague", "loner", "l2_agent"])
def test_a_watcher_sees_the_ticket(world, api, watcher):
    t = world.ticket
    person = getattr(world, watcher)
    api.as_user(person)
    assert api.get(path(t.pk, "")).status_code == 404
    actions.add_watcher(t, user=person, actor=world.l1_agent, channel=WEB)
    assert api.get(path(t.pk, "")).status_code == 200
    assert t.number in [r["number"] for r in api.get(TICKETS).json()["results"]]
    # Watching is seeing, not working: a requester-side watcher may not note.
    want = 201 if person.is_agent_side else 403
    assert api.post(path(t.pk, "note"), {"body": "n"}, format="json").status_code == want


def test_the_organisation_manager_sees_every_ticket_of_the_organisation(world, api):
    mine = f.TicketFactory.create(requester=world.colleague)
    theirs = f.TicketFactory.create(requester=world.outsider)
    api.as_user(world.org_manager)
    found = {r["number"] for r in api.get(TICKETS).json()["results"]}
    assert {world.ticket.number, mine.number} <= found and theirs.number not in found
    api.as_user(world.other_manager)
    found = {r["number"] for r in api.get(TICKETS).json()["results"]}
    assert found == {theirs.number}


# --- directory endpoints ------------------------------------------------------------------------


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["count"] == len(body["results"])
    return {row["id"] for row in body["results"]}


@pytest.mark.parametrize("role", ROLES)
def test_users_directory(world, api, role):
    me = login(api, world, role)
    r = api.get("/api/v1/users/?page_size=200")
    if me is None:
        assert r.status_code == 401
        assert api.get("/api/v1/users/me/").status_code == 401
        return
    everyone = set(User.objects.values_list("pk", flat=True))
    if role in STAFF:
        want = everyone
    elif role in ("org_manager", "other_manager"):
        want = set(User.objects.filter(organisation=me.organisation).values_list("pk", flat=True))
    else:
        want = {me.pk}
    assert _ids(r) == want
    me_body = api.get("/api/v1/users/me/").json()
    assert (me_body["id"], me_body["email"], me_body["role"]) == (me.pk, me.email, me.role)
    for pk in everyone:
        assert api.get(f"/api/v1/users/{pk}/").status_code == (200 if pk in want else 404)


@pytest.mark.parametrize("role", ROLES)
def test_organisations_teams_and_catalog(world, api, role):
    f.CategoryFactory.create()
    f.ServiceFactory.create(owner_team=world.l2)
    me = login(api, world, role)
    paths = ["/api/v1/organisations/", "/api/v1/teams/", "/api/v1/categories/",
             "/api/v1/services/"]
    if me is None:
        for p in paths:
            assert api.get(p).status_code == 401
        return
    orgs = _ids(api.get("/api/v1/organisations/?page_size=200"))
    teams = _ids(api.get("/api/v1/teams/?page_size=200"))
    if role in STAFF:
        assert orgs == set(Organisation.objects.values_list("pk", flat=True))
        assert teams == set(Team.objects.values_list("pk", flat=True))
        l1 = api.get(f"/api/v1/teams/{world.l1.pk}/").json()
        assert {m["id"] for m in l1["members"]} == {world.l1_agent.pk, world.l1_agent2.pk,
                                                    world.lead.pk}
    else:
        assert orgs == {me.organisation_id}
        assert teams == set()  # who works in which team is the desk's business
        assert api.get(f"/api/v1/teams/{world.l1.pk}/").status_code == 404
        other = world.other_org if me.organisation == world.org else world.org
        assert api.get(f"/api/v1/organisations/{other.pk}/").status_code == 404
    # The catalog is for everyone signed in.
    assert _ids(api.get("/api/v1/categories/?page_size=200")) == set(
        Category.objects.values_list("pk", flat=True))
    assert _ids(api.get("/api/v1/services/?page_size=200")) == set(
        Service.objects.values_list("pk", flat=True))


@pytest.mark.parametrize("action,payload,state", [
    ("close", {}, "resolved"), ("reopen", {"reason": "Broken again"}, "resolved"),
    ("cancel", {"reason": "Not needed"}, "open"),
])
def test_a_watching_colleague_may_not_decide_for_the_requester(world, api, action, payload, state):
    actions.add_watcher(world.ticket, user=world.colleague, actor=world.l1_agent, channel=WEB)
    if state == "resolved":
        actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="Done.",
                        actor=world.l1_agent, channel=WEB)
    before = state_of(world.ticket)
    api.as_user(world.colleague)
    response = api.post(path(world.ticket.pk, action), payload, format="json")
    assert response.status_code == 403, response.json()
    assert state_of(world.ticket) == before
    # The organisation manager may.
    api.as_user(world.org_manager)
    assert api.post(path(world.ticket.pk, action), payload, format="json").status_code == 200
