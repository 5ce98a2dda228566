"""The ticket API over HTTP: every endpoint through the DRF test client and Django's full request
handling — input, what is recorded, the answer, and the JSON error shape of every refusal."""

from __future__ import annotations

import functools
import json
import os
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from opora.accounts.models import Line
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel, EventKind, Priority, ResolutionCode, Status, TicketType
from opora.tickets.models import Attachment, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
WEB = Channel.WEB


def url(ticket: Ticket | str | int, action: str = "") -> str:
    ref = ticket.pk if isinstance(ticket, Ticket) else ticket
    return f"{TICKETS}{ref}/{action + '/' if action else ''}"


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A refusal: the expected 4xx, JSON ``{"detail": str, "code": str, ...}``."""
    assert response.status_code == status, (response.status_code, response.content[:600])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    if status == 400 and body["code"] == "invalid":
        assert isinstance(body.get("errors"), dict) and body["errors"], body
    return body


def numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:600]
    return [row["number"] for row in response.json()["results"]]


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"
           ) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def snapshot(ticket: Ticket) -> tuple[Any, ...]:
    """What must not move when a request is refused."""
    t = Ticket.objects.get(pk=ticket.pk)
    return (t.version, t.status, t.title, t.team_id, t.assignee_id, t.priority, t.updated_at,
            t.current_line, TicketEvent.objects.filter(ticket=t).count(),
            Attachment.objects.filter(ticket=t).count(), sorted(t.watchers.values_list("pk", flat=True)))


def resolved(ticket: Ticket, agent: Any) -> Ticket:
    return actions.resolve(ticket, code=ResolutionCode.FIXED, resolution="Replaced the cable.",
                           actor=agent, channel=WEB)


# --- create -----------------------------------------------------------------------------------


def test_requester_creates_a_ticket_as_json(world, api):
    api.as_user(world.requester)
    r = api.post(TICKETS, {"title": "  VPN does not connect  ", "description": "Error 809",
                           "type": "request", "impact": 1, "urgency": 1}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    ticket = Ticket.objects.get(pk=body["id"])
    assert body["number"] == ticket.number == f"REQ-{ticket.pk:06d}"
    assert r["ETag"] == '"1"' and body["version"] == 1
    assert ticket.title == body["title"] == "VPN does not connect"
    assert ticket.description == "Error 809"
    assert ticket.type == TicketType.REQUEST
    assert ticket.requester == world.requester and ticket.organisation == world.org
    assert ticket.created_by == world.requester
    assert ticket.channel == Channel.API and ticket.status == Status.NEW
    assert ticket.priority == Priority.CRITICAL == body["priority"]
    assert ticket.team == world.l1 and ticket.current_line == Line.L1  # the default intake team
    assert body["team"] is None and body["current_line"] is None  # hidden from the requester
    [event] = body["timeline"]
    assert event["kind"] == "created" and event["channel"] == "api"
    assert event["actor"] == {"id": world.requester.pk, "full_name": world.requester.full_name}


def test_requester_cannot_set_staff_only_fields(world, api):
    api.as_user(world.requester)
    r = api.post(TICKETS, {"title": "Printer", "team": world.l2.pk, "channel": "phone",
                           "is_major": True}, format="json")
    assert r.status_code == 201, r.json()
    ticket = Ticket.objects.get(pk=r.json()["id"])
    # Silently recorded the way a requester's own API ticket is: theirs, API, default team.
    assert (ticket.team, ticket.channel, ticket.is_major) == (world.l1, Channel.API, False)
    assert r.json()["is_major"] is False


@pytest.mark.parametrize("who", ["colleague", "outsider", "l1_agent"])
def test_requester_cannot_open_a_ticket_for_someone_else(world, api, who):
    api.as_user(world.requester)
    before = Ticket.objects.count()
    r = api.post(TICKETS, {"title": "On behalf", "requester": getattr(world, who).pk},
                 format="json")
    assert_error(r, 403, "staff_only")
    assert Ticket.objects.count() == before


def test_staff_registers_a_phone_call_on_behalf_of_a_requester(world, api):
    api.as_user(world.l1_agent)
    r = api.post(TICKETS, {"title": "Server room is hot", "requester": world.requester.pk,
                           "channel": "phone", "team": world.l2.pk, "is_major": True},
                 format="json")
    assert r.status_code == 201, r.json()
    ticket = Ticket.objects.get(pk=r.json()["id"])
    assert ticket.requester == world.requester and ticket.organisation == world.org
    assert ticket.created_by == world.l1_agent
    assert (ticket.channel, ticket.team, ticket.current_line, ticket.is_major) == (
        Channel.PHONE, world.l2, 2, True)
    body = r.json()
    assert body["team"] == {"id": world.l2.pk, "name": "Network", "line": 2}
    assert body["timeline"][0]["channel"] == "phone"


def test_create_with_category_and_service_and_the_priority_matrix(world, api):
    cat, svc = f.CategoryFactory.create(), f.ServiceFactory.create()
    api.as_user(world.requester)
    r = api.post(TICKETS, {"title": "Mail", "category": cat.pk, "service": svc.pk, "impact": 3,
                           "urgency": 3}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["category"]["id"] == cat.pk and body["category"]["code"] == cat.code
    assert body["service"]["id"] == svc.pk
    assert body["priority"] == Priority.INFORMATIONAL


def test_create_refuses_inactive_category_and_bad_values(world, api):
    cat = f.CategoryFactory.create(is_active=False)
    api.as_user(world.requester)
    before = Ticket.objects.count()
    assert_error(api.post(TICKETS, {"title": "x", "category": cat.pk}, format="json"), 400,
                 "invalid")
    body = assert_error(api.post(TICKETS, {"title": "", "type": "bogus", "impact": 7},
                                 format="json"), 400, "invalid")
    assert set(body["errors"]) == {"title", "type", "impact"}
    assert_error(api.post(TICKETS, {"title": "   "}, format="json"), 400)
    assert_error(api.post(TICKETS, {"description": "no title"}, format="json"), 400, "invalid")
    assert_error(api.post(TICKETS, {"title": "x" * 256}, format="json"), 400, "invalid")
    assert Ticket.objects.count() == before


def test_create_multipart_with_attachments_and_download_them(world, api):
    api.as_user(world.requester)
    r = api.post(TICKETS, {
        "title": "Screen is black",
        "attachments": [upload("Снимок экрана.png", PNG, "image/png"),
                        upload("event log.txt", b"line 1\nline 2\n", "text/html")],
    }, format="multipart")
    assert r.status_code == 201, r.json()
    files = r.json()["timeline"][0]["attachments"]
    assert [(a["filename"], a["content_type"], a["size"], a["is_public"]) for a in files] == [
        ("Снимок экрана.png", "image/png", len(PNG), True),
        # The client's declared type is never trusted.
        ("event log.txt", "text/plain", 14, True),
    ]
    png = api.get(files[0]["url"])
    assert png.status_code == 200
    assert b"".join(png.streaming_content) == PNG
    assert png["Content-Type"] == "image/png"
    assert png["X-Content-Type-Options"] == "nosniff"
    assert png["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%D0%A1%D0%BD%D0%B8%D0%BC%D0%BE%D0%BA" in png["Content-Disposition"]
    txt = api.get(files[1]["url"])
    assert b"".join(txt.streaming_content) == b"line 1\nline 2\n"
    assert txt["Content-Disposition"] == 'attachment; filename="event log.txt"'


def test_a_refused_file_records_nothing(world, api, settings):
    api.as_user(world.requester)
    before = (Ticket.objects.count(), Attachment.objects.count())
    r = api.post(TICKETS, {"title": "Tool", "attachments": [upload("tool.exe", b"MZ\x90\x00")]},
                 format="multipart")
    assert_error(r, 400, "file_type_not_allowed")
    r = api.post(TICKETS, {"title": "Page", "attachments": [upload("page.txt", b"<html><script>")]},
                 format="multipart")
    assert_error(r, 400, "file_type_not_allowed")
    r = api.post(TICKETS, {"title": "Empty", "attachments": [upload("empty.txt", b"")]},
                 format="multipart")
    assert r.status_code == 400 and r.json()["code"] in ("empty_file", "invalid")
    settings.OPORA_MAX_ATTACHMENT_BYTES = 1024
    r = api.post(TICKETS, {"title": "Big", "attachments": [upload("big.log", b"x" * 1025)]},
                 format="multipart")
    assert r.status_code in (400, 413)
    assert_error(r, r.status_code, "file_too_large")
    assert (Ticket.objects.count(), Attachment.objects.count()) == before
    media = settings.MEDIA_ROOT
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_json_attachments_are_refused(world, api):
    api.as_user(world.requester)
    assert_error(api.post(TICKETS, {"title": "x", "attachments": ["aGVsbG8="]}, format="json"),
                 400, "invalid")


# --- list, filters, ordering, pagination -------------------------------------------------------


@pytest.fixture
def desk(world):
    """Tickets that differ in every filterable way, seen by the desk manager."""
    w = world
    base = (timezone.now() - timedelta(days=40)).replace(microsecond=0)
    d = SimpleNamespace(w=w, base=base, cat=f.CategoryFactory.create(), svc=f.ServiceFactory.create())
    d.t0 = w.ticket
    d.a = f.TicketFactory.create(requester=w.requester, title="VPN error 809", description="Fails",
                          impact=1, urgency=1, category=d.cat, now=base)
    d.b = f.TicketFactory.create(requester=w.colleague, actor=w.l1_agent, title="New workplace",
                          ticket_type=TicketType.REQUEST, channel=Channel.PHONE, service=d.svc,
                          impact=3, urgency=3, now=base + timedelta(days=1))
    actions.assign(d.b, assignee=w.l1_agent, actor=w.l1_agent, channel=WEB)
    d.c = f.TicketFactory.create(requester=w.outsider, actor=w.l1_agent, title="Paper jam",
                          description="Paper stuck in TRAY 2", ticket_type=TicketType.QUESTION,
                          channel=Channel.EMAIL, is_major=True, now=base + timedelta(days=2))
    actions.escalate(d.c, to_team=w.l2, summary="Checked the tray; rollers are worn.",
                     actor=w.l1_agent, channel=WEB)
    d.d = f.TicketFactory.create(requester=w.requester, title="Monitor", now=base + timedelta(days=3))
    resolved(d.d, w.l1_agent)
    d.e = f.TicketFactory.create(requester=w.org_manager, title="Keyboard", now=base + timedelta(days=4))
    resolved(d.e, w.l1_agent)
    actions.close(d.e, actor=w.org_manager, channel=WEB)
    d.all = [d.t0, d.a, d.b, d.c, d.d, d.e]
    for t in d.all:
        t.refresh_from_db()
    return d


@pytest.mark.parametrize(("query", "expected"), [
    ("", "t0 a b c d e"),
    ("status=new", "t0 a"),
    ("status=new&status=resolved", "t0 a d"),
    ("status=closed", "e"),
    ("open=true", "t0 a b c"),
    ("open=false", "d e"),
    ("priority=1", "a"),
    ("priority=1&priority=5", "a b"),
    ("priority=3", "t0 c d e"),
    ("type=request", "b"),
    ("type=question&type=request", "b c"),
    ("channel=phone", "b"),
    ("channel=email", "c"),
    ("channel=portal", "t0 a d e"),
    ("category={cat}", "a"),
    ("service={svc}", "b"),
    ("team={l2}", "c"),
    ("team={l1}", "t0 a b d e"),
    ("assignee={l1_agent}", "b"),
    ("unassigned=true", "t0 a c d e"),
    ("unassigned=false", "b"),
    ("requester={colleague}", "b"),
    ("organisation={other_org}", "c"),
    ("organisation={org}", "t0 a b d e"),
    ("organisation={org}&organisation={other_org}", "t0 a b c d e"),
    ("line=2", "c"),
    ("line=1", "t0 a b d e"),
    ("line=4", ""),
    ("is_major=true", "c"),
    ("created_after={day1}", "t0 b c d e"),
    ("created_before={day1}", "a"),
    ("created_after={day1}&created_before={day3}", "b c"),
    ("q=vpn", "a"),
    ("q=VPN ERROR", "a"),
    ("q=tray 2", "c"),
    ("q=paper", "c"),
    ("q={b_number_lower}", "b"),
    ("q={b_number}", "b"),
    ("q=nothing-like-this", ""),
    ("q=%20%20", "t0 a b c d e"),
    ("open=true&team={l1}&unassigned=true", "t0 a"),
])
def test_list_filters(desk, api, query, expected):
    w = desk.w
    day = lambda n: (desk.base + timedelta(days=n)).isoformat().replace("+", "%2B")  # noqa: E731
    query = query.format(
        cat=desk.cat.pk, svc=desk.svc.pk, l1=w.l1.pk, l2=w.l2.pk, l1_agent=w.l1_agent.pk,
        colleague=w.colleague.pk, org=w.org.pk, other_org=w.other_org.pk, day1=day(1),
        day3=day(3), b_number=desk.b.number, b_number_lower=desk.b.number.lower(),
    )
    api.as_user(w.manager)
    got = numbers(api.get(f"{TICKETS}?{query}&page_size=100"))
    assert len(got) == len(set(got))
    assert set(got) == {getattr(desk, name).number for name in expected.split()}


@pytest.mark.parametrize("query", [
    "status=bogus", "priority=9", "priority=abc", "type=bug", "channel=fax", "team=abc",
    "team=999999", "assignee=-1", "category=1.5", "organisation=x", "line=abc",
    "created_after=yesterday", "created_before=2026-13-45", "requester=abc", "service=0",
    "q=%00", "is_major=maybe-not",
])
def test_invalid_filter_values_answer_400(desk, api, query):
    api.as_user(desk.w.manager)
    r = api.get(f"{TICKETS}?{query}")
    if query == "is_major=maybe-not":  # an unreadable boolean means "no filter"
        assert r.status_code == 200
        return
    body = assert_error(r, 400, "invalid")
    assert set(body["errors"]) == {query.split("=")[0]}


def test_text_search_folds_cyrillic_case(world, api):
    """On both engines (SQLite gets a Unicode-aware LIKE from opora.core.sqlite)."""
    ticket = f.TicketFactory.create(requester=world.requester, title="Принтер не печатает")
    other = f.TicketFactory.create(requester=world.requester, title="Сканер 50%_off")
    api.as_user(world.manager)
    assert numbers(api.get(f"{TICKETS}?q=ПРИНТЕР")) == [ticket.number]
    assert numbers(api.get(f"{TICKETS}?q=принтер НЕ")) == [ticket.number]
    # LIKE's wildcards in the search text are literal characters.
    assert numbers(api.get(f"{TICKETS}?q=50%25_")) == [other.number]
    assert numbers(api.get(f"{TICKETS}?q=%25")) == [other.number]


def test_ordering(desk, api):
    api.as_user(desk.w.manager)
    expected = [t.number for t in sorted(desk.all, key=lambda t: (-t.priority, t.created_at))]
    assert numbers(api.get(f"{TICKETS}?ordering=-priority,created_at")) == expected
    expected = [t.number for t in sorted(desk.all, key=lambda t: t.created_at)]
    assert numbers(api.get(f"{TICKETS}?ordering=created_at")) == expected
    newest_first = expected[::-1]
    assert numbers(api.get(TICKETS)) == newest_first
    # Unknown, private and related fields are ignored, never an error or a leak.
    for bogus in ("password", "requester__password", "foo,-bar", "-", ",", "requester__email"):
        assert numbers(api.get(f"{TICKETS}?ordering={bogus}")) == newest_first, bogus
    # A known field next to an unknown one still sorts.
    assert numbers(api.get(f"{TICKETS}?ordering=nope,created_at")) == expected


def _bulk_tickets(world: Any, count: int, *, created_at: Any = None) -> None:
    """Many rows fast, for paging only (real tickets are made through the actions)."""
    now = created_at or timezone.now()
    start = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    Ticket.objects.bulk_create([
        Ticket(number=f"INC-{start + i:06d}", title=f"Bulk {i}", requester=world.requester,
               organisation=world.org, team=world.l1, created_at=now, updated_at=now)
        for i in range(count)
    ])


def test_pagination(world, api):
    _bulk_tickets(world, 230)  # 231 with world.ticket
    api.as_user(world.l1_agent)
    r = api.get(TICKETS)
    body = r.json()
    assert body["count"] == 231 and len(body["results"]) == 25
    assert body["previous"] is None and body["next"].endswith("/api/v1/tickets/?page=2")
    body = api.get(f"{TICKETS}?page=2&page_size=50").json()
    assert len(body["results"]) == 50
    assert "page=3" in body["next"] and "page_size=50" in body["next"]
    assert "page_size=50" in body["previous"]
    body = api.get(f"{TICKETS}?page_size=500").json()
    assert len(body["results"]) == 200  # the maximum
    body = api.get(f"{TICKETS}?page=2&page_size=200").json()
    assert len(body["results"]) == 31 and body["next"] is None
    for size in ("0", "-5", "abc"):
        assert len(api.get(f"{TICKETS}?page_size={size}").json()["results"]) == 25, size
    for page in ("11", "0", "-1", "abc", "99999999999999999999999"):
        assert_error(api.get(f"{TICKETS}?page={page}"), 404, "not_found")
    assert len(api.get(f"{TICKETS}?page=last").json()["results"]) == 6


@pytest.mark.parametrize("ordering", ["", "ordering=priority", "ordering=-status,type"])
def test_pages_never_repeat_or_skip_rows_when_sort_keys_tie(world, api, ordering):
    # 300 rows with one creation time: PostgreSQL's top-N sort orders ties differently for
    # each LIMIT/OFFSET, so without a unique last sort key pages repeat and skip rows.
    _bulk_tickets(world, 300, created_at=timezone.now() - timedelta(days=1))
    api.as_user(world.manager)
    seen: list[str] = []
    for page in range(1, 14):
        seen += numbers(api.get(f"{TICKETS}?page={page}&page_size=25&{ordering}"))
    assert len(seen) == 301 and len(set(seen)) == 301


# --- retrieve ----------------------------------------------------------------------------------


def test_retrieve_by_id_and_by_number_case_insensitively(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    by_id = api.get(url(t))
    assert by_id.status_code == 200 and by_id["ETag"] == f'"{t.version}"'
    body = by_id.json()
    for ref in (t.number, t.number.lower(), t.number.title(), f"{t.pk}"):
        r = api.get(url(ref))
        assert r.status_code == 200, ref
        assert r.json() == body
    assert body["number"] == t.number and body["description"] == t.description
    assert body["team"] == {"id": world.l1.pk, "name": "Service desk", "line": 1}
    assert [m["action"] for m in body["allowed_transitions"]] == [
        "change_status", "change_status", "change_status", "resolve", "cancel"]
    assert body["watchers"] == []


@pytest.mark.parametrize("ref", ["999999", "INC-999999", "REQ-000001", "inc-0", "0",
                                 "99999999999999999999999", "INC-99999999999999999999999"])
def test_retrieve_unknown_ticket_is_404(world, api, ref):
    api.as_user(world.manager)
    assert_error(api.get(url(ref)), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/tickets/abc/", "/api/v1/tickets/INC_1/",
                                  "/api/v1/nothing/", "/api/v1/tickets/1/frobnicate/",
                                  "/api/v1/attachments/abc/"])
def test_unknown_api_urls_answer_json_404(world, api, path):
    api.as_user(world.manager)
    assert_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("put", "{t}"), ("delete", "{t}"), ("post", "{t}"), ("get", "{t}reply/"),
    ("patch", "{t}close/"), ("put", TICKETS), ("delete", TICKETS), ("get", "{t}watchers/"),
    ("post", "/api/v1/users/"), ("delete", "/api/v1/teams/{team}/"),
    ("get", "/api/v1/auth/token/"), ("post", "/api/v1/attachments/1/"),
])
def test_wrong_method_is_405(world, api, method, path):
    api.as_user(world.manager)
    path = path.format(t=url(world.ticket), team=world.l1.pk)
    assert_error(getattr(api, method)(path, {}, format="json"), 405, "method_not_allowed")


def test_unauthenticated_requests_are_401(world, api):
    t = world.ticket
    for method, path in [("get", TICKETS), ("post", TICKETS), ("get", url(t)),
                         ("patch", url(t)), ("post", url(t, "reply")),
                         ("get", "/api/v1/users/me/"), ("get", "/api/v1/attachments/1/")]:
        r = getattr(api, method)(path, {}, format="json")
        assert_error(r, 401, "not_authenticated")
        assert r["WWW-Authenticate"] == "Token"
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert_error(api.get(TICKETS), 401, "authentication_failed")
    api.credentials(HTTP_AUTHORIZATION="Token")
    assert_error(api.get(TICKETS), 401, "authentication_failed")


def test_a_disabled_person_is_refused(world, api):
    api.as_user(world.requester)
    world.requester.is_active = False
    world.requester.save()
    assert_error(api.get(TICKETS), 401, "authentication_failed")


# --- PATCH: reclassification -------------------------------------------------------------------


def test_patch_reclassifies(world, api):
    t = world.ticket
    cat, svc = f.CategoryFactory.create(), f.ServiceFactory.create()
    api.as_user(world.l1_agent)
    r = api.patch(url(t), {"title": "Printer in 204 is jammed", "category": cat.pk,
                           "service": svc.pk, "impact": 1, "urgency": 1, "type": "request",
                           "is_major": True}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert r["ETag"] == '"2"' and body["version"] == 2
    assert body["number"] == t.number  # the number never changes, even with the type
    assert (body["type"], body["priority"], body["is_major"]) == ("request", Priority.CRITICAL,
                                                                   True)
    assert body["category"]["id"] == cat.pk and body["service"]["id"] == svc.pk
    event = body["timeline"][-1]
    assert event["kind"] == "fields_changed" and event["is_public"] is False
    assert event["channel"] == "api"
    assert set(event["data"]) == {"title", "category", "service", "impact", "urgency",
                                  "priority", "type", "is_major"}
    # An explicit priority overrides the matrix; clearing a category is allowed.
    r = api.patch(url(t), {"priority": 5, "urgency": 2, "category": None}, format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["priority"], r.json()["category"]) == (5, None)


def test_patch_ignores_what_cannot_be_edited_here(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    before = snapshot(t)
    r = api.patch(url(t), {"status": "closed", "number": "INC-1", "requester": world.outsider.pk,
                           "team": world.l2.pk, "version": 1}, format="json")
    assert_error(r, 400, "no_change")
    assert snapshot(t) == before


def test_patch_refusals(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    assert_error(api.patch(url(t), {"title": t.title}, format="json"), 400, "no_change")
    assert_error(api.patch(url(t), {"title": ""}, format="json"), 400, "invalid")
    assert_error(api.patch(url(t), {"priority": 0}, format="json"), 400, "invalid")
    inactive = f.CategoryFactory.create(is_active=False)
    assert_error(api.patch(url(t), {"category": inactive.pk}, format="json"), 400, "inactive")
    resolved(t, world.l1_agent)
    actions.close(t, actor=world.requester, channel=WEB)
    assert_error(api.patch(url(t), {"title": "Late"}, format="json"), 409, "ticket_not_open")
    api.as_user(world.requester)
    assert_error(api.patch(url(t), {"title": "Mine"}, format="json"), 403, "permission_denied")


# --- conversation ------------------------------------------------------------------------------


def test_reply_and_note(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    r = api.post(url(t, "reply"), {"body": "Please restart the printer."}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["first_response_at"] is not None
    assert r.json()["timeline"][-1]["kind"] == "reply"
    r = api.post(url(t, "note"), {"body": "Known firmware bug."}, format="json")
    assert r.status_code == 201
    note = r.json()["timeline"][-1]
    assert (note["kind"], note["is_public"], note["body"]) == ("note", False,
                                                               "Known firmware bug.")
    actions.change_status(t, status=Status.WAITING_REQUESTER, actor=world.l1_agent, channel=WEB)
    # The requester's answer puts a waiting ticket back to work.
    api.as_user(world.requester)
    r = api.post(url(t, "reply"), {"body": "Restarted, same error."}, format="json")
    assert r.status_code == 201
    assert r.json()["status"] == Status.IN_PROGRESS
    kinds = [e["kind"] for e in r.json()["timeline"]]
    assert kinds == ["created", "reply", "status_changed", "reply", "status_changed"]
    assert_error(api.post(url(t, "note"), {"body": "sneaky"}, format="json"), 403,
                 "permission_denied")


def test_reply_with_attachments_as_multipart(world, api):
    t = world.ticket
    api.as_user(world.requester)
    r = api.post(url(t, "reply"), {"attachments": [upload("photo.png", PNG)]},
                 format="multipart")
    assert r.status_code == 201, r.json()
    [attachment] = r.json()["timeline"][-1]["attachments"]
    assert attachment["filename"] == "photo.png" and attachment["is_public"] is True
    api.as_user(world.l1_agent)
    r = api.post(url(t, "note"), {"body": "trace", "attachments": [upload("trace.log", b"x")]},
                 format="multipart")
    [internal] = r.json()["timeline"][-1]["attachments"]
    assert internal["is_public"] is False


def test_reply_refusals(world, api):
    t = world.ticket
    api.as_user(world.requester)
    assert_error(api.post(url(t, "reply"), {"body": "   "}, format="json"), 400, "required")
    assert_error(api.post(url(t, "reply"), {}, format="json"), 400, "required")
    actions.cancel(t, reason="Not needed", actor=world.requester, channel=WEB)
    assert_error(api.post(url(t, "reply"), {"body": "hello?"}, format="json"), 409,
                 "ticket_closed")


# --- ownership ---------------------------------------------------------------------------------


def test_assign(world, api):
    t = world.ticket
    api.as_user(world.lead)
    r = api.post(url(t, "assign"), {"assignee": world.l1_agent.pk}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["assignee"] == {"id": world.l1_agent.pk, "full_name": "Ольга Первова"}
    assert body["status"] == Status.ASSIGNED and r["ETag"] == f'"{body["version"]}"'
    assert [e["kind"] for e in body["timeline"]][-2:] == ["assigned", "status_changed"]
    assert_error(api.post(url(t, "assign"), {"assignee": world.l1_agent.pk}, format="json"),
                 400, "no_change")
    assert_error(api.post(url(t, "assign"), {"assignee": world.l2_agent.pk}, format="json"),
                 400, "not_a_member")
    assert_error(api.post(url(t, "assign"), {"assignee": world.requester.pk}, format="json"),
                 400, "not_an_agent")
    assert_error(api.post(url(t, "assign"), {}, format="json"), 400, "invalid")
    assert_error(api.post(url(t, "assign"), {"team": None}, format="json"), 400, "invalid")
    # Moving to another team (same line) lets the old assignee go.
    r = api.post(url(t, "assign"), {"team": world.elsewhere.pk}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["team"]["id"] == world.elsewhere.pk and r.json()["assignee"] is None


def test_escalate(world, api):
    t = world.ticket
    actions.assign(t, assignee=world.l1_agent, actor=world.l1_agent, channel=WEB)
    api.as_user(world.l1_agent)
    assert_error(api.post(url(t, "escalate"), {"to_team": world.l2.pk, "summary": "short"},
                          format="json"), 400, "summary_too_short")
    assert_error(api.post(url(t, "escalate"), {"to_team": world.elsewhere.pk,
                                               "summary": "Restarted, error 809 remains."},
                          format="json"), 400, "not_a_higher_line")
    assert_error(api.post(url(t, "escalate"), {"summary": "Restarted, error 809 remains."},
                          format="json"), 400, "invalid")
    r = api.post(url(t, "escalate"), {"to_team": world.l2.pk,
                                      "summary": "Restarted, error 809 remains."}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["current_line"], body["team"]["id"], body["assignee"], body["status"]) == (
        2, world.l2.pk, None, Status.ASSIGNED)
    assert body["escalated_at"] is not None
    event = next(e for e in body["timeline"] if e["kind"] == "escalated")
    assert event["body"] == "Restarted, error 809 remains." and event["is_public"] is False
    api.as_user(world.l2_agent)
    r = api.post(url(t, "escalate"), {"to_team": world.l4.pk, "vendor_reference": "CASE-42",
                                      "summary": "Firmware bug, vendor case opened."},
                 format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["vendor_reference"], r.json()["current_line"]) == (
        Status.WAITING_VENDOR, "CASE-42", 4)


# --- lifecycle ---------------------------------------------------------------------------------


def test_status_resolve_close(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    r = api.post(url(t, "status"), {"status": "in_progress", "comment": "Looking"},
                 format="json")
    assert r.status_code == 200, r.json()
    # Taking a ticket into work makes you its owner.
    assert r.json()["status"] == "in_progress"
    assert r.json()["assignee"]["id"] == world.l1_agent.pk
    assert_error(api.post(url(t, "status"), {"status": "in_progress"}, format="json"), 409,
                 "transition_not_allowed")
    for bad in ("resolved", "closed", "new", "bogus", None, 1):
        assert_error(api.post(url(t, "status"), {"status": bad}, format="json"), 400, "invalid")
    assert_error(api.post(url(t, "resolve"), {"code": "fixed"}, format="json"), 400, "invalid")
    assert_error(api.post(url(t, "resolve"), {"code": "magic", "resolution": "x"},
                          format="json"), 400, "invalid")
    r = api.post(url(t, "resolve"), {"code": "fixed", "resolution": "Replaced the fuser."},
                 format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["status"], body["resolution_code"], body["resolution"]) == (
        "resolved", "fixed", "Replaced the fuser.")
    assert body["resolved_at"] is not None
    assert_error(api.post(url(t, "resolve"), {"code": "fixed", "resolution": "again"},
                          format="json"), 409, "transition_not_allowed")
    assert_error(api.post(url(t, "status"), {"status": "in_progress"}, format="json"), 409,
                 "transition_not_allowed")
    api.as_user(world.requester)
    assert [m["action"] for m in api.get(url(t)).json()["allowed_transitions"]] == [
        "close", "reopen"]
    r = api.post(url(t, "close"), {"comment": "Works, thanks"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "closed" and r.json()["closed_at"] is not None
    assert r.json()["timeline"][-1]["data"]["confirmed_by_requester"] is True
    assert r.json()["allowed_transitions"] == []
    assert_error(api.post(url(t, "close"), {}, format="json"), 409, "transition_not_allowed")
    # Only the desk reopens a closed ticket.
    assert_error(api.post(url(t, "reopen"), {"reason": "Broken again"}, format="json"), 409,
                 "transition_not_allowed")
    api.as_user(world.l1_agent)
    r = api.post(url(t, "reopen"), {"reason": "Broken again"}, format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["reopen_count"]) == ("in_progress", 1)


def test_requester_reopens_a_resolved_ticket_and_cancels(world, api):
    t = world.ticket
    resolved(t, world.l1_agent)
    api.as_user(world.requester)
    assert_error(api.post(url(t, "reopen"), {}, format="json"), 400, "invalid")
    assert_error(api.post(url(t, "reopen"), {"reason": "  "}, format="json"), 400)
    r = api.post(url(t, "reopen"), {"reason": "Still jams"}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["status"], body["resolution"], body["resolution_code"], body["resolved_at"]) == (
        "assigned", "", "", None)
    assert_error(api.post(url(t, "close"), {}, format="json"), 409, "transition_not_allowed")
    r = api.post(url(t, "cancel"), {"reason": "Bought a new one"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "cancelled"
    assert_error(api.post(url(t, "cancel"), {"reason": "again"}, format="json"), 409,
                 "transition_not_allowed")
    api.as_user(world.l1_agent)
    assert_error(api.post(url(t, "assign"), {"assignee": world.l1_agent.pk}, format="json"),
                 409, "ticket_not_open")
    assert_error(api.post(url(t, "escalate"), {"to_team": world.l2.pk,
                                               "summary": "Too late for that one."},
                          format="json"), 409, "ticket_not_open")


# --- watchers ----------------------------------------------------------------------------------


def test_watchers_add_and_remove(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    r = api.post(url(t, "watchers"), {"user": world.colleague.pk}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["watchers"] == [{"id": world.colleague.pk,
                                     "full_name": world.colleague.full_name}]
    assert_error(api.post(url(t, "watchers"), {"user": world.colleague.pk}, format="json"), 400,
                 "no_change")
    assert_error(api.post(url(t, "watchers"), {"user": world.outsider.pk}, format="json"), 400,
                 "other_organisation")
    assert_error(api.post(url(t, "watchers"), {"user": 999999}, format="json"), 400, "invalid")
    assert_error(api.post(url(t, "watchers"), {}, format="json"), 400, "invalid")
    # The watcher now sees the ticket.
    api.as_user(world.colleague)
    assert t.number in numbers(api.get(TICKETS))
    assert api.get(url(t)).status_code == 200
    api.as_user(world.l1_agent)
    r = api.delete(url(t, f"watchers/{world.colleague.pk}"))
    assert r.status_code == 200, r.json()
    assert r.json()["watchers"] == []
    assert_error(api.delete(url(t, f"watchers/{world.colleague.pk}")), 400, "no_change")
    assert_error(api.delete(url(t, "watchers/999999")), 404, "not_found")
    api.as_user(world.colleague)
    assert_error(api.get(url(t)), 404, "not_found")
    kinds = [e.kind for e in t.events.all()]
    assert kinds.count(EventKind.WATCHER_ADDED) == kinds.count(EventKind.WATCHER_REMOVED) == 1


def test_a_watcher_removes_themselves(world, api):
    t = world.ticket
    actions.add_watcher(t, user=world.colleague, actor=world.l1_agent, channel=WEB)
    api.as_user(world.colleague)
    r = api.delete(url(t, f"watchers/{world.colleague.pk}"))
    assert r.status_code == 200, r.json()
    assert not t.watchers.exists()


def test_requester_side_adds_themselves_but_nobody_else(world, api):
    t = world.ticket
    api.as_user(world.colleague)
    assert_error(api.post(url(t, "watchers"), {"user": world.colleague.pk}, format="json"), 404)
    api.as_user(world.requester)
    before = snapshot(t)
    assert_error(api.post(url(t, "watchers"), {"user": world.colleague.pk}, format="json"), 403,
                 "permission_denied")
    assert snapshot(t) == before
    # The organisation manager sees the ticket and may follow it.
    api.as_user(world.org_manager)
    r = api.post(url(t, "watchers"), {"user": world.org_manager.pk}, format="json")
    assert r.status_code == 200, r.json()
    assert [w["id"] for w in r.json()["watchers"]] == [world.org_manager.pk]
    actions.add_watcher(t, user=world.l1_agent2, actor=world.l1_agent, channel=WEB)
    before = snapshot(t)
    assert_error(api.delete(url(t, f"watchers/{world.l1_agent2.pk}")), 403, "permission_denied")
    assert snapshot(t) == before


# --- attachments -------------------------------------------------------------------------------


def test_attachment_download_headers_and_unknown_ids(world, api):
    t = world.ticket
    api.as_user(world.requester)
    r = api.post(url(t, "reply"), {"body": "see file",
                                   "attachments": [upload("report \"final\".pdf", b"%PDF-1.4\n")]},
                 format="multipart")
    [a] = r.json()["timeline"][-1]["attachments"]
    assert a["filename"] == "report final.pdf"  # quotes are not kept in a stored name
    d = api.get(a["url"])
    assert d.status_code == 200
    assert d["Content-Type"] == "application/pdf"
    assert d["Content-Disposition"] == 'attachment; filename="report final.pdf"'
    assert d["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in d["Content-Security-Policy"]
    assert int(d["Content-Length"]) == 9
    for pk in (999999, 0, 99999999999999999999):
        assert_error(api.get(f"/api/v1/attachments/{pk}/"), 404, "not_found")


# --- the version guard over HTTP ---------------------------------------------------------------


def _prepare(world: Any, state: str) -> Ticket:
    t = f.TicketFactory.create(requester=world.requester, team=world.l1)
    if state == "resolved":
        resolved(t, world.l1_agent)
    # Someone else changes the ticket: the client's version 1 (or 2) is now stale.
    actions.add_note(t, body="meanwhile", actor=world.l1_agent2, channel=WEB)
    return Ticket.objects.get(pk=t.pk)


GUARDED = [
    ("patch", "", {"title": "New title"}, "open"),
    ("post", "reply", {"body": "Hello"}, "open"),
    ("post", "note", {"body": "Internal"}, "open"),
    ("post", "assign", {"assignee": "l1_agent"}, "open"),
    ("post", "escalate", {"to_team": "l2", "summary": "Checked everything on L1."}, "open"),
    ("post", "status", {"status": "in_progress"}, "open"),
    ("post", "resolve", {"code": "fixed", "resolution": "Done"}, "open"),
    ("post", "close", {"comment": ""}, "resolved"),
    ("post", "reopen", {"reason": "Again"}, "resolved"),
    ("post", "cancel", {"reason": "Not needed"}, "open"),
]


def _payload(world: Any, payload: dict[str, Any]) -> dict[str, Any]:
    refs = {"l1_agent": world.l1_agent.pk, "l2": world.l2.pk}
    return {k: refs.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}


@pytest.mark.parametrize(("method", "action", "payload", "state"), GUARDED,
                         ids=[g[1] or "patch" for g in GUARDED])
@pytest.mark.parametrize("how", ["field", "if-match", "weak-if-match"])
def test_a_stale_version_is_refused_and_changes_nothing(world, api, method, action, payload,
                                                        state, how):
    t = _prepare(world, state)
    stale = t.version - 1
    before = snapshot(t)
    data = _payload(world, payload)
    headers = {}
    if how == "field":
        data["version"] = stale
    else:
        headers["HTTP_IF_MATCH"] = f'W/"{stale}"' if how == "weak-if-match" else f'"{stale}"'
    api.as_user(world.admin)
    r = getattr(api, method)(url(t, action), data, format="json", **headers)
    body = assert_error(r, 409, "stale")
    assert set(body) == {"detail", "code", "current_version"}
    assert body["current_version"] == t.version
    assert snapshot(t) == before


@pytest.mark.parametrize(("method", "action", "payload", "state"), GUARDED,
                         ids=[g[1] or "patch" for g in GUARDED])
def test_the_current_version_passes_and_the_etag_moves(world, api, method, action, payload,
                                                       state):
    t = _prepare(world, state)
    api.as_user(world.admin)
    etag = api.get(url(t))["ETag"]
    assert etag == f'"{t.version}"'
    r = getattr(api, method)(url(t, action), _payload(world, payload), format="json",
                             HTTP_IF_MATCH=etag)
    assert r.status_code in (200, 201), r.json()
    t.refresh_from_db()
    assert t.version > int(etag.strip('"'))
    assert r["ETag"] == f'"{t.version}"' and r.json()["version"] == t.version
    t2 = _prepare(world, state)
    data = {**_payload(world, payload), "version": t2.version}
    r = getattr(api, method)(url(t2, action), data, format="json")
    assert r.status_code in (200, 201), r.json()


@pytest.mark.parametrize("header", ['"abc"', "1, 2", '"\u00b2"', '"' + "9" * 5000 + '"',
                                    '"-1"', "W/", '""1""'])
def test_an_unreadable_if_match_is_a_400(world, api, header):
    t = world.ticket
    api.as_user(world.l1_agent)
    before = snapshot(t)
    r = api.patch(url(t), {"title": "x"}, format="json", HTTP_IF_MATCH=header)
    assert_error(r, 400, "invalid")
    assert snapshot(t) == before


def test_a_huge_version_is_just_stale(world, api):
    t = world.ticket
    api.as_user(world.l1_agent)
    assert_error(api.patch(url(t), {"title": "x", "version": 10**30}, format="json"), 409,
                 "stale")
    assert_error(api.patch(url(t), {"title": "x"}, format="json",
                           HTTP_IF_MATCH='"99999999999999"'), 409, "stale")
    assert_error(api.patch(url(t), {"title": "x", "version": 0}, format="json"), 400, "invalid")


# --- garbage never answers 500 -----------------------------------------------------------------

HUGE = 10**30
GARBAGE_JSON: list[Any] = [
    {}, [], "text", 12, None, True, [{"title": "x"}],
    {"title": None}, {"title": 123}, {"title": ["a"]}, {"title": {"a": 1}}, {"title": "x" * 300},
    {"title": "\x00"}, {"title": "ok", "description": "\x00"}, {"title": "ok", "type": "bug"},
    {"title": "ok", "impact": 99, "urgency": -1}, {"title": "ok", "impact": "1.5"},
    {"title": "ok", "category": HUGE}, {"title": "ok", "service": -1}, {"title": "ok", "team": "x"},
    {"title": "ok", "requester": HUGE}, {"title": "ok", "requester": None},
    {"title": "ok", "channel": "carrier-pigeon"}, {"title": "ok", "is_major": "maybe"},
    {"title": "ok", "attachments": "file"}, {"title": "ok", "attachments": [None]},
    {"body": None}, {"body": 1}, {"body": "x" * 100_001}, {"body": "\x00"},
    {"body": "x", "version": "abc"}, {"body": "x", "version": -5}, {"body": "x", "version": HUGE},
    {"body": "x", "version": 1.5}, {"body": "x", "version": [1]}, {"body": "x", "version": None},
    {"assignee": HUGE}, {"assignee": "me"}, {"assignee": -1}, {"team": HUGE}, {"team": None},
    {"assignee": None, "team": None}, {"to_team": HUGE, "summary": "x" * 20},
    {"to_team": None, "summary": None}, {"to_team": "L2", "summary": ["x"]},
    {"to_team": 1, "summary": "s" * 20, "vendor_reference": "v" * 500},
    {"status": "bogus"}, {"status": None}, {"status": ["in_progress"]}, {"status": "resolved"},
    {"code": "magic", "resolution": None}, {"code": None}, {"code": "fixed", "resolution": 5},
    {"comment": None}, {"comment": {"a": 1}}, {"reason": None}, {"reason": ""},
    {"reason": "x" * 200_000}, {"user": HUGE}, {"user": None}, {"user": "abc"}, {"user": -1},
    {"priority": 0}, {"priority": "critical"}, {"category": "abc"}, {"type": None},
]
RAW_BODIES = [
    ("application/json", b"{not json"),
    ("application/json", b"\xff\xfe\x00garbage"),
    ("application/json", b"[" * 50_000),
    ("application/json", b'{"a": ' * 20_000),
    ("application/json", b'{"title": "a\\ud800b", "body": "\\udfff", "reason": "\\ud800"}'),
    ("application/json", b'{"version": NaN, "body": "x"}'),
    ("application/json", b'{"version": 1' + b"0" * 5000 + b', "body": "x"}'),
    ("application/json; charset=bogus", b'{"title": "x"}'),
    ("application/json; charset=utf-16", b'{"title": "x"}'),
    ("application/json", b""),
    ("text/plain", b"hello"),
    ("application/xml", b"<a/>"),
    ("multipart/form-data", b"no boundary"),
    ("multipart/form-data; boundary=xx", b"--xx\r\nbroken"),
    ("multipart/form-data; boundary=xx; charset=bogus",
     b'--xx\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--xx--\r\n'),
    ("application/x-www-form-urlencoded", b"title=%ZZ&body=%00&version=abc"),
    ("application/x-www-form-urlencoded; charset=bogus", b"title=x"),
]
ENDPOINTS = [
    ("post", "create"), ("patch", ""), ("post", "reply"), ("post", "note"), ("post", "assign"),
    ("post", "escalate"), ("post", "status"), ("post", "resolve"), ("post", "close"),
    ("post", "reopen"), ("post", "cancel"), ("post", "watchers"),
]


def _never_500(r: Any, what: Any) -> None:
    assert r.status_code < 500, (what, r.status_code, r.content[:300])
    if r.status_code >= 400:
        assert r["Content-Type"].startswith("application/json"), (what, r.content[:300])
        body = r.json()
        assert isinstance(body.get("detail"), str) and isinstance(body.get("code"), str), (what,
                                                                                         body)


@pytest.mark.parametrize(("method", "action"), ENDPOINTS, ids=[e[1] or "patch" for e in ENDPOINTS])
@pytest.mark.parametrize("who", ["admin", "requester"])
def test_garbage_never_answers_500(world, api, method, action, who):
    api.raise_request_exception = False
    api.as_user(getattr(world, who))
    t = world.ticket
    path = TICKETS if action == "create" else url(t, action)
    call = getattr(api, method)
    for data in GARBAGE_JSON:
        _never_500(call(path, json.dumps(data), content_type="application/json"), data)
    for content_type, raw in RAW_BODIES:
        _never_500(call(path, raw, content_type=content_type), (content_type, raw[:40]))
    for header in ('"\u00b2"', '"' + "1" * 5000 + '"', "\u0661", "*", "W/\"x\""):
        _never_500(call(path, {"body": "x", "title": "x"}, format="json", HTTP_IF_MATCH=header),
                   header)
    _never_500(call(path, {"title": "x", "attachments": [upload("a.txt", b"a"), "x"]},
                    format="multipart"), "multipart")
    _never_500(call(path, {"title": "x", "body": "x"}, format="json",
                    HTTP_ACCEPT="application/xml"), "accept")
    _never_500(call(f"{path}?format=xml", {"title": "x"}, format="json"), "format")
    _never_500(api.options(path), "options")
    assert api.head(path).status_code < 500  # a HEAD answer has no body to check


GARBAGE_PATHS = [
    "/api/v1/tickets/99999999999999999999999/", "/api/v1/tickets/INC-99999999999999999999999/",
    "/api/v1/tickets/1/watchers/99999999999999999999999/",
    "/api/v1/attachments/99999999999999999999999/", "/api/v1/users/99999999999999999999999/",
    "/api/v1/organisations/99999999999999999999999/", "/api/v1/teams/abc/",
    "/api/v1/categories/-1/", "/api/v1/services/99999999999999999999999/",
    "/api/v1/tickets/%00/", "/api/v1/tickets/INC-%D9%A1/", "/api/v1/tickets/%D9%A1/",
]
GARBAGE_QUERIES = [
    "status=bogus", "status=%00", "priority=abc", "priority=99999999999999999999999",
    "team=99999999999999999999999", "team=-1", "assignee=99999999999999999999999",
    "category=99999999999999999999999", "service=99999999999999999999999",
    "organisation=99999999999999999999999", "requester=99999999999999999999999",
    "line=99999999999999999999999", "line=abc", "line=1e400", "line=NaN", "unassigned=maybe",
    "open=banana", "created_after=notadate", "created_before=99999-01-01",
    "created_after=2026-01-01T25:00", "q=%00", "q=" + "x" * 5000, "q=%ED%A0%80",
    "page=99999999999999999999999", "page_size=99999999999999999999999", "page=%00",
    "ordering=;drop table", "ordering=-" * 50, "ordering=%00", "role=%00", "role=bogus",
    "organisation=%00", "is_active=maybe", "parent=99999999999999999999999", "owner_team=abc",
    "line=%00", "q=%25%25%25", "q=_", "ordering=password",
]


@pytest.mark.parametrize("who", ["admin", "org_manager", "requester", "l1_agent"])
def test_garbage_urls_and_query_strings_never_answer_500(world, api, who):
    api.raise_request_exception = False
    api.as_user(getattr(world, who))
    for path in GARBAGE_PATHS:
        for method in ("get", "delete"):
            _never_500(getattr(api, method)(path), path)
    for base in ("/api/v1/tickets/", "/api/v1/users/", "/api/v1/organisations/",
                 "/api/v1/teams/", "/api/v1/categories/", "/api/v1/services/"):
        for query in GARBAGE_QUERIES:
            _never_500(api.get(f"{base}?{query}"), (base, query))


def test_the_token_endpoint_never_answers_500(world, api):
    api.raise_request_exception = False
    cache.clear()  # the anonymous throttle counts in the cache
    path = "/api/v1/auth/token/"
    data: Any
    for data in [{}, [], None, "x", {"email": None}, {"email": "a" * 500, "password": "x"},
                 {"email": "x@y.z", "password": None}, {"email": "x@y.z", "password": "\x00"},
                 {"email": "\x00@y.z", "password": "x"}, {"email": ["x@y.z"], "password": 1}]:
        _never_500(api.post(path, json.dumps(data), content_type="application/json"), data)
    for content_type, raw in RAW_BODIES:
        _never_500(api.post(path, raw, content_type=content_type), raw[:40])
    cache.clear()


# --- schema-driven fuzzing: every operation of the OpenAPI document, random bodies and queries --

#: Examples per operation; derandomized, so every run (and CI) tries the same ones. Raise it
#: locally for a deeper search: OPORA_FUZZ_EXAMPLES=500 pytest -k fuzz
FUZZ_EXAMPLES = int(os.environ.get("OPORA_FUZZ_EXAMPLES", "25"))
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


@functools.cache
def openapi() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = openapi()["components"]["schemas"][name]
    return schema


def _values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the declared shape (ids that exist, enum members) mixed with any JSON at all."""
    schema = _resolve(schema)
    options: list[st.SearchStrategy[Any]] = [JUNK]
    for sub in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        options.append(_values(sub))
    if "enum" in schema:
        options.append(st.sampled_from([v for v in schema["enum"] if v is not None]))
    kind = schema.get("type")
    if kind == "integer":
        options += [st.integers(min_value=0, max_value=40), st.integers()]
    elif kind == "string":
        options.append(st.text(max_size=300))
    elif kind == "boolean":
        options.append(st.booleans())
    elif kind == "array":
        options.append(st.lists(_values(schema.get("items", {})), max_size=3))
    if schema.get("nullable"):
        options.append(st.none())
    return st.one_of(options)


