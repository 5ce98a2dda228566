"""The Russian production calendar (производственный календарь) for business-time schedules.

Built on the ``holidays`` package, which knows the non-working public holidays of the Labour
Code (art. 112), the days off moved by the yearly government decrees, and the weekend days made
working in exchange (``weekend_workdays``). From those we derive the shortened pre-holiday days:

* art. 95 — the working day immediately before a non-working public holiday is one hour
  shorter (the day before a *transferred* day off is not: 2025-05-07 before the day off of
  2025-05-08 is a full day);
* a weekend day made working in exchange for such a pre-holiday day keeps the shortening: in
  2016 Monday 02-22 (before the holiday of 02-23) became a day off and Saturday 02-20 a short
  working day. This reproduces the published calendars, e.g. 2024: 248 working days, 1979 hours
  at 40 hours a week (Saturday 11-02 short, Saturdays 04-27 and 12-28 full).

Not included — by design: days off declared by presidential decree outside the production
calendar, such as the 2020 COVID-19 "non-working days" (2020-03-28…2020-04-30,
2020-05-06…2020-05-08) and the 2020-07-01 constitutional vote. An administrator adds such days
as exceptions to the calendar.

``tests/test_production.py`` compares the result with the data.gov.ru calendar (1999–2025) and
lists every disagreement with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import holidays as holidays_lib

__all__ = ["CalendarDay", "apply_days", "russian_production_calendar"]


def gettext_noop(message: str) -> str:
    """Mark a msgid for ``makemessages`` (Django's own ``gettext_noop`` needs settings, and this
    module also runs without them)."""
    return message


DayKind = Literal["holiday", "working", "short"]

WORKING_DAY_TRANSFERRED = gettext_noop("Working day (transferred)")
PRE_HOLIDAY_DAY = gettext_noop("Pre-holiday day")
PRE_HOLIDAY_DAY_TRANSFERRED = gettext_noop("Pre-holiday day (transferred working day)")

# How the holidays package (in English) names a day off moved by decree from a weekend day.
_SUBSTITUTED = re.compile(r"Day off \(substituted from (\d\d)/(\d\d)/(\d{4})\)")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CalendarDay:
    """A date on which the production calendar departs from the plain Monday–Friday week.

    ``kind``: ``"holiday"`` — a non-working day (public holiday or a day off moved to this date);
    ``"working"`` — a Saturday or Sunday made a working day; ``"short"`` — a working day one hour
    shorter before a holiday (on a Saturday/Sunday it is also a weekend day made working).
    """

    date: date
    kind: DayKind
    name: str  # e.g. "New Year Holidays" / "Working day (transferred)" / "Pre-holiday day"


def _label(message: str, language: str) -> str:
    """Our own day names in ``language`` where Django's catalogue is available; English (the
    msgid) otherwise, e.g. in scripts without Django settings."""
    from django.conf import settings

    if not settings.configured:
        return message
    from django.utils import translation

    with translation.override(language.replace("_", "-").lower()):
        return translation.gettext(message)


def russian_production_calendar(
    years: Iterable[int], *, language: str = "en_US"
) -> list[CalendarDay]:
    """The departures of the given years from the Monday–Friday week, sorted by date.

    ``language`` names the days: ``"en_US"`` or ``"ru"`` (holiday names come from the
    ``holidays`` package, ours from Opora's translations).
    """
    wanted = sorted(set(years))
    if not wanted:
        return []
    span = range(wanted[0] - 1, wanted[-1] + 2)  # neighbours: Dec 31 before Jan 1 etc.
    named = holidays_lib.country_holidays("RU", years=span, language=language)
    days_off = set(named)
    statutory: set[date] = set()
    swapped_with: dict[date, date] = {}  # weekend day made working -> the day off it paid for
    for day, name in holidays_lib.country_holidays(
        "RU", years=span, observed=False, language="en_US"
    ).items():
        match = _SUBSTITUTED.match(name)
        if match is None:
            statutory.add(day)
        else:
            month, dom, year = map(int, match.groups())
            swapped_with[date(year, month, dom)] = day
    weekend_workdays = set(named.weekend_workdays)

    def shortened(day: date) -> bool:
        if day + _ONE_DAY in statutory:
            return True
        # A weekend day made working in exchange for a pre-holiday day keeps its shortening.
        swapped = swapped_with.get(day)
        return swapped is not None and swapped + _ONE_DAY in statutory

    out: list[CalendarDay] = []
    for year in wanted:
        day = date(year, 1, 1)
        while day.year == year:
            if day in days_off:
                out.append(CalendarDay(day, "holiday", str(named[day])))
            elif day in weekend_workdays:
                if shortened(day):
                    out.append(
                        CalendarDay(day, "short", _label(PRE_HOLIDAY_DAY_TRANSFERRED, language))
                    )
                else:
                    name = _label(WORKING_DAY_TRANSFERRED, language)
                    out.append(CalendarDay(day, "working", name))
            elif day.weekday() < 5 and shortened(day):
                out.append(CalendarDay(day, "short", _label(PRE_HOLIDAY_DAY, language)))
            day += _ONE_DAY
    return out


def _shorten(intervals: Sequence[tuple[int, int]], by: int) -> list[tuple[int, int]]:
    """Cut ``by`` seconds off the end of a day's hours (over a lunch break if need be)."""
    out = sorted(intervals)
    while out and by > 0:
        start, end = out[-1]
        if end - start > by:
            out[-1] = (start, end - by)
            break
        by -= end - start
        out.pop()
    return out


def apply_days(
    weekly: Mapping[int, Sequence[tuple[int, int]]],
    days: Iterable[CalendarDay],
    *,
    short_by_seconds: int = 3600,
) -> tuple[frozenset[date], dict[date, list[tuple[int, int]]]]:
    """Turn calendar days into ``(holidays, special_days)`` for a
    :class:`~opora.sla.businesstime.Schedule` with these ``weekly`` hours.

    ``"holiday"`` → a holiday. ``"working"`` (a weekend made working) → a special day with the
    standard hours, those of Monday (``weekly[0]``). ``"short"`` → that day's normal hours (on a
    Saturday/Sunday the standard ones) with the end ``short_by_seconds`` earlier; if the day
    had no hours anyway, nothing is added.
    """
    standard = list(weekly.get(0, ()))
    holidays: set[date] = set()
    special: dict[date, list[tuple[int, int]]] = {}
    for day in days:
        if day.kind == "holiday":
            holidays.add(day.date)
            continue
        weekend = day.date.weekday() >= 5
        base = standard if weekend else list(weekly.get(day.date.weekday(), ()))
        if not base:
            continue
        if day.kind == "working":
            special[day.date] = list(base)
        elif day.kind == "short":
            special[day.date] = _shorten(base, short_by_seconds)
        else:
            raise ValueError(f"unknown calendar day kind {day.kind!r}")
    return frozenset(holidays), special
