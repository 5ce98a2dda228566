"""Pages: the workspace search, the "nothing found" report, the portal's suggestions and the
deflection recording — through the test client, with the permission matrix."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from opora.kb.choices import Visibility
from opora.search import views
from opora.search.models import Deflection, DeflectionMethod, SearchLog
from opora.testing.factories import PASSWORD, TicketFactory

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(email=user.email, password=PASSWORD)
    return client


@pytest.fixture
def articles(world, make_article):
    return {
        "public": make_article("Принтер перестал печатать",
                               "Если принтер <script>alert(1)</script> не печатает, выключите."),
        "internal": make_article("Принтер: сервер печати", "Перезапуск службы печати.",
                                 visibility=Visibility.INTERNAL),
        "other_org": make_article("Принтер в офисе Globex", "Печать через сервер Globex.",
                                  visibility=Visibility.ORGANISATIONS,
                                  organisations=[world.other_org]),
    }


# --- workspace search ----------------------------------------------------------------------------


def test_agent_search_shows_both_tabs_with_safe_snippets(client, world, articles):
    login(client, world.l1_agent)
    response = client.get(reverse("search:agent"), {"q": "принтер не печатает"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Принтер перестал печатать" in html
    assert "<script>alert(1)" not in html
    assert "<mark>" in html
    # The world's ticket ("Printer N does not print") is on the other tab, counted.
    response = client.get(reverse("search:agent"), {"q": "printer", "tab": "tickets"})
    assert world.ticket.number in response.content.decode()
    assert SearchLog.objects.filter(source="agent").count() == 1  # tab switches are not logged


def test_agent_search_pages(client, world):
    for n in range(views.PAGE_SIZE + 3):
        TicketFactory.create(requester=world.requester, title=f"Монитор мерцает {n}")
    login(client, world.l1_agent)
    first = client.get(reverse("search:agent"), {"q": "монитор", "tab": "tickets"})
    assert first.context["tickets"].total == views.PAGE_SIZE + 3
    assert len(first.context["tickets"].hits) == views.PAGE_SIZE and first.context["next_url"]
    second = client.get(reverse("search:agent"), {"q": "монитор", "tab": "tickets", "page": 2})
    assert len(second.context["tickets"].hits) == 3 and not second.context["next_url"]


@pytest.mark.parametrize(("who", "status"), [("requester", 302), ("org_manager", 302)])
def test_agent_search_is_for_staff(client, world, articles, who, status):
    login(client, getattr(world, who))
    response = client.get(reverse("search:agent"), {"q": "принтер"})
    assert response.status_code == status and response.url == reverse("portal:home")


def test_agent_search_anonymous_goes_to_login(client, world):
    response = client.get(reverse("search:agent"), {"q": "принтер"})
    assert response.status_code == 302 and "login" in response.url


def test_agent_nav_has_the_search_box(client, world):
    login(client, world.l1_agent)
    html = client.get(reverse("agent:home")).content.decode()
    assert f'action="{reverse("search:agent")}"' in html


# --- portal suggestions --------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "expected"), [
    ("requester", {"public"}),
    ("outsider", {"public", "other_org"}),
    ("l1_agent", {"public"}),  # staff on the portal see what requesters see
])
def test_suggestions_permission_matrix(client, world, articles, who, expected):
    login(client, getattr(world, who))
    response = client.get(reverse("search:suggest"),
                          {"title": "Принтер не печатает", "description": "сервер печати"},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    shown = {name for name, article in articles.items() if article.title in html}
    assert shown == expected
    assert "<script>alert(1)" not in html


def test_suggestions_need_sign_in(client, world, articles):
    response = client.get(reverse("search:suggest"), {"title": "принтер"})
    assert response.status_code == 302


def test_new_request_page_asks_for_suggestions(client, world):
    login(client, world.requester)
    html = client.get(reverse("portal:new"), {"category": "hardware"}).content.decode()
    assert reverse("search:suggest") in html and "search/suggest.js" in html


def test_typing_session_logs_one_row(client, world, articles):
    login(client, world.requester)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC),
                             tick=False) as traveller:
        for typed in ("Прин", "Принтер", "Принтер зажевал"):
            client.get(reverse("search:suggest"), {"title": typed})
            traveller.shift(datetime.timedelta(seconds=20))
        assert SearchLog.objects.count() == 1
        log = SearchLog.objects.get()
        assert log.query == "Принтер зажевал" and log.results >= 1
        traveller.shift(views.TYPING_SESSION)
        client.get(reverse("search:suggest"), {"title": "Сканер"})
    assert SearchLog.objects.count() == 2


# --- deflection ----------------------------------------------------------------------------------


def test_open_then_solved_records_a_confirmed_deflection(client, world, articles):
    login(client, world.requester)
    article = articles["public"]
    opened = client.get(reverse("search:suggestion_open", args=[article.pk]),
                        {"q": "принтер не печатает"})
    assert opened.status_code == 302 and opened.url == views._article_url("portal", article.pk)
    # The panel now offers the button beside the article that was read.
    panel = client.get(reverse("search:suggest"), {"title": "принтер"}).content.decode()
    assert reverse("search:suggestion_solved", args=[article.pk]) in panel
    response = client.post(reverse("search:suggestion_solved", args=[article.pk]))
    assert response.status_code == 302 and response.url == reverse("portal:home")
    deflection = Deflection.objects.get()
    assert (deflection.user, deflection.article, deflection.method, deflection.query) == (
        world.requester, article, DeflectionMethod.CONFIRMED, "принтер не печатает")
    # The same visit does not count twice (the beacon fires when the page is left).
    client.post(reverse("search:suggestion_left"), {"article": [article.pk]})
    assert Deflection.objects.count() == 1


def test_leaving_after_reading_records_a_left_deflection(client, world, articles):
    login(client, world.requester)
    article = articles["public"]
    client.get(reverse("search:suggestion_open", args=[article.pk]), {"q": "принтер"})
    response = client.post(reverse("search:suggestion_left"), {"article": [article.pk, 999999]})
    assert response.status_code == 204
    assert Deflection.objects.get().method == DeflectionMethod.LEFT


def test_beacon_without_reading_counts_nothing(client, world, articles):
    login(client, world.requester)
    client.post(reverse("search:suggestion_left"), {"article": [articles["public"].pk]})
    client.post(reverse("search:suggestion_solved", args=[articles["public"].pk]))
    assert not Deflection.objects.exists()


def test_reading_long_ago_counts_nothing(client, world, articles):
    login(client, world.requester)
    start = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        client.get(reverse("search:suggestion_open", args=[articles["public"].pk]))
        traveller.shift(views.OPENED_TTL + datetime.timedelta(minutes=1))
        client.post(reverse("search:suggestion_left"), {"article": [articles["public"].pk]})
    assert not Deflection.objects.exists()


@pytest.mark.parametrize("name", ["internal", "other_org"])
def test_invisible_articles_cannot_be_opened_or_counted(client, world, articles, name):
    login(client, world.requester)
    pk = articles[name].pk
    assert client.get(reverse("search:suggestion_open", args=[pk])).status_code == 404
    assert client.post(reverse("search:suggestion_solved", args=[pk])).status_code == 404
    assert not Deflection.objects.exists()


# --- "nothing found" report ----------------------------------------------------------------------


def test_zero_results_report_groups_and_filters(client, world, articles):
    login(client, world.l1_agent)
    with time_machine.travel(datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)):
        client.get(reverse("search:agent"), {"q": "Квантовый  телепорт"})
    with time_machine.travel(datetime.datetime(2026, 3, 5, 10, 0, tzinfo=datetime.UTC)):
        login(client, world.l2_agent)
        client.get(reverse("search:agent"), {"q": "квантовый телепорт"})
        client.get(reverse("search:agent"), {"q": "принтер"})  # found something: not listed
    assert SearchLog.objects.filter(results=0).count() == 2
    rows = list(views.zero_results_rows(since=None, until=None))
    assert [(r["normalised"], r["times"], r["people"]) for r in rows] == [
        ("квантовый телепорт", 2, 2)]
    login(client, world.manager)
    response = client.get(reverse("search:zero_results"))
    assert response.status_code == 200 and "телепорт" in response.content.decode()
    response = client.get(reverse("search:zero_results"), {"from": "2026-03-03"})
    assert [r["times"] for r in response.context["page"]] == [1]
    response = client.get(reverse("search:zero_results"), {"to": "2026-03-01"})
    assert list(response.context["page"]) == []


@pytest.mark.parametrize(("who", "status"), [("l1_agent", 403), ("lead", 200), ("admin", 200),
                                             ("requester", 302)])
def test_zero_results_report_is_for_managers(client, world, who, status):
    login(client, getattr(world, who))
    assert client.get(reverse("search:zero_results")).status_code == status
