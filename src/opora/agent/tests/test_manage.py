"""Administration pages (``/agent/manage/``): who may open what, each create/edit with valid and
invalid input (kept when refused), the audit row in Django's admin log, a team lead limited to
the teams they lead, and pinned query counts of the lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from opora.accounts import team_actions
from opora.accounts.models import Team, TeamMembership
from opora.agent import canned
from opora.agent.models import CannedResponse
from opora.catalog import actions as catalog_actions
from opora.catalog.models import Category, Service
from opora.testing import factories as f
from opora.tickets import matrix, selectors
from opora.tickets.choices import Level, Priority
from opora.tickets.errors import ActionError
from opora.tickets.models import PriorityMatrixCell

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def w(world):
    """The world, with its team lead marked as the lead of the first-line team."""
    TeamMembership.objects.filter(team=world.l1, user=world.lead).update(is_lead=True)
    world.category = f.CategoryFactory.create(code="printers", name="Принтеры", name_en="Printers")
    world.service = f.ServiceFactory.create(code="mail", name="Почта", name_en="Mail",
                                            owner_team=world.l2)
    world.canned_l1 = CannedResponse.objects.create(title="Restart", body="Turn it **off**.",
                                                    team=world.l1)
    world.canned_l2 = CannedResponse.objects.create(title="Cable", body="Check the cable.",
                                                    team=world.l2)
    world.canned_all = CannedResponse.objects.create(title="Hello", body="Hello!")
    return world


def log_rows(obj: Any) -> list[LogEntry]:
    ct = ContentType.objects.get_for_model(obj)
    return list(LogEntry.objects.filter(content_type=ct, object_id=str(obj.pk)).order_by("pk"))


def team_data(**changes: Any) -> dict[str, Any]:
    return {"name": "Security", "line": "2", "speciality": "security", "email": "sec@opora.local",
            "is_active": "on", **changes}


def category_data(**changes: Any) -> dict[str, Any]:
    return {"code": "scanners", "name": "Сканеры", "name_en": "Scanners", "parent": "",
            "position": "5", "is_active": "on", **changes}


def service_data(**changes: Any) -> dict[str, Any]:
    return {"code": "vpn", "name": "VPN", "name_en": "VPN", "description": "Remote access",
            "owner_team": "", "is_active": "on", **changes}


def matrix_data(**changes: Any) -> dict[str, str]:
    data = {f"cell_{i}_{u}": str(p) for (i, u), p in matrix.current_matrix().items()}
    data.update(changes)
    return data


# --- the permission matrix -----------------------------------------------------------------------

PAGES: dict[str, Any] = {
    "index": lambda w: reverse("agent:manage"),
    "teams": lambda w: reverse("agent:manage_teams"),
    "team_new": lambda w: reverse("agent:manage_team_new"),
    "own_team": lambda w: reverse("agent:manage_team", args=[w.l1.pk]),
    "other_team": lambda w: reverse("agent:manage_team", args=[w.l2.pk]),
    "categories": lambda w: reverse("agent:manage_categories"),
    "category_new": lambda w: reverse("agent:manage_category_new"),
    "category": lambda w: reverse("agent:manage_category", args=[w.category.pk]),
    "services": lambda w: reverse("agent:manage_services"),
    "service_new": lambda w: reverse("agent:manage_service_new"),
    "service": lambda w: reverse("agent:manage_service", args=[w.service.pk]),
    "matrix": lambda w: reverse("agent:manage_matrix"),
    "canned": lambda w: reverse("agent:manage_canned"),
    "canned_new": lambda w: reverse("agent:manage_canned_new"),
    "own_canned": lambda w: reverse("agent:manage_canned_edit", args=[w.canned_l1.pk]),
    "other_canned": lambda w: reverse("agent:manage_canned_edit", args=[w.canned_l2.pk]),
}
LEAD = {"index": 200, "teams": 200, "team_new": 403, "own_team": 200, "other_team": 404,
        "categories": 403, "category_new": 403, "category": 403, "services": 403,
        "service_new": 403, "service": 403, "matrix": 403, "canned": 200, "canned_new": 200,
        "own_canned": 200, "other_canned": 404}
EXPECTED = {
    "manager": dict.fromkeys(PAGES, 200),
    "admin": dict.fromkeys(PAGES, 200),
    "lead": LEAD,
    "l1_agent": dict.fromkeys(PAGES, 403),
    "requester": dict.fromkeys(PAGES, 302),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("page", sorted(PAGES))
def test_permission_matrix(client, w, who, page):
    client.force_login(getattr(w, who))
    response = client.get(PAGES[page](w))
    assert response.status_code == EXPECTED[who][page]
    if who == "requester":
        assert response["Location"] == reverse("portal:home")


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_is_sent_to_sign_in(client, w, page):
    url = PAGES[page](w)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("url", [
    lambda w: reverse("agent:manage_team_new"),
    lambda w: reverse("agent:manage_category_new"),
    lambda w: reverse("agent:manage_service_new"),
    lambda w: reverse("agent:manage_matrix"),
    lambda w: reverse("agent:manage_canned_new"),
])
def test_requesters_and_agents_cannot_write(client, w, url):
    for who in ("requester", "l1_agent"):
        client.force_login(getattr(w, who))
        assert client.post(url(w), {}).status_code == 403
    assert not LogEntry.objects.exists()


def test_index_lists_what_each_may_administer(client, w):
    client.force_login(w.manager)
    page = client.get(reverse("agent:manage")).content.decode()
    for name in ("manage_teams", "manage_categories", "manage_services", "manage_matrix",
                 "manage_canned"):
        assert reverse(f"agent:{name}") in page
    client.force_login(w.lead)
    page = client.get(reverse("agent:manage")).content.decode()
    assert reverse("agent:manage_teams") in page and reverse("agent:manage_canned") in page
    assert reverse("agent:manage_matrix") not in page
    assert reverse("agent:manage_categories") not in page


# --- teams ---------------------------------------------------------------------------------------


def test_team_list_shows_line_speciality_members_and_state(client, w):
    client.force_login(w.manager)
    response = client.get(reverse("agent:manage_teams"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Service desk" in page and "Vendor" in page and "Line 4 (vendor)" in page
    assert response.context["page"].paginator.count == Team.objects.count()
    counts = {t.name: t.member_count for t in response.context["page"].object_list}
    assert counts["Service desk"] == 3 and counts["Infrastructure"] == 0


def test_team_list_sorts_and_the_htmx_request_gets_the_results_only(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_teams")
    names = [t.name for t in client.get(url, {"ordering": "-members"}).context["page"]]
    assert names[0] == "Service desk"
    names = [t.name for t in client.get(url, {"ordering": "name"}).context["page"]]
    assert names == sorted(names)
    partial = client.get(url, {"ordering": "name"}, **HX)
    assert partial.status_code == 200
    assert b"<html" not in partial.content and b'id="teams-table"' in partial.content
    assert partial["Vary"].count("HX-Request") == 1


def test_a_lead_sees_only_the_teams_they_lead(client, w):
    client.force_login(w.lead)
    response = client.get(reverse("agent:manage_teams"))
    assert [t.name for t in response.context["page"]] == ["Service desk"]


def test_create_a_team_writes_the_audit_row(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_team_new"), team_data())
    team = Team.objects.get(name="Security")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:manage_team", args=[team.pk])
    assert (team.line, team.speciality, team.email, team.is_active) == (
        2, "security", "sec@opora.local", True)
    [row] = log_rows(team)
    assert row.user_id == w.manager.pk and row.action_flag == ADDITION
    assert json.loads(row.change_message) == [{"added": {}}]


@pytest.mark.parametrize(("data", "field", "message"), [
    (team_data(name="service DESK"), "name", "A team with this name already exists."),
    (team_data(name="  "), "name", "This field is required."),
    (team_data(line="7"), "line", "Select a valid choice."),
    (team_data(email="not-an-email"), "email", "Enter a valid email address."),
])
def test_create_a_team_with_bad_input_keeps_what_was_typed(client, w, data, field, message):
    client.force_login(w.manager)
    before = Team.objects.count()
    response = client.post(reverse("agent:manage_team_new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    page = response.content.decode()
    assert 'value="security"' in page  # the speciality typed is still there
    assert f'id="id_{field}_error"' in page
    assert Team.objects.count() == before
    assert not LogEntry.objects.exists()


def test_edit_a_team_logs_the_changed_fields(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_team", args=[w.l3.pk])
    response = client.post(url, team_data(name="Servers", line="3", speciality="", email=""))
    assert response.status_code == 302
    w.l3.refresh_from_db()
    assert (w.l3.name, w.l3.line) == ("Servers", 3)
    [row] = log_rows(w.l3)
    assert row.user_id == w.manager.pk and row.action_flag == CHANGE
    assert json.loads(row.change_message) == [{"changed": {"fields": ["name"]}}]


def test_a_team_with_open_tickets_cannot_be_deactivated(client, w):
    f.TicketFactory.create(requester=w.requester, team=w.l1)
    client.force_login(w.manager)
    data = team_data(name="Service desk renamed", line="1", speciality="", email="")
    data.pop("is_active")
    response = client.post(reverse("agent:manage_team", args=[w.l1.pk]), data)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["is_active"])
    assert "The team still has 2 open tickets" in errors
    assert 'value="Service desk renamed"' in response.content.decode()
    w.l1.refresh_from_db()
    assert w.l1.is_active and w.l1.name == "Service desk"
    assert not LogEntry.objects.exists()


def test_a_team_without_open_tickets_is_deactivated(client, w):
    client.force_login(w.manager)
    data = team_data(name="Vendor", line="4", speciality="", email="")
    data.pop("is_active")
    assert client.post(reverse("agent:manage_team", args=[w.l4.pk]), data).status_code == 302
    w.l4.refresh_from_db()
    assert not w.l4.is_active
    assert json.loads(log_rows(w.l4)[0].change_message) == [
        {"changed": {"fields": ["is_active"]}}]


def test_add_mark_lead_and_remove_a_member(client, w):
    client.force_login(w.manager)
    add = reverse("agent:manage_member_add", args=[w.l2.pk])
    assert client.post(add, {"user": w.l1_agent.pk}).status_code == 302
    membership = TeamMembership.objects.get(team=w.l2, user=w.l1_agent)
    assert not membership.is_lead
    lead = reverse("agent:manage_member_lead", args=[w.l2.pk, membership.pk])
    assert client.post(lead, {"is_lead": "1"}).status_code == 302
    membership.refresh_from_db()
    assert membership.is_lead
    remove = reverse("agent:manage_member_remove", args=[w.l2.pk, membership.pk])
    assert client.post(remove).status_code == 302
    assert not TeamMembership.objects.filter(pk=membership.pk).exists()
    messages = [json.loads(r.change_message)[0] for r in log_rows(w.l2)]
    assert [next(iter(m)) for m in messages] == ["added", "changed", "deleted"]
    assert messages[1]["changed"]["fields"] == ["is_lead"]
    assert all(r.user_id == w.manager.pk for r in log_rows(w.l2))


def test_only_active_staff_can_be_members(client, w):
    client.force_login(w.manager)
    add = reverse("agent:manage_member_add", args=[w.l2.pk])
    response = client.post(add, {"user": w.requester.pk})
    assert response.status_code == 400
    assert response.context["member_form"].errors["user"]
    disabled = f.AgentFactory.create(is_active=False)
    assert client.post(add, {"user": disabled.pk}).status_code == 400
    with pytest.raises(ActionError) as exc:
        team_actions.add_member(w.l2, user=w.requester, actor=w.manager)
    assert exc.value.code == "not_staff"
    with pytest.raises(ActionError) as exc:
        team_actions.add_member(w.l2, user=w.l2_agent, actor=w.manager)
    assert exc.value.code == "duplicate"
    assert TeamMembership.objects.filter(team=w.l2).count() == 1


def test_a_lead_manages_members_of_their_own_team_only(client, w):
    client.force_login(w.lead)
    own = reverse("agent:manage_member_add", args=[w.l1.pk])
    assert client.post(own, {"user": w.l2_agent.pk}).status_code == 302
    assert TeamMembership.objects.filter(team=w.l1, user=w.l2_agent).exists()
    other = reverse("agent:manage_member_add", args=[w.l2.pk])
    assert client.post(other, {"user": w.l1_agent.pk}).status_code == 404
    member = TeamMembership.objects.get(team=w.l2, user=w.l2_agent)
    remove = reverse("agent:manage_member_remove", args=[w.l2.pk, member.pk])
    assert client.post(remove).status_code == 404
    assert TeamMembership.objects.filter(pk=member.pk).exists()
    # Team settings are the manager's: the lead sees no form and may not post one.
    page = client.get(reverse("agent:manage_team", args=[w.l1.pk]))
    assert page.context["form"] is None
    response = client.post(reverse("agent:manage_team", args=[w.l1.pk]), team_data())
    assert response.status_code == 403
    with pytest.raises(team_actions.NotAllowed):
        team_actions.add_member(w.l2, user=w.l1_agent, actor=w.lead)


def test_a_lead_cannot_remove_themselves(client, w):
    client.force_login(w.lead)
    own = TeamMembership.objects.get(team=w.l1, user=w.lead)
    response = client.post(reverse("agent:manage_member_remove", args=[w.l1.pk, own.pk]),
                           follow=True)
    assert "ask a service desk manager" in response.content.decode()
    assert TeamMembership.objects.filter(pk=own.pk).exists()


# --- categories ----------------------------------------------------------------------------------


def test_create_a_category_under_a_parent(client, w):
    client.force_login(w.admin)
    response = client.post(reverse("agent:manage_category_new"),
                           category_data(parent=str(w.category.pk)))
    assert response.status_code == 302
    created = Category.objects.get(code="scanners")
    assert (created.parent_id, created.name_en, created.position) == (w.category.pk, "Scanners", 5)
    [row] = log_rows(created)
    assert row.user_id == w.admin.pk and row.action_flag == ADDITION


@pytest.mark.parametrize(("data", "field", "message"), [
    (category_data(code="printers"), "code", "A category with this code already exists."),
    (category_data(code="not a slug"), "code", "Enter a valid “slug”"),
    (category_data(name=""), "name", "This field is required."),
    (category_data(position="-1"), "position", "greater than or equal to 0"),
])
def test_create_a_category_with_bad_input(client, w, data, field, message):
    client.force_login(w.manager)
    before = Category.objects.count()
    response = client.post(reverse("agent:manage_category_new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert 'value="Scanners"' in response.content.decode()
    assert Category.objects.count() == before


def test_a_category_cannot_go_under_its_own_subcategory(client, w):
    child = f.CategoryFactory.create(code="laser", parent=w.category)
    grandchild = f.CategoryFactory.create(code="laser-colour", parent=child)
    client.force_login(w.manager)
    data = category_data(code="printers", name="Принтеры", name_en="Printers",
                         parent=str(grandchild.pk))
    response = client.post(reverse("agent:manage_category", args=[w.category.pk]), data)
    assert response.status_code == 400
    assert response.context["form"].errors["parent"] == [
        "A category cannot be placed under itself or one of its subcategories."]
    # The select does not even offer the category and what is under it.
    options = dict(response.context["form"].fields["parent"].choices)
    assert w.category.pk not in options and grandchild.pk not in options
    with pytest.raises(ActionError) as exc:
        catalog_actions.update_category(w.category, code="printers", name="Принтеры",
                                        name_en="", parent=grandchild, position=0,
                                        is_active=True, actor=w.manager)
    assert exc.value.code == "cycle" and exc.value.field == "parent"
    with pytest.raises(ActionError):
        catalog_actions.update_category(w.category, code="printers", name="Принтеры",
                                        name_en="", parent=w.category, position=0,
                                        is_active=True, actor=w.manager)
    w.category.refresh_from_db()
    assert w.category.parent_id is None
    assert not LogEntry.objects.exists()


def test_deactivate_a_category_and_the_tree_is_indented(client, w):
    child = f.CategoryFactory.create(code="laser", name="Лазерные", name_en="Laser",
                                     parent=w.category)
    client.force_login(w.manager)
    data = category_data(code="laser", name="Лазерные", name_en="Laser",
                         parent=str(w.category.pk), position="0")
    data.pop("is_active")
    assert client.post(reverse("agent:manage_category", args=[child.pk]), data).status_code == 302
    child.refresh_from_db()
    assert not child.is_active and Category.objects.filter(pk=child.pk).exists()
    assert json.loads(log_rows(child)[0].change_message) == [
        {"changed": {"fields": ["is_active"]}}]
    response = client.get(reverse("agent:manage_categories"))
    rows = {r.category.pk: r for r in response.context["page"].object_list}
    assert rows[w.category.pk].depth == 0 and rows[child.pk].depth == 1
    order = [r.category.pk for r in response.context["page"].object_list]
    assert order.index(child.pk) == order.index(w.category.pk) + 1
    assert 'data-depth="1"' in response.content.decode()


# --- services ------------------------------------------------------------------------------------


def test_create_and_edit_a_service(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_service_new"),
                           service_data(owner_team=str(w.l3.pk)))
    assert response.status_code == 302
    service = Service.objects.get(code="vpn")
    assert service.owner_team_id == w.l3.pk
    response = client.post(reverse("agent:manage_service", args=[service.pk]),
                           service_data(owner_team=str(w.l2.pk), description="VPN for all"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.owner_team_id == w.l2.pk
    rows = log_rows(service)
    assert [r.action_flag for r in rows] == [ADDITION, CHANGE]
    assert json.loads(rows[1].change_message) == [
        {"changed": {"fields": ["description", "owner_team"]}}]


def test_a_service_code_is_unique(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_service_new"),
                           service_data(code="mail", description="Keep this text"))
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == ["A service with this code already exists."]
    assert "Keep this text" in response.content.decode()
    assert Service.objects.filter(code="mail").count() == 1


# --- priority matrix -----------------------------------------------------------------------------


def test_the_matrix_shows_the_current_priorities(client, w):
    client.force_login(w.manager)
    page = client.get(reverse("agent:manage_matrix")).content.decode()
    assert page.count('<select id="id_cell_') == 9
    assert '<option value="1" selected>Critical</option>' in page


def test_saving_the_matrix_changes_priority_for_and_is_audited(client, w):
    client.force_login(w.manager)
    assert selectors.priority_for(Level.LOW, Level.LOW) == Priority.INFORMATIONAL
    response = client.post(reverse("agent:manage_matrix"),
                           matrix_data(cell_3_3=str(Priority.LOW)))
    assert response.status_code == 302
    assert selectors.priority_for(Level.LOW, Level.LOW) == Priority.LOW
    cell = PriorityMatrixCell.objects.get(impact=3, urgency=3)
    [row] = log_rows(cell)
    assert row.user_id == w.manager.pk and row.action_flag == CHANGE
    assert json.loads(row.change_message) == [{"changed": {"fields": ["priority"]}}]


@pytest.mark.parametrize("bad", ["9", "", "x"])
def test_a_matrix_with_a_bad_value_changes_nothing(client, w, bad):
    client.force_login(w.manager)
    before = matrix.current_matrix()
    response = client.post(reverse("agent:manage_matrix"),
                           matrix_data(cell_1_1=str(Priority.LOW), cell_2_3=bad))
    assert response.status_code == 400
    assert "Choose a priority in every cell of the matrix." in response.content.decode()
    assert matrix.current_matrix() == before
    assert not LogEntry.objects.exists()
    # What was typed in the valid cells is kept.
    assert '<option value="4" selected>Low</option>' in response.content.decode()


def test_a_missing_cell_is_added(w):
    PriorityMatrixCell.objects.filter(impact=1, urgency=1).delete()
    changed = matrix.save_priority_matrix(
        cells={**matrix.current_matrix(), (1, 1): Priority.HIGH}, actor=w.manager)
    assert changed == [(1, 1)]
    assert selectors.priority_for(1, 1) == Priority.HIGH
    with pytest.raises(team_actions.NotAllowed):
        matrix.save_priority_matrix(cells=matrix.current_matrix(), actor=w.lead)


# --- canned responses ----------------------------------------------------------------------------


def test_canned_list_filters_by_team_and_language(client, w):
    CannedResponse.objects.create(title="Привет", body="Здравствуйте!", language="ru")
    client.force_login(w.manager)
    url = reverse("agent:manage_canned")
    titles = lambda r: sorted(c.title for c in r.context["page"])  # noqa: E731
    assert titles(client.get(url)) == ["Cable", "Hello", "Restart", "Привет"]
    assert titles(client.get(url, {"team": w.l1.pk})) == ["Restart"]
    assert titles(client.get(url, {"team": "all"})) == ["Hello", "Привет"]
    assert titles(client.get(url, {"language": "ru"})) == ["Привет"]
    assert titles(client.get(url, {"language": "any", "team": "all"})) == ["Hello"]
    partial = client.get(url, {"language": "ru"}, **HX)
    assert b"<html" not in partial.content and "Привет" in partial.content.decode()


def test_a_lead_sees_and_edits_only_their_teams_canned_responses(client, w):
    client.force_login(w.lead)
    listed = client.get(reverse("agent:manage_canned")).context["page"]
    assert [c.title for c in listed] == ["Restart"]
    data = {"title": "Reboot", "body": "Restart *twice*.", "team": str(w.l1.pk), "language": "en"}
    assert client.post(reverse("agent:manage_canned_new"), data).status_code == 302
    created = CannedResponse.objects.get(title="Reboot")
    assert (created.team_id, created.language, created.created_by_id) == (w.l1.pk, "en", w.lead.pk)
    # Not for another team, not for every team.
    response = client.post(reverse("agent:manage_canned_new"), {**data, "team": str(w.l2.pk)})
    assert response.status_code == 400 and response.context["form"].errors["team"]
    response = client.post(reverse("agent:manage_canned_new"), {**data, "team": ""})
    assert response.status_code == 400 and response.context["form"].errors["team"]
    assert 'Restart *twice*.' in response.content.decode()
    edit = reverse("agent:manage_canned_edit", args=[w.canned_l2.pk])
    assert client.post(edit, {**data, "team": str(w.l1.pk)}).status_code == 404
    active = reverse("agent:manage_canned_active", args=[w.canned_all.pk])
    assert client.post(active, {"is_active": "0"}).status_code == 404
    with pytest.raises(ActionError):
        canned.create_canned_response(title="x", body="y", team=w.l2, actor=w.lead)
    with pytest.raises(team_actions.NotAllowed):
        canned.update_canned_response(w.canned_l2, title="x", body="y", team=w.l1, language="",
                                      actor=w.lead)
    w.canned_l2.refresh_from_db()
    assert w.canned_l2.title == "Cable"


def test_manager_creates_for_all_teams_edits_and_deactivates(client, w):
    client.force_login(w.manager)
    data = {"title": "Password reset", "body": "Go to **self-service**.", "team": "",
            "language": ""}
    assert client.post(reverse("agent:manage_canned_new"), data).status_code == 302
    created = CannedResponse.objects.get(title="Password reset")
    assert created.team_id is None
    edit = reverse("agent:manage_canned_edit", args=[created.pk])
    assert client.post(edit, {**data, "language": "ru"}).status_code == 302
    active = reverse("agent:manage_canned_active", args=[created.pk])
    assert client.post(active, {"is_active": "0"}).status_code == 302
    created.refresh_from_db()
    assert created.language == "ru" and not created.is_active
    rows = log_rows(created)
    assert [json.loads(r.change_message) for r in rows] == [
        [{"added": {}}], [{"changed": {"fields": ["language"]}}],
        [{"changed": {"fields": ["is_active"]}}]]
    assert {r.user_id for r in rows} == {w.manager.pk}


def test_canned_response_with_bad_input_keeps_the_text(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_canned_new"),
                           {"title": "", "body": "Some *text*", "team": "", "language": "de"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "title" in errors and "language" in errors
    assert "Some *text*" in response.content.decode()
    assert not CannedResponse.objects.filter(body="Some *text*").exists()


def test_canned_preview_renders_sanitised_markdown_and_saves_nothing(client, w):
    client.force_login(w.manager)
    data = {"title": "T", "body": "**bold** <script>alert(1)</script>", "team": "",
            "language": "", "_preview": "1"}
    partial = client.post(reverse("agent:manage_canned_new"), data, **HX)
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<strong>bold</strong>" in html and "<script>" not in html
    assert "<html" not in html
    full = client.post(reverse("agent:manage_canned_new"), data)
    assert full.status_code == 200 and "<strong>bold</strong>" in full.content.decode()
    assert not CannedResponse.objects.filter(title="T").exists()


# --- pinned query counts -------------------------------------------------------------------------

# session, user, the sidebar's queue counts and saved filters, then the page's own.
LIST_QUERIES = {
    "agent:manage_teams": 6,  # + count, rows with member counts
    "agent:manage_categories": 5,  # + the whole tree in one query
    "agent:manage_services": 6,  # + count, rows with their owner team
    "agent:manage_canned": 7,  # + the teams of the filter, count, rows with their team
}


@pytest.mark.parametrize("name", sorted(LIST_QUERIES))
def test_list_query_counts_do_not_grow_with_rows(client, w, name, django_assert_num_queries):
    client.force_login(w.manager)
    url = reverse(name)
    client.get(url)  # warm the content-type and other caches
    with django_assert_num_queries(LIST_QUERIES[name]):
        assert client.get(url).status_code == 200
    for i in range(12):
        team = f.TeamFactory.create(members=[f.AgentFactory.create()])
        parent = f.CategoryFactory.create()
        f.CategoryFactory.create(parent=parent)
        f.ServiceFactory.create(owner_team=team)
        CannedResponse.objects.create(title=f"Answer {i}", body="…", team=team)
    with django_assert_num_queries(LIST_QUERIES[name]):
        assert client.get(url).status_code == 200


def test_lead_canned_list_query_count(client, w, django_assert_num_queries):
    client.force_login(w.lead)
    url = reverse("agent:manage_canned")
    client.get(url)
    # + the led teams for access, for the filter's teams and for the rows.
    with django_assert_num_queries(9):
        assert client.get(url).status_code == 200
