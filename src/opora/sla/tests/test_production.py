"""The Russian production calendar: our loader against the published calendar and workalendar.

``calendar.csv`` (data.gov.ru, 1999–2025) lists per month the non-working day numbers, ``N*``
a shortened working day and ``N+`` a transferred day off. We compare, year by year, the set of
non-working days and the set of shortened days. Where the two disagree the difference is listed
below as data, with its reason, so that a change in either source fails loudly.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opora.sla.businesstime import BusinessTime, Schedule
from opora.sla.production import CalendarDay, apply_days, russian_production_calendar

CALENDAR = Path("sla") / "russia-production-calendar"
H = 3600
CSV_YEARS = range(1999, 2026)


def _d(*values: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(v) for v in values)


# year -> (non-working only in the CSV, non-working only in ours,
#          short only in the CSV, short only in ours, why)
Dates = frozenset[date]
KNOWN_DISAGREEMENTS: dict[int, tuple[Dates, Dates, Dates, Dates, str]] = {
    1999: (
        _d("1999-01-10"),
        _d("1999-01-08"),
        _d(),
        _d(),
        "holidays package moves Sunday 01-10 to Friday 01-08; the CSV has no such transfer",
    ),
    2000: (
        _d("2000-05-06", "2000-11-04", "2000-12-09"),
        _d("2000-05-08", "2000-11-06", "2000-12-11"),
        _d("2000-05-08", "2000-12-11"),
        _d("2000-05-06", "2000-11-04", "2000-12-09"),
        "holidays package swaps three Saturdays with Mondays; the CSV keeps the plain week",
    ),
    2001: (
        _d("2001-03-11", "2001-04-28", "2001-06-09", "2001-12-29"),
        _d("2001-03-09", "2001-04-30", "2001-06-11", "2001-12-31"),
        _d("2001-04-30", "2001-06-11"),
        _d("2001-04-28", "2001-06-09", "2001-12-11", "2001-12-29"),
        "holidays package has four weekend<->weekday swaps the CSV does not",
    ),
    2005: (
        _d("2005-05-14"),
        _d("2005-05-10"),
        _d(),
        _d(),
        "holidays package: Saturday 05-14 worked for a day off on Tuesday 05-10; CSV: neither",
    ),
    2009: (
        _d(),
        _d(),
        _d(),
        _d("2009-04-30"),
        "the CSV list omits the short 04-30 (before May 1) that its hours total (1987) counts",
    ),
    2013: (
        _d(),
        _d(),
        _d(),
        _d("2013-04-30"),
        "the CSV list omits the short 04-30 (before May 1) that its hours total (1970) counts",
    ),
    2014: (
        _d("2014-03-10"),
        _d(),
        _d("2014-02-24"),
        _d("2014-12-31"),
        "holidays package misses Monday 03-10 (Women's Day on a Saturday); the CSV marks "
        "Monday 02-24 short (no rule gives that) and omits the short 12-31 its total counts",
    ),
    2021: (
        _d(),
        _d(),
        _d(),
        _d("2021-02-20"),
        "Saturday 02-20 worked for Monday 02-22, the eve of 02-23: short in the official norm "
        "(1972 h); the CSV list does not mark it",
    ),
    2023: (
        _d(),
        _d("2023-02-24", "2023-05-08"),
        _d("2023-05-08"),
        _d(),
        "the CSV predates the decree moving Sunday holidays 01-01, 01-08 to 02-24, 05-08",
    ),
    2024: (
        _d("2024-04-27", "2024-11-02", "2024-12-28"),
        _d("2024-04-29", "2024-04-30", "2024-05-10", "2024-12-30", "2024-12-31"),
        _d("2024-04-30", "2024-12-31"),
        _d("2024-11-02"),
        "the CSV predates the 2024 transfer decree (working Saturdays 04-27, 11-02, 12-28)",
    ),
    2025: (
        _d("2025-02-24", "2025-03-10", "2025-11-01"),
        _d("2025-05-02", "2025-05-08", "2025-06-13", "2025-11-03", "2025-12-31"),
        _d("2025-05-08", "2025-11-03", "2025-12-31"),
        _d("2025-11-01"),
        "the CSV predates the 2025 transfer decree (it has the default Monday shifts)",
    ),
}
# The CSV's own totals (working days, hours at 40 h/week) where they differ from ours.
KNOWN_TOTAL_DIFFERENCES = {
    2006: "the CSV total counts 3 short days, its list 4 (we agree with the list)",
    2014: "the missing day off 2014-03-10 (see above)",
    2021: "the CSV totals (249 days) contradict its own list (247 days, as ours)",
    2022: "the CSV totals (249 days) contradict its own list (247 days, as ours)",
    2023: "the CSV predates the 2023 decree",
    2024: "the CSV predates the 2024 decree",
    2025: "the CSV predates the 2025 decree",
}


@cache
def _csv(path: Path) -> dict[int, tuple[frozenset[date], frozenset[date], int, float]]:
    """year -> (non-working days, shortened days, working days, hours at 40 h/week)."""
    out = {}
    with path.open(encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        for row in rows:
            year = int(row[0])
            non_working: set[date] = set()
            short: set[date] = set()
            for month in range(1, 13):
                for token in filter(None, (t.strip() for t in row[month].split(","))):
                    day = date(year, month, int(token.rstrip("*+")))
                    (short if token.endswith("*") else non_working).add(day)
            out[year] = (frozenset(non_working), frozenset(short), int(row[13]), float(row[15]))
    return out


def _year_days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


@cache
def ours(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(non-working days, shortened days) of our loader for one year."""
    days = russian_production_calendar([year])
    holiday = {d.date for d in days if d.kind == "holiday"}
    working = {d.date for d in days if d.kind in ("working", "short")}
    non_working = {
        d for d in _year_days(year) if d in holiday or (d.weekday() >= 5 and d not in working)
    }
    return frozenset(non_working), frozenset(d.date for d in days if d.kind == "short")