@functools.cache
def _body(method: str, path: str) -> st.SearchStrategy[dict[str, Any]]:
    content = openapi()["paths"][path][method].get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return st.just({})
    schema = _resolve(content["application/json"]["schema"])
    properties = {name: _values(prop) for name, prop in schema.get("properties", {}).items()}
    return st.fixed_dictionaries({}, optional=properties)


@functools.cache
def _query(method: str, path: str) -> st.SearchStrategy[dict[str, Any]]:
    params = [p for p in openapi()["paths"][path][method].get("parameters", [])
              if p["in"] == "query"]
    text = st.text(max_size=30).filter(lambda s: "\x00" not in s) | st.integers().map(str)
    optional = {}
    for p in params:
        typed = _values(p["schema"]).map(lambda v: v if isinstance(v, list) else [v])
        optional[p["name"]] = st.one_of(typed, st.lists(text, max_size=2)).map(
            lambda vs: [json.dumps(v) if isinstance(v, dict) else str(v) for v in vs])
    return st.fixed_dictionaries({}, optional=optional)


WRITES = [
    ("post", "/api/v1/tickets/"), ("patch", "/api/v1/tickets/{id}/"),
    ("post", "/api/v1/tickets/{id}/reply/"), ("post", "/api/v1/tickets/{id}/note/"),
    ("post", "/api/v1/tickets/{id}/assign/"), ("post", "/api/v1/tickets/{id}/escalate/"),
    ("post", "/api/v1/tickets/{id}/status/"), ("post", "/api/v1/tickets/{id}/resolve/"),
    ("post", "/api/v1/tickets/{id}/close/"), ("post", "/api/v1/tickets/{id}/reopen/"),
    ("post", "/api/v1/tickets/{id}/cancel/"), ("post", "/api/v1/tickets/{id}/watchers/"),
    ("delete", "/api/v1/tickets/{id}/watchers/{user_id}/"), ("post", "/api/v1/auth/token/"),
]
READS = ["/api/v1/tickets/", "/api/v1/users/", "/api/v1/organisations/", "/api/v1/teams/",
         "/api/v1/categories/", "/api/v1/services/"]


