"""Every write of the service-level configuration: business calendars (weekly hours, exception
days, the Russian production calendar, iCalendar imports) and agreements (fields, targets,
thresholds, activation).

Only service desk managers and administrators (and superusers) change them. Each action:

1. checks the actor's role and validates everything it was given, raising ``ActionError`` with a
   stable ``code`` and the ``field`` it concerns before anything is written;
2. runs in one transaction with the calendar or agreement row locked;
3. bumps that row's ``version`` and ``updated_at`` — computed schedules are cached per
   (calendar, version) in every process, so the bump is how the others learn of the change;
4. writes the audit row (Django's admin log, ``core.audit.log_change``) with the actor.

An action that changes nothing writes nothing: no version bump, no audit row.

Days loaded from the production calendar or an iCalendar file never overwrite a day an
administrator entered or corrected by hand (``source=manual``); editing a loaded day makes it
manual, which is how a wrong date of a maintained source is corrected for good.
"""

from __future__ import annotations

import functools
import itertools
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Field, Model
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opora.accounts.models import Line, Organisation, Team, User
from opora.accounts.team_actions import NotAllowed, is_desk_manager
from opora.catalog.models import Category, Service
from opora.core.audit import changed_fields, log_change
from opora.tickets.choices import INTAKE_CHANNEL_CHOICES, Priority, TicketType
from opora.tickets.errors import ActionError

from . import ical, production
from .choices import (
    DEFAULT_THRESHOLDS,
    AgreementKind,
    CalendarDayKind,
    CalendarDaySource,
    Metric,
    PenaltyKind,
    ReopenPolicy,
    RetargetPolicy,
    ThresholdAction,
)
from .models import Agreement, Calendar, CalendarDay, Target, Threshold, WorkingPeriod

DAY_SECONDS = 86400
#: The longest target accepted: a year of seconds (the column holds far more, people never do).
MAX_TARGET_SECONDS = 366 * DAY_SECONDS
MIN_TARGET_SECONDS = 60
MAX_THRESHOLDS = 20
MAX_YEARS = 10
#: The production calendar of the ``holidays`` package starts in 1991.
FIRST_YEAR, LAST_YEAR = 1991, 2100
MAX_ICAL_BYTES = 2 * 1024 * 1024
#: Rule conditions an SLA may have, each a list of accepted values, plus ``is_major``.
CONDITION_KEYS = ("type", "channel", "category", "service", "priority", "is_major")
#: What a new agreement starts with: the warnings and the breach of ``DEFAULT_THRESHOLDS``.
DEFAULT_THRESHOLD_ROWS: list[tuple[int, list[str]]] = [
    (percent, [str(a) for a in actions])
    for percent, actions in sorted(DEFAULT_THRESHOLDS.items())
]
WEEKDAYS = {
    0: gettext_lazy("Monday"), 1: gettext_lazy("Tuesday"), 2: gettext_lazy("Wednesday"),
    3: gettext_lazy("Thursday"), 4: gettext_lazy("Friday"), 5: gettext_lazy("Saturday"),
    6: gettext_lazy("Sunday"),
}


# --- shared helpers ------------------------------------------------------------------------------


def _require_manager(actor: User) -> None:
    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _required(value: str, field: str) -> str:
    if not value:
        raise ActionError(_("This field is required."), code="required", field=field)
    return value


def _max_length(value: str, model: type[Model], field: str) -> str:
    limit = model._meta.get_field(field).max_length  # type: ignore[union-attr]
    if limit is not None and len(value) > limit:
        raise ActionError(
            _("Use at most %(limit)d characters (now %(count)d).")
            % {"limit": limit, "count": len(value)}, code="too_long", field=field)
    return value


def _integer(value: Any, field: str) -> int:
    """A whole number; booleans and fractions are refused rather than silently converted."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ActionError(_("Enter a whole number."), code="invalid", field=field)
    try:
        return int(value)
    except ValueError as exc:
        raise ActionError(_("Enter a whole number."), code="invalid", field=field) from exc


def _clean_fields(obj: Model, exclude: Sequence[str] = ()) -> None:
    """The model's own checks (lengths, choices, ranges) as an ``ActionError``."""
    try:
        obj.clean_fields(exclude=list(exclude))
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ActionError(messages[0], code="invalid", field=field) from exc


def _bump(obj: Calendar | Agreement) -> list[str]:
    """A new version: every cached schedule or plan of the old one is stale."""
    obj.version += 1
    obj.updated_at = timezone.now()
    return ["version", "updated_at"]


def _copy_back(target: Model, source: Model, fields: Iterable[str]) -> None:
    """Give the caller's instance what was saved, so it needs no reload."""
    for field in fields:
        attname = cast(Field[Any, Any], source._meta.get_field(field)).attname
        setattr(target, attname, getattr(source, attname))
        if attname != field and field in source._state.fields_cache:
            setattr(target, field, getattr(source, field))


def _related_message(key: str, model: type[Model], obj: object, **extra: Any) -> dict[str, Any]:
    """An admin-log entry about a row shown inside its parent (a day of a calendar)."""
    with translation.override(None):  # the admin log stores these untranslated
        return {key: {"name": str(model._meta.verbose_name), "object": str(obj), **extra}}


