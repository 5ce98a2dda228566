"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from opora.testing import factories as f

SHARED = Path(__file__).resolve().parent.parent / "shared"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploads of a test land in its own temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_sla_schedules():
    """Computed business calendars are cached per process by (id, version); a rolled-back test
    database hands the same ids out again, so every test starts with an empty cache."""
    from opora.sla.schedules import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def shared_corpora() -> Path:
    """``../shared/corpora`` beside the checkout; tests using it skip where it is absent."""
    path = SHARED / "corpora"
    if not path.is_dir():
        pytest.skip("../shared/corpora is not beside this checkout (a plain clone has none)")
    return path


@pytest.fixture
def api():
    """An API client; ``api.as_user(user)`` authenticates with that person's token."""

    class Client(APIClient):
        def as_user(self, user):
            from rest_framework.authtoken.models import Token

            token, _ = Token.objects.get_or_create(user=user)
            self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            return self

    return Client()


@pytest.fixture
def world(db):
    """A small desk: two client organisations, an L1 and an L2 team, one of each role."""

    class World:
        pass

    w = World()
    w.org = f.OrganisationFactory(name="Северный ветер")
    w.other_org = f.OrganisationFactory(name="Globex")
    w.requester = f.RequesterFactory(organisation=w.org, full_name="Пётр Пользователев")
    w.colleague = f.RequesterFactory(organisation=w.org)
    w.org_manager = f.OrgManagerFactory(organisation=w.org)
    w.outsider = f.RequesterFactory(organisation=w.other_org)
    w.other_manager = f.OrgManagerFactory(organisation=w.other_org)
    w.l1_agent = f.AgentFactory(full_name="Ольга Первова")
    w.l1_agent2 = f.AgentFactory()
    w.l2_agent = f.AgentFactory(full_name="Сергей Сетевой")
    w.lead = f.TeamLeadFactory()
    w.loner = f.AgentFactory()  # an agent in a team that serves nothing here
    w.manager = f.ManagerFactory()
    w.admin = f.AdminFactory()
    w.l1 = f.TeamFactory(name="Service desk", line=1, members=[w.l1_agent, w.l1_agent2, w.lead])
    w.l2 = f.TeamFactory(name="Network", line=2, members=[w.l2_agent])
    w.l3 = f.TeamFactory(name="Infrastructure", line=3)
    w.l4 = f.TeamFactory(name="Vendor", line=4)
    w.elsewhere = f.TeamFactory(name="Elsewhere", line=1, members=[w.loner])
    # Opened by the requester; the default intake (the first line-1 team) routes it to w.l1.
    w.ticket = f.TicketFactory(requester=w.requester)
    assert w.ticket.team_id == w.l1.pk
    return w


def pytest_collection_modifyitems(items):
    """Every committing test must restore the migrated data it flushes (content types, the
    default categories and priority matrix): a mix of restoring and non-restoring transactional
    tests collides on content types. Fail loudly instead of flaking."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get(
            "serialized_rollback"
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, "
                "serialized_rollback=True)"
            )