def test_the_fuzzer_covers_every_operation():
    # The service-level and knowledge-base endpoints are fuzzed by their own tests
    # (src/opora/sla/tests, src/opora/kb/tests).
    operations = {(m, p) for p, ops in openapi()["paths"].items() for m in ops
                  if not p.startswith(("/api/v1/sla/", "/api/v1/kb/"))}
    assert {(m, p) for m, p in operations if m != "get"} == set(WRITES)
    lists = {p for m, p in operations if m == "get" and "{" not in p and not p.endswith("/me/")}
    assert lists == set(READS)


FUZZ = hypothesis_settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
@FUZZ
@given(data=st.data())
def test_fuzz_every_write(world, api, method, path, data):
    api.raise_request_exception = False
    cache.clear()  # the token endpoint's anonymous throttle
    who = data.draw(st.sampled_from(["admin", "l1_agent", "requester", "outsider"]), label="who")
    api.as_user(getattr(world, who))
    if path == "/api/v1/auth/token/":
        api.credentials()
    state = data.draw(st.sampled_from(["open", "resolved", "closed"]), label="state")
    ticket = f.TicketFactory.create(requester=world.requester, team=world.l1)
    if state != "open":
        resolved(ticket, world.l1_agent)
    if state == "closed":
        actions.close(ticket, actor=world.requester, channel=WEB)
    ref = data.draw(st.sampled_from([ticket.pk, ticket.number, (ticket.number or "").lower(), 999999]),
                    label="ref")
    user_id = data.draw(st.sampled_from([world.colleague.pk, world.l1_agent2.pk, world.admin.pk])
                        | st.integers(min_value=0, max_value=10**25), label="user_id")
    target = path.replace("{id}", str(ref)).replace("{user_id}", str(user_id))
    body = data.draw(_body(method, path), label="body")
    if_match = data.draw(st.none() | HEADER_TEXT | st.integers(0, 9).map(lambda n: f'"{n}"'),
                         label="if_match")
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    response = getattr(api, method)(target, json.dumps(body), content_type="application/json",
                                    **headers)
    _never_500(response, (method, target, body, if_match))


@pytest.mark.parametrize("path", READS)
@FUZZ
@given(data=st.data())
def test_fuzz_every_list(world, api, path, data):
    api.raise_request_exception = False
    who = data.draw(st.sampled_from(["admin", "l1_agent", "org_manager", "requester"]))
    api.as_user(getattr(world, who))
    query = data.draw(_query("get", path), label="query")
    if data.draw(st.booleans(), label="search"):
        query["q"] = [data.draw(st.text(max_size=30), label="q")]
    _never_500(api.get(path, query), (path, query))