def hhmm(seconds: int) -> str:
    """Seconds from midnight as ``HH:MM`` (``24:00`` for the end of the day)."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _intervals(raw: Any, field: str, where: str) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` in seconds from local midnight: each inside 00:00–24:00 with the
    start before the end, sorted, none overlapping another (touching is fine)."""
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise ActionError(_("Give the hours as a list of (start, end) pairs."), code="invalid",
                          field=field)
    spans: list[tuple[int, int]] = []
    for pair in raw:
        if isinstance(pair, str | bytes | Mapping) or not isinstance(pair, Iterable):
            raise ActionError(_("Give the hours as a list of (start, end) pairs."),
                              code="invalid", field=field)
        items = list(pair)
        if len(items) != 2:
            raise ActionError(_("Give the hours as a list of (start, end) pairs."),
                              code="invalid", field=field)
        start, end = _integer(items[0], field), _integer(items[1], field)
        if not 0 <= start < end <= DAY_SECONDS:
            raise ActionError(
                _("%(where)s: an interval must start before it ends, within 00:00–24:00 "
                  "(got %(start)s–%(end)s).")
                % {"where": where, "start": start if start < 0 else hhmm(start),
                   "end": end if end < 0 else hhmm(end)},
                code="invalid_interval", field=field)
        spans.append((start, end))
    spans.sort()
    for (a_start, a_end), (b_start, b_end) in itertools.pairwise(spans):
        if b_start < a_end:
            raise ActionError(
                _("%(where)s: the intervals %(first)s and %(second)s overlap.")
                % {"where": where, "first": f"{hhmm(a_start)}–{hhmm(a_end)}",
                   "second": f"{hhmm(b_start)}–{hhmm(b_end)}"},
                code="overlap", field=field)
    return spans


