"""The service-level configuration API (``/api/v1/sla/calendars/``, ``/agreements/``) over HTTP:
who reads and who writes, every write through the actions (validation, audit, version), filters,
ordering, paging, query counts, and schema-driven fuzzing of every operation (never a 500)."""

from __future__ import annotations

import functools
import json
import os
from datetime import date
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from opora.sla import actions, schedules
from opora.sla.choices import CalendarDayKind, CalendarDaySource
from opora.sla.models import Agreement, Calendar, CalendarDay, Target
from opora.testing import factories as f

pytestmark = pytest.mark.django_db

H = 3600
CALENDARS = "/api/v1/sla/calendars/"
AGREEMENTS = "/api/v1/sla/agreements/"


@pytest.fixture(autouse=True)
def _fresh_schedules():
    schedules._cache.clear()  # ids and versions repeat after each test's rollback
    yield
    schedules._cache.clear()


@pytest.fixture
def w(world):
    world.business = Calendar.objects.get(name="Business hours")
    world.always = Calendar.objects.get(name="24/7")
    world.standard = Agreement.objects.get(name="Standard")
    world.day = CalendarDay.objects.create(calendar=world.business, date=date(2025, 5, 1),
                                           kind=CalendarDayKind.HOLIDAY, name="Labour day",
                                           source=CalendarDaySource.PRODUCTION)
    return world


def error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:600])
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"], body
    if field is not None:
        assert field in body["errors"], body
    return body


def post(api: Any, path: str, data: Any) -> Any:
    return api.post(path, json.dumps(data), content_type="application/json")


def put(api: Any, path: str, data: Any) -> Any:
    return api.put(path, json.dumps(data), content_type="application/json")


def patch(api: Any, path: str, data: Any) -> Any:
    return api.patch(path, json.dumps(data), content_type="application/json")


# --- who reads, who writes -----------------------------------------------------------------------

READS = {
    "calendars": lambda w: CALENDARS,
    "calendar": lambda w: f"{CALENDARS}{w.business.pk}/",
    "agreements": lambda w: AGREEMENTS,
    "agreement": lambda w: f"{AGREEMENTS}{w.standard.pk}/",
}
READERS = {"admin": 200, "manager": 200, "lead": 200, "l1_agent": 200, "requester": 403,
           "org_manager": 403}


@pytest.mark.parametrize("who", sorted(READERS))
@pytest.mark.parametrize("read", sorted(READS))
def test_staff_read_others_are_refused(w, api, who, read):
    response = api.as_user(getattr(w, who)).get(READS[read](w))
    if READERS[who] == 200:
        assert response.status_code == 200, response.content[:300]
    else:
        error(response, 403, "permission_denied")


@pytest.mark.parametrize("read", sorted(READS))
def test_anonymous_is_asked_to_authenticate(w, api, read):
    assert api.get(READS[read](w)).status_code == 401


WRITES: dict[str, Any] = {
    "create_calendar": ("post", lambda w: CALENDARS, {"name": "X", "time_zone": "UTC"}),
    "update_calendar": ("patch", lambda w: f"{CALENDARS}{w.business.pk}/", {"name": "X"}),
    "periods": ("put", lambda w: f"{CALENDARS}{w.business.pk}/periods/",
                {"periods": [{"weekday": 0, "start": 0, "end": 3600}]}),
    "add_day": ("post", lambda w: f"{CALENDARS}{w.business.pk}/days/",
                {"date": "2030-01-02", "kind": "holiday"}),
    "change_day": ("patch", lambda w: f"{CALENDARS}{w.business.pk}/days/{w.day.pk}/",
                   {"name": "X"}),
    "delete_day": ("delete", lambda w: f"{CALENDARS}{w.business.pk}/days/{w.day.pk}/", None),
    "load_production": ("post", lambda w: f"{CALENDARS}{w.business.pk}/load-production/",
                        {"years": [2025]}),
    "create_agreement": ("post", lambda w: AGREEMENTS,
                         lambda w: {"kind": "sla", "name": "X", "calendar": w.business.pk}),
    "update_agreement": ("patch", lambda w: f"{AGREEMENTS}{w.standard.pk}/", {"name": "X"}),
    "targets": ("put", lambda w: f"{AGREEMENTS}{w.standard.pk}/targets/", {"targets": []}),
    "thresholds": ("put", lambda w: f"{AGREEMENTS}{w.standard.pk}/thresholds/",
                   {"thresholds": []}),
    "deactivate": ("post", lambda w: f"{AGREEMENTS}{w.standard.pk}/deactivate/", {}),
}


