"""Administration pages of service levels (``/agent/manage/sla/``): who may open and change
what, each form with valid and invalid input (kept when refused, the error next to its field),
the production calendar and iCalendar loads, the preview of the next two weeks, htmx partials,
pages in Russian and English, and pinned query counts of the lists."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from opora.accounts.models import TeamMembership
from opora.agent import sla_admin
from opora.sla import actions, schedules
from opora.sla.choices import CalendarDayKind, CalendarDaySource, Metric
from opora.sla.models import Agreement, Calendar, CalendarDay, Target, Threshold
from opora.testing import factories as f
from opora.tickets.choices import TicketType

pytestmark = pytest.mark.django_db

H = 3600
HX = {"HTTP_HX_REQUEST": "true"}
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture(autouse=True)
def _fresh_schedules():
    schedules._cache.clear()  # ids and versions repeat after each test's rollback
    yield
    schedules._cache.clear()


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def w(world):
    TeamMembership.objects.filter(team=world.l1, user=world.lead).update(is_lead=True)
    world.business = Calendar.objects.get(name="Business hours")
    world.always = Calendar.objects.get(name="24/7")
    world.standard = Agreement.objects.get(name="Standard")
    world.day = CalendarDay.objects.create(calendar=world.business, date=date(2025, 5, 1),
                                           kind=CalendarDayKind.HOLIDAY, name="Labour day",
                                           source=CalendarDaySource.PRODUCTION)
    return world


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(datetime(2025, 1, 6, 12, 0, tzinfo=MSK), tick=False)
    return time_machine


def text(response: Any) -> str:
    return response.content.decode()


# --- the permission matrix -----------------------------------------------------------------------

PAGES: dict[str, Any] = {
    "calendars": lambda w: reverse("agent:manage_sla_calendars"),
    "calendar_new": lambda w: reverse("agent:manage_sla_calendar_new"),
    "calendar": lambda w: reverse("agent:manage_sla_calendar", args=[w.business.pk]),
    "calendar_day": lambda w: reverse("agent:manage_sla_calendar_day",
                                      args=[w.business.pk, w.day.pk]),
    "agreements": lambda w: reverse("agent:manage_sla_agreements"),
    "agreement_new": lambda w: reverse("agent:manage_sla_agreement_new"),
    "agreement": lambda w: reverse("agent:manage_sla_agreement", args=[w.standard.pk]),
}
EXPECTED = {
    "manager": dict.fromkeys(PAGES, 200),
    "admin": dict.fromkeys(PAGES, 200),
    "lead": dict.fromkeys(PAGES, 403),
    "l1_agent": dict.fromkeys(PAGES, 403),
    "requester": dict.fromkeys(PAGES, 302),
    "org_manager": dict.fromkeys(PAGES, 302),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("page", sorted(PAGES))
def test_permission_matrix(client, w, who, page):
    client.force_login(getattr(w, who))
    response = client.get(PAGES[page](w))
    assert response.status_code == EXPECTED[who][page]
    if response.status_code == 302:
        assert response["Location"] == reverse("portal:home")


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_is_sent_to_sign_in(client, w, page):
    response = client.get(PAGES[page](w))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


WRITES: dict[str, Any] = {
    "calendar_new": (lambda w: reverse("agent:manage_sla_calendar_new"),
                     {"name": "X", "time_zone": "UTC"}),
    "calendar": (lambda w: reverse("agent:manage_sla_calendar", args=[w.business.pk]),
                 {"name": "X", "time_zone": "UTC"}),
    "hours": (lambda w: reverse("agent:manage_sla_calendar_hours", args=[w.business.pk]),
              {"day_0": "09:00-17:00"}),
    "day_new": (lambda w: reverse("agent:manage_sla_calendar_day_new", args=[w.business.pk]),
                {"date": "2030-01-02", "kind": "holiday"}),
    "day": (lambda w: reverse("agent:manage_sla_calendar_day", args=[w.business.pk, w.day.pk]),
            {"date": "2030-01-02", "kind": "holiday"}),
    "day_delete": (lambda w: reverse("agent:manage_sla_calendar_day_delete",
                                     args=[w.business.pk, w.day.pk]), {}),
    "production": (lambda w: reverse("agent:manage_sla_calendar_production",
                                     args=[w.business.pk]), {"year": "2025"}),
    "ical": (lambda w: reverse("agent:manage_sla_calendar_ical", args=[w.business.pk]), {}),
    "agreement_new": (lambda w: reverse("agent:manage_sla_agreement_new"), {"name": "X"}),
    "agreement": (lambda w: reverse("agent:manage_sla_agreement", args=[w.standard.pk]),
                  {"name": "X"}),
    "targets": (lambda w: reverse("agent:manage_sla_agreement_targets", args=[w.standard.pk]),
                {}),
    "thresholds": (lambda w: reverse("agent:manage_sla_agreement_thresholds",
                                     args=[w.standard.pk]), {"rows": "1"}),
    "active": (lambda w: reverse("agent:manage_sla_agreement_active", args=[w.standard.pk]),
               {"is_active": "0"}),
}


@pytest.mark.parametrize("who", ["requester", "l1_agent", "lead"])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_only_managers_and_administrators_write(client, w, who, write):
    url, data = WRITES[write]
    client.force_login(getattr(w, who))
    assert client.post(url(w), data).status_code == 403
    assert not LogEntry.objects.exists()
    assert Calendar.objects.get(pk=w.business.pk).version == 1
    assert Agreement.objects.get(pk=w.standard.pk).version == 1


def test_the_index_links_service_levels_for_managers_only(client, w):
    client.force_login(w.manager)
    page = text(client.get(reverse("agent:manage")))
    assert 'id="manage-sla-links"' in page
    assert reverse("agent:manage_sla_calendars") in page
    assert reverse("agent:manage_sla_agreements") in page
    client.force_login(w.lead)
    page = text(client.get(reverse("agent:manage")))
    assert reverse("agent:manage_sla_calendars") not in page


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_render_in_russian_and_english(client, w, page, language):
    w.manager.language = language
    w.manager.save(update_fields=["language"])
    client.force_login(w.manager)
    response = client.get(PAGES[page](w))
    assert response.status_code == 200
    assert f'lang="{language}"' in text(response)
    with translation.override(language):
        assert translation.gettext("Administration") in text(response)


# --- what people type ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "seconds"), [
    ("15m", 900), ("4h", 4 * H), ("3d", 3 * 8 * H), ("1h 30m", 5400), ("1h30m", 5400),
    ("1d 4h", 12 * H), ("90 min", 5400), ("2ч", 2 * H), ("1д", 8 * H), ("1.5h", 5400),
    (" 2H ", 2 * H), ("45s", 45),
])
def test_durations(typed, seconds):
    assert sla_admin.parse_duration(typed) == seconds


@pytest.mark.parametrize("typed", ["", "4", "h", "4x", "4h x", "x 4h", "four hours", "-4h"])
def test_bad_durations(typed):
    with pytest.raises(sla_admin.ValidationError):
        sla_admin.parse_duration(typed)


@pytest.mark.parametrize(("seconds", "shown"), [
    (900, "15m"), (4 * H, "4h"), (24 * H, "3d"), (5400, "1h 30m"), (10 * H, "10h"), (61, "1m 1s"),
])
def test_durations_shown(seconds, shown):
    assert sla_admin.format_duration(seconds) == shown
    assert sla_admin.parse_duration(shown) == seconds


def test_intervals():
    assert sla_admin.parse_intervals("09:00–13:00, 14:00-18:00") == [(9 * H, 13 * H),
                                                                    (14 * H, 18 * H)]
    assert sla_admin.parse_intervals("0-24") == [(0, 86400)]
    assert sla_admin.parse_intervals("9.30 — 12") == [(9 * H + 1800, 12 * H)]
    assert sla_admin.parse_intervals(" ") == []
    assert sla_admin.format_intervals([(9 * H, 13 * H), (0, 86400)]) == (
        "09:00–13:00, 00:00–24:00")
    for bad in ("9", "9-", "18-9", "09:60-10:00", "24:30-25:00", "nine to five"):
        with pytest.raises(sla_admin.ValidationError):
            sla_admin.parse_intervals(bad)


# --- calendars -----------------------------------------------------------------------------------


def test_calendars_list_sorts_counts_holidays_and_swaps_results(client, w, clock):
    actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendars")
    response = client.get(url, {"ordering": "-holidays"})
    rows = list(response.context["page"])
    assert [c.name for c in rows] == ["Business hours", "24/7"]
    assert rows[0].holiday_count == 19
    page = text(response)
    assert "Europe/Moscow" in page and "Around the clock" in page
    partial = client.get(url, {"ordering": "name"}, **HX)
    assert b"<html" not in partial.content and b'id="calendars-table"' in partial.content
    assert partial["Vary"].count("HX-Request") == 1


def test_create_a_calendar_then_set_its_hours(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_calendar_new"),
                           {"name": "Berlin", "time_zone": "Europe/Berlin",
                            "description": "DE"})
    calendar = Calendar.objects.get(name="Berlin")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:manage_sla_calendar", args=[calendar.pk])
    url = reverse("agent:manage_sla_calendar_hours", args=[calendar.pk])
    response = client.post(url, {"day_0": "09:00–13:00, 14:00–18:00", "day_4": "10-16",
                                 "day_6": ""})
    assert response.status_code == 302
    assert list(calendar.periods.values_list("weekday", "start", "end")) == [
        (0, 9 * H, 13 * H), (0, 14 * H, 18 * H), (4, 10 * H, 16 * H)]
    page = text(client.get(reverse("agent:manage_sla_calendar", args=[calendar.pk])))
    assert 'value="09:00–13:00, 14:00–18:00"' in page and 'value="10:00–16:00"' in page


def test_calendar_form_errors_keep_the_input(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_calendar_new"),
                           {"name": "24/7", "time_zone": "Europe/Moscow",
                            "description": "kept text"})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["name"] == ["A calendar with this name already exists."]
    assert "kept text" in text(response) and 'aria-invalid="true"' in text(response)
    response = client.post(reverse("agent:manage_sla_calendar", args=[w.business.pk]),
                           {"name": "Office", "time_zone": "Mars/Base"})
    assert response.status_code == 400 and "time_zone" in response.context["form"].errors
    assert Calendar.objects.get(pk=w.business.pk).name == "Business hours"


@pytest.mark.parametrize(("typed", "message"), [
    ("9 to 5", "Enter intervals like 09:00–13:00, 14:00–18:00."),
    ("09:00-13:00, 12:00-14:00", "the intervals 09:00–13:00 and 12:00–14:00 overlap"),
    ("18:00-09:00", "the start must be before the end"),
])
def test_weekly_hours_errors_are_shown_beside_the_day(client, w, typed, message):
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendar_hours", args=[w.business.pk])
    response = client.post(url, {"day_0": "09:00-18:00", "day_2": typed})
    assert response.status_code == 400
    errors = response.context["hours_form"].errors["day_2"]
    assert message in " ".join(errors)
    assert f'value="{typed}"' in text(response)
    assert Calendar.objects.get(pk=w.business.pk).version == 1


def test_the_last_hours_of_a_calendar_in_use_are_not_removed(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_calendar_hours", args=[w.business.pk]), {})
    assert response.status_code == 400
    assert "needs working hours" in " ".join(response.context["hours_form"].non_field_errors())


def test_the_preview_shows_the_next_two_weeks_in_the_calendars_zone(client, w, clock):
    actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    client.force_login(w.manager)
    response = client.get(reverse("agent:manage_sla_calendar", args=[w.business.pk]))
    preview = response.context["preview"]
    assert len(preview) == 14 and preview[0].day == date(2025, 1, 6)
    by_day = {p.day: p for p in preview}
    assert by_day[date(2025, 1, 7)].spans == [] and by_day[date(2025, 1, 8)].is_special
    assert by_day[date(2025, 1, 9)].spans == [("09:00", "13:00"), ("14:00", "18:00")]
    assert by_day[date(2025, 1, 11)].spans == [] and not by_day[date(2025, 1, 11)].is_special
    assert 'data-day="2025-01-09"' in text(response)
    # A 24/7 calendar: every day whole.
    response = client.get(reverse("agent:manage_sla_calendar", args=[w.always.pk]))
    assert {tuple(p.spans) for p in response.context["preview"]} == {(("00:00", "24:00"),)}


def test_the_preview_of_a_calendar_without_hours(client, w, clock):
    empty = Calendar.objects.create(name="Empty", time_zone="Asia/Tokyo")
    client.force_login(w.manager)
    response = client.get(reverse("agent:manage_sla_calendar", args=[empty.pk]))
    assert response.status_code == 200
    assert all(p.spans == [] for p in response.context["preview"])


def test_exception_days_of_a_year_and_the_htmx_partial(client, w):
    CalendarDay.objects.create(calendar=w.business, date=date(2026, 1, 2),
                               kind=CalendarDayKind.HOLIDAY, name="Next year")
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendar", args=[w.business.pk])
    page = text(client.get(url, {"year": "2025"}))
    assert "Labour day" in page and "Next year" not in page
    assert "Load the Russian production calendar for 2025" in page
    partial = client.get(url, {"year": "2026"}, **HX)
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert b"Next year" in partial.content and b"Labour day" not in partial.content
    assert b"Load the Russian production calendar for 2026" in partial.content
    assert client.get(url, {"year": "soon"}).status_code == 200


def test_add_change_and_delete_a_day(client, w):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_calendar_day_new", args=[w.business.pk]),
                           {"date": "2025-06-14", "kind": "working",
                            "periods": "10:00-15:00", "name": "Saturday shift"})
    assert response.status_code == 302
    assert response["Location"].endswith("?year=2025#calendar-days")
    day = CalendarDay.objects.get(calendar=w.business, date=date(2025, 6, 14))
    assert (day.kind, day.periods, day.source) == ("working", [[10 * H, 15 * H]], "manual")
    # The loaded 1 May, corrected by hand, becomes the administrator's own.
    edit = reverse("agent:manage_sla_calendar_day", args=[w.business.pk, w.day.pk])
    assert "Once you save it, it is yours" in text(client.get(edit))
    response = client.post(edit, {"date": "2025-05-01", "kind": "working",
                                  "periods": "09:00-14:00", "name": "Half day"})
    assert response.status_code == 302
    w.day.refresh_from_db()
    assert (w.day.kind, w.day.periods, w.day.source) == ("working", [[9 * H, 14 * H]], "manual")
    response = client.post(reverse("agent:manage_sla_calendar_day_delete",
                                   args=[w.business.pk, day.pk]))
    assert response.status_code == 302 and not CalendarDay.objects.filter(pk=day.pk).exists()
    assert Calendar.objects.get(pk=w.business.pk).version == 4


def test_day_form_errors_keep_the_input(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendar_day_new", args=[w.business.pk])
    response = client.post(url, {"date": "2025-06-14", "kind": "working", "periods": "",
                                 "name": "No hours"})
    assert response.status_code == 400
    form = response.context["day_form"]
    assert form.errors["periods"] == ["A working day needs its hours, e.g. 09:00–17:00."]
    assert 'value="No hours"' in text(response)
    response = client.post(url, {"date": "2025-05-01", "kind": "holiday"})
    assert response.context["day_form"].errors["date"] == [
        "This date already has an entry: change that one instead."]
    response = client.post(url, {"date": "someday", "kind": "holiday"})
    assert "date" in response.context["day_form"].errors
    other = CalendarDay.objects.create(calendar=w.always, date=date(2025, 1, 1),
                                       kind=CalendarDayKind.HOLIDAY)
    assert client.get(reverse("agent:manage_sla_calendar_day",
                              args=[w.business.pk, other.pk])).status_code == 404


def test_load_the_production_calendar_from_the_page(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendar_production", args=[w.business.pk])
    response = client.post(url, {"year": "2025"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("?year=2025#calendar-days")
    message = next(str(m) for m in response.context["messages"])
    assert message.startswith("Production calendar 2025 loaded: 22 days added, 1 updated")
    assert "0 entered by hand kept" in message
    response = client.post(reverse("agent:manage_sla_calendar_production",
                                   args=[w.always.pk]), {"year": "2025"})
    assert response.status_code == 400
    assert "An around-the-clock calendar has no holidays to load." in text(response)
    assert client.post(url, {"year": "1800"}).status_code == 400


def test_import_an_ical_file_from_the_page(client, w, shared_corpora):
    data = (shared_corpora / "sla" / "zammad-calendar-ics" / "calendar2.ics").read_bytes()
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_calendar_ical", args=[w.business.pk])
    response = client.post(url, {"file": SimpleUploadedFile("holidays.ics", data,
                                                             "text/calendar"),
                                 "year_from": "2024", "year_to": "2025"}, follow=True)
    message = next(str(m) for m in response.context["messages"])
    assert message.startswith("iCalendar file imported: 4 days added")
    assert CalendarDay.objects.filter(calendar=w.business, source="ical").count() == 4


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"file": b"not a calendar", "year_from": "2025", "year_to": "2025"}, "file",
     "not a valid iCalendar file"),
    ({"year_from": "2025", "year_to": "2025"}, "file", "This field is required."),
    ({"file": b"x", "year_from": "2025", "year_to": "2024"}, "year_to", "comes after"),
    ({"file": b"x", "year_from": "2010", "year_to": "2025"}, "year_to", "at most 10 years"),
])
def test_a_bad_ical_upload_is_refused_and_writes_nothing(client, w, data, field, message):
    client.force_login(w.manager)
    if "file" in data:
        data = {**data, "file": SimpleUploadedFile("x.ics", data["file"], "text/calendar")}
    response = client.post(reverse("agent:manage_sla_calendar_ical", args=[w.business.pk]), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["ical_form"].errors[field])
    assert CalendarDay.objects.count() == 1 and not LogEntry.objects.exists()


# --- agreements ----------------------------------------------------------------------------------


def agreement_data(w: Any, **changes: Any) -> dict[str, Any]:
    return {"kind": "sla", "name": "Gold", "calendar": str(w.business.pk), "is_active": "on",
            "order": "10", "reopen_policy": "resume", "retarget_policy": "keep_start",
            "compliance_target": "95", "monthly_fee": "0", "penalty_kind": "",
            "penalty_percent": "0", "penalty_cap_percent": "100", **changes}


def test_agreements_list_filters_sorts_and_swaps_results(client, w):
    actions.create_agreement(kind="ola", name="L2 OLA", calendar=w.business, team=w.l2,
                             actor=w.manager)
    off = actions.create_agreement(name="Old SLA", calendar=w.business, actor=w.manager)
    actions.deactivate_agreement(off, actor=w.manager)
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_agreements")

    def names(response: Any) -> list[str]:
        return [a.name for a in response.context["page"]]

    assert names(client.get(url)) == ["L2 OLA", "Old SLA", "Standard"]  # kind, rule order
    assert names(client.get(url, {"kind": "ola"})) == ["L2 OLA"]
    assert names(client.get(url, {"active": "no"})) == ["Old SLA"]
    assert names(client.get(url, {"ordering": "-targets"}))[0] == "Standard"
    assert names(client.get(url, {"kind": "nonsense", "ordering": "name"})) == [
        "L2 OLA", "Old SLA", "Standard"]
    page = text(client.get(url))
    assert "Every ticket no other agreement covers" in page and "L2 · Network" in page
    partial = client.get(url, {"kind": "sla"}, **HX)
    assert b"<html" not in partial.content and b'id="agreements-table"' in partial.content


def test_create_an_agreement_with_conditions(client, w):
    category = f.CategoryFactory.create()
    service = f.ServiceFactory.create()
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_agreement_new"), agreement_data(
        w, cond_type=["incident"], cond_channel=["email", "phone"],
        cond_category=[str(category.pk)], cond_service=[str(service.pk)], cond_priority=["1"],
        cond_is_major="on"))
    gold = Agreement.objects.get(name="Gold")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:manage_sla_agreement", args=[gold.pk])
    assert gold.conditions == {"type": ["incident"], "channel": ["email", "phone"],
                               "category": [category.pk], "service": [service.pk],
                               "priority": [1], "is_major": True}
    assert gold.thresholds.count() == 4
    page = text(client.get(response["Location"]))
    assert f'<option value="{category.pk}" selected>' in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"kind": "ola"}, "team", "Choose the team (for an OLA) or the vendor"),
    ({"kind": "uc", "team": "l2"}, "team", "a line-4 team"),
    ({"name": "STANDARD"}, "name", "already exists"),
    ({"is_default": "on", "organisation": "org"}, "is_default", "no organisation"),
    ({"organisation": "org", "cond_type": ["incident"]}, "cond_type", "rule conditions"),
    ({"penalty_kind": "per_breach"}, "penalty_percent", "share of the monthly fee"),
    ({"compliance_target": "150"}, "compliance_target", "less than or equal to 100"),
])
def test_agreement_form_errors_are_shown_beside_the_field(client, w, changes, field, message):
    refs = {"l2": str(w.l2.pk), "org": str(w.org.pk)}
    data = agreement_data(w, **{"name": "Kept name", **{
        k: refs.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}})
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_sla_agreement_new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert f'value="{data["name"]}"' in text(response)
    assert not Agreement.objects.filter(name__in=["Kept name", "STANDARD"]).exclude(
        pk=w.standard.pk).exists()


def test_edit_an_agreement_and_make_it_the_default(client, w):
    gold = actions.create_agreement(name="Gold", calendar=w.business, actor=w.manager)
    client.force_login(w.admin)
    url = reverse("agent:manage_sla_agreement", args=[gold.pk])
    response = client.post(url, agreement_data(w, name="Gold", is_default="on",
                                               reopen_policy="restart"))
    assert response.status_code == 302
    gold.refresh_from_db()
    w.standard.refresh_from_db()
    assert gold.is_default and gold.reopen_policy == "restart" and not w.standard.is_default
    # The default cannot be deactivated; another agreement can.
    active = reverse("agent:manage_sla_agreement_active", args=[gold.pk])
    response = client.post(active, {"is_active": "0"}, follow=True)
    assert "make another agreement the default" in text(response)
    assert Agreement.objects.get(pk=gold.pk).is_active
    client.post(reverse("agent:manage_sla_agreement_active", args=[w.standard.pk]),
                {"is_active": "0"})
    assert not Agreement.objects.get(pk=w.standard.pk).is_active


def test_the_targets_grid(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_agreement", args=[w.standard.pk])
    page = text(client.get(url))
    assert 'name="t_resolution_3_any" value="3d"' in page
    assert 'name="t_first_response_1_any" value="15m"' in page
    assert "d is a business day of 8 hours" in page
    Target.objects.create(agreement=w.standard, metric=Metric.RESOLUTION, priority=3,
                          ticket_type=TicketType.QUESTION, seconds=H)
    data = {"t_first_response_1_any": "10m", "t_resolution_1_any": "4h",
            "t_resolution_3_request": "1d 4h", "t_resolution_3_request_bh": "on",
            "t_next_response_2_any": "1h 30m", "t_next_response_2_any_bh": "on"}
    response = client.post(reverse("agent:manage_sla_agreement_targets",
                                   args=[w.standard.pk]), data)
    assert response.status_code == 302 and response["Location"].endswith("#targets")
    assert sorted(w.standard.targets.values_list("metric", "priority", "ticket_type", "seconds",
                                                 "business_hours")) == [
        ("first_response", 1, "", 600, False), ("next_response", 2, "", 5400, True),
        ("resolution", 1, "", 4 * H, False), ("resolution", 3, "question", H, True),
        ("resolution", 3, "request", 12 * H, True)]
    assert Agreement.objects.get(pk=w.standard.pk).version == 2


def test_a_bad_duration_is_shown_in_its_cell_and_nothing_changes(client, w):
    client.force_login(w.manager)
    before = list(w.standard.targets.values_list("pk", flat=True))
    response = client.post(reverse("agent:manage_sla_agreement_targets", args=[w.standard.pk]),
                           {"t_resolution_2_any": "soon", "t_resolution_1_any": "30s"})
    assert response.status_code == 400
    form = response.context["targets_form"]
    assert form.errors["t_resolution_2_any"] == ["Enter a duration such as 15m, 4h or 3d."]
    assert 'value="soon"' in text(response)
    response = client.post(reverse("agent:manage_sla_agreement_targets", args=[w.standard.pk]),
                           {"t_resolution_1_any": "30s"})
    assert response.status_code == 400
    assert "a target is from a minute to 366 days" in " ".join(
        response.context["targets_form"].non_field_errors())
    assert list(w.standard.targets.values_list("pk", flat=True)) == before


def test_an_ola_grid_has_resolution_only(client, w):
    ola = actions.create_agreement(kind="ola", name="L2", calendar=w.business, team=w.l2,
                                   actor=w.manager)
    client.force_login(w.manager)
    response = client.get(reverse("agent:manage_sla_agreement", args=[ola.pk]))
    assert {row["metric"] for row in response.context["grid"]} == {"Resolution"}
    response = client.post(reverse("agent:manage_sla_agreement_targets", args=[ola.pk]),
                           {"t_resolution_2_any": "8h", "t_first_response_2_any": "1h"})
    assert response.status_code == 302
    assert list(ola.targets.values_list("metric", "seconds")) == [("resolution", 8 * H)]


def test_the_thresholds_table(client, w):
    client.force_login(w.manager)
    url = reverse("agent:manage_sla_agreement_thresholds", args=[w.standard.pk])
    page = text(client.get(reverse("agent:manage_sla_agreement", args=[w.standard.pk])))
    assert 'name="th_0_percent" value="50"' in page and 'name="th_5_percent"' in page
    response = client.post(url, {"rows": "3", "th_0_percent": "80",
                                 "th_0_actions": ["notify_assignee"],
                                 "th_1_percent": "120",
                                 "th_1_actions": ["escalate", "notify_manager"],
                                 "th_1_escalate_to": str(w.l2.pk), "th_2_percent": ""})
    assert response.status_code == 302 and response["Location"].endswith("#thresholds")
    assert list(Threshold.objects.filter(agreement=w.standard).values_list(
        "percent", "actions", "escalate_to")) == [
        (80, ["notify_assignee"], None), (120, ["notify_manager", "escalate"], w.l2.pk)]
    response = client.post(url, {"rows": "2", "th_0_percent": "90",
                                 "th_0_actions": ["escalate"], "th_1_percent": "700"})
    assert response.status_code == 400
    form = response.context["thresholds_form"]
    assert "th_1_percent" in form.errors
    response = client.post(url, {"rows": "1", "th_0_percent": "90",
                                 "th_0_actions": ["escalate"]})
    assert "choose the team to hand the ticket over to" in " ".join(
        response.context["thresholds_form"].non_field_errors())
    assert Threshold.objects.filter(agreement=w.standard).count() == 2


# --- query counts --------------------------------------------------------------------------------

# session, user, the sidebar's queue counts and saved filters, then the page's own.
LIST_QUERIES = {
    "agent:manage_sla_calendars": 6,  # + count, rows with this year's holiday counts
    "agent:manage_sla_agreements": 6,  # + count, rows with calendar, parties, target counts
}


@pytest.mark.parametrize("name", sorted(LIST_QUERIES))
def test_list_query_counts_do_not_grow_with_rows(client, w, name, django_assert_num_queries):
    client.force_login(w.manager)
    url = reverse(name)
    client.get(url)  # warm the caches
    with django_assert_num_queries(LIST_QUERIES[name]):
        assert client.get(url).status_code == 200
    for i in range(12):
        calendar = Calendar.objects.create(name=f"Calendar {i}", time_zone="UTC", is_24x7=True)
        CalendarDay.objects.create(calendar=calendar, date=date(2030, 1, 1 + i),
                                   kind=CalendarDayKind.HOLIDAY)
        agreement = Agreement.objects.create(
            name=f"Agreement {i}", calendar=calendar,
            organisation=f.OrganisationFactory.create(), service=f.ServiceFactory.create())
        Target.objects.create(agreement=agreement, metric="resolution", priority=1, seconds=H)
        Agreement.objects.create(name=f"OLA {i}", kind="ola", calendar=calendar,
                                 team=f.TeamFactory.create(line=2))
    with django_assert_num_queries(LIST_QUERIES[name]):
        assert client.get(url).status_code == 200


def test_the_calendar_and_agreement_pages_have_a_bounded_query_count(
        client, w, clock, django_assert_max_num_queries):
    actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    client.force_login(w.manager)
    # session, user, sidebar ×2, calendar, agreements using it, hours, the year's days, the
    # schedule (hours + days) and the preview's exception days: no query per day or period.
    with django_assert_max_num_queries(12):
        client.get(reverse("agent:manage_sla_calendar", args=[w.business.pk]))
    # + agreement, targets, thresholds, the choice lists (calendars, organisations, services ×2,
    # teams, categories) and one team list for every threshold row.
    with django_assert_max_num_queries(14):
        client.get(reverse("agent:manage_sla_agreement", args=[w.standard.pk]))


def test_audit_rows_name_the_manager(client, w):
    client.force_login(w.manager)
    client.post(reverse("agent:manage_sla_calendar_hours", args=[w.business.pk]),
                {"day_0": "08:00-17:00"})
    [row] = LogEntry.objects.all()
    assert row.user_id == w.manager.pk
    assert json.loads(row.change_message) == [{"changed": {"fields": ["periods"]}}]


def test_ids_no_column_holds_are_form_errors_not_crashes(client, w):
    client.force_login(w.manager)
    huge = str(10**30)
    response = client.post(reverse("agent:manage_sla_agreement_new"), agreement_data(
        w, calendar=huge, organisation=huge, team=str(2**64), cond_service=[huge],
        cond_category=[huge]))
    assert response.status_code == 400
    assert {"calendar", "organisation", "team", "cond_service", "cond_category"} <= set(
        response.context["form"].errors)
    response = client.post(reverse("agent:manage_sla_agreement_thresholds",
                                   args=[w.standard.pk]),
                           {"rows": huge, "th_0_percent": "50", "th_0_actions": ["escalate"],
                            "th_0_escalate_to": huge})
    assert response.status_code == 400
    assert client.get(reverse("agent:manage_sla_calendar", args=[w.business.pk]),
                      {"year": huge}).status_code == 200
