"""Business-time arithmetic: exact, fast, time-zone aware.

A :class:`Schedule` says when work happens; a :class:`BusinessTime` answers questions about it
("what instant is 4 business hours after this one?", "how much working time lies between these
two instants?"). The SLA engine stands on these answers, so they are exact to the microsecond
(``between(a, add(a, d)) == d`` for every ``d``) and cheap (a ``bisect`` per call).

How it works. Per schedule we lazily build, for a range of whole local years, a sorted table of
the working intervals as UTC epoch-microseconds plus the cumulative working time before each
interval. The *position* of an instant is the working time before it; ``between`` is a
difference of positions and ``add`` looks up the instant whose position is ``pos(start) +
delta``. The table grows by whole years when a question reaches outside it. All arithmetic is in
integer microseconds, never floats.

Conventions (shared with ``../shared/corpora/sla/MANIFEST.md`` unless noted):

* Working intervals are half-open ``[opening, closing)``: the closing instant is not working
  time. Intervals that touch (``09:00–12:00`` + ``12:00–17:00``, or ``00:00–24:00`` on two
  consecutive days) form one continuous interval.
* ``add`` with a positive delta that ends exactly at a closing returns the closing instant (not
  the next opening); with a negative delta that ends exactly at an opening it returns the
  opening. ``add(t, timedelta(0))`` returns ``t`` itself (the same instant, as UTC) even outside
  working hours — use :meth:`BusinessTime.advance_to_working_time` to snap.
* Wall-clock hours are localised per day in the schedule's IANA zone. A ``09:00–17:00`` day is
  8 hours; an interval spanning a DST change counts the **real elapsed time**: a
  ``00:00–24:00`` day is 25 hours on the autumn fall-back day and 23 on the spring-forward day.
  (The Ruby ``working_hours`` gem counts 24 hours there; we do not.)
* A local time that does not exist (the spring-forward gap) maps forward to the first instant
  after the gap (the transition itself): ``02:30`` on a day the clocks jump from 02:00 to 03:00
  means 03:00. A local time that occurs twice (fall-back) means its first occurrence
  (``fold=0``).
* ``special_days`` replace a date's weekly hours and win over ``holidays``; an empty list makes
  the date non-working. ``always=True`` is 24/7: every instant is working time.
* Inputs must be aware datetimes; results are aware datetimes in UTC.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessTime", "Schedule", "cached_business_time"]

DAY_SECONDS = 86_400
_US_PER_S = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# How far the table may grow in one direction without finding any working time before we
# decide that the schedule has none there.
_EMPTY_YEARS_LIMIT = 10
_MIN_YEAR, _MAX_YEAR = 2, 9997

Intervals = tuple[tuple[int, int], ...]


def _(message: str) -> str:
    """Translate ``message`` when Django is set up; this module also runs without settings
    (benchmarks, scripts), where the English text is returned as is."""
    from django.conf import settings

    if not settings.configured:
        return message
    from django.utils.translation import gettext

    return gettext(message)


def _normalise_intervals(raw: Iterable[Sequence[int]], where: str) -> Intervals:
    """Validate ``[(start_s, end_s), ...]``, sort it and merge touching/overlapping parts."""
    items: list[tuple[int, int]] = []
    for pair in raw:
        if len(pair) != 2:
            raise ValueError(_("A working interval must be a (start, end) pair: %s") % where)
        start, end = int(pair[0]), int(pair[1])
        if not 0 <= start < end <= DAY_SECONDS:
            raise ValueError(
                _("Working interval %(start)s–%(end)s is not within 0..86400 seconds: %(where)s")
                % {"start": start, "end": end, "where": where}
            )
        items.append((start, end))
    items.sort()
    merged: list[tuple[int, int]] = []
    for start, end in items:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True, eq=False)
class Schedule:
    """When work happens. Intervals are half-open ``[start, end)`` in local seconds from
    midnight (0..86400).

    Hashable and immutable: the mappings are copied into read-only ones on creation, so a
    schedule can key caches (:func:`cached_business_time`). Two schedules describing the same
    hours are equal even if built from differently shaped (but equivalent) inputs.
    """

    time_zone: str  # IANA name, e.g. "Europe/Moscow"
    weekly: Mapping[int, Sequence[tuple[int, int]]]  # weekday 0=Monday..6 -> [(start_s, end_s)]
    holidays: frozenset[date] = frozenset()  # whole non-working dates
    # date -> its own hours; overrides weekly AND holidays; [] = non-working
    special_days: Mapping[date, Sequence[tuple[int, int]]] = field(default_factory=dict)
    always: bool = False  # 24/7: every instant is working (weekly etc. ignored)

    _week: tuple[Intervals, ...] = field(init=False, repr=False, compare=False)
    _special: Mapping[date, Intervals] = field(init=False, repr=False, compare=False)
    _key: tuple[object, ...] = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(_("Unknown time zone: %s") % self.time_zone) from exc
        week: list[Intervals] = [(), (), (), (), (), (), ()]
        for weekday, intervals in self.weekly.items():
            if not (isinstance(weekday, int) and 0 <= weekday <= 6):
                raise ValueError(_("A weekday must be 0 (Monday) to 6 (Sunday): %s") % weekday)
            week[weekday] = _normalise_intervals(intervals, f"weekday {weekday}")
        special = {
            day: _normalise_intervals(intervals, day.isoformat())
            for day, intervals in self.special_days.items()
        }
        holidays = frozenset(self.holidays)
        always = bool(self.always)
        setattr_ = object.__setattr__
        setattr_(self, "weekly", MappingProxyType({i: week[i] for i in range(7) if week[i]}))
        setattr_(self, "holidays", holidays)
        setattr_(self, "special_days", MappingProxyType(dict(special)))
        setattr_(self, "always", always)
        setattr_(self, "_week", tuple(week))
        setattr_(self, "_special", self.special_days)
        key: tuple[object, ...]
        if always:
            key = (self.time_zone, True)
        else:
            key = (
                self.time_zone,
                False,
                tuple(week),
                tuple(sorted(holidays)),
                tuple(sorted(special.items())),
            )
        setattr_(self, "_key", key)
        setattr_(self, "_hash", hash(key))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return self._hash == other._hash and self._key == other._key

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Schedule], tuple[object, ...]]:
        # The read-only mapping proxies do not pickle; rebuild from plain dicts.
        return (
            Schedule,
            (
                self.time_zone,
                dict(self.weekly),
                self.holidays,
                dict(self.special_days),
                self.always,
            ),
        )

    @classmethod
    def around_the_clock(cls, time_zone: str = "UTC") -> Schedule:
        """A 24/7 schedule: every instant is working time."""
        return cls(time_zone=time_zone, weekly={}, always=True)

    def hours_on(self, day: date) -> Intervals:
        """The nominal working intervals of a local date (special day > holiday > weekly)."""
        if self.always:
            return ((0, DAY_SECONDS),)
        special = self._special.get(day)
        if special is not None:
            return special
        if day in self.holidays:
            return ()
        return self._week[day.weekday()]

    def has_any_hours(self) -> bool:
        return self.always or any(self._week) or any(self._special.values())


# --- conversions -------------------------------------------------------------------------------


def _to_us(t: datetime) -> int:
    """Aware datetime -> integer microseconds since the Unix epoch."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(_("An aware datetime (with a time zone) is required, got %s") % t)
    d = t - _EPOCH
    return (d.days * DAY_SECONDS + d.seconds) * _US_PER_S + d.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _delta_us(delta: timedelta) -> int:
    return (delta.days * DAY_SECONDS + delta.seconds) * _US_PER_S + delta.microseconds


