"""Business-time arithmetic against the shared corpus vectors and our own conventions.

The vectors (``../shared/corpora/sla/business_time_vectors.json``) were transcribed from the
test suites of the Ruby ``working_hours`` gem, zendesk's ``biz`` gem and Zammad. Every vector
runs; the only one that asserts something other than its ``expected`` value is the 25-hour DST
day, where we deliberately count real elapsed time (see ``opora.sla.businesstime``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from opora.sla.businesstime import BusinessTime, Schedule, cached_business_time

VECTORS = Path("sla") / "business_time_vectors.json"


@pytest.fixture(autouse=True)
def _english():
    """Error messages are matched in English (the default language is Russian)."""
    with translation.override("en"):
        yield


# Where conftest.py's ``shared_corpora`` fixture looks; read here only to name the test cases.
_CORPORA = Path(__file__).resolve().parents[4].parent / "shared" / "corpora"
WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
H = 3600


@cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40]


def _cases(*groups: str) -> list[Any]:
    """(group, index) pairs with readable ids; one skipping placeholder without the corpus."""
    path = _CORPORA / VECTORS
    if not path.is_file():
        return [pytest.param(None, None, id="corpus-absent")]
    out = []
    for group in _load(path)["groups"]:
        if group["id"] not in groups:
            continue
        for i, v in enumerate(group["vectors"]):
            origin = v.get("from") or v.get("created_at", "")
            label = f"{group['id']}-{i:02d}-{v['op']}-{origin}"
            if v.get("note"):
                label += "-" + _slug(v["note"])
            if "25-hour" in v.get("note", ""):
                label += "-asserts-OUR-convention-25h"
            if v["op"].startswith("biz_days"):
                label += "-composed-from-add_working_days"
            out.append(pytest.param(group["id"], i, id=label))
    return out


def _vector(corpora: Path, group_id: str | None, index: int | None) -> tuple[dict, dict]:
    """The vector and its effective config (group defaults overridden key by key)."""
    assert group_id is not None and index is not None
    group = next(g for g in _load(corpora / VECTORS)["groups"] if g["id"] == group_id)
    vector = group["vectors"][index]
    config = {**group.get("default_config", {}), **vector.get("config", {})}
    return vector, config


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * H + int(minutes) * 60


def _hours(intervals: list[list[str]]) -> list[tuple[int, int]]:
    return [(_seconds(a), _seconds(b)) for a, b in intervals]


def schedule_from(config: dict) -> Schedule:
    return Schedule(
        time_zone=config["time_zone"],
        weekly={WEEKDAYS[day]: _hours(iv) for day, iv in config["working_hours"].items()},
        holidays=frozenset(date.fromisoformat(d) for d in config.get("holidays", [])),
        special_days={
            date.fromisoformat(d): _hours(iv) for d, iv in config.get("holiday_hours", {}).items()
        },
    )


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def biz_days(bt: BusinessTime, t: datetime, days: int, *, after: bool) -> datetime:
    """Biz's ``N business_days.after/before(t)``, composed from the public API: N working days
    from t's local date keeping its local time, then snapped into working time (forwards for
    ``after``, backwards for ``before``)."""
    zone = ZoneInfo(bt.schedule.time_zone)
    local = t.astimezone(zone)
    target = bt.add_working_days(local.date(), days if after else -days)
    moved = datetime.combine(target, local.time(), tzinfo=zone)
    return bt.advance_to_working_time(moved) if after else bt.return_to_working_time(moved)


def run_op(bt: BusinessTime, vector: dict) -> datetime | timedelta | date:
    op = vector["op"]
    if op == "add_seconds":
        return bt.add(ts(vector["from"]), timedelta(seconds=vector["seconds"]))
    if op == "working_time_between":
        return bt.between(ts(vector["from"]), ts(vector["to"]))
    if op == "add_days":
        return bt.add_working_days(date.fromisoformat(vector["from"]), vector["days"])
    if op in ("biz_days_after", "biz_days_before"):
        return biz_days(bt, ts(vector["from"]), vector["days"], after=op == "biz_days_after")
    method = getattr(bt, op)  # advance_to_working_time, advance_to_closing_time, ...
    return method(ts(vector["from"]))


def _expected(vector: dict) -> datetime | timedelta | date:
    if "expected_seconds" in vector:
        return timedelta(seconds=vector["expected_seconds"])
    if vector["op"] == "add_days":
        return date.fromisoformat(vector["expected"])
    return ts(vector["expected"])


@pytest.mark.parametrize(
    ("group_id", "index"), _cases("working_hours_gem", "working_hours_gem_days", "biz_gem")
)
def test_vector(shared_corpora, group_id, index):
    vector, config = _vector(shared_corpora, group_id, index)
    bt = BusinessTime(schedule_from(config))
    got = run_op(bt, vector)
    if "25-hour" in vector.get("note", ""):
        # OUR convention: a 00:00-24:00 Sunday on the fall-back day is 25 real hours; the gem
        # (and the corpus) count 24.
        assert vector["expected_seconds"] == 24 * H
        assert got == timedelta(hours=25)
        return
    assert got == _expected(vector)
    if isinstance(got, datetime):
        assert got.tzinfo is UTC


@pytest.mark.parametrize(("group_id", "index"), _cases("zammad_legacy_ticket_sla"))
def test_zammad_legacy_ticket_sla(shared_corpora, group_id, index):
    vector, _config = _vector(shared_corpora, group_id, index)
    calendar = vector["calendar"]
    schedule = Schedule(
        time_zone=calendar["timezone"],
        weekly={WEEKDAYS[d]: _hours(iv) for d, iv in calendar["working_hours"].items()},
        holidays=frozenset(
            date.fromisoformat(d)
            for d, entry in calendar.get("public_holidays", {}).items()
            if entry.get("active") is True  # active:false (or no flag) is not a holiday
        ),
    )
    bt = cached_business_time(schedule)
    created = ts(vector["created_at"])
    minutes = vector["sla_minutes"]
    due = {
        "first_response_escalation_at": minutes["first_response"],
        "update_escalation_at": minutes["update"],
        "close_escalation_at": minutes["solution"],
    }
    got = {key: bt.add(created, timedelta(minutes=m)) for key, m in due.items()}
    got["escalation_at"] = min(got.values())
    assert set(vector["expected"]) <= set(got)
    for key, expected in vector["expected"].items():
        assert got[key] == ts(expected), key


# --- our conventions, beyond the corpus -------------------------------------------------------

OFFICE = {d: [(9 * H, 17 * H)] for d in range(5)}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def test_zero_delta_returns_the_same_instant_even_outside_working_hours():
    bt = BusinessTime(Schedule("Europe/Moscow", OFFICE))
    sunday = datetime(2024, 6, 2, 3, 4, 5, 6, tzinfo=ZoneInfo("Europe/Moscow"))
    assert bt.add(sunday, timedelta(0)) == sunday
    assert bt.add(sunday, timedelta(0)).tzinfo is UTC


def test_closing_and_opening_conventions():
    bt = BusinessTime(Schedule("UTC", OFFICE))
    monday_9 = utc(2024, 6, 3, 9)
    assert bt.add(monday_9, timedelta(hours=8)) == utc(2024, 6, 3, 17)  # the closing itself
    assert bt.add(utc(2024, 6, 4, 17), timedelta(hours=-8)) == utc(2024, 6, 4, 9)  # the opening
    assert bt.add(utc(2024, 6, 3, 17), timedelta(microseconds=1)) == utc(2024, 6, 4, 9, 0, 0, 1)
    assert not bt.is_working(utc(2024, 6, 3, 17))
    assert bt.is_working(monday_9)
    assert bt.is_working(utc(2024, 6, 3, 16, 59, 59, 999999))


def test_microsecond_exactness_over_years():
    bt = BusinessTime(Schedule("Europe/Berlin", OFFICE, holidays=frozenset({date(2025, 1, 1)})))
    start = datetime(2024, 3, 29, 15, 59, 59, 999999, tzinfo=UTC)  # 16:59:59 CET
    delta = timedelta(days=400, microseconds=7)
    end = bt.add(start, delta)
    assert bt.between(start, end) == delta
    assert bt.add(end, -delta) == start
    assert bt.between(end, start) == -delta


def test_time_zones_localise_each_day():
    moscow = BusinessTime(Schedule("Europe/Moscow", OFFICE))
    # Monday 09:00 in Moscow is 06:00 UTC.
    assert moscow.advance_to_working_time(utc(2024, 6, 3, 0)) == utc(2024, 6, 3, 6)
    kathmandu = BusinessTime(Schedule("Asia/Kathmandu", OFFICE))  # UTC+05:45
    assert kathmandu.advance_to_working_time(utc(2024, 6, 3, 0)) == utc(2024, 6, 3, 3, 15)


def test_ordinary_office_day_is_eight_hours_on_both_dst_days():
    bt = BusinessTime(Schedule("Europe/Berlin", {6: [(9 * H, 17 * H)]}))
    assert bt.between(utc(2024, 3, 30), utc(2024, 4, 1)) == timedelta(hours=8)
    assert bt.between(utc(2024, 10, 26), utc(2024, 10, 28)) == timedelta(hours=8)


def test_whole_days_count_real_elapsed_time_on_dst_days():
    bt = BusinessTime(Schedule("Europe/Berlin", {6: [(0, 24 * H)]}))
    assert bt.between(utc(2024, 3, 30), utc(2024, 4, 1)) == timedelta(hours=23)
    assert bt.between(utc(2024, 10, 26), utc(2024, 10, 28)) == timedelta(hours=25)


def test_nonexistent_local_time_maps_to_the_end_of_the_gap():
    # New York, 2024-03-10: clocks jump 02:00 -> 03:00 (07:00 UTC). Work "02:30-04:00".
    bt = BusinessTime(Schedule("America/New_York", {6: [(2 * H + 1800, 4 * H)]}))
    sunday = bt.working_intervals(utc(2024, 3, 10), utc(2024, 3, 11))
    assert sunday == [(utc(2024, 3, 10, 7), utc(2024, 3, 10, 8))]


def test_ambiguous_local_time_takes_its_first_occurrence():
    # New York, 2024-11-03: 01:00-02:00 happens twice (EDT 05:00Z, then EST 06:00Z).
    bt = BusinessTime(Schedule("America/New_York", {6: [(1 * H + 1800, 3 * H)]}))
    sunday = bt.working_intervals(utc(2024, 11, 3), utc(2024, 11, 4))
    # 01:30 EDT = 05:30Z .. 03:00 EST = 08:00Z: 2.5 real hours.
    assert sunday == [(utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 8))]


def test_special_day_overrides_holiday_and_weekly():
    day = date(2024, 6, 3)
    schedule = Schedule(
        "UTC",
        OFFICE,
        holidays=frozenset({day, date(2024, 6, 4)}),
        special_days={day: [(10 * H, 12 * H)], date(2024, 6, 5): []},
    )
    bt = BusinessTime(schedule)
    assert bt.between(utc(2024, 6, 3), utc(2024, 6, 7)) == timedelta(hours=2 + 8)
    assert bt.add_working_days(day, 1) == date(2024, 6, 6)


def test_intervals_touching_across_midnight_form_one_interval():
    bt = BusinessTime(Schedule("UTC", {0: [(20 * H, 24 * H)], 1: [(0, 4 * H)]}))
    monday_21 = utc(2024, 6, 3, 21)
    assert bt.advance_to_closing_time(monday_21) == utc(2024, 6, 4, 4)
    assert bt.next_working_time(monday_21) == utc(2024, 6, 10, 20)
    assert bt.add(monday_21, timedelta(hours=6)) == utc(2024, 6, 4, 3)


def test_around_the_clock_is_plain_arithmetic():
    bt = cached_business_time(Schedule.around_the_clock("Europe/Moscow"))
    t = utc(2024, 6, 2, 12)
    assert bt.add(t, timedelta(hours=30)) == utc(2024, 6, 3, 18)
    assert bt.between(t, utc(2024, 6, 1)) == timedelta(hours=-36)
    assert bt.is_working(t)
    assert bt.advance_to_working_time(t) == t == bt.return_to_working_time(t)
    assert bt.add_working_days(date(2024, 6, 1), 2) == date(2024, 6, 3)
    assert bt.working_intervals(t, utc(2024, 6, 3)) == [(t, utc(2024, 6, 3))]
    with pytest.raises(ValueError):
        bt.advance_to_closing_time(t)


def test_twenty_four_seven_through_weekly_hours_matches_the_flag():
    weekly = BusinessTime(Schedule("Europe/Berlin", {d: [(0, 24 * H)] for d in range(7)}))
    t = utc(2024, 3, 30, 12)
    assert weekly.add(t, timedelta(days=3)) == t + timedelta(days=3)
    assert weekly.between(utc(2020, 1, 1), utc(2030, 1, 1)) == utc(2030, 1, 1) - utc(2020, 1, 1)
    with pytest.raises(ValueError, match="no closing time"):
        weekly.advance_to_closing_time(t)


def test_far_away_instants_grow_the_table_both_ways():
    bt = BusinessTime(Schedule("Europe/Moscow", OFFICE))
    start = utc(2024, 6, 3, 12)
    forward = bt.add(start, timedelta(hours=8 * 261 * 3))  # ~three working years
    assert forward.year == 2027
    assert bt.between(start, forward) == timedelta(hours=8 * 261 * 3)
    backward = bt.add(start, timedelta(hours=-8 * 261 * 30))
    assert backward.year == 1994
    assert bt.between(backward, start) == timedelta(hours=8 * 261 * 30)


def test_a_schedule_without_working_time_is_refused():
    with pytest.raises(ValueError, match="no working time"):
        BusinessTime(Schedule("UTC", {}))
    only_one_day = BusinessTime(Schedule("UTC", {}, special_days={date(2024, 6, 3): [(0, H)]}))
    assert only_one_day.add(utc(2024, 1, 1), timedelta(minutes=30)) == utc(2024, 6, 3, 0, 30)
    with pytest.raises(ValueError, match="no working time within"):
        only_one_day.add(utc(2024, 7, 1), timedelta(minutes=1))
    with pytest.raises(ValueError, match="no working day within"):
        only_one_day.add_working_days(date(2024, 7, 1), 1)


def test_naive_datetimes_are_refused():
    bt = BusinessTime(Schedule("UTC", OFFICE))
    with pytest.raises(ValueError, match="aware"):
        bt.add(datetime(2024, 6, 3, 12), timedelta(hours=1))


@pytest.mark.parametrize(
    "weekly",
    [{7: [(0, H)]}, {0: [(H, H)]}, {0: [(-1, H)]}, {0: [(0, 86401)]}, {0: [(5, 4)]}],
    ids=["bad-weekday", "empty", "negative", "past-midnight", "reversed"],
)
def test_invalid_schedules_are_refused(weekly):
    with pytest.raises(ValueError):
        Schedule("UTC", weekly)


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        Schedule("Mars/Olympus_Mons", OFFICE)


def test_schedules_are_hashable_values_and_cached():
    a = Schedule("UTC", {0: [(9 * H, 12 * H), (12 * H, 17 * H)]}, holidays=frozenset())
    b = Schedule("UTC", {0: ((9 * H, 17 * H),), 1: []})
    assert a == b and hash(a) == hash(b)
    assert cached_business_time(a) is cached_business_time(b)
    assert a != Schedule("UTC", {0: [(9 * H, 17 * H)]}, holidays=frozenset({date(2024, 1, 1)}))
    with pytest.raises(TypeError):
        a.weekly[0] = ()  # type: ignore[index]


def test_schedules_pickle_and_replace():
    schedule = Schedule(
        "Europe/Moscow",
        OFFICE,
        holidays=frozenset({date(2024, 6, 12)}),
        special_days={date(2024, 11, 2): [(9 * H, 16 * H)]},
    )
    assert pickle.loads(pickle.dumps(schedule)) == schedule  # noqa: S301 (our own bytes)
    assert copy.deepcopy(schedule) == schedule
    changed = dataclasses.replace(schedule, holidays=frozenset())
    assert changed != schedule and changed.weekly == schedule.weekly


def test_working_intervals_are_clipped():
    bt = BusinessTime(Schedule("UTC", {0: [(9 * H, 12 * H), (13 * H, 17 * H)]}))
    assert bt.working_intervals(utc(2024, 6, 3, 10), utc(2024, 6, 3, 14)) == [
        (utc(2024, 6, 3, 10), utc(2024, 6, 3, 12)),
        (utc(2024, 6, 3, 13), utc(2024, 6, 3, 14)),
    ]
    assert bt.working_intervals(utc(2024, 6, 3, 14), utc(2024, 6, 3, 10)) == []


def test_moscow_lunch_break_day():
    weekly = {d: [(9 * H, 13 * H), (14 * H, 18 * H)] for d in range(5)}
    bt = BusinessTime(Schedule("Europe/Moscow", weekly))
    msk = ZoneInfo("Europe/Moscow")
    start = datetime.combine(date(2024, 6, 7), time(12, 30), tzinfo=msk)  # Friday
    due = bt.add(start, timedelta(hours=8))
    assert due == datetime.combine(date(2024, 6, 10), time(12, 30), tzinfo=msk)
