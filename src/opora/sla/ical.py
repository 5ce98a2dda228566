"""Holidays from iCalendar (``.ics``) files, e.g. a public-holiday calendar exported from
Google Calendar or Apple Calendar.

Every event (``VEVENT``) marks the dates it covers as holidays, named by its ``SUMMARY``:

* an all-day event (``DTSTART;VALUE=DATE``) covers ``[DTSTART, DTEND)`` — ``DTEND`` is
  exclusive — or ``DURATION`` days; one day when neither is given or ``DTEND`` is not after
  ``DTSTART`` (some exporters write that);
* a timed event covers the local dates, as written in the file, from its start to its end (an
  end exactly at midnight does not cover the next day). Pass ``all_day_only=True`` to ignore
  timed events (meetings in a mixed calendar);
* recurrence (``RRULE``, ``RDATE``, ``EXDATE``) is expanded with dateutil within the requested
  years, in local wall time; cancelled events (``STATUS:CANCELLED``) are skipped.

A date covered by several events appears once, the distinct names joined with "; ".
Malformed input raises ``ValueError`` with a message for the person who uploaded the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import icalendar
from dateutil.rrule import rruleset, rrulestr
from django.utils.translation import gettext as _

__all__ = ["holidays_from_ical"]

# One event may not expand to more occurrences than this within the requested years
# (a FREQ=SECONDLY rule would otherwise take the server down).
MAX_OCCURRENCES = 5000
_ONE_DAY = timedelta(days=1)


def holidays_from_ical(
    data: bytes, years: Iterable[int], *, all_day_only: bool = False
) -> list[tuple[date, str]]:
    """``(date, name)`` pairs of the holidays in ``data`` that fall in ``years``, by date."""
    wanted = frozenset(years)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(_("This is not a valid iCalendar file: %s") % exc) from exc
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise ValueError(_("This is not a valid iCalendar file: it has no VCALENDAR."))
    if not wanted:
        return []
    first_day, last_day = date(min(wanted), 1, 1), date(max(wanted), 12, 31)

    names: dict[date, list[str]] = {}
    for event in calendar.walk("VEVENT"):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        summary = str(event.get("SUMMARY", "")).strip()
        try:
            covered = list(_event_dates(event, first_day, last_day, all_day_only=all_day_only))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(
                _("The event “%(event)s” cannot be read: %(error)s")
                % {"event": summary or event.get("UID", "?"), "error": exc}
            ) from exc
        for day in covered:
            if day.year in wanted:
                day_names = names.setdefault(day, [])
                if summary and summary not in day_names:
                    day_names.append(summary)
    return [(day, "; ".join(names[day])) for day in sorted(names)]


def _value(event: Any, key: str) -> Any:
    prop = event.get(key)
    return None if prop is None else prop.dt


def _event_dates(
    event: Any, first_day: date, last_day: date, *, all_day_only: bool
) -> Iterator[date]:
    """The dates between ``first_day`` and ``last_day`` that one event covers."""
    start = _value(event, "DTSTART")
    if start is None:
        raise ValueError(_("the event has no start (DTSTART)"))
    all_day = not isinstance(start, datetime)
    if all_day_only and not all_day:
        return
    end = _value(event, "DTEND")
    if end is not None:
        if isinstance(end, datetime) != isinstance(start, datetime):
            raise ValueError(_("its start and end are not both dates or both date-times"))
        length = end - start
    else:
        duration = _value(event, "DURATION")
        length = duration if isinstance(duration, timedelta) else timedelta(0)
    if length < timedelta(0):
        length = timedelta(0)

    for occurrence in _occurrences(event, start, first_day, last_day, length):
        if all_day:
            first = occurrence.date()
            last = first + max(timedelta(days=length.days), _ONE_DAY) - _ONE_DAY
        else:
            finish = occurrence + length
            first = occurrence.date()
            last = finish.date()
            if finish.time() == time(0) and finish > occurrence:
                last -= _ONE_DAY
        day = max(first, first_day)
        while day <= min(last, last_day):
            yield day
            day += _ONE_DAY


def _naive(value: date | datetime, zone: Any) -> datetime:
    """A DTSTART/RDATE/EXDATE value as a naive local datetime in the event's zone."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0))
    if value.tzinfo is not None and zone is not None:
        value = value.astimezone(zone)
    return value.replace(tzinfo=None)


def _dates_of(event: Any, key: str) -> Iterator[date | datetime]:
    props = event.get(key)
    if props is None:
        return
    for prop in props if isinstance(props, list) else [props]:
        for item in prop.dts:
            value = item.dt
            yield value[0] if isinstance(value, tuple) else value  # a PERIOD: its start


def _check_rule(text: str) -> None:
    """Refuse rules repeating within a day: meaningless for holidays and costly to expand."""
    parts = dict(part.partition("=")[::2] for part in text.upper().split(";"))
    too_often = parts.get("FREQ") in ("SECONDLY", "MINUTELY", "HOURLY") or any(
        "," in parts.get(key, "") for key in ("BYHOUR", "BYMINUTE", "BYSECOND")
    )
    if too_often:
        raise ValueError(_("it repeats more often than daily"))


def _occurrences(
    event: Any, start: date | datetime, first_day: date, last_day: date, length: timedelta
) -> Iterator[datetime]:
    """Occurrence starts (naive, local wall time) that may touch ``first_day..last_day``."""
    zone = start.tzinfo if isinstance(start, datetime) else None
    dtstart = _naive(start, zone)
    rules = event.get("RRULE")
    if rules is None and event.get("RDATE") is None:
        yield dtstart
        return
    recurrence = rruleset()
    recurrence.rdate(dtstart)  # DTSTART is always the first instance (RFC 5545)
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        text = rule.to_ical().decode()
        _check_rule(text)
        recurrence.rrule(rrulestr(text, dtstart=dtstart, ignoretz=True))  # type: ignore[arg-type]
    for value in _dates_of(event, "RDATE"):
        recurrence.rdate(_naive(value, zone))
    for value in _dates_of(event, "EXDATE"):
        recurrence.exdate(_naive(value, zone))
    window_start = datetime.combine(first_day, time(0)) - length - _ONE_DAY
    window_end = datetime.combine(last_day, time(0)) + _ONE_DAY
    for count, occurrence in enumerate(recurrence.xafter(window_start, inc=True)):
        if occurrence >= window_end:
            return
        if count >= MAX_OCCURRENCES:
            raise ValueError(
                _("it repeats more than %s times in the chosen years") % MAX_OCCURRENCES
            )
        yield occurrence