# --- calendars -----------------------------------------------------------------------------------


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA zone names this system knows (the choice list of the pages too)."""
    return frozenset(zoneinfo.available_timezones())


def _calendar_values(*, name: str, time_zone: str, is_24x7: bool,
                     description: str) -> dict[str, Any]:
    name = _max_length(_required(_text(name), "name"), Calendar, "name")
    zone = str(time_zone or "").strip()
    if zone not in time_zones():
        raise ActionError(_("Unknown time zone: choose one like Europe/Moscow."),
                          code="invalid_time_zone", field="time_zone")
    return {"name": name, "time_zone": zone, "is_24x7": bool(is_24x7),
            "description": str(description or "").strip()}


def _check_calendar_name(name: str, calendar: Calendar | None) -> None:
    others = Calendar.objects.filter(name__iexact=name)
    if calendar is not None:
        others = others.exclude(pk=calendar.pk)
    if others.exists():
        raise ActionError(_("A calendar with this name already exists."), code="duplicate",
                          field="name")


def _has_hours(calendar: Calendar) -> bool:
    return calendar.is_24x7 or calendar.periods.exists()


def _in_use(calendar: Calendar) -> bool:
    return calendar.agreements.exists()


def _locked_calendar(calendar: Calendar) -> Calendar:
    return Calendar.objects.select_for_update().get(pk=calendar.pk)


def create_calendar(
    *, name: str, time_zone: str, is_24x7: bool = False, description: str = "", actor: User,
) -> Calendar:
    """A new business calendar. Its weekly hours are set next (``set_weekly_hours``); until then
    no agreement can use it (it would have no working time at all)."""
    _require_manager(actor)
    values = _calendar_values(name=name, time_zone=time_zone, is_24x7=is_24x7,
                              description=description)
    _check_calendar_name(values["name"], None)
    calendar = Calendar(**values, updated_at=timezone.now())
    _clean_fields(calendar)
    try:
        with transaction.atomic():
            calendar.save()
            log_change(actor, calendar, ADDITION, [{"added": {}}])
    except IntegrityError as exc:  # created by someone else a moment ago
        raise ActionError(_("A calendar with this name already exists."), code="duplicate",
                          field="name") from exc
    return calendar


def update_calendar(
    calendar: Calendar, *, name: str, time_zone: str, is_24x7: bool, description: str,
    actor: User,
) -> Calendar:
    """Rename a calendar, move it to another time zone or switch it to/from around the clock.

    A calendar that agreements use cannot stop being around the clock while it has no weekly
    hours: their clocks would have no working time left to count.
    """
    _require_manager(actor)
    values = _calendar_values(name=name, time_zone=time_zone, is_24x7=is_24x7,
                              description=description)
    _check_calendar_name(values["name"], calendar)
    try:
        with transaction.atomic():
            current = _locked_calendar(calendar)
            changed = changed_fields(current, values)
            for field, value in values.items():
                setattr(current, field, value)
            _clean_fields(current)
            if ("is_24x7" in changed and not current.is_24x7 and not current.periods.exists()
                    and _in_use(current)):
                raise ActionError(
                    _("Agreements use this calendar: set its weekly hours before it stops "
                      "counting around the clock."), code="no_hours", field="is_24x7")
            if changed:
                current.save(update_fields=[*changed, *_bump(current)])
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("A calendar with this name already exists."), code="duplicate",
                          field="name") from exc
    _copy_back(calendar, current, [*values, "version", "updated_at"])
    return calendar


def set_weekly_hours(
    calendar: Calendar, *, periods: Iterable[tuple[int, int, int]], actor: User,
) -> list[WorkingPeriod]:
    """Replace all weekly hours of a calendar in one go: ``(weekday, start, end)`` with weekday
    0 = Monday … 6 = Sunday and start/end in seconds from local midnight (end up to 86400 =
    24:00). Several intervals a day are allowed (a lunch break); overlapping ones are not."""
    _require_manager(actor)
    by_day: dict[int, list[tuple[int, int]]] = {}
    for row in _rows(periods, "periods"):
        if len(row) != 3:
            raise ActionError(_("Give each interval as (weekday, start, end)."), code="invalid",
                              field="periods")
        weekday = _integer(row[0], "periods")
        if not 0 <= weekday <= 6:
            raise ActionError(_("A weekday is 0 (Monday) to 6 (Sunday)."), code="invalid",
                              field="periods")
        by_day.setdefault(weekday, []).append((row[1], row[2]))
    wanted: list[tuple[int, int, int]] = []
    for weekday in sorted(by_day):
        where = str(WEEKDAYS[weekday])
        wanted += [(weekday, s, e) for s, e in _intervals(by_day[weekday], "periods", where)]
    with transaction.atomic():
        current = _locked_calendar(calendar)
        existing = list(current.periods.order_by("weekday", "start", "end")
                        .values_list("weekday", "start", "end"))
        if existing == wanted:
            return list(current.periods.all())
        if not wanted and not current.is_24x7 and _in_use(current):
            raise ActionError(
                _("Agreements use this calendar: it needs working hours on at least one day."),
                code="no_hours", field="periods")
        current.periods.all().delete()
        created = WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=current, weekday=d, start=s, end=e) for d, s, e in wanted)
        current.save(update_fields=_bump(current))
        log_change(actor, current, CHANGE, [{"changed": {"fields": ["periods"]}}])
    _copy_back(calendar, current, ["version", "updated_at"])
    return created


def _rows(value: Any, field: str) -> list[Sequence[Any]]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ActionError(_("Give a list."), code="invalid", field=field)
    rows: list[Sequence[Any]] = []
    for row in value:
        if isinstance(row, str | bytes | Mapping) or not isinstance(row, Iterable):
            raise ActionError(_("Give a list."), code="invalid", field=field)
        rows.append(list(row))
    return rows



# --- exception days ------------------------------------------------------------------------------


def _day_values(*, day: Any, kind: str, periods: Any, name: str) -> dict[str, Any]:
    if not isinstance(day, date) or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ActionError(
            _("Enter a date between %(first)d and %(last)d.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR}, code="invalid", field="date")
    if hasattr(day, "date"):  # a datetime is a date too: keep the calendar day only
        day = day.date()
    if kind not in CalendarDayKind.values:
        raise ActionError(_("Choose a non-working day or a working day with its own hours."),
                          code="invalid_choice", field="kind")
    spans: list[list[int]] = []
    if kind == CalendarDayKind.WORKING:
        # A non-working day has no hours: any given with it are ignored.
        found = _intervals(periods if periods is not None else [], "periods", day.isoformat())
        if not found:
            raise ActionError(_("A working day needs its hours, e.g. 09:00–17:00."),
                              code="required", field="periods")
        spans = [[s, e] for s, e in found]
    name = _max_length(_text(name), CalendarDay, "name")
    return {"date": day, "kind": kind, "periods": spans, "name": name}


def _date_taken(calendar: Calendar, day: date, exclude: int | None = None) -> None:
    others = CalendarDay.objects.filter(calendar=calendar, date=day)
    if exclude is not None:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise ActionError(_("This date already has an entry: change that one instead."),
                          code="duplicate", field="date")


def add_calendar_day(
    calendar: Calendar, *, date: date, kind: str, periods: Iterable[Sequence[int]] = (),
    name: str = "", actor: User,
) -> CalendarDay:
    """An exception to the weekly hours entered by hand: a non-working day (a holiday, a day off
    by decree) or a working day with its own hours (a Saturday made working, a short day).
    Periods are ``(start, end)`` seconds from local midnight."""
    _require_manager(actor)
    values = _day_values(day=date, kind=kind, periods=periods, name=name)
    try:
        with transaction.atomic():
            current = _locked_calendar(calendar)
            _date_taken(current, values["date"])
            day = CalendarDay.objects.create(calendar=current, source=CalendarDaySource.MANUAL,
                                             **values)
            current.save(update_fields=_bump(current))
            log_change(actor, current, CHANGE, [_related_message("added", CalendarDay, day)])
    except IntegrityError as exc:
        raise ActionError(_("This date already has an entry: change that one instead."),
                          code="duplicate", field="date") from exc
    _copy_back(calendar, current, ["version", "updated_at"])
    day.calendar = calendar
    return day


def update_calendar_day(
    day: CalendarDay, *, date: date, kind: str, periods: Iterable[Sequence[int]] = (),
    name: str = "", actor: User,
) -> CalendarDay:
    """Correct an exception day. Whatever its source, it becomes the administrator's own
    (``manual``): later loads of the production calendar or iCalendar files leave it alone."""
    _require_manager(actor)
    values = {**_day_values(day=date, kind=kind, periods=periods, name=name),
              "source": CalendarDaySource.MANUAL}
    try:
        with transaction.atomic():
            calendar = _locked_calendar(day.calendar)
            current = CalendarDay.objects.select_for_update().filter(
                pk=day.pk, calendar=calendar).first()
            if current is None:
                raise ActionError(_("This day is no longer in the calendar."), code="gone")
            _date_taken(calendar, values["date"], exclude=current.pk)
            changed = changed_fields(current, values)
            if changed:
                for field, value in values.items():
                    setattr(current, field, value)
                current.save(update_fields=changed)
                calendar.save(update_fields=_bump(calendar))
                log_change(actor, calendar, CHANGE, [_related_message(
                    "changed", CalendarDay, current, fields=changed)])
    except IntegrityError as exc:
        raise ActionError(_("This date already has an entry: change that one instead."),
                          code="duplicate", field="date") from exc
    _copy_back(day, current, values)
    _copy_back(day.calendar, calendar, ["version", "updated_at"])
    return day


def delete_calendar_day(day: CalendarDay, *, actor: User) -> None:
    """Remove an exception day: the weekly hours apply to that date again. (A day deleted from
    a loaded source comes back with the next load; to cancel it for good, change it instead.)"""
    _require_manager(actor)
    with transaction.atomic():
        calendar = _locked_calendar(day.calendar)
        current = CalendarDay.objects.filter(pk=day.pk, calendar=calendar).first()
        if current is None:
            raise ActionError(_("This day is no longer in the calendar."), code="gone")
        current.delete()
        calendar.save(update_fields=_bump(calendar))
        log_change(actor, calendar, CHANGE, [_related_message("deleted", CalendarDay, day)])
    _copy_back(day.calendar, calendar, ["version", "updated_at"])


# --- loading days from a source -----------------------------------------------------------------


@dataclass(frozen=True)
class DaysLoaded:
    """What a load did: days added, loaded days updated, days an administrator entered by hand
    kept as they are, days already up to date, and days the source no longer has removed."""

    added: int = 0
    updated: int = 0
    kept: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "kept": self.kept,
                "unchanged": self.unchanged, "removed": self.removed}


def _years(years: Iterable[int]) -> list[int]:
    if isinstance(years, str | bytes) or not isinstance(years, Iterable):
        raise ActionError(_("Choose the years to load."), code="invalid", field="years")
    found = sorted({_integer(y, "years") for y in years})
    if not found:
        raise ActionError(_("Choose the years to load."), code="required", field="years")
    if found[0] < FIRST_YEAR or found[-1] > LAST_YEAR:
        raise ActionError(
            _("Choose years between %(first)d and %(last)d.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR}, code="invalid", field="years")
    if len(found) > MAX_YEARS:
        raise ActionError(_("Load at most %(count)d years at a time.") % {"count": MAX_YEARS},
                          code="invalid", field="years")
    return found


def _merge_days(
    calendar: Calendar, incoming: Mapping[date, tuple[str, list[list[int]], str]], *,
    source: str, years: Sequence[int], remove_missing: bool, actor: User, what: str,
) -> DaysLoaded:
    """Write ``incoming`` (date → kind, periods, name) into the locked calendar: never over a
    manual day; a day of ``source`` the source no longer has is removed if ``remove_missing``."""
    existing = {d.date: d for d in CalendarDay.objects.select_for_update().filter(
        calendar=calendar, date__year__in=list(years))}
    new: list[CalendarDay] = []
    changed: list[CalendarDay] = []
    kept = unchanged = 0
    for day, (kind, periods, name) in sorted(incoming.items()):
        row = existing.get(day)
        name = name[:200]
        if row is None:
            new.append(CalendarDay(calendar=calendar, date=day, kind=kind, periods=periods,
                                   name=name, source=source))
        elif row.source == CalendarDaySource.MANUAL:
            kept += 1
        elif (row.kind, row.periods, row.name, row.source) == (kind, periods, name, source):
            unchanged += 1
        else:
            row.kind, row.periods, row.name, row.source = kind, periods, name, source
            changed.append(row)
    stale = [row.pk for day, row in existing.items()
             if remove_missing and row.source == source and day not in incoming]
    result = DaysLoaded(added=len(new), updated=len(changed), kept=kept, unchanged=unchanged,
                        removed=len(stale))
    if result.changed:
        CalendarDay.objects.bulk_create(new)
        CalendarDay.objects.bulk_update(changed, ["kind", "periods", "name", "source"])
        CalendarDay.objects.filter(pk__in=stale).delete()
        calendar.save(update_fields=_bump(calendar))
        log_change(actor, calendar, CHANGE, [
            {"changed": {"fields": ["days"]}},
            {"loaded": {"source": what, "years": list(years), **result.as_dict()}},
        ])
    return result


def load_production_calendar(calendar: Calendar, *, years: Iterable[int],
                             actor: User) -> DaysLoaded:
    """Load the Russian production calendar (the ``holidays`` package) for ``years``: public
    holidays and transferred days off become non-working days, Saturdays made working get the
    calendar's Monday hours, pre-holiday days are an hour shorter than the weekday's hours.

    Days entered by hand are kept as they are; days of an earlier load the source no longer has
    are removed. Decree days outside the production calendar (2020's non-working weeks) are
    not in it: an administrator adds them by hand.
    """
    _require_manager(actor)
    wanted_years = _years(years)
    with transaction.atomic():
        current = _locked_calendar(calendar)
        if current.is_24x7:
            raise ActionError(_("An around-the-clock calendar has no holidays to load."),
                              code="around_the_clock", field="years")
        weekly: dict[int, list[tuple[int, int]]] = {}
        for weekday, start, end in current.periods.order_by("start").values_list(
                "weekday", "start", "end"):
            weekly.setdefault(weekday, []).append((start, end))
        # Named in the site's language, so a load by anyone names the days the same way.
        language = "ru" if settings.LANGUAGE_CODE.startswith("ru") else "en_US"
        days = production.russian_production_calendar(wanted_years, language=language)
        holidays, special = production.apply_days(weekly, days)
        incoming: dict[date, tuple[str, list[list[int]], str]] = {}
        for item in days:
            if item.date in holidays:
                incoming[item.date] = (CalendarDayKind.HOLIDAY, [], item.name)
            elif special.get(item.date):
                spans = [[int(s), int(e)] for s, e in special[item.date] if s < e]
                incoming[item.date] = (CalendarDayKind.WORKING, spans, item.name)
            # else: a working or short day on a weekday without hours: nothing to record
        result = _merge_days(current, incoming, source=CalendarDaySource.PRODUCTION,
                             years=wanted_years, remove_missing=True, actor=actor,
                             what="production")
    _copy_back(calendar, current, ["version", "updated_at"])
    return result


def import_ical(calendar: Calendar, *, data: bytes, years: Iterable[int],
                actor: User) -> DaysLoaded:
    """Import the holidays of an iCalendar file for ``years`` as non-working days (recurring
    and multi-day events expanded). A broken file is refused with nothing written; days entered
    by hand are kept. Days of earlier imports stay (each file adds its own)."""
    _require_manager(actor)
    wanted_years = _years(years)
    if not isinstance(data, bytes | bytearray) or not data:
        raise ActionError(_("Choose an iCalendar (.ics) file."), code="required", field="file")
    if len(data) > MAX_ICAL_BYTES:
        raise ActionError(
            _("The file is too large: at most %(size)d MB.")
            % {"size": MAX_ICAL_BYTES // (1024 * 1024)}, code="too_large", field="file")
    try:
        found = ical.holidays_from_ical(bytes(data), wanted_years)
    except ValueError as exc:
        raise ActionError(str(exc), code="invalid_file", field="file") from exc
    incoming: dict[date, tuple[str, list[list[int]], str]] = {
        day: (CalendarDayKind.HOLIDAY.value, [], _text(name)) for day, name in found
        if day.year in wanted_years}
    with transaction.atomic():
        current = _locked_calendar(calendar)
        if current.is_24x7:
            raise ActionError(_("An around-the-clock calendar has no holidays to load."),
                              code="around_the_clock", field="file")
        result = _merge_days(current, incoming, source=CalendarDaySource.ICAL,
                             years=wanted_years, remove_missing=False, actor=actor,
                             what="ical")
    _copy_back(calendar, current, ["version", "updated_at"])
    return result


# --- agreements ----------------------------------------------------------------------------------


def _decimal(value: Any, field: str, low: Decimal, high: Decimal | None) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError) as exc:
        raise ActionError(_("Enter a number."), code="invalid", field=field) from exc
    if isinstance(value, bool) or not number.is_finite():
        raise ActionError(_("Enter a number."), code="invalid", field=field)
    if number < low or (high is not None and number > high):
        message = (_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
                   if high is not None else
                   _("Enter a number of at least %(low)s.") % {"low": low})
        raise ActionError(message, code="out_of_range", field=field)
    if number != number.quantize(Decimal("0.01")):
        raise ActionError(_("Use at most two decimal places."), code="invalid", field=field)
    return number.quantize(Decimal("0.01"))


def _choice_list(values: Any, allowed: Sequence[Any], label: str) -> list[Any]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        values = [values]
    out: list[Any] = []
    for value in values:
        match = next((a for a in allowed if str(a) == str(value) and not isinstance(value, bool)),
                     None)
        if match is None:
            raise ActionError(_("%(condition)s: unknown value “%(value)s”.")
                              % {"condition": label, "value": value},
                              code="invalid_choice", field="conditions")
        if match not in out:
            out.append(match)
    return out


def _conditions(raw: Any) -> dict[str, Any]:
    """Rule conditions, normalised: only known keys, empty lists dropped, ids that exist."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping):
        raise ActionError(_("Conditions are a mapping of a condition to its values."),
                          code="invalid", field="conditions")
    unknown = sorted(str(k) for k in raw if k not in CONDITION_KEYS)
    if unknown:
        raise ActionError(_("Unknown condition: %(name)s.") % {"name": ", ".join(unknown)},
                          code="invalid", field="conditions")
    out: dict[str, Any] = {}
    choices: dict[str, tuple[Sequence[Any], str]] = {
        "type": (TicketType.values, _("Type")),
        "channel": ([v for v, _label in INTAKE_CHANNEL_CHOICES], _("Channel")),
        "priority": (Priority.values, _("Priority")),
    }
    for key, (allowed, label) in choices.items():
        if key in raw:
            found = _choice_list(raw[key], allowed, label)
            if found:
                out[key] = found
    for key, model, label in (("category", Category, _("Category")),
                              ("service", Service, _("Service"))):
        if key not in raw:
            continue
        values = raw[key]
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
            values = [values]
        ids = []
        for value in values:
            try:
                number = _integer(value, "conditions")
            except ActionError as exc:
                raise ActionError(_("%(condition)s: unknown value “%(value)s”.")
                                  % {"condition": label, "value": value},
                                  code="invalid_choice", field="conditions") from exc
            if number not in ids:
                ids.append(number)
        # An id no database column can hold cannot exist (and SQLite refuses to compare it).
        known = set(model.objects.filter(pk__in=[i for i in ids if 0 < i < 2**63])
                    .values_list("pk", flat=True))
        missing = [i for i in ids if i not in known]
        if missing:
            raise ActionError(_("%(condition)s: unknown value “%(value)s”.")
                              % {"condition": label, "value": missing[0]},
                              code="invalid_choice", field="conditions")
        if ids:
            out[key] = sorted(ids)
    if "is_major" in raw and raw["is_major"] is not None:
        if not isinstance(raw["is_major"], bool):
            raise ActionError(_("Major incident: answer true or false."), code="invalid",
                              field="conditions")
        out["is_major"] = raw["is_major"]
    return out


def _agreement_values(
    *, kind: str, name: str, calendar: Calendar | None, is_active: bool, is_default: bool,
    order: int, organisation: Organisation | None, service: Service | None, team: Team | None,
    conditions: Any, reopen_policy: str, retarget_policy: str, compliance_target: Any,
    monthly_fee: Any, penalty_kind: str, penalty_percent: Any, penalty_cap_percent: Any,
) -> dict[str, Any]:
    if kind not in AgreementKind.values:
        raise ActionError(_("Choose SLA, OLA or underpinning contract."), code="invalid_choice",
                          field="kind")
    name = _max_length(_required(_text(name), "name"), Agreement, "name")
    if calendar is None:
        raise ActionError(_("This field is required."), code="required", field="calendar")
    order_number = _integer(order, "order")
    if not 0 <= order_number <= 1_000_000:
        raise ActionError(_("Enter a whole number from 0 to 1000000."), code="out_of_range",
                          field="order")
    if reopen_policy not in ReopenPolicy.values:
        raise ActionError(_("Choose what a reopen does."), code="invalid_choice",
                          field="reopen_policy")
    if retarget_policy not in RetargetPolicy.values:
        raise ActionError(_("Choose what a priority change does."), code="invalid_choice",
                          field="retarget_policy")
    if (penalty_kind or "") not in PenaltyKind.values:
        raise ActionError(_("Choose a penalty rule."), code="invalid_choice",
                          field="penalty_kind")
    hundred = Decimal(100)
    return {
        "kind": kind, "name": name, "calendar": calendar, "is_active": bool(is_active),
        "is_default": bool(is_default), "order": order_number, "organisation": organisation,
        "service": service, "team": team, "conditions": _conditions(conditions),
        "reopen_policy": reopen_policy, "retarget_policy": retarget_policy,
        "compliance_target": _decimal(compliance_target, "compliance_target", Decimal(0),
                                      hundred),
        "monthly_fee": _decimal(monthly_fee, "monthly_fee", Decimal(0),
                                Decimal("999999999999.99")),
        "penalty_kind": penalty_kind or "",
        "penalty_percent": _decimal(penalty_percent, "penalty_percent", Decimal(0), hundred),
        "penalty_cap_percent": _decimal(penalty_cap_percent, "penalty_cap_percent", Decimal(0),
                                        hundred),
    }


def _check_agreement(values: dict[str, Any], current: Agreement | None) -> None:
    """The rules between fields, by kind. ``current`` is the row before the change (or None)."""
    kind = values["kind"]

    def newly(field: str) -> bool:
        value = values[field]
        before = None if current is None else getattr(current, f"{field}_id")
        return value is not None and value.pk != before

    others = Agreement.objects.filter(name__iexact=values["name"])
    if current is not None:
        others = others.exclude(pk=current.pk)
    if others.exists():
        raise ActionError(_("An agreement with this name already exists."), code="duplicate",
                          field="name")
    calendar: Calendar = values["calendar"]
    if not _has_hours(calendar):
        raise ActionError(_("This calendar has no working hours yet: set them first."),
                          code="no_hours", field="calendar")
    if kind == AgreementKind.SLA:
        if values["team"] is not None:
            raise ActionError(
                _("An SLA is made with a customer; a team belongs to an OLA or an underpinning "
                  "contract."), code="invalid", field="team")
        if values["organisation"] is not None and values["conditions"]:
            raise ActionError(
                _("A contract with an organisation covers all its tickets: rule conditions are "
                  "for agreements without an organisation."), code="invalid", field="conditions")
        if values["is_default"] and (values["organisation"] is not None
                                     or values["service"] is not None or values["conditions"]):
            raise ActionError(
                _("The default SLA applies to every ticket no other agreement covers: it has no "
                  "organisation, service or conditions."), code="invalid", field="is_default")
    else:
        team: Team | None = values["team"]
        if team is None:
            raise ActionError(
                _("Choose the team (for an OLA) or the vendor (for an underpinning contract)."),
                code="required", field="team")
        if kind == AgreementKind.UC and team.line != Line.L4:
            raise ActionError(_("An underpinning contract is made with a vendor: a line-4 team."),
                              code="invalid", field="team")
        if kind == AgreementKind.OLA and team.line == Line.L4:
            raise ActionError(
                _("An OLA is made with an internal team; for a vendor (line 4) make an "
                  "underpinning contract."), code="invalid", field="team")
        for field in ("organisation", "service"):
            if values[field] is not None:
                raise ActionError(_("Only an SLA has a customer organisation or a service."),
                                  code="invalid", field=field)
        if values["conditions"]:
            raise ActionError(_("Only an SLA has rule conditions."), code="invalid",
                              field="conditions")
        if values["is_default"]:
            raise ActionError(_("Only an SLA can be the default agreement."), code="invalid",
                              field="is_default")
    if values["is_default"] and not values["is_active"]:
        raise ActionError(_("The default agreement must be active."), code="invalid",
                          field="is_active")
    if newly("team") and not values["team"].is_active:
        raise ActionError(_("This team is not active."), code="inactive", field="team")
    if newly("organisation") and not values["organisation"].is_active:
        raise ActionError(_("This organisation is not active."), code="inactive",
                          field="organisation")
    if newly("service") and not values["service"].is_active:
        raise ActionError(_("This service is not active."), code="inactive", field="service")
    if values["penalty_kind"]:
        if values["penalty_percent"] <= 0:
            raise ActionError(_("Enter the penalty as a share of the monthly fee."),
                              code="required", field="penalty_percent")
        if values["monthly_fee"] <= 0:
            raise ActionError(_("A penalty is a share of the monthly fee: enter the fee."),
                              code="required", field="monthly_fee")
    if current is None:
        return
    if current.kind != kind:
        if current.clocks.exists():
            raise ActionError(_("Tickets have been measured under this agreement: its kind "
                                "cannot change. Make a new agreement instead."),
                              code="in_use", field="kind")
        if kind != AgreementKind.SLA and current.targets.exclude(
                metric=Metric.RESOLUTION).exists():
            raise ActionError(_("An OLA or underpinning contract has resolution targets only: "
                                "remove the response targets first."),
                              code="invalid", field="kind")
    if current.is_default and current.kind == AgreementKind.SLA and not (
            values["is_default"] and kind == AgreementKind.SLA):
        raise ActionError(
            _("There must be a default SLA: make another agreement the default instead."),
            code="default_required", field="is_default")


def _take_default(agreement: Agreement, actor: User) -> None:
    """Unset the default of the agreement's kind held by another one (same transaction: the
    database allows one default per kind)."""
    previous = list(Agreement.objects.select_for_update().filter(
        kind=agreement.kind, is_default=True).exclude(pk=agreement.pk))
    for other in previous:
        other.is_default = False
        other.save(update_fields=["is_default", *_bump(other)])
        log_change(actor, other, CHANGE, [{"changed": {"fields": ["is_default"]}}])


def create_agreement(
    *, kind: str = AgreementKind.SLA, name: str, calendar: Calendar, is_active: bool = True,
    is_default: bool = False, order: int = 100, organisation: Organisation | None = None,
    service: Service | None = None, team: Team | None = None, conditions: Any = None,
    reopen_policy: str = ReopenPolicy.RESUME, retarget_policy: str = RetargetPolicy.KEEP_START,
    compliance_target: Any = Decimal("95"), monthly_fee: Any = Decimal("0"),
    penalty_kind: str = PenaltyKind.NONE, penalty_percent: Any = Decimal("0"),
    penalty_cap_percent: Any = Decimal("100"), actor: User,
) -> Agreement:
    """A new agreement, with the default thresholds (warnings at 50, 75 and 90 % and the
    breach). Its targets are set next (``set_targets``); without one it measures nothing.
    A new default SLA takes over from the old one in the same transaction."""
    _require_manager(actor)
    values = _agreement_values(
        kind=kind, name=name, calendar=calendar, is_active=is_active, is_default=is_default,
        order=order, organisation=organisation, service=service, team=team,
        conditions=conditions, reopen_policy=reopen_policy, retarget_policy=retarget_policy,
        compliance_target=compliance_target, monthly_fee=monthly_fee,
        penalty_kind=penalty_kind, penalty_percent=penalty_percent,
        penalty_cap_percent=penalty_cap_percent)
    _check_agreement(values, None)
    agreement = Agreement(**values, updated_at=timezone.now())
    _clean_fields(agreement)
    try:
        with transaction.atomic():
            if agreement.is_default:
                _take_default(agreement, actor)
            agreement.save()
            Threshold.objects.bulk_create(
                Threshold(agreement=agreement, percent=percent, actions=list(actions))
                for percent, actions in DEFAULT_THRESHOLD_ROWS)
            log_change(actor, agreement, ADDITION, [{"added": {}}])
    except IntegrityError as exc:
        raise ActionError(_("An agreement with this name already exists."), code="duplicate",
                          field="name") from exc
    return agreement


def update_agreement(
    agreement: Agreement, *, kind: str, name: str, calendar: Calendar, is_active: bool,
    is_default: bool, order: int, organisation: Organisation | None, service: Service | None,
    team: Team | None, conditions: Any, reopen_policy: str, retarget_policy: str,
    compliance_target: Any, monthly_fee: Any, penalty_kind: str, penalty_percent: Any,
    penalty_cap_percent: Any, actor: User,
) -> Agreement:
    """Change an agreement. Making it the default unsets the previous default of its kind in
    the same transaction; the default SLA itself cannot stop being the default or be
    deactivated (make another one the default first). Running clocks keep their target until
    the ticket next changes."""
    _require_manager(actor)
    values = _agreement_values(
        kind=kind, name=name, calendar=calendar, is_active=is_active, is_default=is_default,
        order=order, organisation=organisation, service=service, team=team,
        conditions=conditions, reopen_policy=reopen_policy, retarget_policy=retarget_policy,
        compliance_target=compliance_target, monthly_fee=monthly_fee,
        penalty_kind=penalty_kind, penalty_percent=penalty_percent,
        penalty_cap_percent=penalty_cap_percent)
    try:
        with transaction.atomic():
            current = Agreement.objects.select_for_update().get(pk=agreement.pk)
            _check_agreement(values, current)
            changed = changed_fields(current, values)
            for field, value in values.items():
                setattr(current, field, value)
            _clean_fields(current)
            if changed:
                if "is_default" in changed and current.is_default:
                    _take_default(current, actor)
                current.save(update_fields=[*changed, *_bump(current)])
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("An agreement with this name already exists."), code="duplicate",
                          field="name") from exc
    _copy_back(agreement, current, [*values, "version", "updated_at"])
    return agreement


