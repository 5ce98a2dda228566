"""From a stored calendar to the business-time arithmetic, cached per calendar version.

Every change to a calendar bumps its ``version``, and the clock and agreement rows are read with
their calendar, so each process finds out about a change with the row it already reads.
"""

from __future__ import annotations

import threading
from datetime import date

from .businesstime import BusinessTime, Schedule, cached_business_time
from .choices import CalendarDayKind
from .models import Calendar

_lock = threading.Lock()
_cache: dict[tuple[int, int, str], BusinessTime] = {}
_CACHE_MAX = 256


def schedule_of(calendar: Calendar) -> Schedule:
    """The calendar's weekly hours and exception days as a pure ``Schedule`` (two queries)."""
    if calendar.is_24x7:
        return Schedule.around_the_clock(calendar.time_zone)
    weekly: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in calendar.periods.values_list("weekday", "start", "end"):
        weekly.setdefault(weekday, []).append((start, end))
    holidays: set[date] = set()
    special: dict[date, list[tuple[int, int]]] = {}
    for day, kind, periods in calendar.days.values_list("date", "kind", "periods"):
        if kind == CalendarDayKind.HOLIDAY:
            holidays.add(day)
        else:
            special[day] = [(int(start), int(end)) for start, end in periods or []]
    return Schedule(
        time_zone=calendar.time_zone,
        weekly={day: sorted(spans) for day, spans in weekly.items()},
        holidays=frozenset(holidays),
        special_days=special,
    )


def clear_cache() -> None:
    """Forget every computed schedule (tests roll the database back under the cache)."""
    with _lock:
        _cache.clear()


def business_time(calendar: Calendar | None) -> BusinessTime:
    """The arithmetic for a calendar; ``None`` means around the clock."""
    if calendar is None or calendar.is_24x7:
        return cached_business_time(Schedule.around_the_clock())
    # The update time too: ids and versions repeat where a database is rolled back (tests).
    key = (calendar.pk, calendar.version, calendar.updated_at.isoformat())
    found = _cache.get(key)
    if found is not None:
        return found
    computed = BusinessTime(schedule_of(calendar))
    with _lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = computed
    return computed