def _offset_us(zone: ZoneInfo, wall: datetime) -> int:
    """UTC offset of a naive local wall time (fold=0) in microseconds."""
    offset = zone.utcoffset(wall)
    assert offset is not None
    return _delta_us(offset)


def _local_to_us(day: date, seconds: int, zone: ZoneInfo) -> int:
    """The instant of local wall time ``day + seconds`` (``seconds`` may be 86400 = the next
    midnight). Ambiguous times take their first occurrence; non-existent ones map forward to
    the end of the gap."""
    naive = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    aware = naive.replace(tzinfo=zone)  # fold=0: first occurrence / pre-transition offset
    us = _to_us(aware)
    if _from_us(us).astimezone(zone).replace(tzinfo=None) == naive:
        return us
    # In a gap: fold=0 used the offset before the jump, fold=1 the one after. The transition
    # instant lies between them; it is the first instant whose wall time is past ``naive``.
    lo = _to_us(naive.replace(tzinfo=zone, fold=1)) // _US_PER_S
    hi = -(-us // _US_PER_S)
    if lo > hi:
        lo, hi = hi, lo
    while lo < hi:
        mid = (lo + hi) // 2
        if _from_us(mid * _US_PER_S).astimezone(zone).replace(tzinfo=None) > naive:
            hi = mid
        else:
            lo = mid + 1
    return lo * _US_PER_S


# --- the interval table ---------------------------------------------------------------------


class _Table(NamedTuple):
    """Working intervals of local years ``[lo_year, hi_year)`` as UTC epoch-microseconds.

    ``cum[i]`` is the working time before interval ``i`` (relative to ``lo_us``), ``cumend[i]``
    the working time up to its end; ``cum`` has one more element (the total)."""

    lo_year: int
    hi_year: int
    lo_us: int
    hi_us: int
    starts: list[int]
    ends: list[int]
    cum: list[int]
    cumend: list[int]

    @property
    def total(self) -> int:
        return self.cum[-1]


class BusinessTime:
    """Arithmetic over one :class:`Schedule`. Thread-safe; prefer :func:`cached_business_time`
    so the interval table is built once per schedule."""

    def __init__(self, schedule: Schedule):
        if not schedule.has_any_hours():
            raise ValueError(_("The schedule has no working time at all."))
        self.schedule = schedule
        self._always = schedule.always
        self._zone = ZoneInfo(schedule.time_zone)
        self._years: dict[int, list[tuple[int, int]]] = {}
        self._lock = threading.Lock()
        self._table: _Table | None = None

    # --- table maintenance ------------------------------------------------------------------

    def _year_intervals(self, year: int) -> list[tuple[int, int]]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        zone, hours_on = self._zone, self.schedule.hours_on
        out: list[tuple[int, int]] = []
        day = date(year, 1, 1)
        midnight = datetime(year, 1, 1)
        offset = _offset_us(zone, midnight)
        while day.year == year:
            next_midnight = midnight + _ONE_DAY
            next_offset = _offset_us(zone, next_midnight)
            hours = hours_on(day)
            if hours and offset == next_offset:
                # No clock change within the day: plain arithmetic on the wall time.
                base = (day.toordinal() - _EPOCH_ORDINAL) * DAY_SECONDS * _US_PER_S - offset
                out.extend((base + s * _US_PER_S, base + e * _US_PER_S) for s, e in hours)
            else:
                for start_s, end_s in hours:
                    start = _local_to_us(day, start_s, zone)
                    end = _local_to_us(day, end_s, zone)
                    if end > start:
                        out.append((start, end))
            day += _ONE_DAY
            midnight, offset = next_midnight, next_offset
        self._years[year] = out
        return out

    def _build(self, lo_year: int, hi_year: int) -> _Table:
        if lo_year < _MIN_YEAR or hi_year > _MAX_YEAR:
            raise ValueError(
                _("Business time is computed only for years %(lo)s to %(hi)s.")
                % {"lo": _MIN_YEAR, "hi": _MAX_YEAR - 1}
            )
        starts: list[int] = []
        ends: list[int] = []
        for year in range(lo_year, hi_year):
            for start, end in self._year_intervals(year):
                if ends and start <= ends[-1]:  # touching or overlapping: one interval
                    if end > ends[-1]:
                        ends[-1] = end
                else:
                    starts.append(start)
                    ends.append(end)
        cum = [0] * (len(starts) + 1)
        total = 0
        for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
            cum[i] = total
            total += end - start
        cum[-1] = total
        return _Table(
            lo_year,
            hi_year,
            _local_to_us(date(lo_year, 1, 1), 0, self._zone),
            _local_to_us(date(hi_year, 1, 1), 0, self._zone),
            starts,
            ends,
            cum,
            cum[1:],
        )

    def _covering(self, lo_us: int, hi_us: int | None = None) -> _Table:
        """A table whose range holds ``lo_us`` and ``hi_us`` (``lo_us <= x < table.hi_us``)."""
        if hi_us is None:
            hi_us = lo_us
        table = self._table
        if table is not None and table.lo_us <= lo_us and hi_us < table.hi_us:
            return table
        with self._lock:
            table = self._table
            if table is not None and table.lo_us <= lo_us and hi_us < table.hi_us:
                return table
            lo_year = _from_us(lo_us).year - 1
            hi_year = _from_us(hi_us).year + 2
            if table is not None:
                lo_year, hi_year = min(lo_year, table.lo_year), max(hi_year, table.hi_year)
            table = self._build(lo_year, hi_year)
            self._table = table
            return table

    def _grow(self, table: _Table, *, forward: bool) -> _Table:
        """Extend the table by whole years in one direction; raise when a long stretch of
        years holds no working time at all."""
        with self._lock:
            current = self._table
            assert current is not None
            if current.lo_year < table.lo_year or current.hi_year > table.hi_year:
                return current  # another thread has grown it meanwhile
            span = current.hi_year - current.lo_year
            step = max(_EMPTY_YEARS_LIMIT, min(span, 50))
            if forward:
                grown = self._build(current.lo_year, current.hi_year + step)
                added = grown.total - current.total
            else:
                grown = self._build(current.lo_year - step, current.hi_year)
                added = grown.total - current.total
            if added == 0:
                raise ValueError(
                    _("The schedule has no working time within %s years.") % _EMPTY_YEARS_LIMIT
                )
            self._table = grown
            return grown

    # --- internals on one table -------------------------------------------------------------

    @staticmethod
    def _pos(table: _Table, u: int) -> int:
        """Working time before instant ``u`` (``table`` must cover ``u``)."""
        i = bisect_right(table.ends, u)
        if i < len(table.starts) and table.starts[i] <= u:
            return table.cum[i] + (u - table.starts[i])
        return table.cum[i]

    # --- public API -------------------------------------------------------------------------

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The instant ``delta`` of working time after ``start`` (before it when negative)."""
        u = _to_us(start)
        d = _delta_us(delta)
        if d == 0 or self._always:
            return _from_us(u + d)
        table = self._covering(u)
        w = self._pos(table, u) + d
        if d > 0:
            while w > table.total:
                table = self._grow(table, forward=True)
                w = self._pos(table, u) + d
            j = bisect_left(table.cumend, w)
            return _from_us(table.starts[j] + (w - table.cum[j]))
        while w < 0:
            table = self._grow(table, forward=False)
            w = self._pos(table, u) + d
        j = bisect_right(table.cum, w, 0, len(table.starts)) - 1
        return _from_us(table.starts[j] + (w - table.cum[j]))

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in ``[a, b)``; negative when ``b < a``."""
        ua, ub = _to_us(a), _to_us(b)
        if self._always:
            return timedelta(microseconds=ub - ua)
        table = self._covering(min(ua, ub), max(ua, ub))
        return timedelta(microseconds=self._pos(table, ub) - self._pos(table, ua))

    def is_working(self, t: datetime) -> bool:
        """Whether ``t`` is working time (an opening is, a closing is not)."""
        u = _to_us(t)
        if self._always:
            return True
        table = self._covering(u)
        i = bisect_right(table.starts, u) - 1
        return i >= 0 and u < table.ends[i]

    def advance_to_working_time(self, t: datetime) -> datetime:
        """``t`` if it is working time, else the next opening."""
        u = _to_us(t)
        if self._always:
            return _from_us(u)
        table = self._covering(u)
        while True:
            i = bisect_right(table.ends, u)
            if i < len(table.starts):
                return _from_us(max(u, table.starts[i]))
            table = self._grow(table, forward=True)

    def advance_to_closing_time(self, t: datetime) -> datetime:
        """The closing of the working interval ``t`` is in, else of the next one."""
        if self._always:
            raise ValueError(_("A 24/7 schedule has no closing time."))
        u = _to_us(t)
        table = self._covering(u)
        grown = 0
        while True:
            i = bisect_right(table.ends, u)
            # An interval ending at the table's edge may continue in the next year.
            if i < len(table.starts) and table.ends[i] < table.hi_us:
                return _from_us(table.ends[i])
            if grown >= _EMPTY_YEARS_LIMIT:
                raise ValueError(
                    _("The schedule has no closing time within %s years.") % _EMPTY_YEARS_LIMIT
                )
            before = table.hi_year
            table = self._grow(table, forward=True)
            grown += table.hi_year - before

    def next_working_time(self, t: datetime) -> datetime:
        """The next opening strictly after the working interval ``t`` is in; when ``t`` is not
        working time, the next opening (as :meth:`advance_to_working_time`)."""
        if self._always:
            raise ValueError(_("A 24/7 schedule has no next opening."))
        u = _to_us(t)
        table = self._covering(u)
        grown = 0
        while True:
            i = bisect_right(table.ends, u)
            if i < len(table.starts) and table.starts[i] > u:
                return _from_us(table.starts[i])  # u is outside working time
            if i + 1 < len(table.starts) and table.ends[i] < table.hi_us:
                return _from_us(table.starts[i + 1])
            if grown >= _EMPTY_YEARS_LIMIT:
                raise ValueError(
                    _("The schedule has no next opening within %s years.") % _EMPTY_YEARS_LIMIT
                )
            before = table.hi_year
            table = self._grow(table, forward=True)
            grown += table.hi_year - before

    def return_to_working_time(self, t: datetime) -> datetime:
        """``t`` if it is working time, else the last closing at or before ``t``."""
        u = _to_us(t)
        if self._always:
            return _from_us(u)
        table = self._covering(u)
        while True:
            i = bisect_right(table.starts, u) - 1
            if i >= 0:
                return _from_us(min(u, table.ends[i]))
            table = self._grow(table, forward=False)

    def is_working_day(self, day: date) -> bool:
        """Whether a local date has any working hours."""
        return bool(self.schedule.hours_on(day))

    def add_working_days(self, d: date, days: int) -> date:
        """``days`` working days after (before, when negative) date ``d``. A non-working origin
        first moves to the next (previous, when negative) working day, which counts as day 0;
        ``days == 0`` returns ``d`` unchanged."""
        if days == 0:
            return d
        if self._always:
            return d + timedelta(days=days)
        step = _ONE_DAY if days > 0 else -_ONE_DAY
        remaining = abs(days)
        limit = _EMPTY_YEARS_LIMIT * 366
        idle = 0
        if not self.is_working_day(d):
            while not self.is_working_day(d):
                d += step
                idle += 1
                if idle > limit:
                    raise ValueError(
                        _("The schedule has no working day within %s years.") % _EMPTY_YEARS_LIMIT
                    )
        while remaining:
            d += step
            idle += 1
            if self.is_working_day(d):
                remaining -= 1
                idle = 0
            elif idle > limit:
                raise ValueError(
                    _("The schedule has no working day within %s years.") % _EMPTY_YEARS_LIMIT
                )
        return d

    def working_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The working intervals within ``[start, end)``, clipped to it (for explanations)."""
        ua, ub = _to_us(start), _to_us(end)
        if ub <= ua:
            return []
        if self._always:
            return [(_from_us(ua), _from_us(ub))]
        table = self._covering(ua, ub)
        first = bisect_right(table.ends, ua)
        last = bisect_left(table.starts, ub)
        return [
            (_from_us(max(ua, table.starts[i])), _from_us(min(ub, table.ends[i])))
            for i in range(first, last)
        ]


@lru_cache(maxsize=128)
def cached_business_time(schedule: Schedule) -> BusinessTime:
    """A shared :class:`BusinessTime` per schedule, so its interval table is built once."""
    return BusinessTime(schedule)
