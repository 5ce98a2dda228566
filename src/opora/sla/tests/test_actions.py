"""Configuration actions of service levels (``sla.actions``): who may call them, validation
before any write, one audit row and a version bump per change (none for no change), the
production calendar that never overwrites a day entered by hand, and iCalendar imports."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import translation

from opora.accounts.models import TeamMembership
from opora.sla import actions, schedules
from opora.sla.choices import (
    AgreementKind,
    CalendarDayKind,
    CalendarDaySource,
    Metric,
    PenaltyKind,
    ThresholdAction,
)
from opora.sla.engine import active_agreements, applicable, target_for
from opora.sla.models import Agreement, Calendar, CalendarDay, Target, Threshold, WorkingPeriod
from opora.sla.schedules import business_time
from opora.testing import factories as f
from opora.tickets.choices import TicketType
from opora.tickets.errors import ActionError

pytestmark = pytest.mark.django_db

H = 3600
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture(autouse=True)
def _english_and_fresh_schedules():
    """Messages in English; no schedule cached by an earlier test under a reused (id, version)
    — the database rolls back between tests, so ids and versions repeat."""
    schedules._cache.clear()
    with translation.override("en"):
        yield
    schedules._cache.clear()


@pytest.fixture
def w(world):
    TeamMembership.objects.filter(team=world.l1, user=world.lead).update(is_lead=True)
    world.business = Calendar.objects.get(name="Business hours")
    world.always = Calendar.objects.get(name="24/7")
    world.standard = Agreement.objects.get(name="Standard")
    return world


def log_rows(obj: Any) -> list[LogEntry]:
    ct = ContentType.objects.get_for_model(obj)
    return list(LogEntry.objects.filter(content_type=ct, object_id=str(obj.pk)).order_by("pk"))


def messages_of(obj: Any) -> list[Any]:
    return [json.loads(row.change_message) for row in log_rows(obj)]


def refused(code: str, field: str | None, fn: Any, *args: Any, **kwargs: Any) -> ActionError:
    before = LogEntry.objects.count()
    with pytest.raises(ActionError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value.message
    assert exc.value.field == field, exc.value.message
    assert LogEntry.objects.count() == before
    return exc.value


def version(obj: Calendar | Agreement) -> int:
    return type(obj).objects.get(pk=obj.pk).version


def sla_values(w: Any, **changes: Any) -> dict[str, Any]:
    return {"kind": AgreementKind.SLA, "name": "Gold", "calendar": w.business, **changes}


def full_values(agreement: Agreement, **changes: Any) -> dict[str, Any]:
    fields = ["kind", "name", "calendar", "is_active", "is_default", "order", "organisation",
              "service", "team", "conditions", "reopen_policy", "retarget_policy",
              "compliance_target", "monthly_fee", "penalty_kind", "penalty_percent",
              "penalty_cap_percent"]
    return {**{k: getattr(agreement, k) for k in fields}, **changes}


ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\nUID:1\r\n"
       b"DTSTART;VALUE=DATE:20250102\r\nSUMMARY:Day off\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


# --- who may ------------------------------------------------------------------------------------

CALLS: dict[str, Any] = {
    "create_calendar": lambda w, a: actions.create_calendar(name="X", time_zone="UTC", actor=a),
    "update_calendar": lambda w, a: actions.update_calendar(
        w.business, name="Renamed", time_zone="UTC", is_24x7=False, description="", actor=a),
    "set_weekly_hours": lambda w, a: actions.set_weekly_hours(
        w.business, periods=[(0, 9 * H, 17 * H)], actor=a),
    "add_calendar_day": lambda w, a: actions.add_calendar_day(
        w.business, date=date(2030, 1, 2), kind=CalendarDayKind.HOLIDAY, actor=a),
    "load_production_calendar": lambda w, a: actions.load_production_calendar(
        w.business, years=[2025], actor=a),
    "import_ical": lambda w, a: actions.import_ical(
        w.business, data=ICS, years=[2025], actor=a),
    "create_agreement": lambda w, a: actions.create_agreement(**sla_values(w), actor=a),
    "update_agreement": lambda w, a: actions.update_agreement(
        w.standard, **full_values(w.standard, name="Renamed"), actor=a),
    "set_targets": lambda w, a: actions.set_targets(
        w.standard, targets=[("resolution", 3, "", 3600, True)], actor=a),
    "set_thresholds": lambda w, a: actions.set_thresholds(
        w.standard, thresholds=[(80, ["notify_assignee"])], actor=a),
    "deactivate_agreement": lambda w, a: actions.deactivate_agreement(
        Agreement.objects.create(name="Spare", calendar=w.business), actor=a),
}


@pytest.mark.parametrize("who", ["requester", "org_manager", "l1_agent", "lead"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_only_managers_and_administrators_change_the_configuration(w, who, call):
    calendar_version, agreement_version = version(w.business), version(w.standard)
    refused("forbidden", None, CALLS[call], w, getattr(w, who))
    assert (version(w.business), version(w.standard)) == (calendar_version, agreement_version)
    assert not Calendar.objects.filter(name__in=["X", "Renamed"]).exists()
    assert not Agreement.objects.filter(name__in=["Gold", "Renamed"]).exists()


@pytest.mark.parametrize("who", ["manager", "admin"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_managers_and_administrators_may(w, who, call):
    CALLS[call](w, getattr(w, who))
    assert LogEntry.objects.filter(user=getattr(w, who)).exists()


def test_a_superuser_of_any_role_may(w):
    boss = f.AgentFactory.create(is_superuser=True)
    actions.create_calendar(name="Boss", time_zone="UTC", actor=boss)
    assert Calendar.objects.filter(name="Boss").exists()


# --- calendars ----------------------------------------------------------------------------------


def test_create_and_update_a_calendar_with_audit_and_version(w):
    calendar = actions.create_calendar(name="  Support  Berlin ", time_zone="Europe/Berlin",
                                       description=" German desk ", actor=w.manager)
    assert (calendar.name, calendar.time_zone, calendar.is_24x7, calendar.description,
            calendar.version) == ("Support Berlin", "Europe/Berlin", False, "German desk", 1)
    [row] = log_rows(calendar)
    assert row.action_flag == ADDITION and row.user_id == w.manager.pk
    updated_at = calendar.updated_at
    actions.update_calendar(calendar, name="Support Berlin", time_zone="Europe/Moscow",
                            is_24x7=False, description="German desk", actor=w.admin)
    assert calendar.version == 2 and calendar.updated_at > updated_at
    assert Calendar.objects.get(pk=calendar.pk).time_zone == "Europe/Moscow"
    assert messages_of(calendar)[-1] == [{"changed": {"fields": ["time_zone"]}}]
    # The same values again: nothing written.
    actions.update_calendar(calendar, name="Support Berlin", time_zone="Europe/Moscow",
                            is_24x7=False, description="German desk", actor=w.admin)
    assert version(calendar) == 2 and len(log_rows(calendar)) == 2


@pytest.mark.parametrize(("values", "code", "field"), [
    ({"name": "  "}, "required", "name"),
    ({"name": "x" * 121}, "too_long", "name"),
    ({"name": "business HOURS"}, "duplicate", "name"),
    ({"time_zone": "Mars/Olympus"}, "invalid_time_zone", "time_zone"),
    ({"time_zone": "../../etc/passwd"}, "invalid_time_zone", "time_zone"),
    ({"time_zone": ""}, "invalid_time_zone", "time_zone"),
])
def test_create_a_calendar_with_bad_input(w, values, code, field):
    refused(code, field, actions.create_calendar,
            **{"name": "New", "time_zone": "UTC", **values}, actor=w.manager)
    assert not Calendar.objects.filter(name="New").exists()


def test_a_calendar_in_use_keeps_some_working_time(w):
    refused("no_hours", "periods", actions.set_weekly_hours, w.business, periods=[],
            actor=w.manager)
    spare = actions.create_calendar(name="Spare", time_zone="UTC", is_24x7=True, actor=w.manager)
    actions.create_agreement(**sla_values(w, calendar=spare), actor=w.manager)
    refused("no_hours", "is_24x7", actions.update_calendar, spare, name="Spare",
            time_zone="UTC", is_24x7=False, description="", actor=w.manager)
    # An unused calendar may be emptied.
    unused = actions.create_calendar(name="Unused", time_zone="UTC", actor=w.manager)
    actions.set_weekly_hours(unused, periods=[(0, 0, 86400)], actor=w.manager)
    actions.set_weekly_hours(unused, periods=[], actor=w.manager)
    assert not unused.periods.exists()


def test_set_weekly_hours_replaces_all_and_the_schedule_follows(w):
    start = datetime(2030, 1, 7, 8, 0, tzinfo=MSK)  # a Monday
    assert business_time(w.business).add(start, timedelta(hours=1)) == datetime(
        2030, 1, 7, 10, 0, tzinfo=MSK)
    old = w.business.version
    actions.set_weekly_hours(w.business, periods=[
        (0, 8 * H, 12 * H), (0, 13 * H, 17 * H), (6, 0, 86400), (0, 12 * H, 13 * H)],
        actor=w.manager)
    assert w.business.version == old + 1
    assert list(WorkingPeriod.objects.filter(calendar=w.business).order_by(
        "weekday", "start").values_list("weekday", "start", "end")) == [
        (0, 8 * H, 12 * H), (0, 12 * H, 13 * H), (0, 13 * H, 17 * H), (6, 0, 86400)]
    assert messages_of(w.business)[-1] == [{"changed": {"fields": ["periods"]}}]
    fresh = Calendar.objects.get(pk=w.business.pk)
    # The cached schedule of the old version is not used: Monday now opens at 08:00.
    assert business_time(fresh).add(start, timedelta(hours=1)) == datetime(
        2030, 1, 7, 9, 0, tzinfo=MSK)
    # The same hours in another order: nothing changes.
    actions.set_weekly_hours(w.business, periods=[
        (6, 0, 86400), (0, 13 * H, 17 * H), (0, 12 * H, 13 * H), (0, 8 * H, 12 * H)],
        actor=w.manager)
    assert version(w.business) == old + 1


@pytest.mark.parametrize(("periods", "code", "text"), [
    ([(0, 9 * H, 13 * H), (0, 12 * H, 14 * H)], "overlap", "Monday"),
    ([(2, 9 * H, 9 * H)], "invalid_interval", "Wednesday"),
    ([(1, 18 * H, 9 * H)], "invalid_interval", "Tuesday"),
    ([(4, 0, 86401)], "invalid_interval", "Friday"),
    ([(4, -1, 3600)], "invalid_interval", "Friday"),
    ([(7, 9 * H, 17 * H)], "invalid", "weekday"),
    ([(0, 9 * H)], "invalid", "(weekday, start, end)"),
    ([(0, "nine", 17 * H)], "invalid", "whole number"),
    ([(0, 9.5, 17 * H)], "invalid", "whole number"),
    ("09:00-18:00", "invalid", "list"),
])
def test_weekly_hours_are_validated(w, periods, code, text):
    old = list(w.business.periods.values_list("weekday", "start", "end"))
    error = refused(code, "periods", actions.set_weekly_hours, w.business, periods=periods,
                    actor=w.manager)
    assert text in error.message
    assert list(w.business.periods.values_list("weekday", "start", "end")) == old


def test_exception_days_add_change_delete(w):
    old = w.business.version
    day = actions.add_calendar_day(w.business, date=date(2030, 3, 9),
                                   kind=CalendarDayKind.WORKING,
                                   periods=[(10 * H, 14 * H), (9 * H, 10 * H)],
                                   name=" Working  Saturday ", actor=w.manager)
    assert (day.kind, day.periods, day.name, day.source) == (
        "working", [[9 * H, 10 * H], [10 * H, 14 * H]], "Working Saturday", "manual")
    assert w.business.version == old + 1
    assert messages_of(w.business)[-1] == [
        {"added": {"name": "calendar day", "object": "2030-03-09 Working day with its own hours"}}]
    sat = datetime(2030, 3, 9, 9, 30, tzinfo=MSK)
    assert business_time(Calendar.objects.get(pk=w.business.pk)).is_working(sat)

    actions.update_calendar_day(day, date=date(2030, 3, 9), kind=CalendarDayKind.HOLIDAY,
                                periods=[(9 * H, 10 * H)], name="Rest", actor=w.admin)
    day.refresh_from_db()
    assert (day.kind, day.periods, day.name) == ("holiday", [], "Rest")  # hours dropped
    assert version(w.business) == old + 2
    assert messages_of(w.business)[-1][0]["changed"]["fields"] == ["kind", "periods", "name"]

    actions.delete_calendar_day(day, actor=w.manager)
    assert not CalendarDay.objects.filter(pk=day.pk).exists()
    assert version(w.business) == old + 3
    assert "deleted" in messages_of(w.business)[-1][0]


@pytest.mark.parametrize(("values", "code", "field"), [
    ({"kind": CalendarDayKind.WORKING, "periods": []}, "required", "periods"),
    ({"kind": CalendarDayKind.WORKING, "periods": [(9 * H, 12 * H), (11 * H, 13 * H)]},
     "overlap", "periods"),
    ({"kind": CalendarDayKind.WORKING, "periods": [(9 * H, 90000)]}, "invalid_interval",
     "periods"),
    ({"kind": "sometimes"}, "invalid_choice", "kind"),
    ({"date": "2030-01-01"}, "invalid", "date"),
    ({"date": date(1900, 1, 1)}, "invalid", "date"),
    ({"name": "x" * 201}, "too_long", "name"),
    ({"date": date(2030, 5, 1)}, "duplicate", "date"),
])
def test_exception_days_are_validated(w, values, code, field):
    CalendarDay.objects.create(calendar=w.business, date=date(2030, 5, 1),
                               kind=CalendarDayKind.HOLIDAY)
    old = version(w.business)
    refused(code, field, actions.add_calendar_day, w.business,
            **{"date": date(2030, 1, 1), "kind": CalendarDayKind.HOLIDAY, **values},
            actor=w.manager)
    assert version(w.business) == old
    assert CalendarDay.objects.filter(calendar=w.business).count() == 1


def test_a_day_of_another_calendar_is_not_changed(w):
    day = CalendarDay.objects.create(calendar=w.always, date=date(2030, 5, 1),
                                     kind=CalendarDayKind.HOLIDAY)
    day.calendar = w.business  # a forged pairing
    refused("gone", None, actions.delete_calendar_day, day, actor=w.manager)
    assert CalendarDay.objects.filter(pk=day.pk).exists()


# --- the production calendar ---------------------------------------------------------------------


def days_of(calendar: Calendar, year: int) -> dict[date, CalendarDay]:
    return {d.date: d for d in CalendarDay.objects.filter(calendar=calendar, date__year=year)}


def test_load_the_production_calendar(w):
    old = w.business.version
    result = actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    assert result == actions.DaysLoaded(added=23)
    assert w.business.version == old + 1
    days = days_of(w.business, 2025)
    assert all(d.source == CalendarDaySource.PRODUCTION for d in days.values())
    assert sum(d.kind == CalendarDayKind.HOLIDAY for d in days.values()) == 19
    assert days[date(2025, 1, 8)].kind == CalendarDayKind.HOLIDAY
    assert days[date(2025, 12, 31)].kind == CalendarDayKind.HOLIDAY  # moved from 2025-01-05
    # A Friday before a holiday is an hour shorter; a Saturday made working (and short: it is
    # also the day before the holiday of 11-03/11-04) gets Monday's hours, shortened.
    assert days[date(2025, 3, 7)].periods == [[9 * H, 13 * H], [14 * H, 17 * H]]
    assert days[date(2025, 11, 1)].kind == CalendarDayKind.WORKING
    assert days[date(2025, 11, 1)].periods == [[9 * H, 13 * H], [14 * H, 17 * H]]
    rows = messages_of(w.business)
    assert rows[-1][1]["loaded"] == {"source": "production", "years": [2025], "added": 23,
                                     "updated": 0, "kept": 0, "unchanged": 0, "removed": 0}
    # The engine counts with it: 2025-01-08 is a holiday, 2025-01-09 opens at 09:00.
    fresh = Calendar.objects.get(pk=w.business.pk)
    assert business_time(fresh).add(datetime(2024, 12, 31, 17, 0, tzinfo=MSK),
                                    timedelta(hours=2)) == datetime(2025, 1, 9, 10, 0,
                                                                    tzinfo=MSK)
    # Loading again changes nothing.
    again = actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    assert again == actions.DaysLoaded(unchanged=23) and not again.changed
    assert version(w.business) == old + 1 and len(rows) == len(messages_of(w.business))


def test_a_load_never_overwrites_a_day_entered_by_hand(w):
    # The administrator made 2025-01-08 a working day and marked 2025-04-15 a holiday by hand;
    # a loaded day later corrected by hand becomes theirs too.
    actions.add_calendar_day(w.business, date=date(2025, 1, 8), kind=CalendarDayKind.WORKING,
                             periods=[(10 * H, 15 * H)], name="Our own", actor=w.manager)
    actions.add_calendar_day(w.business, date=date(2025, 4, 15), kind=CalendarDayKind.HOLIDAY,
                             name="Company day", actor=w.manager)
    actions.load_production_calendar(w.business, years=[2025], actor=w.manager)
    loaded = days_of(w.business, 2025)[date(2025, 6, 11)]
    actions.update_calendar_day(loaded, date=loaded.date, kind=CalendarDayKind.WORKING,
                                periods=[(9 * H, 16 * H)], name=loaded.name, actor=w.manager)
    # The source changed meanwhile (simulated): one day renamed, one day gone from it.
    CalendarDay.objects.filter(calendar=w.business, date=date(2025, 6, 12)).update(name="Old")
    CalendarDay.objects.create(calendar=w.business, date=date(2025, 8, 1),
                               kind=CalendarDayKind.HOLIDAY, source=CalendarDaySource.PRODUCTION)
    result = actions.load_production_calendar(w.business, years=[2025], actor=w.admin)
    assert result == actions.DaysLoaded(added=0, updated=1, kept=2, unchanged=20, removed=1)
    days = days_of(w.business, 2025)
    assert (days[date(2025, 1, 8)].kind, days[date(2025, 1, 8)].periods,
            days[date(2025, 1, 8)].source) == ("working", [[10 * H, 15 * H]], "manual")
    assert days[date(2025, 4, 15)].source == "manual"
    assert days[date(2025, 6, 11)].periods == [[9 * H, 16 * H]]
    assert days[date(2025, 6, 12)].name != "Old"
    assert date(2025, 8, 1) not in days


def test_covid_days_of_2020_are_not_in_the_production_calendar_and_are_added_by_hand(w):
    actions.load_production_calendar(w.business, years=[2020], actor=w.manager)
    days = days_of(w.business, 2020)
    assert date(2020, 4, 15) not in days and date(2020, 7, 1) not in days
    assert days[date(2020, 6, 12)].kind == CalendarDayKind.HOLIDAY
    covid = date(2020, 3, 30)
    while covid < date(2020, 4, 30):  # 04-30 is a loaded pre-holiday day: changed, not added
        if covid.weekday() < 5:
            actions.add_calendar_day(w.business, date=covid, kind=CalendarDayKind.HOLIDAY,
                                     name="Decree", actor=w.manager)
        covid += timedelta(days=1)
    result = actions.load_production_calendar(w.business, years=[2020], actor=w.manager)
    assert result.kept == 0 and result.removed == 0 and not result.changed
    assert days_of(w.business, 2020)[date(2020, 4, 15)].source == "manual"


def test_production_calendar_input_is_checked(w):
    refused("required", "years", actions.load_production_calendar, w.business, years=[],
            actor=w.manager)
    refused("invalid", "years", actions.load_production_calendar, w.business, years=[1990],
            actor=w.manager)
    refused("invalid", "years", actions.load_production_calendar, w.business,
            years=range(2020, 2031), actor=w.manager)
    refused("invalid", "years", actions.load_production_calendar, w.business, years="2025",
            actor=w.manager)
    refused("around_the_clock", "years", actions.load_production_calendar, w.always,
            years=[2025], actor=w.manager)
    assert not CalendarDay.objects.exists()


# --- iCalendar ----------------------------------------------------------------------------------


def test_import_ical_from_the_zammad_files(w, shared_corpora):
    folder = shared_corpora / "sla" / "zammad-calendar-ics"
    data = (folder / "calendar3.ics").read_bytes()
    old = w.business.version
    result = actions.import_ical(w.business, data=data, years=[2016, 2017], actor=w.manager)
    assert result == actions.DaysLoaded(added=8)
    days = {d.date: d for d in CalendarDay.objects.filter(calendar=w.business)}
    assert sorted(days) == [date(2016, 12, 24), date(2016, 12, 26), date(2016, 12, 28),
                            date(2017, 1, 26), date(2017, 2, 26), date(2017, 3, 26),
                            date(2017, 4, 26), date(2017, 12, 24)]
    assert {d.source for d in days.values()} == {"ical"}
    assert (days[date(2016, 12, 24)].kind, days[date(2016, 12, 24)].name) == (
        "holiday", "Christmas1")
    assert w.business.version == old + 1
    assert messages_of(w.business)[-1][1]["loaded"]["source"] == "ical"
    # Another file adds its days; the ones of the first import stay.
    dup = (folder / "calendar_duplicate_check.ics").read_bytes()
    result = actions.import_ical(w.business, data=dup, years=[2019], actor=w.manager)
    assert result == actions.DaysLoaded(added=2)
    assert CalendarDay.objects.filter(calendar=w.business).count() == 10
    # Every file parses; a second import of the same file is a no-op.
    for name in ("calendar1.ics", "calendar2.ics", "calendar3.ics"):
        actions.import_ical(w.always.__class__.objects.get(pk=w.business.pk),
                            data=(folder / name).read_bytes(), years=[2024], actor=w.manager)
    assert actions.import_ical(w.business, data=data, years=[2016, 2017],
                               actor=w.manager) == actions.DaysLoaded(unchanged=8)


def test_import_ical_keeps_manual_days_and_replaces_loaded_ones(w, shared_corpora):
    data = (shared_corpora / "sla" / "zammad-calendar-ics" / "calendar2.ics").read_bytes()
    actions.add_calendar_day(w.business, date=date(2025, 12, 24), kind=CalendarDayKind.WORKING,
                             periods=[(9 * H, 12 * H)], actor=w.manager)
    CalendarDay.objects.create(calendar=w.business, date=date(2025, 12, 25),
                               kind=CalendarDayKind.WORKING, periods=[[9 * H, 12 * H]],
                               source=CalendarDaySource.PRODUCTION)
    result = actions.import_ical(w.business, data=data, years=[2025], actor=w.manager)
    assert result == actions.DaysLoaded(updated=1, kept=1)
    days = days_of(w.business, 2025)
    assert days[date(2025, 12, 24)].kind == "working"
    assert (days[date(2025, 12, 25)].kind, days[date(2025, 12, 25)].source) == ("holiday",
                                                                               "ical")


@pytest.mark.parametrize("data", [
    b"this is not a calendar", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n",
    b"BEGIN:VEVENT\r\nEND:VEVENT\r\n",
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:no start\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
])
def test_a_broken_ical_file_writes_nothing(w, data):
    old = version(w.business)
    error = refused("invalid_file", "file", actions.import_ical, w.business, data=data,
                    years=[2025], actor=w.manager)
    assert error.message
    assert not CalendarDay.objects.exists() and version(w.business) == old


def test_ical_input_is_checked(w):
    refused("required", "file", actions.import_ical, w.business, data=b"", years=[2025],
            actor=w.manager)
    refused("too_large", "file", actions.import_ical, w.business,
            data=b"x" * (actions.MAX_ICAL_BYTES + 1), years=[2025], actor=w.manager)
    refused("required", "years", actions.import_ical, w.business, data=b"x", years=[],
            actor=w.manager)


# --- agreements ----------------------------------------------------------------------------------


def test_create_an_sla_with_default_thresholds_and_audit(w):
    org = w.org
    gold = actions.create_agreement(
        **sla_values(w, organisation=org, compliance_target="97.5", monthly_fee=Decimal("1000"),
                     penalty_kind=PenaltyKind.PER_BREACH, penalty_percent="2"),
        actor=w.manager)
    assert (gold.kind, gold.organisation, gold.compliance_target, gold.penalty_percent,
            gold.version) == ("sla", org, Decimal("97.50"), Decimal("2.00"), 1)
    assert list(gold.thresholds.values_list("percent", "actions")) == [
        (50, ["notify_assignee"]), (75, ["notify_assignee", "notify_team_lead"]),
        (90, ["notify_team_lead", "notify_manager"]),
        (100, ["notify_assignee", "notify_team_lead", "notify_manager"])]
    [row] = log_rows(gold)
    assert row.action_flag == ADDITION and row.user_id == w.manager.pk
    # The engine applies it to the organisation's tickets.
    ticket = f.TicketFactory.create(requester=w.requester)
    assert applicable(ticket, active_agreements()).sla == gold


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"name": ""}, "required", "name"),
    ({"name": "standard"}, "duplicate", "name"),
    ({"kind": "ela"}, "invalid_choice", "kind"),
    ({"calendar": None}, "required", "calendar"),
    ({"order": -1}, "out_of_range", "order"),
    ({"order": "first"}, "invalid", "order"),
    ({"reopen_policy": "forget"}, "invalid_choice", "reopen_policy"),
    ({"retarget_policy": ""}, "invalid_choice", "retarget_policy"),
    ({"penalty_kind": "fine"}, "invalid_choice", "penalty_kind"),
    ({"compliance_target": "101"}, "out_of_range", "compliance_target"),
    ({"compliance_target": "NaN"}, "invalid", "compliance_target"),
    ({"compliance_target": "9.999"}, "invalid", "compliance_target"),
    ({"monthly_fee": "-1"}, "out_of_range", "monthly_fee"),
    ({"penalty_cap_percent": "abc"}, "invalid", "penalty_cap_percent"),
    ({"penalty_kind": PenaltyKind.PER_POINT}, "required", "penalty_percent"),
    ({"penalty_kind": PenaltyKind.PER_POINT, "penalty_percent": "1"}, "required", "monthly_fee"),
    ({"conditions": ["type"]}, "invalid", "conditions"),
    ({"conditions": {"colour": ["red"]}}, "invalid", "conditions"),
    ({"conditions": {"type": ["incident", "problem"]}}, "invalid_choice", "conditions"),
    ({"conditions": {"channel": ["web"]}}, "invalid_choice", "conditions"),
    ({"conditions": {"priority": [0]}}, "invalid_choice", "conditions"),
    ({"conditions": {"category": [999999]}}, "invalid_choice", "conditions"),
    ({"conditions": {"service": ["mail"]}}, "invalid_choice", "conditions"),
    ({"conditions": {"is_major": "yes"}}, "invalid", "conditions"),
    ({"team": "l2"}, "invalid", "team"),
    ({"organisation": "org", "conditions": {"type": ["incident"]}}, "invalid", "conditions"),
    ({"is_default": True, "organisation": "org"}, "invalid", "is_default"),
    ({"is_default": True, "conditions": {"priority": [1]}}, "invalid", "is_default"),
    ({"is_default": True, "is_active": False}, "invalid", "is_active"),
    ({"kind": AgreementKind.OLA}, "required", "team"),
    ({"kind": AgreementKind.OLA, "team": "l4"}, "invalid", "team"),
    ({"kind": AgreementKind.UC, "team": "l2"}, "invalid", "team"),
    ({"kind": AgreementKind.OLA, "team": "l2", "organisation": "org"}, "invalid",
     "organisation"),
    ({"kind": AgreementKind.OLA, "team": "l2", "service": "service"}, "invalid", "service"),
    ({"kind": AgreementKind.OLA, "team": "l2", "conditions": {"type": ["incident"]}},
     "invalid", "conditions"),
    ({"kind": AgreementKind.OLA, "team": "l2", "is_default": True}, "invalid", "is_default"),
    ({"kind": AgreementKind.OLA, "team": "inactive"}, "inactive", "team"),
    ({"organisation": "inactive_org"}, "inactive", "organisation"),
    ({"calendar": "empty"}, "no_hours", "calendar"),
])
def test_create_an_agreement_with_bad_input(w, changes, code, field):
    refs = {
        "l2": w.l2, "l4": w.l4, "org": w.org, "service": f.ServiceFactory.create(),
        "inactive": f.TeamFactory.create(line=2, is_active=False),
        "inactive_org": f.OrganisationFactory.create(is_active=False),
        "empty": Calendar.objects.create(name="Empty", time_zone="UTC"),
    }
    values = sla_values(w, **{k: refs.get(v, v) if isinstance(v, str) and k in (
        "team", "organisation", "service", "calendar") else v for k, v in changes.items()})
    count = Agreement.objects.count()
    refused(code, field, actions.create_agreement, **values, actor=w.manager)
    assert Agreement.objects.count() == count


def test_ola_and_underpinning_contract(w):
    ola = actions.create_agreement(kind=AgreementKind.OLA, name="L2 network", calendar=w.business,
                                   team=w.l2, actor=w.manager)
    uc = actions.create_agreement(kind=AgreementKind.UC, name="Vendor", calendar=w.always,
                                  team=w.l4, actor=w.manager)
    actions.set_targets(ola, targets=[(Metric.RESOLUTION, 2, "", 4 * H, True)], actor=w.manager)
    refused("invalid_choice", "targets", actions.set_targets, uc,
            targets=[(Metric.FIRST_RESPONSE, 2, "", H, True)], actor=w.manager)
    ticket = f.TicketFactory.create(requester=w.requester, team=w.l2)
    found = applicable(ticket, active_agreements())
    assert found.internal == [ola]


def test_conditions_are_normalised(w):
    category = f.CategoryFactory.create()
    service = f.ServiceFactory.create()
    rule = actions.create_agreement(
        **sla_values(w, conditions={"type": ["request", "request"], "channel": [],
                                    "category": [str(category.pk)], "service": service.pk,
                                    "priority": ["1", 2], "is_major": True}),
        actor=w.manager)
    assert rule.conditions == {"type": ["request"], "category": [category.pk],
                               "service": [service.pk], "priority": [1, 2], "is_major": True}


def test_a_new_default_takes_over_in_one_transaction(w):
    standard_version = w.standard.version
    gold = actions.create_agreement(**sla_values(w, is_default=True), actor=w.manager)
    w.standard.refresh_from_db()
    assert gold.is_default and not w.standard.is_default
    assert w.standard.version == standard_version + 1
    assert messages_of(w.standard)[-1] == [{"changed": {"fields": ["is_default"]}}]
    # And back, through an update.
    actions.update_agreement(w.standard, **full_values(w.standard, is_default=True),
                             actor=w.admin)
    gold.refresh_from_db()
    assert w.standard.is_default and not gold.is_default
    assert Agreement.objects.filter(kind="sla", is_default=True).count() == 1


def test_the_default_sla_stays(w):
    refused("default_required", "is_default", actions.update_agreement, w.standard,
            **full_values(w.standard, is_default=False), actor=w.manager)
    refused("invalid", "is_active", actions.update_agreement, w.standard,
            **full_values(w.standard, is_active=False), actor=w.manager)
    refused("default_required", "is_active", actions.deactivate_agreement, w.standard,
            actor=w.manager)
    assert Agreement.objects.get(pk=w.standard.pk).is_active


def test_update_an_agreement_bumps_the_version_once(w):
    old = w.standard.version
    actions.update_agreement(w.standard, **full_values(w.standard, name="Standard SLA",
                                                       order=10), actor=w.manager)
    assert w.standard.version == old + 1 == version(w.standard)
    assert messages_of(w.standard)[-1] == [{"changed": {"fields": ["name", "order"]}}]
    actions.update_agreement(w.standard, **full_values(w.standard), actor=w.manager)
    assert version(w.standard) == old + 1


def test_the_kind_of_a_measured_agreement_does_not_change(w):
    f.TicketFactory.create(requester=w.requester)  # measured under the default SLA
    spare = actions.create_agreement(**sla_values(w, name="Spare"), actor=w.manager)
    actions.set_targets(spare, targets=[(Metric.FIRST_RESPONSE, 3, "", H)], actor=w.manager)
    refused("invalid", "kind", actions.update_agreement, spare,
            **full_values(spare, kind=AgreementKind.OLA, team=w.l2), actor=w.manager)
    assert w.standard.clocks.exists()
    actions.create_agreement(**sla_values(w, name="New default", is_default=True),
                             actor=w.manager)
    w.standard.refresh_from_db()
    refused("in_use", "kind", actions.update_agreement, w.standard,
            **full_values(w.standard, kind=AgreementKind.OLA, team=w.l2), actor=w.manager)


def test_deactivate_and_activate(w):
    gold = actions.create_agreement(**sla_values(w, organisation=w.org), actor=w.manager)
    actions.deactivate_agreement(gold, actor=w.manager)
    assert not Agreement.objects.get(pk=gold.pk).is_active and gold.version == 2
    assert gold not in active_agreements()
    actions.deactivate_agreement(gold, actor=w.manager)  # already: nothing written
    assert version(gold) == 2
    actions.activate_agreement(gold, actor=w.admin)
    assert Agreement.objects.get(pk=gold.pk).is_active and version(gold) == 3
    assert [m[0]["changed"]["fields"] for m in messages_of(gold)[1:]] == [["is_active"]] * 2


# --- targets and thresholds ---------------------------------------------------------------------


def test_set_targets_replaces_all(w):
    gold = actions.create_agreement(**sla_values(w), actor=w.manager)
    targets = actions.set_targets(gold, targets=[
        actions.TargetSpec(Metric.FIRST_RESPONSE, 1, "", 15 * 60, False),
        actions.TargetSpec(Metric.RESOLUTION, 1, "", 4 * H, False),
        actions.TargetSpec(Metric.RESOLUTION, 1, TicketType.REQUEST, 8 * H, True),
    ], actor=w.manager)
    assert len(targets) == 3 and gold.version == 2
    gold = Agreement.objects.prefetch_related("targets").get(pk=gold.pk)
    request = target_for(gold, Metric.RESOLUTION, 1, TicketType.REQUEST)
    incident = target_for(gold, Metric.RESOLUTION, 1, TicketType.INCIDENT)
    assert request is not None and request.seconds == 8 * H
    assert incident is not None and incident.seconds == 4 * H
    assert messages_of(gold)[-1] == [{"changed": {"fields": ["targets"]}}]
    # The same set in another order: nothing written.
    actions.set_targets(gold, targets=[
        (Metric.RESOLUTION, 1, TicketType.REQUEST, 8 * H, True),
        (Metric.RESOLUTION, 1, "", 4 * H, False),
        (Metric.FIRST_RESPONSE, 1, "", 15 * 60, False),
    ], actor=w.manager)
    assert version(gold) == 2
    actions.set_targets(gold, targets=[], actor=w.manager)
    assert not Target.objects.filter(agreement=gold).exists() and version(gold) == 3


@pytest.mark.parametrize(("targets", "code"), [
    ([("speed", 1, "", 3600, True)], "invalid_choice"),
    ([("resolution", 6, "", 3600, True)], "invalid_choice"),
    ([("resolution", True, "", 3600, True)], "invalid"),
    ([("resolution", 1, "problem", 3600, True)], "invalid_choice"),
    ([("resolution", 1, "", 59, True)], "out_of_range"),
    ([("resolution", 1, "", 367 * 86400, True)], "out_of_range"),
    ([("resolution", 1, "", 3600, "yes")], "invalid"),
    ([("resolution", 1, "", 3600), ("resolution", 1, "", 7200)], "duplicate"),
    ([("resolution", 1)], "invalid"),
    ([{"metric": "resolution"}], "invalid"),
])
def test_targets_are_validated(w, targets, code):
    before = list(w.standard.targets.values_list("pk", flat=True))
    refused(code, "targets", actions.set_targets, w.standard, targets=targets, actor=w.manager)
    assert list(w.standard.targets.values_list("pk", flat=True)) == before


def test_set_thresholds(w):
    old = w.standard.version
    rows = actions.set_thresholds(w.standard, thresholds=[
        actions.ThresholdSpec(150, [ThresholdAction.ESCALATE, ThresholdAction.NOTIFY_MANAGER],
                              w.l2),
        actions.ThresholdSpec(80, [ThresholdAction.NOTIFY_ASSIGNEE] * 2, w.l3),
    ], actor=w.manager)
    assert [(t.percent, t.actions, t.escalate_to) for t in rows] == [
        (80, ["notify_assignee"], None),  # a team without "escalate" means nothing
        (150, ["notify_manager", "escalate"], w.l2)]
    assert w.standard.version == old + 1
    assert messages_of(w.standard)[-1] == [{"changed": {"fields": ["thresholds"]}}]
    actions.set_thresholds(w.standard, thresholds=[
        (80, ["notify_assignee"]), (150, ["escalate", "notify_manager"], w.l2)], actor=w.admin)
    assert version(w.standard) == old + 1
    actions.set_thresholds(w.standard, thresholds=[], actor=w.admin)
    assert not Threshold.objects.filter(agreement=w.standard).exists()


@pytest.mark.parametrize(("thresholds", "code"), [
    ([(0, [])], "out_of_range"),
    ([(501, [])], "out_of_range"),
    ([("half", [])], "invalid"),
    ([(50, []), (50, ["notify_assignee"])], "duplicate"),
    ([(50, ["call_the_ceo"])], "invalid_choice"),
    ([(50, "notify_assignee")], "invalid"),
    ([(50, ["escalate"])], "required"),
    ([(50, ["escalate"], "l2")], "required"),
    ([(50, ["escalate"], "inactive")], "inactive"),
    ([(p, []) for p in range(1, 22)], "invalid"),
    ([(50,)], "invalid"),
])
def test_thresholds_are_validated(w, thresholds, code):
    inactive = f.TeamFactory.create(is_active=False)
    rows = [tuple(inactive if x == "inactive" else x for x in row) for row in thresholds]
    before = list(w.standard.thresholds.values_list("pk", flat=True))
    refused(code, "thresholds", actions.set_thresholds, w.standard, thresholds=rows,
            actor=w.manager)
    assert list(w.standard.thresholds.values_list("pk", flat=True)) == before


def test_update_of_a_changed_row_is_logged_as_change(w):
    actions.update_calendar(w.business, name="Office hours", time_zone="Europe/Moscow",
                            is_24x7=False, description="", actor=w.manager)
    row = log_rows(w.business)[-1]
    assert row.action_flag == CHANGE
    assert json.loads(row.change_message) == [{"changed": {"fields": ["name", "description"]}}]