@pytest.mark.parametrize("year", CSV_YEARS, ids=str)
def test_agrees_with_the_published_calendar_except_listed_differences(shared_corpora, year):
    csv_non_working, csv_short, _, _ = _csv(shared_corpora / CALENDAR / "calendar.csv")[year]
    non_working, short = ours(year)
    got = (
        csv_non_working - non_working,
        non_working - csv_non_working,
        csv_short - short,
        short - csv_short,
    )
    expected = KNOWN_DISAGREEMENTS.get(year, (frozenset(),) * 4 + ("",))[:4]
    assert got == expected


@pytest.mark.parametrize("year", CSV_YEARS, ids=str)
def test_working_days_and_hours_agree_with_the_csv_totals(shared_corpora, year):
    _, _, csv_days, csv_hours = _csv(shared_corpora / CALENDAR / "calendar.csv")[year]
    non_working, short = ours(year)
    days = len(_year_days(year)) - len(non_working)
    hours = days * 8 - len(short)
    if year in KNOWN_TOTAL_DIFFERENCES:
        assert (days, hours) != (csv_days, csv_hours)
    else:
        assert (days, hours) == (csv_days, csv_hours)


def test_agreement_summary(shared_corpora):
    """The headline numbers of the comparison (also in the module docstring's spirit)."""
    table = _csv(shared_corpora / CALENDAR / "calendar.csv")
    full_years = [y for y in CSV_YEARS if y not in KNOWN_DISAGREEMENTS]
    assert len(full_years) == 16
    day_agreement = sum(
        sum(1 for d in _year_days(y) if (d in table[y][0]) == (d in ours(y)[0])) for y in CSV_YEARS
    )
    assert day_agreement == 9825  # of 9862 days 1999–2025 (99.6 %)
    short_agreement = sum(len(table[y][1] & ours(y)[1]) for y in CSV_YEARS)
    short_union = sum(len(table[y][1] | ours(y)[1]) for y in CSV_YEARS)
    assert (short_agreement, short_union) == (119, 143)


# --- specific days --------------------------------------------------------------------------


def _by_date(year: int) -> dict[date, CalendarDay]:
    return {d.date: d for d in russian_production_calendar([year])}


def test_kinds_and_names_2024():
    days = _by_date(2024)
    assert days[date(2024, 1, 1)] == CalendarDay(date(2024, 1, 1), "holiday", "New Year Holidays")
    assert days[date(2024, 4, 29)].kind == "holiday"
    assert days[date(2024, 4, 27)] == CalendarDay(
        date(2024, 4, 27), "working", "Working day (transferred)"
    )
    assert days[date(2024, 11, 2)].kind == "short"  # Saturday worked for 04-30, eve of May 1
    assert days[date(2024, 2, 22)] == CalendarDay(date(2024, 2, 22), "short", "Pre-holiday day")
    assert days[date(2024, 12, 28)].kind == "working"
    assert date(2024, 12, 27) not in days  # an ordinary Friday
    dates = [d.date for d in russian_production_calendar([2024, 2025])]
    assert dates == sorted(set(dates))


def test_day_names_follow_the_language():
    days = {d.date: d for d in russian_production_calendar([2024], language="ru")}
    assert days[date(2024, 1, 1)].name == "Новогодние каникулы"


def test_december_31_before_new_year_is_short():
    assert _by_date(2025)[date(2025, 12, 31)].kind == "holiday"
    assert date(2025, 12, 30) not in _by_date(2025)  # the eve of a *transferred* day off
    assert _by_date(2020)[date(2020, 12, 31)].kind == "short"