def _set_active(agreement: Agreement, *, is_active: bool, actor: User) -> Agreement:
    _require_manager(actor)
    with transaction.atomic():
        current = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if current.is_active == is_active:
            return agreement
        if not is_active and current.is_default and current.kind == AgreementKind.SLA:
            raise ActionError(
                _("This is the default SLA, the one that applies when no other does: make "
                  "another agreement the default before deactivating it."),
                code="default_required", field="is_active")
        if is_active and not _has_hours(current.calendar):
            raise ActionError(_("This calendar has no working hours yet: set them first."),
                              code="no_hours", field="calendar")
        current.is_active = is_active
        current.save(update_fields=["is_active", *_bump(current)])
        log_change(actor, current, CHANGE, [{"changed": {"fields": ["is_active"]}}])
    _copy_back(agreement, current, ["is_active", "version", "updated_at"])
    return agreement


def deactivate_agreement(agreement: Agreement, *, actor: User) -> Agreement:
    """Stop applying an agreement to tickets (its history stays for the reports). The default
    SLA is refused: tickets no other agreement covers would have none."""
    return _set_active(agreement, is_active=False, actor=actor)


def activate_agreement(agreement: Agreement, *, actor: User) -> Agreement:
    """Apply a deactivated agreement again."""
    return _set_active(agreement, is_active=True, actor=actor)


