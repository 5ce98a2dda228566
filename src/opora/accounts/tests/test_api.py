"""The token endpoint and the people / organisation / team directory over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from opora.testing import factories as f

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The anonymous throttle counts requests in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["code"] == code, body
    return body


# --- token -------------------------------------------------------------------------------------


def test_email_and_password_give_the_token(world, api):
    user = world.requester
    r = api.post(TOKEN, {"email": user.email, "password": f.PASSWORD}, format="json")
    assert r.status_code == 200, r.json()
    key = r.json()["token"]
    assert set(r.json()) == {"token"}
    assert Token.objects.get(user=user).key == key
    # The same token again, whatever the case of the address.
    r = api.post(TOKEN, {"email": user.email.upper(), "password": f.PASSWORD}, format="json")
    assert r.json()["token"] == key
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = api.get("/api/v1/users/me/")
    assert me.status_code == 200 and me.json()["id"] == user.pk


def test_form_encoded_body_works_too(world, api):
    r = api.post(TOKEN, {"email": world.l1_agent.email, "password": f.PASSWORD})
    assert r.status_code == 200, r.json()


def test_a_stale_authorization_header_does_not_block_logging_in(world, api):
    api.credentials(HTTP_AUTHORIZATION="Token expired-or-garbage")
    r = api.post(TOKEN, {"email": world.requester.email, "password": f.PASSWORD}, format="json")
    assert r.status_code == 200, r.json()


def test_wrong_password_unknown_email_and_inactive_user_answer_alike(world, api):
    world.colleague.is_active = False
    world.colleague.save()
    answers = []
    for email, password in [(world.requester.email, "wrong"),
                            (world.requester.email, f.PASSWORD.upper()),
                            ("nobody@example.com", f.PASSWORD),
                            (world.colleague.email, f.PASSWORD)]:
        r = api.post(TOKEN, {"email": email, "password": password}, format="json")
        body = assert_error(r, 401, "authentication_failed")
        assert r["WWW-Authenticate"] == "Token"
        answers.append(body)
    # Nothing tells an unknown or disabled address from a wrong password.
    assert all(a == answers[0] for a in answers)
    assert not Token.objects.filter(user=world.colleague).exists()


def test_a_disabled_person_loses_the_token_they_had(world, api):
    api.as_user(world.colleague)
    assert api.get("/api/v1/users/me/").status_code == 200
    world.colleague.is_active = False
    world.colleague.save()
    assert_error(api.get("/api/v1/users/me/"), 401, "authentication_failed")


@pytest.mark.parametrize(("payload", "fields"), [
    ({}, {"email", "password"}),
    ({"email": "not-an-email", "password": "x"}, {"email"}),
    ({"email": "a@b.example"}, {"password"}),
    ({"email": None, "password": None}, {"email", "password"}),
    ({"email": "a@b.example", "password": ""}, {"password"}),
])
def test_malformed_requests_are_400(world, api, payload, fields):
    body = assert_error(api.post(TOKEN, payload, format="json"), 400, "invalid")
    assert set(body["errors"]) == fields


def test_token_endpoint_methods_and_bodies(world, api):
    assert_error(api.get(TOKEN), 405, "method_not_allowed")
    assert_error(api.post(TOKEN, "{oops", content_type="application/json"), 400, "parse_error")
    assert_error(api.post(TOKEN, "x", content_type="text/plain"), 415, "unsupported_media_type")


def test_guessing_passwords_is_throttled(world, api):
    for _ in range(60):
        assert api.post(TOKEN, {"email": "a@b.example"}, format="json").status_code == 400
    r = api.post(TOKEN, {"email": world.requester.email, "password": f.PASSWORD}, format="json")
    assert_error(r, 429, "throttled")
    assert int(r["Retry-After"]) > 0


# --- directory ---------------------------------------------------------------------------------


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def test_users_listing_scope(world, api):
    api.as_user(world.requester)
    assert _ids(api.get("/api/v1/users/")) == [world.requester.pk]
    # Filters narrow what one sees; they never widen it.
    assert _ids(api.get(f"/api/v1/users/?organisation={world.other_org.pk}")) == []
    assert _ids(api.get("/api/v1/users/?role=agent")) == []
    assert _ids(api.get(f"/api/v1/users/?q={world.colleague.email}")) == []
    api.as_user(world.org_manager)
    assert set(_ids(api.get("/api/v1/users/"))) == {world.requester.pk, world.colleague.pk,
                                                    world.org_manager.pk}
    assert api.get(f"/api/v1/users/{world.outsider.pk}/").status_code == 404
    assert api.get(f"/api/v1/users/{world.colleague.pk}/").status_code == 200


def test_staff_search_the_people(world, api):
    person = f.RequesterFactory.create(organisation=world.org, full_name="Анна Бухгалтерова",
                                email="anna@sever.example", phone="+7 495 111-22-33")
    api.as_user(world.l1_agent)
    for q in ("Бухгалтерова", "anna@sever", "111-22-33"):
        assert _ids(api.get(f"/api/v1/users/?q={q}")) == [person.pk], q
    assert _ids(api.get("/api/v1/users/?q=%20%20")) == _ids(api.get("/api/v1/users/"))
    agents = _ids(api.get("/api/v1/users/?role=agent&page_size=100"))
    assert set(agents) == {world.l1_agent.pk, world.l1_agent2.pk, world.l2_agent.pk,
                           world.loner.pk}
    in_org = _ids(api.get(f"/api/v1/users/?organisation={world.other_org.pk}"))
    assert set(in_org) == {world.outsider.pk, world.other_manager.pk}
    body = api.get(f"/api/v1/users/{person.pk}/").json()
    assert body == {
        "id": person.pk, "email": "anna@sever.example", "full_name": "Анна Бухгалтерова",
        "phone": "+7 495 111-22-33", "role": "requester",
        "organisation": {"id": world.org.pk, "name": world.org.name},
        "language": "", "time_zone": "", "is_active": True,
    }
    assert "password" not in api.get("/api/v1/users/me/").json()
    r = api.get("/api/v1/users/?q=a%00b")
    assert_error(r, 400, "invalid")
    assert_error(api.get("/api/v1/users/?role=wizard"), 400, "invalid")


def test_users_are_listed_by_name(world, api):
    api.as_user(world.manager)
    names = [row["full_name"] for row in api.get("/api/v1/users/?page_size=100").json()["results"]]
    assert names == sorted(names)
    emails = [row["email"] for row in
              api.get("/api/v1/users/?ordering=-email&page_size=100").json()["results"]]
    assert emails == sorted(emails, reverse=True)


def test_organisations_and_teams_scope(world, api):
    api.as_user(world.outsider)
    assert _ids(api.get("/api/v1/organisations/")) == [world.other_org.pk]
    assert _ids(api.get("/api/v1/teams/")) == []
    api.as_user(world.lead)
    assert set(_ids(api.get("/api/v1/organisations/"))) == {world.org.pk, world.other_org.pk}
    teams = api.get("/api/v1/teams/?line=2").json()["results"]
    assert [(t["name"], t["line"], [m["id"] for m in t["members"]]) for t in teams] == [
        ("Network", 2, [world.l2_agent.pk])]
    lines = [t["line"] for t in api.get("/api/v1/teams/").json()["results"]]
    assert lines == sorted(lines)


def test_a_person_without_an_organisation_sees_no_organisation(world, api):
    loose = f.RequesterFactory.create(organisation=None)
    api.as_user(loose)
    assert _ids(api.get("/api/v1/organisations/")) == []
    assert _ids(api.get("/api/v1/users/")) == [loose.pk]