def test_no_years_no_days():
    assert russian_production_calendar([]) == []


@cache
def _workalendar(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# Presidential-decree non-working days of 2020: not part of the production calendar. An
# administrator adds such days to a calendar as exceptions.
DECREE_DAYS_2020 = frozenset(
    [date(2020, 3, 28) + timedelta(days=i) for i in range(34)]
    + [date(2020, 5, 6), date(2020, 5, 7), date(2020, 5, 8), date(2020, 7, 1)]
)


def _dates(case: dict, key: str) -> set[date]:
    out = {date.fromisoformat(v) for v in case.get(key, [])}
    if f"{key}_range" in case:
        first, last = map(date.fromisoformat, case[f"{key}_range"])
        out |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    return out


def test_workalendar_vectors(shared_corpora):
    cases = _workalendar(shared_corpora / CALENDAR / "workalendar_russia_vectors.json")["cases"]
    checked = 0
    for case in cases:
        year = case["year"]
        days = _by_date(year)
        non_working, _short = ours(year)
        holidays = {d for d, day in days.items() if day.kind == "holiday"}
        for day in _dates(case, "non_working"):
            if day in DECREE_DAYS_2020:
                assert day not in holidays, day
                assert (day in non_working) == (day.weekday() >= 5), day
            else:
                assert day in non_working, day
            checked += 1
        for day in _dates(case, "not_holiday"):
            assert day not in holidays, day
            checked += 1
        for day in _dates(case, "working"):
            assert day not in non_working, day
            checked += 1
        if "holiday_list_exact" in case:
            assert holidays == {date.fromisoformat(d) for d, _name in case["holiday_list_exact"]}
            checked += 1
    assert checked == 112  # dates and lists checked, 38 of them 2020 decree days


def test_covid_days_are_not_in_the_production_calendar():
    days = _by_date(2020)
    for day in DECREE_DAYS_2020:
        assert day not in days or days[day].kind != "holiday"
    assert days[date(2020, 5, 4)].kind == "holiday"  # a real transfer (from Saturday 01-04)


# --- apply_days -----------------------------------------------------------------------------

LUNCH_WEEK = {d: [(9 * H, 13 * H), (14 * H, 18 * H)] for d in range(5)}


def test_apply_days_builds_holidays_and_special_days():
    holidays, special = apply_days(LUNCH_WEEK, russian_production_calendar([2024]))
    assert date(2024, 1, 1) in holidays and date(2024, 12, 31) in holidays
    assert special[date(2024, 12, 28)] == [(9 * H, 13 * H), (14 * H, 18 * H)]  # Saturday
    assert special[date(2024, 11, 2)] == [(9 * H, 13 * H), (14 * H, 17 * H)]  # short Saturday
    assert special[date(2024, 2, 22)] == [(9 * H, 13 * H), (14 * H, 17 * H)]
    assert not set(special) & holidays


def test_apply_days_shortens_across_a_lunch_break_and_skips_days_without_hours():
    days = [
        CalendarDay(date(2024, 2, 22), "short", "Pre-holiday day"),  # Thursday
        CalendarDay(date(2024, 2, 21), "short", "Pre-holiday day"),  # Wednesday: no hours
    ]
    weekly = {3: [(9 * H, 13 * H), (14 * H, 14 * H + 1800)]}
    _, special = apply_days(weekly, days, short_by_seconds=H)
    assert special == {date(2024, 2, 22): [(9 * H, 12 * H + 1800)]}
    _, special = apply_days(weekly, days, short_by_seconds=10 * H)
    assert special == {date(2024, 2, 22): []}


def test_moscow_desk_over_new_year_2025():
    holidays, special = apply_days(LUNCH_WEEK, russian_production_calendar([2024, 2025]))
    bt = BusinessTime(Schedule("Europe/Moscow", LUNCH_WEEK, holidays, special))
    msk = ZoneInfo("Europe/Moscow")
    # Saturday 2024-12-28 is a full working day; then days off until Thursday 2025-01-09.
    friday = datetime(2024, 12, 27, 17, 30, tzinfo=msk)
    assert bt.add(friday, timedelta(hours=1)) == datetime(2024, 12, 28, 9, 30, tzinfo=msk)
    saturday = datetime(2024, 12, 28, 17, 30, tzinfo=msk)
    assert bt.add(saturday, timedelta(hours=1)) == datetime(2025, 1, 9, 9, 30, tzinfo=msk)
    # The short Saturday 2024-11-02 closes at 17:00.
    assert bt.advance_to_closing_time(datetime(2024, 11, 2, 15, tzinfo=msk)) == datetime(
        2024, 11, 2, 14, tzinfo=UTC
    )
    assert bt.add_working_days(date(2024, 12, 27), 2) == date(2025, 1, 9)