# --- targets and thresholds ---------------------------------------------------------------------


class TargetSpec(NamedTuple):
    """One target: how long ``metric`` may take for a priority (and a type, "" = any type)."""

    metric: str
    priority: int
    ticket_type: str
    seconds: int
    business_hours: bool = True


class ThresholdSpec(NamedTuple):
    """One threshold: at ``percent`` of the target, run ``actions``; ``escalate_to`` is the team
    the "escalate" action hands the ticket to."""

    percent: int
    actions: Sequence[str]
    escalate_to: Team | None = None




def _target_label(metric: str, priority: int, ticket_type: str) -> str:
    type_label = TicketType(ticket_type).label if ticket_type else _("any type")
    return f"{Metric(metric).label}, {Priority(priority).label}, {type_label}"


def _targets(agreement: Agreement, raw: Any) -> list[TargetSpec]:
    out: list[TargetSpec] = []
    seen: set[tuple[str, int, str]] = set()
    for row in _rows(raw, "targets"):
        if len(row) not in (4, 5):
            raise ActionError(
                _("Give each target as (metric, priority, ticket type, seconds, business "
                  "hours)."), code="invalid", field="targets")
        metric, priority, ticket_type, seconds = row[0], row[1], row[2] or "", row[3]
        business_hours = row[4] if len(row) == 5 else True
        if metric not in Metric.values:
            raise ActionError(_("Unknown metric “%(value)s”.") % {"value": metric},
                              code="invalid_choice", field="targets")
        if agreement.kind != AgreementKind.SLA and metric != Metric.RESOLUTION:
            raise ActionError(
                _("An OLA or underpinning contract measures resolution only."),
                code="invalid_choice", field="targets")
        number = _integer(priority, "targets")
        if number not in Priority.values:
            raise ActionError(_("A priority is 1 (critical) to 5 (informational)."),
                              code="invalid_choice", field="targets")
        if ticket_type and ticket_type not in TicketType.values:
            raise ActionError(_("Unknown ticket type “%(value)s”.") % {"value": ticket_type},
                              code="invalid_choice", field="targets")
        label = _target_label(metric, number, ticket_type)
        amount = _integer(seconds, "targets")
        if not MIN_TARGET_SECONDS <= amount <= MAX_TARGET_SECONDS:
            raise ActionError(
                _("%(target)s: a target is from a minute to 366 days.") % {"target": label},
                code="out_of_range", field="targets")
        if not isinstance(business_hours, bool):
            raise ActionError(_("Business hours: answer true or false."), code="invalid",
                              field="targets")
        key = (str(metric), number, str(ticket_type))
        if key in seen:
            raise ActionError(_("%(target)s is given twice.") % {"target": label},
                              code="duplicate", field="targets")
        seen.add(key)
        out.append(TargetSpec(str(metric), number, str(ticket_type), amount, business_hours))
    return sorted(out)