@pytest.mark.parametrize("who", ["requester", "l1_agent", "lead"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_only_managers_and_administrators_write(w, api, who, write):
    method, path, data = WRITES[write]
    data = data(w) if callable(data) else data
    client = api.as_user(getattr(w, who))
    response = getattr(client, method)(path(w), json.dumps(data) if data is not None else None,
                                       content_type="application/json")
    error(response, 403, "permission_denied")
    assert not LogEntry.objects.exists()
    assert Calendar.objects.get(pk=w.business.pk).version == 1
    assert Agreement.objects.get(pk=w.standard.pk).version == 1
    assert CalendarDay.objects.filter(pk=w.day.pk).exists()


def test_the_import_is_refused_to_agents_too(w, api):
    response = api.as_user(w.l1_agent).post(
        f"{CALENDARS}{w.business.pk}/import-ical/",
        {"file": SimpleUploadedFile("x.ics", b"x"), "year_from": 2025, "year_to": 2025})
    error(response, 403, "permission_denied")


# --- calendars -----------------------------------------------------------------------------------


def test_read_calendars_with_hours_and_days(w, api):
    response = api.as_user(w.l1_agent).get(CALENDARS, {"ordering": "-name"})
    body = response.json()
    assert body["count"] == 2 and [c["name"] for c in body["results"]] == [
        "Business hours", "24/7"]
    business = body["results"][0]
    assert business["time_zone"] == "Europe/Moscow" and business["version"] == 1
    assert business["periods"][:2] == [{"weekday": 0, "start": 9 * H, "end": 13 * H},
                                       {"weekday": 0, "start": 14 * H, "end": 18 * H}]
    assert business["days"] == [{"id": w.day.pk, "date": "2025-05-01", "kind": "holiday",
                                 "periods": [], "name": "Labour day", "source": "production"}]
    assert [c["name"] for c in api.get(CALENDARS, {"is_24x7": "true"}).json()["results"]] == [
        "24/7"]
    assert api.get(f"{CALENDARS}999999/").status_code == 404


def test_create_and_change_a_calendar(w, api):
    api.as_user(w.manager)
    response = post(api, CALENDARS, {"name": "Berlin", "time_zone": "Europe/Berlin"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["is_24x7"], created["periods"], created["version"]) == (
        "Berlin", False, [], 1)
    path = f"{CALENDARS}{created['id']}/"
    response = put(api, f"{path}periods/", {"periods": [
        {"weekday": 0, "start": 9 * H, "end": 17 * H}, {"weekday": 6, "start": 0, "end": 86400}]})
    assert response.status_code == 200 and response.json()["version"] == 2
    response = patch(api, path, {"description": "German desk"})
    assert response.json()["description"] == "German desk"
    assert response.json()["time_zone"] == "Europe/Berlin" and response.json()["version"] == 3
    assert LogEntry.objects.filter(object_id=str(created["id"])).count() == 3


@pytest.mark.parametrize(("data", "code", "field"), [
    ({"name": "B", "time_zone": "Mars/Base"}, "invalid_time_zone", "time_zone"),
    ({"name": "24/7", "time_zone": "UTC"}, "duplicate", "name"),
    ({"time_zone": "UTC"}, "invalid", "name"),
    ({"name": "B", "time_zone": "UTC", "is_24x7": "maybe"}, "invalid", "is_24x7"),
])
def test_create_a_calendar_with_bad_input(w, api, data, code, field):
    error(post(api.as_user(w.admin), CALENDARS, data), 400, code, field)
    assert Calendar.objects.count() == 2


def test_weekly_hours_validation(w, api):
    api.as_user(w.manager)
    path = f"{CALENDARS}{w.business.pk}/periods/"
    body = error(put(api, path, {"periods": [{"weekday": 0, "start": 9 * H, "end": 13 * H},
                                             {"weekday": 0, "start": 12 * H, "end": 14 * H}]}),
                 400, "overlap", "periods")
    assert "09:00–13:00" in body["detail"]
    error(put(api, path, {"periods": [{"weekday": 7, "start": 0, "end": 1}]}), 400, "invalid",
          "periods")
    error(put(api, path, {"periods": []}), 400, "no_hours", "periods")
    assert Calendar.objects.get(pk=w.business.pk).version == 1


def test_exception_days(w, api):
    api.as_user(w.manager)
    days = f"{CALENDARS}{w.business.pk}/days/"
    response = post(api, days, {"date": "2025-06-14", "kind": "working",
                                "periods": [[10 * H, 15 * H]], "name": "Shift"})
    assert response.status_code == 201, response.content
    day = response.json()
    assert (day["kind"], day["periods"], day["source"]) == ("working", [[10 * H, 15 * H]],
                                                            "manual")
    error(post(api, days, {"date": "2025-06-14", "kind": "holiday"}), 400, "duplicate", "date")
    error(post(api, days, {"date": "2025-06-15", "kind": "working"}), 400, "required", "periods")
    response = patch(api, f"{days}{w.day.pk}/", {"name": "May Day"})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["source"]) == ("May Day", "manual")
    assert api.delete(f"{days}{day['id']}/").status_code == 204
    assert not CalendarDay.objects.filter(pk=day["id"]).exists()
    other = CalendarDay.objects.create(calendar=w.always, date=date(2025, 1, 1),
                                       kind=CalendarDayKind.HOLIDAY)
    assert api.delete(f"{days}{other.pk}/").status_code == 404
    assert api.delete(f"{days}99999999999999999999/").status_code == 404
    assert Calendar.objects.get(pk=w.business.pk).version == 4


def test_load_the_production_calendar(w, api):
    api.as_user(w.manager)
    path = f"{CALENDARS}{w.business.pk}/load-production/"
    response = post(api, path, {"years": [2025]})
    assert response.json() == {"added": 22, "updated": 1, "kept": 0, "unchanged": 0,
                               "removed": 0}
    patch(api, f"{CALENDARS}{w.business.pk}/days/{w.day.pk}/", {"name": "Ours"})
    assert post(api, path, {"years": [2025]}).json() == {
        "added": 0, "updated": 0, "kept": 1, "unchanged": 22, "removed": 0}
    error(post(api, f"{CALENDARS}{w.always.pk}/load-production/", {"years": [2025]}), 400,
          "around_the_clock", "years")
    error(post(api, path, {"years": [1066]}), 400, "invalid", "years")
    error(post(api, path, {"years": []}), 400, "invalid", "years")


def test_import_an_ical_file(w, api, shared_corpora):
    api.as_user(w.admin)
    path = f"{CALENDARS}{w.business.pk}/import-ical/"
    data = (shared_corpora / "sla" / "zammad-calendar-ics" / "calendar3.ics").read_bytes()
    response = api.post(path, {"file": SimpleUploadedFile("c.ics", data, "text/calendar"),
                               "year_from": 2016, "year_to": 2017})
    assert response.status_code == 200, response.content
    assert response.json() == {"added": 8, "updated": 0, "kept": 0, "unchanged": 0,
                               "removed": 0}
    before = CalendarDay.objects.count()
    body = error(api.post(path, {"file": SimpleUploadedFile("c.ics", b"garbage"),
                                 "year_from": 2016, "year_to": 2017}), 400, "invalid_file",
                 "file")
    assert "iCalendar" in body["detail"]
    error(api.post(path, {"file": SimpleUploadedFile("c.ics", data), "year_from": 2017,
                          "year_to": 2016}), 400, "invalid", "year_to")
    assert CalendarDay.objects.count() == before


# --- agreements ----------------------------------------------------------------------------------


def test_read_agreements_with_targets_and_thresholds(w, api):
    response = api.as_user(w.lead).get(f"{AGREEMENTS}{w.standard.pk}/")
    body = response.json()
    assert (body["kind"], body["is_default"], body["calendar"], body["conditions"],
            body["compliance_target"]) == ("sla", True, w.business.pk, {}, "95.00")
    assert len(body["targets"]) == 30
    assert {"metric": "first_response", "priority": 1, "ticket_type": "", "seconds": 900,
            "business_hours": False} in body["targets"]
    assert [t["percent"] for t in body["thresholds"]] == [50, 75, 90, 100]
    assert body["thresholds"][1] == {"percent": 75, "actions": ["notify_assignee",
                                                                "notify_team_lead"],
                                     "escalate_to": None}


def test_filter_order_and_page_agreements(w, api):
    gold = actions.create_agreement(name="Gold", calendar=w.business, organisation=w.org,
                                    actor=w.manager)
    actions.create_agreement(kind="ola", name="L2", calendar=w.business, team=w.l2,
                             actor=w.manager)
    old = actions.create_agreement(name="Old", calendar=w.business, actor=w.manager)
    actions.deactivate_agreement(old, actor=w.manager)
    api.as_user(w.l1_agent)

    def names(**query: Any) -> list[str]:
        response = api.get(AGREEMENTS, query)
        assert response.status_code == 200, response.content
        return [a["name"] for a in response.json()["results"]]

    assert names() == ["L2", "Gold", "Old", "Standard"]
    assert names(kind="ola") == ["L2"]
    assert names(is_active="false") == ["Old"]
    assert names(organisation=w.org.pk) == ["Gold"]
    assert names(team=w.l2.pk) == ["L2"]
    assert names(ordering="-name") == ["Standard", "Old", "L2", "Gold"]
    assert names(page_size=2, page=2, ordering="name") == ["Old", "Standard"]
    error(api.get(AGREEMENTS, {"kind": "xla"}), 400, "invalid", "kind")
    assert gold.pk


def test_create_an_agreement_then_its_targets_and_thresholds(w, api):
    api.as_user(w.manager)
    category = f.CategoryFactory.create()
    response = post(api, AGREEMENTS, {
        "kind": "sla", "name": "Printers", "calendar": w.business.pk, "order": 5,
        "conditions": {"category": [category.pk], "priority": [1, 2], "is_major": False,
                       "type": []},
        "monthly_fee": "1000.00", "penalty_kind": "per_point", "penalty_percent": "1.5"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["conditions"] == {"category": [category.pk], "priority": [1, 2],
                                     "is_major": False}
    assert [t["percent"] for t in created["thresholds"]] == [50, 75, 90, 100]
    path = f"{AGREEMENTS}{created['id']}/"
    response = put(api, f"{path}targets/", {"targets": [
        {"metric": "first_response", "priority": 1, "seconds": 900, "business_hours": False},
        {"metric": "resolution", "priority": 1, "ticket_type": "request", "seconds": 8 * H}]})
    assert response.status_code == 200, response.content
    assert response.json()["targets"] == [
        {"metric": "first_response", "priority": 1, "ticket_type": "", "seconds": 900,
         "business_hours": False},
        {"metric": "resolution", "priority": 1, "ticket_type": "request", "seconds": 8 * H,
         "business_hours": True}]
    response = put(api, f"{path}thresholds/", {"thresholds": [
        {"percent": 80, "actions": ["notify_team_lead"]},
        {"percent": 120, "actions": ["escalate"], "escalate_to": w.l2.pk}]})
    assert response.json()["thresholds"] == [
        {"percent": 80, "actions": ["notify_team_lead"], "escalate_to": None},
        {"percent": 120, "actions": ["escalate"], "escalate_to": w.l2.pk}]
    assert response.json()["version"] == 3
    response = patch(api, path, {"order": 7, "is_default": True, "conditions": {}})
    assert response.status_code == 200, response.content
    assert (response.json()["order"], response.json()["is_default"]) == (7, True)
    assert not Agreement.objects.get(pk=w.standard.pk).is_default
    assert LogEntry.objects.filter(user=w.manager).count() == 5  # 4 + the old default


@pytest.mark.parametrize(("data", "code", "field"), [
    ({"kind": "ola", "name": "X", "calendar": "business"}, "required", "team"),
    ({"kind": "uc", "name": "X", "calendar": "business", "team": "l2"}, "invalid", "team"),
    ({"kind": "sla", "name": "standard", "calendar": "business"}, "duplicate", "name"),
    ({"kind": "sla", "name": "X", "calendar": 999999}, "invalid", "calendar"),
    ({"kind": "sla", "name": "X", "calendar": "business", "conditions": {"category": [999999]}},
     "invalid_choice", "conditions"),
    ({"kind": "sla", "name": "X", "calendar": "business", "conditions": {"category": [10**30]}},
     "invalid_choice", "conditions"),
    ({"kind": "sla", "name": "X", "calendar": "business", "conditions": {"service": [2**63]}},
     "invalid_choice", "conditions"),
    ({"kind": "sla", "name": "X", "calendar": "business", "conditions": {"type": ["bug"]}},
     "invalid", "conditions"),
    ({"kind": "sla", "name": "X", "calendar": "business", "compliance_target": "100.5"},
     "invalid", "compliance_target"),
])
def test_create_an_agreement_with_bad_input(w, api, data, code, field):
    refs = {"business": w.business.pk, "l2": w.l2.pk}
    data = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    count = Agreement.objects.count()
    error(post(api.as_user(w.manager), AGREEMENTS, data), 400, code, field)
    assert Agreement.objects.count() == count


def test_targets_and_thresholds_validation(w, api):
    api.as_user(w.manager)
    path = f"{AGREEMENTS}{w.standard.pk}/"
    error(put(api, f"{path}targets/", {"targets": [
        {"metric": "resolution", "priority": 1, "seconds": 3600},
        {"metric": "resolution", "priority": 1, "seconds": 7200}]}), 400, "duplicate", "targets")
    error(put(api, f"{path}targets/", {"targets": [
        {"metric": "resolution", "priority": 1, "seconds": 30}]}), 400, "invalid", "targets")
    error(put(api, f"{path}thresholds/", {"thresholds": [
        {"percent": 90, "actions": ["escalate"]}]}), 400, "required", "thresholds")
    assert Target.objects.filter(agreement=w.standard).count() == 30
    assert Agreement.objects.get(pk=w.standard.pk).version == 1


def test_the_default_sla_is_not_deactivated(w, api):
    api.as_user(w.manager)
    error(post(api, f"{AGREEMENTS}{w.standard.pk}/deactivate/", {}), 400, "default_required",
          "is_active")
    error(patch(api, f"{AGREEMENTS}{w.standard.pk}/", {"is_default": False}), 400,
          "default_required", "is_default")
    spare = actions.create_agreement(name="Spare", calendar=w.business, actor=w.manager)
    response = post(api, f"{AGREEMENTS}{spare.pk}/deactivate/", {})
    assert response.status_code == 200 and response.json()["is_active"] is False
    response = post(api, f"{AGREEMENTS}{spare.pk}/activate/", {})
    assert response.json()["is_active"] is True and response.json()["version"] == 3


def test_list_query_counts_do_not_grow_with_rows(w, api, django_assert_num_queries):
    api.as_user(w.l1_agent)
    api.get(AGREEMENTS)
    api.get(CALENDARS)
    for i in range(10):
        calendar = Calendar.objects.create(name=f"C{i}", time_zone="UTC", is_24x7=True)
        CalendarDay.objects.create(calendar=calendar, date=date(2030, 1, 1 + i),
                                   kind=CalendarDayKind.HOLIDAY)
        agreement = Agreement.objects.create(name=f"A{i}", calendar=calendar)
        Target.objects.create(agreement=agreement, metric="resolution", priority=1, seconds=H)
    # token, count, rows, targets, thresholds / token, count, rows, periods, days
    with django_assert_num_queries(5):
        assert len(api.get(AGREEMENTS).json()["results"]) == 11
    with django_assert_num_queries(5):
        assert len(api.get(CALENDARS).json()["results"]) == 12


# --- schema-driven fuzzing of the SLA configuration operations ----------------------------------

FUZZ_EXAMPLES = int(os.environ.get("OPORA_FUZZ_EXAMPLES", "15"))
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
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
        schema = openapi()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = _resolve(schema)
    options: list[st.SearchStrategy[Any]] = [JUNK]
    for sub in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        options.append(_values(sub))
    if "enum" in schema:
        options.append(st.sampled_from([v for v in schema["enum"] if v is not None]))
    kind = schema.get("type")
    if kind == "integer":
        options += [st.integers(min_value=0, max_value=86400), st.integers()]
    elif kind == "string":
        options.append(st.text(max_size=100))
    elif kind == "array":
        options.append(st.lists(_values(schema.get("items", {})), max_size=3))
    elif kind == "object" and schema.get("properties"):
        options.append(st.fixed_dictionaries({}, optional={
            k: _values(v) for k, v in schema["properties"].items()}))
    return st.one_of(options)


@functools.cache
def _body(method: str, path: str) -> st.SearchStrategy[dict[str, Any]]:
    content = openapi()["paths"][path][method].get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return st.just({})
    schema = _resolve(content["application/json"]["schema"])
    return st.fixed_dictionaries({}, optional={
        name: _values(prop) for name, prop in schema.get("properties", {}).items()})


def _operations(kind: str) -> list[tuple[str, str]]:
    found = []
    for path, ops in openapi()["paths"].items():
        if not path.startswith(("/api/v1/sla/calendars/", "/api/v1/sla/agreements/")):
            continue
        for method in ops:
            if (method == "get") == (kind == "read"):
                found.append((method, path))
    return sorted(found)


def _never_500(response: Any, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.content[:300])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str) and isinstance(body.get("code"), str), (
            what, body)


def test_the_fuzzer_covers_the_configuration_api():
    assert len(_operations("write")) == 14 and len(_operations("read")) == 4


FUZZ = hypothesis_settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None,
                           database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])


@pytest.mark.parametrize(("method", "path"), _operations("write"),
                         ids=[f"{m} {p}" for m, p in _operations("write")])
@FUZZ
@given(data=st.data())
def test_fuzz_every_write(w, api, method, path, data):
    api.raise_request_exception = False
    who = data.draw(st.sampled_from(["admin", "l1_agent", "requester"]), label="who")
    api.as_user(getattr(w, who))
    ids = {"{id}": data.draw(st.sampled_from([w.business.pk, w.always.pk, w.standard.pk,
                                              999999]), label="id"),
           "{day_id}": data.draw(st.sampled_from([w.day.pk, 0, 10**25]), label="day_id")}
    target = path
    for key, value in ids.items():
        target = target.replace(key, str(value))
    body = data.draw(_body(method, path), label="body")
    response = getattr(api, method)(target, json.dumps(body), content_type="application/json")
    _never_500(response, (method, target, body))


@pytest.mark.parametrize("path", [p for _m, p in _operations("read")])
@FUZZ
@given(data=st.data())
def test_fuzz_every_read(w, api, path, data):
    api.raise_request_exception = False
    api.as_user(getattr(w, data.draw(st.sampled_from(["admin", "l1_agent", "requester"]))))
    params = [p for p in openapi()["paths"][path]["get"].get("parameters", [])
              if p["in"] == "query"]
    query = {p["name"]: data.draw(_values(p["schema"]).map(
        lambda v: json.dumps(v) if isinstance(v, dict | list) else str(v)), label=p["name"])
        for p in params if data.draw(st.booleans())}
    target = path.replace("{id}", str(data.draw(st.sampled_from(
        [w.business.pk, w.standard.pk, 0, "x", 10**30]))))
    _never_500(api.get(target, query), (target, query))
