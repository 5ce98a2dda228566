"""The SLA report page ``/agent/reports/sla/`` and its exports, through the test client: who may
open what, the numbers of every tab for the story of ``test_reports``, the filters, sorting and
paging of the breached list (and its htmx partial), Russian and English, and pinned query counts.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from opora.agent import sla_reports
from opora.sla.choices import Metric

from .test_reports import NOW, PG, build_story

pytestmark = pytest.mark.django_db

URL = "/agent/reports/sla/"
EXPORT = "/agent/reports/sla/export/"
HX = {"HTTP_HX_REQUEST": "true"}
PERIOD = {"month_from": "2023-01", "month_to": "2023-03"}


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def story_world(world):
    return build_story(world)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def cells(html: str, table_id: str) -> list[list[str]]:
    """The text of the body rows of a table (tags stripped, whitespace collapsed)."""
    body = html.split(f'id="{table_id}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        found = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in found])
    return rows


def test_urls():
    assert reverse("agent:sla_reports") == URL
    assert reverse("agent:sla_reports_export") == EXPORT


# --- who may open what -------------------------------------------------------------------------

EXPECTED = {"manager": 200, "admin": 200, "lead": 200, "l1_agent": 403, "requester": 302,
            "org_manager": 302}


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("url", [URL, f"{URL}?tab=breached", f"{EXPORT}?format=csv",
                                 f"{EXPORT}?format=xlsx"])
def test_permission_matrix(client, world, who, url):
    client.force_login(getattr(world, who))
    response = client.get(url)
    assert response.status_code == EXPECTED[who]
    if EXPECTED[who] == 302:
        assert response["Location"] == reverse("portal:home")


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(URL)
    assert response.status_code == 302 and "next=" in response["Location"]


def test_the_nav_link_shows_for_report_readers_only(client, world):
    for who, shown in (("manager", True), ("lead", True), ("l1_agent", False)):
        client.force_login(getattr(world, who))
        page = client.get(reverse("agent:home")).content.decode()
        assert (f'href="{URL}"' in page) is shown, who


# --- the tabs ----------------------------------------------------------------------------------


def test_compliance_tab(client, story_world, frozen):
    w = story_world
    client.force_login(w.manager)
    page = client.get(URL, {**PERIOD, "group": ["metric", "priority"]}).content.decode()
    assert cells(page, "report-compliance") == [
        ["First response", "Medium", "6", "3", "9", "66.67"],
        ["Resolution", "Medium", "6", "2", "8", "75.00"],
    ]
    assert "<th scope=\"row\" colspan=\"2\">Total</th>" in page and "70.59" in page
    assert 'id="report-period">January 2023 – March 2023<' in page
    page = client.get(URL, {**PERIOD, "group": ["month", "organisation"]}).content.decode()
    assert cells(page, "report-compliance") == [
        ["January 2023", "Globex", "2", "0", "2", "100.00"],
        ["January 2023", "Северный ветер", "5", "4", "9", "55.56"],
        ["February 2023", "Globex", "5", "1", "6", "83.33"],
    ]


def test_export_links_carry_the_filters(client, story_world, frozen):
    client.force_login(story_world.manager)
    page = client.get(URL, {**PERIOD, "organisation": story_world.org.pk, "tab": "breached"})
    links = page.context["exports"]
    assert links["xlsx"].startswith(EXPORT) and "format=xlsx" in links["xlsx"]
    assert f"organisation={story_world.org.pk}" in links["csv"]
    assert "tab=breached" in links["csv"] and "format=csv" in links["csv"]
    response = client.get(links["csv"])
    assert response.status_code == 200
    body = response.getvalue().decode("utf-8-sig")
    assert body.count("\n") == 1 + 4  # the header and Acme's four breaches


def test_percentiles_tab(client, story_world, frozen):
    client.force_login(story_world.manager)
    page = client.get(URL, {**PERIOD, "tab": "percentiles",
                            "organisation": story_world.org.pk}).content.decode()
    assert cells(page, "report-percentiles") == [
        ["First response", "Medium", "4", "1 h", "75.00", "25 min", "1 h 12 min", "1 h 21 min"],
        ["Resolution", "Medium", "3", "4 h", "66.67", "3 h", "4 h 36 min", "4 h 48 min"],
    ]


def test_breached_tab_sorts_pages_and_links_to_tickets(client, story_world, frozen,
                                                       monkeypatch):
    w = story_world
    client.force_login(w.manager)
    page = client.get(URL, {**PERIOD, "tab": "breached", "ordering": "breached_at"})
    html = page.content.decode()
    rows = cells(html, "breached-table")
    assert [r[0].split()[0] for r in rows] == [w.t2.number, w.t3.number, w.t4.number,
                                               w.t4.number, w.g2.number]
    assert f'href="{reverse("agent:ticket", args=[w.t2.number])}"' in html
    # How late: T4 is still open, so up to "now" (10 March 12:00): 56 days and 1 h after its
    # first response was due (13 January 11:00).
    assert rows[2][3].startswith("First response") and rows[2][-1] == "1345 h"
    assert rows[0][-2:] == ["1 h", "30 min"]
    assert "Breached: 5" in html
    monkeypatch.setattr(sla_reports, "PAGE_SIZE", 2)
    second = client.get(URL, {**PERIOD, "tab": "breached", "ordering": "breached_at",
                              "page": 2}, **HX)
    partial = second.content.decode()
    assert "<html" not in partial and second["Vary"].count("HX-Request") == 1
    assert [r[0].split()[0] for r in cells(partial, "breached-table")] == [w.t4.number,
                                                                         w.t4.number]
    assert "Page 2 of 3" in partial
    # Sort headers flip the direction of the current column.
    assert "ordering=-breached_at" in partial


def test_penalties_tab(client, story_world, frozen):
    client.force_login(story_world.manager)
    page = client.get(URL, {**PERIOD, "tab": "penalties"}).content.decode()
    rows = cells(page, "report-penalties")
    assert rows[0][0] == "Acme contract Северный ветер" and rows[0][1] == "January 2023"
    assert rows[0][3:] == ["5", "3", "40.00", "95.00", "1000.00", "250.00 capped"]
    assert rows[4][3:] == ["3", "1", "66.67", "90.00", "2000.00", "466.67"]
    assert 'id="penalty-total">716.67<' in page
    assert 'id="penalty-formulas"' in page


def test_a_team_lead_sees_their_teams_and_no_penalties(client, story_world, frozen):
    w = story_world
    client.force_login(w.lead)
    response = client.get(URL, {**PERIOD, "group": ["team"]})
    html = response.content.decode()
    assert cells(html, "report-compliance") == [["Service desk", "5", "4", "9", "55.56"]]
    assert 'id="report-scope"' in html and "Penalties" not in html
    team_options = re.findall(r'<option value="(\d+)"', html.split('name="team"', 1)[1]
                              .split("</select>", 1)[0])
    assert team_options == [str(w.l1.pk)]
    # Asking for penalties shows the compliance tab; another team's rows are refused.
    assert client.get(URL, {**PERIOD, "tab": "penalties"}).context["tab"] == "compliance"
    assert client.get(URL, {**PERIOD, "team": w.l2.pk}).status_code == 400
    assert client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "penalties"}
                      ).status_code == 403
    book = load_workbook(io.BytesIO(client.get(EXPORT, {**PERIOD, "format": "xlsx"}
                                               ).getvalue()))
    assert book.sheetnames == ["Compliance", "Percentiles", "Breached"]
    assert book["Breached"].max_row == 1 + 4


def test_invalid_filters_are_shown_not_a_crash(client, story_world):
    client.force_login(story_world.manager)
    response = client.get(URL, {"month_from": "2023-03", "month_to": "2023-01",
                                "priority": "7"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_month_from_error"' in html and 'id="id_priority_error"' in html
    assert client.get(EXPORT, {"format": "pdf"}).status_code == 400
    assert client.get(EXPORT, {"format": "csv", "month_from": "x"}).status_code == 400
    assert client.get(URL, {"tab": "nonsense", "ordering": "nonsense", "page": "x"}
                      ).status_code == 200


def test_the_page_in_russian(client, story_world, frozen):
    w = story_world
    w.manager.language = "ru"
    w.manager.save(update_fields=["language"])
    client.force_login(w.manager)
    html = client.get(URL, {**PERIOD, "group": ["month", "metric"],
                            "organisation": w.other_org.pk}).content.decode()
    assert '<html lang="ru">' in html
    rows = cells(html, "report-compliance")
    assert [r[0] for r in rows] == ["Январь 2023", "Январь 2023", "Февраль 2023", "Февраль 2023"]
    assert rows[2][-1] == "66,67"  # a decimal comma
    html = client.get(URL, {**PERIOD, "tab": "penalties"}).content.decode()
    assert 'id="penalty-total">716,67<' in html


# --- query counts ------------------------------------------------------------------------------

#: session, user, the filter form's three lists (organisations, teams, agreements), then the tab
#: (on PostgreSQL compliance and penalties first raise their sort memory: one query more).
QUERIES = {"compliance": 6 + PG, "percentiles": 6, "breached": 7, "penalties": 7 + PG}


@pytest.mark.parametrize("tab", sorted(QUERIES))
def test_query_counts(client, story_world, frozen, django_assert_num_queries, tab):
    client.force_login(story_world.manager)
    params: dict[str, Any] = {**PERIOD, "tab": tab}
    client.get(URL, params)  # warm the calendar cache
    with django_assert_num_queries(QUERIES[tab]):
        assert client.get(URL, params).status_code == 200


def test_query_counts_do_not_grow_with_breaches(client, story_world, frozen,
                                                django_assert_num_queries):
    """Five breached clocks or one: the same queries (no N+1 over tickets, teams, orgs)."""
    client.force_login(story_world.manager)
    params = {**PERIOD, "tab": "breached"}
    client.get(URL, params)
    with django_assert_num_queries(QUERIES["breached"]):
        response = client.get(URL, {**params, "metric": Metric.RESOLUTION})
    assert len(response.context["rows"]) == 2
    # A chosen organisation, team or agreement costs the one query that checks it exists.
    with django_assert_num_queries(QUERIES["breached"] + 1):
        client.get(URL, {**params, "organisation": story_world.org.pk})


def test_the_lead_page_query_count(client, story_world, frozen, django_assert_num_queries):
    client.force_login(story_world.lead)
    with django_assert_num_queries(QUERIES["compliance"] + 1):  # + the lead's teams
        client.get(URL, PERIOD)