def set_targets(agreement: Agreement, *, targets: Iterable[TargetSpec | Sequence[Any]],
                actor: User) -> list[Target]:
    """Replace all targets of an agreement: ``(metric, priority, ticket_type, seconds,
    business_hours)`` each, ``ticket_type`` "" for any type (a type's own target wins), seconds
    of business time (of the agreement's calendar) or, with ``business_hours`` off, around the
    clock. OLAs and underpinning contracts have resolution targets only."""
    _require_manager(actor)
    with transaction.atomic():
        current = Agreement.objects.select_for_update().get(pk=agreement.pk)
        wanted = _targets(current, targets)
        existing = sorted(TargetSpec(*row) for row in current.targets.values_list(
            "metric", "priority", "ticket_type", "seconds", "business_hours"))
        if existing != wanted:
            current.targets.all().delete()
            Target.objects.bulk_create(Target(agreement=current, **spec._asdict())
                                       for spec in wanted)
            current.save(update_fields=_bump(current))
            log_change(actor, current, CHANGE, [{"changed": {"fields": ["targets"]}}])
    _copy_back(agreement, current, ["version", "updated_at"])
    return list(Target.objects.filter(agreement=current))


def _thresholds(raw: Any) -> list[tuple[int, list[str], Team | None]]:
    rows = _rows(raw, "thresholds")
    if len(rows) > MAX_THRESHOLDS:
        raise ActionError(_("At most %(count)d thresholds.") % {"count": MAX_THRESHOLDS},
                          code="invalid", field="thresholds")
    out: list[tuple[int, list[str], Team | None]] = []
    seen: set[int] = set()
    for row in rows:
        if len(row) not in (2, 3):
            raise ActionError(_("Give each threshold as (percent, actions, escalate to)."),
                              code="invalid", field="thresholds")
        percent = _integer(row[0], "thresholds")
        if not 1 <= percent <= 500:
            raise ActionError(_("A threshold is from 1 to 500 percent of the target."),
                              code="out_of_range", field="thresholds")
        if percent in seen:
            raise ActionError(_("The threshold %(percent)d %% is given twice.")
                              % {"percent": percent}, code="duplicate", field="thresholds")
        seen.add(percent)
        given = row[1]
        if isinstance(given, str | bytes | Mapping) or not isinstance(given, Iterable):
            raise ActionError(_("Give the actions of a threshold as a list."), code="invalid",
                              field="thresholds")
        chosen = set()
        for action in given:
            if action not in ThresholdAction.values:
                raise ActionError(_("Unknown action “%(value)s”.") % {"value": action},
                                  code="invalid_choice", field="thresholds")
            chosen.add(str(action))
        actions = [a for a in ThresholdAction.values if a in chosen]
        team = row[2] if len(row) == 3 else None
        if ThresholdAction.ESCALATE in chosen:
            if not isinstance(team, Team):
                raise ActionError(
                    _("%(percent)d %%: choose the team to hand the ticket over to.")
                    % {"percent": percent}, code="required", field="thresholds")
            if not team.is_active:
                raise ActionError(_("This team is not active."), code="inactive",
                                  field="thresholds")
        else:
            team = None  # a team without the escalate action means nothing
        out.append((percent, actions, team))
    return sorted(out, key=lambda r: r[0])


