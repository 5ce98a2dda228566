"""Sign-in, the front door and the language switcher."""

from __future__ import annotations

import pytest
from django.test import Client

from opora.accounts.models import User
from opora.testing import factories as f


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.mark.django_db
def test_sign_in_page_and_security_headers(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.content.decode()  # no inline scripts


@pytest.mark.django_db
def test_signing_in_with_email_and_password_leads_by_role(client):
    agent = f.AgentFactory.create(email="agent@example.com")
    requester = f.RequesterFactory.create(email="user@example.com")
    response = client.post("/login/", {"username": "AGENT@example.com",
                                       "password": f.PASSWORD})
    assert response.status_code == 302
    assert client.get("/").url == "/agent/"
    client.post("/logout/")
    assert client.get("/").url.startswith("/login/")
    client.force_login(requester)
    assert client.get("/").url == "/portal/"
    assert agent.pk and requester.pk


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client):
    f.AgentFactory.create(email="agent@example.com")
    response = client.post("/login/", {"username": "agent@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_language_switch_remembers_the_choice_in_the_profile(client):
    user = f.RequesterFactory.create(language="ru")
    client.force_login(user)
    response = client.post("/language/", {"language": "en", "next": "/portal/"})
    assert response.status_code == 302 and response.url == "/portal/"
    assert User.objects.get(pk=user.pk).language == "en"
    assert response.cookies["django_language"].value == "en"
    # An unknown code changes nothing.
    client.post("/language/", {"language": "xx", "next": "/portal/"})
    assert User.objects.get(pk=user.pk).language == "en"


@pytest.mark.django_db
def test_anonymous_language_switch_sets_the_cookie_only(client):
    response = client.post("/language/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert "Sign in to Opora" in client.get("/login/").content.decode()
