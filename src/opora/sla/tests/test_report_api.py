"""The SLA report API (``/api/v1/sla/reports/…``) over HTTP: the permission matrix, the JSON of
each report for the story of ``test_reports``, files with ``?format=csv|xlsx``, the JSON error
shape of every refusal, and garbage queries never answering 500."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from opora.sla import exports

from .test_reports import NOW, build_story

pytestmark = pytest.mark.django_db

BASE = "/api/v1/sla/reports/"
REPORTS = ["compliance", "percentiles", "breached", "penalties"]
PERIOD = {"month_from": "2023-01", "month_to": "2023-03"}


@pytest.fixture
def story_world(world):
    return build_story(world)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    return body


# --- who may read what -------------------------------------------------------------------------

ALLOWED = {"manager": set(REPORTS), "admin": set(REPORTS),
           "lead": {"compliance", "percentiles", "breached"}}


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("who", ["manager", "admin", "lead", "l1_agent", "requester",
                                 "org_manager", "anonymous"])
def test_permission_matrix(api, world, who, report):
    if who != "anonymous":
        api.as_user(getattr(world, who))
    response = api.get(f"{BASE}{report}/")
    if report in ALLOWED.get(who, set()):
        assert response.status_code == 200, response.content[:300]
    elif who == "anonymous":
        error(response, 401)
    else:
        error(response, 403, "permission_denied")


# --- the reports -------------------------------------------------------------------------------


def test_compliance(api, story_world, frozen):
    w = story_world
    api.as_user(w.manager)
    body = api.get(f"{BASE}compliance/", {**PERIOD, "group": ["month", "team"]}).json()
    assert body["month_from"] == "2023-01" and body["group_by"] == ["month", "team"]
    assert body["results"] == [
        {"month": "2023-01", "metric": None, "priority": None,
         "team": {"id": w.l2.pk, "name": "Network"}, "organisation": None,
         "met": 2, "breached": 0, "total": 2, "compliance": "100.00"},
        {"month": "2023-01", "metric": None, "priority": None,
         "team": {"id": w.l1.pk, "name": "Service desk"}, "organisation": None,
         "met": 5, "breached": 4, "total": 9, "compliance": "55.56"},
        {"month": "2023-02", "metric": None, "priority": None,
         "team": {"id": w.l2.pk, "name": "Network"}, "organisation": None,
         "met": 5, "breached": 1, "total": 6, "compliance": "83.33"},
    ]
    assert body["total"]["compliance"] == "70.59"
    # A team lead: their team only.
    api.as_user(w.lead)
    body = api.get(f"{BASE}compliance/", {**PERIOD, "group": "team"}).json()
    assert [r["team"]["name"] for r in body["results"]] == ["Service desk"]
    error(api.get(f"{BASE}compliance/", {**PERIOD, "team": w.l2.pk}), 400, "invalid")


def test_percentiles(api, story_world, frozen):
    api.as_user(story_world.manager)
    body = api.get(f"{BASE}percentiles/", {**PERIOD, "organisation": story_world.org.pk,
                                           "metric": "first_response", "q": [50, 95]}).json()
    assert body["results"] == [{
        "metric": "first_response", "priority": 3, "count": 4, "within_target": 3,
        "within_target_percent": "75.00", "target_seconds_min": 3600,
        "target_seconds_max": 3600,
        "percentiles": [{"q": 50, "seconds": 1500.0}, {"q": 95, "seconds": 4860.0}],
    }]
    for bad in ("0", "100", "x", "9" * 30):
        error(api.get(f"{BASE}percentiles/", {"q": bad}), 400, "invalid")


def test_breached_is_paged_and_sorted(api, story_world, frozen):
    w = story_world
    api.as_user(w.manager)
    body = api.get(f"{BASE}breached/", {**PERIOD, "ordering": "breached_at",
                                        "page_size": 2}).json()
    assert body["count"] == 5 and body["next"] and body["previous"] is None
    first = body["results"][0]
    assert first["ticket"] == {"id": w.t2.pk, "number": w.t2.number, "title": "Story 11 Jan 10:00"}
    assert first["organisation"] == {"id": w.org.pk, "name": "Северный ветер"}
    assert first["team"] == {"id": w.l1.pk, "name": "Service desk"}
    assert first["agreement"] == {"id": w.acme.pk, "name": "Acme contract", "kind": "sla"}
    assert (first["metric"], first["priority"], first["state"]) == ("first_response", 3,
                                                                    "stopped")
    assert first["breached_at"] == "2023-01-11T11:00:00+03:00"
    assert (first["target_seconds"], first["used_seconds"], first["late_seconds"]) == (
        3600, 5400.0, 1800.0)
    page3 = api.get(f"{BASE}breached/", {**PERIOD, "ordering": "breached_at", "page_size": 2,
                                         "page": 3}).json()
    assert [r["ticket"]["id"] for r in page3["results"]] == [w.g2.pk]
    error(api.get(f"{BASE}breached/", {"ordering": "title"}), 400, "invalid")


def test_penalties(api, story_world, frozen):
    api.as_user(story_world.manager)
    body = api.get(f"{BASE}penalties/", PERIOD).json()
    assert body["total"] == "716.67"
    acme = body["results"][0]
    assert acme == {
        "agreement": {"id": story_world.acme.pk, "name": "Acme contract"},
        "organisation": {"id": story_world.org.pk, "name": "Северный ветер"},
        "month": "2023-01", "penalty_kind": "per_breach", "tickets": 5, "breaches": 3,
        "compliance": "40.00", "compliance_target": "95.00", "points_below": "55.00",
        "monthly_fee": "1000.00", "penalty_percent": "10.00", "penalty_cap_percent": "25.00",
        "cap": "250.00", "uncapped": "300.00", "penalty": "250.00", "capped": True,
    }
    assert [r["penalty"] for r in body["results"]] == [
        "250.00", "0.00", "0.00", "0.00", "466.67", "0.00"]


# --- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("report", REPORTS)
def test_files(api, story_world, frozen, report):
    api.as_user(story_world.manager)
    response = api.get(f"{BASE}{report}/", {**PERIOD, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"sla-{report}-2023-01-2023-03.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.getvalue().decode(
        "utf-8-sig"))))
    assert len(rows) > 1
    response = api.get(f"{BASE}{report}/", {**PERIOD, "format": "xlsx"})
    assert response.status_code == 200 and response["Content-Type"] == exports.XLSX_TYPE
    book = load_workbook(io.BytesIO(response.getvalue()))
    assert len(book.sheetnames) == 1 and book.worksheets[0].max_row == len(rows)


def test_a_csv_of_the_percentiles_takes_the_quantiles(api, story_world, frozen):
    api.as_user(story_world.manager)
    # An API client's language comes from Accept-Language (token requests carry no profile
    # to the locale middleware).
    response = api.get(f"{BASE}percentiles/", {**PERIOD, "format": "csv", "q": ["25", "75"]},
                       HTTP_ACCEPT_LANGUAGE="en")
    header = next(csv.reader(io.StringIO(response.getvalue().decode(
        "utf-8-sig"))))
    assert header[-2:] == ["P25, h", "P75, h"]


def test_errors_are_json_whatever_the_format(api, story_world):
    api.as_user(story_world.lead)
    error(api.get(f"{BASE}penalties/", {"format": "csv"}), 403, "permission_denied")
    error(api.get(f"{BASE}compliance/", {"format": "xlsx", "month_from": "2023-13"}), 400,
          "invalid")
    body = error(api.get(f"{BASE}compliance/", {"format": "pdf"}), 400, "invalid")
    assert "format" in body["errors"]
    body = error(api.get(f"{BASE}compliance/", {"month_from": "2023-03", "month_to": "2023-01"}),
                 400, "invalid")
    assert "month_from" in body["errors"]


# --- garbage never answers 500 ----------------------------------------------------------------

PARAMS = ["month_from", "month_to", "organisation", "team", "priority", "metric", "kind",
          "agreement", "group", "q", "ordering", "page", "page_size", "format"]
GARBAGE = st.one_of(st.text(max_size=20).filter(lambda s: "\x00" not in s),
                    st.integers(min_value=-(2**70), max_value=2**70).map(str),
                    st.sampled_from(["2023-01", "2023-1", "0000-00", "sla", "all", "-ticket",
                                     "csv", "xlsx", "json", "month", "1", "0"]))


@pytest.mark.parametrize("report", REPORTS)
@hypothesis_settings(max_examples=25, derandomize=True, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
@given(data=st.data())
def test_garbage_queries_never_answer_500(api, world, report, data):
    api.raise_request_exception = False
    who = data.draw(st.sampled_from(["manager", "lead", "l1_agent"]))
    api.as_user(getattr(world, who))
    query = data.draw(st.dictionaries(st.sampled_from(PARAMS), st.lists(GARBAGE, max_size=2),
                                      max_size=5))
    response = api.get(f"{BASE}{report}/", query)
    assert response.status_code < 500, (query, response.content[:300])