def set_thresholds(agreement: Agreement, *, thresholds: Iterable[ThresholdSpec | Sequence[Any]],
                   actor: User) -> list[Threshold]:
    """Replace all thresholds of an agreement: at ``percent`` (1–500) of the target run the
    actions (``ThresholdAction`` values); "escalate" needs the team to hand over to. The breach
    (100 %) is always recorded, with or without a threshold of its own."""
    _require_manager(actor)
    wanted = _thresholds(thresholds)
    with transaction.atomic():
        current = Agreement.objects.select_for_update().get(pk=agreement.pk)
        existing = [(t.percent, list(t.actions), t.escalate_to_id)
                    for t in current.thresholds.order_by("percent")]
        if existing != [(p, a, t.pk if t else None) for p, a, t in wanted]:
            current.thresholds.all().delete()
            Threshold.objects.bulk_create(
                Threshold(agreement=current, percent=p, actions=a, escalate_to=t)
                for p, a, t in wanted)
            current.save(update_fields=_bump(current))
            log_change(actor, current, CHANGE, [{"changed": {"fields": ["thresholds"]}}])
    _copy_back(agreement, current, ["version", "updated_at"])
    return list(Threshold.objects.filter(agreement=current).select_related("escalate_to"))


__all__ = [
    "DaysLoaded",
    "TargetSpec",
    "ThresholdSpec",
    "activate_agreement",
    "add_calendar_day",
    "create_agreement",
    "create_calendar",
    "deactivate_agreement",
    "delete_calendar_day",
    "import_ical",
    "load_production_calendar",
    "set_targets",
    "set_thresholds",
    "set_weekly_hours",
    "update_agreement",
    "update_calendar",
    "update_calendar_day",
]
