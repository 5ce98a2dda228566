"""Agent workspace: administration of service levels (``/agent/manage/sla/``).

Business calendars — their time zone, weekly hours, exception days, the Russian production
calendar, iCalendar imports and a preview of the next two weeks — and agreements (SLA, OLA,
underpinning contracts) with their rule conditions, targets and thresholds. Service desk managers
and administrators only, like the catalog pages.

The pages are thin adapters, shaped like ``manage.py``: a form parses what a person typed
(durations such as "4h" or "3d", hours such as "09:00–13:00, 14:00–18:00"), the view checks who
may open the page, and every write goes through ``sla.actions``, which checks the rules again,
writes in one transaction, bumps the version and records the audit row. An ``ActionError`` is
shown next to the field it names, with everything typed kept. Lists sort and page; an htmx
request gets just the results.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from opora.accounts.models import Organisation, Team
from opora.catalog.models import Category, Service
from opora.sla import actions
from opora.sla.choices import (
    BUSINESS_DAY,
    AgreementKind,
    CalendarDayKind,
    CalendarDaySource,
    Metric,
    PenaltyKind,
    ReopenPolicy,
    RetargetPolicy,
    ThresholdAction,
)
from opora.sla.models import Agreement, Calendar, CalendarDay
from opora.sla.schedules import business_time
from opora.tickets.choices import INTAKE_CHANNEL_CHOICES, Priority, TicketType
from opora.tickets.errors import ActionError

from .manage import (
    ManageForm,
    Sort,
    _columns,
    _list_response,
    _object,
    _order,
    _ordering,
    _page,
    _refuse,
    _user,
    category_tree,
    manager_required,
)
from .queues import is_partial

PREVIEW_DAYS = 14
EXTRA_THRESHOLD_ROWS = 2

# --- what people type: durations and hours ------------------------------------------------------

#: Units of a duration; "d" is a business day of the standard calendar (8 hours), not 24.
UNITS = {"d": BUSINESS_DAY, "д": BUSINESS_DAY, "h": 3600, "ч": 3600, "m": 60, "min": 60,
         "м": 60, "мин": 60, "s": 1, "с": 1}
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*(мин|min|[dhmsдчмс])", re.IGNORECASE)
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_INTERVAL = re.compile(rf"^{_TIME}\s*[-–—]\s*{_TIME}$")


def parse_duration(text: str) -> int:
    """``"15m"``, ``"4h"``, ``"1h 30m"``, ``"3d"`` (d = 8 hours) → seconds."""
    raw = (text or "").strip().lower()
    if not raw:
        raise ValidationError(_("Enter a duration such as 15m, 4h or 3d."), code="invalid")
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(raw):
        if raw[position:match.start()].strip(" ,"):
            break
        total += float(match.group(1).replace(",", ".")) * UNITS[match.group(2)]
        position = match.end()
    else:
        if position and not raw[position:].strip(" ,"):
            return round(total)
    raise ValidationError(_("Enter a duration such as 15m, 4h or 3d."), code="invalid")


def format_duration(seconds: int) -> str:
    """Seconds → the shortest exact way to type it back: ``"3d"``, ``"4h"``, ``"1h 30m"``."""
    if seconds % BUSINESS_DAY == 0 and seconds:
        return f"{seconds // BUSINESS_DAY}d"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "",
             f"{secs}s" if secs else ""]
    return " ".join(p for p in parts if p) or "0m"


def _clock(hours: str, minutes: str | None) -> int:
    h, m = int(hours), int(minutes or 0)
    if m > 59 or h > 24 or (h == 24 and m):
        raise ValidationError(_("Enter times from 00:00 to 24:00."), code="invalid")
    return h * 3600 + m * 60


def parse_intervals(text: str) -> list[tuple[int, int]]:
    """``"09:00–13:00, 14:00–18:00"`` → ``[(32400, 46800), (50400, 64800)]``; empty = none."""
    spans = []
    for part in re.split(r"[,;]", text or ""):
        part = part.strip()
        if not part:
            continue
        match = _INTERVAL.match(part)
        if match is None:
            raise ValidationError(
                _("Enter intervals like 09:00–13:00, 14:00–18:00."), code="invalid")
        start, end = _clock(match.group(1), match.group(2)), _clock(match.group(3),
                                                                    match.group(4))
        if start >= end:
            raise ValidationError(
                _("%(interval)s: the start must be before the end.") % {"interval": part},
                code="invalid")
        spans.append((start, end))
    return sorted(spans)


def format_intervals(spans: Iterable[Sequence[int]]) -> str:
    return ", ".join(f"{actions.hhmm(s)}–{actions.hhmm(e)}" for s, e in spans)


def _check_overlaps(spans: list[tuple[int, int]], where: str) -> None:
    try:
        actions._intervals(spans, "periods", where)
    except ActionError as exc:
        raise ValidationError(exc.message, code=exc.code) from exc


class IntervalsField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 300)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[tuple[int, int]]:
        text = super().clean(value)
        spans = parse_intervals(text)
        _check_overlaps(spans, str(self.label))
        return spans


class DurationField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        return parse_duration(text) if text else None


# --- forms ---------------------------------------------------------------------------------------


def _zone_choices() -> list[tuple[str, str]]:
    return [(z, z) for z in sorted(actions.time_zones())]


class CalendarForm(ManageForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_zone_choices)
    is_24x7 = forms.BooleanField(
        label=_("Around the clock"), required=False,
        help_text=_("Every hour of every day counts; weekly hours and exception days are "
                    "ignored."))
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))


class HoursForm(ManageForm):
    """One text input per weekday: "09:00–13:00, 14:00–18:00"; empty = a day off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for weekday, label in actions.WEEKDAYS.items():
            self.fields[f"day_{weekday}"] = IntervalsField(label=label)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")
            field.widget.attrs["placeholder"] = "09:00–13:00, 14:00–18:00"

    def periods(self) -> list[tuple[int, int, int]]:
        return [(weekday, s, e) for weekday in actions.WEEKDAYS
                for s, e in self.cleaned_data[f"day_{weekday}"]]


class DayForm(ManageForm):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"},
                                                                   format="%Y-%m-%d"))
    kind = forms.ChoiceField(label=_("Kind"), choices=CalendarDayKind.choices,
                             initial=CalendarDayKind.HOLIDAY)
    periods = IntervalsField(
        label=_("Hours"), help_text=_("For a working day, e.g. 09:00–13:00, 14:00–17:00."))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"date": d["date"], "kind": d["kind"], "periods": d["periods"], "name": d["name"]}


class ProductionForm(ManageForm):
    year = forms.IntegerField(label=_("Year"), min_value=actions.FIRST_YEAR,
                              max_value=actions.LAST_YEAR)


class IcalForm(ManageForm):
    file = forms.FileField(label=_("iCalendar file (.ics)"))
    year_from = forms.IntegerField(label=_("From year"), min_value=actions.FIRST_YEAR,
                                   max_value=actions.LAST_YEAR)
    year_to = forms.IntegerField(label=_("To year"), min_value=actions.FIRST_YEAR,
                                 max_value=actions.LAST_YEAR)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("year_from"), data.get("year_to")
        if first is not None and last is not None:
            if last < first:
                self.add_error("year_to", gettext("The last year comes after the first."))
            elif last - first >= actions.MAX_YEARS:
                self.add_error("year_to", gettext("Import at most %(count)d years at a time.")
                               % {"count": actions.MAX_YEARS})
        upload = data.get("file")
        if upload is not None and upload.size > actions.MAX_ICAL_BYTES:
            self.add_error("file", gettext("The file is too large: at most %(size)d MB.")
                           % {"size": actions.MAX_ICAL_BYTES // (1024 * 1024)})
        return data


class NamedModelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name() if hasattr(obj, "display_name") else str(obj)


class NamedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name() if hasattr(obj, "display_name") else str(obj)

    def clean(self, value: Any) -> Any:
        # An id no column can hold is simply not a choice (SQLite cannot even compare it).
        for pk in value if isinstance(value, list | tuple) else []:
            text = str(pk)
            if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
                raise ValidationError(self.error_messages["invalid_pk_value"],
                                      code="invalid_pk_value", params={"pk": pk})
        return super().clean(value)


class AgreementForm(ManageForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=AgreementKind.choices)
    name = forms.CharField(label=_("Name"), max_length=200)
    calendar = forms.ModelChoiceField(label=_("Business hours"), queryset=Calendar.objects.all(),
                                      empty_label=_("— choose —"))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    is_default = forms.BooleanField(
        label=_("Default SLA"), required=False,
        help_text=_("Applies to every ticket no other agreement covers. Making this one the "
                    "default unsets the previous default."))
    order = forms.IntegerField(label=_("Rule order"), min_value=0, max_value=1_000_000,
                               initial=100,
                               help_text=_("Rules are tried in this order; the first match "
                                           "applies."))
    organisation = forms.ModelChoiceField(
        label=_("Customer organisation"), queryset=Organisation.objects.none(), required=False,
        empty_label=_("— any —"), help_text=_("SLA only: a contract with this organisation."))
    service = NamedModelChoiceField(
        label=_("Service"), queryset=Service.objects.none(), required=False,
        empty_label=_("— any —"), help_text=_("SLA only: the contract covers this service."))
    team = forms.ModelChoiceField(
        label=_("Team (OLA) or vendor (underpinning contract)"), queryset=Team.objects.none(),
        required=False, empty_label=_("— none —"),
        help_text=_("An OLA applies while its team has the ticket; an underpinning contract "
                    "while its vendor (a line-4 team) has it."))
    cond_type = forms.MultipleChoiceField(label=_("Ticket types"), choices=TicketType.choices,
                                          required=False)
    cond_channel = forms.MultipleChoiceField(label=_("Channels"), choices=INTAKE_CHANNEL_CHOICES,
                                             required=False)
    cond_category = forms.MultipleChoiceField(label=_("Categories"), required=False)
    cond_service = NamedModelMultipleChoiceField(label=_("Services"),
                                                 queryset=Service.objects.none(), required=False)
    cond_priority = forms.TypedMultipleChoiceField(label=_("Priorities"),
                                                   choices=Priority.choices, coerce=int,
                                                   required=False)
    cond_is_major = forms.BooleanField(label=_("Major incidents only"), required=False)
    reopen_policy = forms.ChoiceField(label=_("When a resolved ticket is reopened"),
                                      choices=ReopenPolicy.choices)
    retarget_policy = forms.ChoiceField(label=_("When the priority changes"),
                                        choices=RetargetPolicy.choices)
    compliance_target = forms.DecimalField(label=_("Compliance target, %"), min_value=0,
                                           max_value=100, decimal_places=2, initial=95)
    monthly_fee = forms.DecimalField(label=_("Monthly fee"), min_value=0, decimal_places=2,
                                     max_digits=14, initial=0)
    penalty_kind = forms.ChoiceField(label=_("Penalty"), choices=PenaltyKind.choices,
                                     required=False)
    penalty_percent = forms.DecimalField(label=_("Penalty as a share of the fee, %"), min_value=0,
                                         max_value=100, decimal_places=2, initial=0)
    penalty_cap_percent = forms.DecimalField(label=_("Penalty cap as a share of the fee, %"),
                                             min_value=0, max_value=100, decimal_places=2,
                                             initial=100)

    CONDITION_FIELDS = ("cond_type", "cond_channel", "cond_category", "cond_service",
                        "cond_priority", "cond_is_major")

    def __init__(self, *args: Any, agreement: Agreement | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        def keep(current: int | None) -> Q:
            return Q(is_active=True) | Q(pk=current) if current else Q(is_active=True)

        fields = self.fields
        cast(forms.ModelChoiceField, fields["organisation"]).queryset = (
            Organisation.objects.filter(keep(agreement.organisation_id if agreement else None)))
        cast(forms.ModelChoiceField, fields["service"]).queryset = Service.objects.filter(
            keep(agreement.service_id if agreement else None))
        cast(forms.ModelChoiceField, fields["team"]).queryset = Team.objects.filter(
            keep(agreement.team_id if agreement else None))
        cast(forms.ModelMultipleChoiceField, fields["cond_service"]).queryset = (
            Service.objects.all())
        cast(forms.ChoiceField, fields["cond_category"]).choices = [
            (str(row.category.pk), row.path) for row in category_tree(Category.objects.all())]
        for name in ("cond_type", "cond_channel", "cond_category", "cond_service",
                     "cond_priority"):
            fields[name].widget.attrs["size"] = "5"

    def conditions_field_names(self) -> tuple[str, ...]:
        return self.CONDITION_FIELDS

    def values(self) -> dict[str, Any]:
        d = self.cleaned_data
        conditions: dict[str, Any] = {
            "type": d["cond_type"], "channel": d["cond_channel"],
            "category": [int(c) for c in d["cond_category"]],
            "service": [s.pk for s in d["cond_service"]], "priority": d["cond_priority"],
        }
        if d["cond_is_major"]:
            conditions["is_major"] = True
        return {
            "kind": d["kind"], "name": d["name"], "calendar": d["calendar"],
            "is_active": d["is_active"], "is_default": d["is_default"], "order": d["order"],
            "organisation": d["organisation"], "service": d["service"], "team": d["team"],
            "conditions": {k: v for k, v in conditions.items() if v},
            "reopen_policy": d["reopen_policy"], "retarget_policy": d["retarget_policy"],
            "compliance_target": d["compliance_target"], "monthly_fee": d["monthly_fee"],
            "penalty_kind": d["penalty_kind"] or "", "penalty_percent": d["penalty_percent"],
            "penalty_cap_percent": d["penalty_cap_percent"],
        }

    def action_error(self, exc: ActionError) -> None:
        field = "cond_type" if exc.field == "conditions" else exc.field
        self.add_error(field if field in self.fields else None, exc.message)


def _agreement_initial(a: Agreement) -> dict[str, Any]:
    c = a.conditions or {}
    return {
        "kind": a.kind, "name": a.name, "calendar": a.calendar_id, "is_active": a.is_active,
        "is_default": a.is_default, "order": a.order, "organisation": a.organisation_id,
        "service": a.service_id, "team": a.team_id, "cond_type": c.get("type", []),
        "cond_channel": c.get("channel", []),
        "cond_category": [str(i) for i in c.get("category", [])],
        "cond_service": c.get("service", []), "cond_priority": c.get("priority", []),
        "cond_is_major": bool(c.get("is_major")), "reopen_policy": a.reopen_policy,
        "retarget_policy": a.retarget_policy, "compliance_target": a.compliance_target,
        "monthly_fee": a.monthly_fee, "penalty_kind": a.penalty_kind,
        "penalty_percent": a.penalty_percent, "penalty_cap_percent": a.penalty_cap_percent,
    }


#: The two columns of the targets grid: any ticket type, and service requests' own.
TARGET_TYPES: list[tuple[str, Any]] = [("", _("Any type")),
                                       (TicketType.REQUEST, _("Service request"))]


def _metrics(kind: str) -> list[Metric]:
    return list(Metric) if kind == AgreementKind.SLA else [Metric.RESOLUTION]


def _cell(metric: str, priority: int, ticket_type: str) -> str:
    return f"t_{metric}_{priority}_{ticket_type or 'any'}"


class TargetsForm(ManageForm):
    """The grid metric × priority × (any type / service request): a duration and a
    business-hours checkbox per target; an empty duration means no target."""

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cells: list[tuple[str, int, str]] = [
            (m.value, p.value, t) for m in _metrics(kind) for p in Priority
            for t, _label in TARGET_TYPES]
        for metric, priority, ticket_type in self.cells:
            name = _cell(metric, priority, ticket_type)
            label = gettext("%(metric)s, %(priority)s, %(type)s") % {
                "metric": Metric(metric).label, "priority": Priority(priority).label,
                "type": dict(TARGET_TYPES)[ticket_type]}
            self.fields[name] = DurationField(label=label)
            self.fields[f"{name}_bh"] = forms.BooleanField(
                label=gettext("%(target)s: business hours") % {"target": label}, required=False)
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field, forms.BooleanField) else "form-control"
            field.widget.attrs.update({"class": css, "aria-label": str(field.label)})

    def targets(self) -> list[actions.TargetSpec]:
        d = self.cleaned_data
        return [actions.TargetSpec(m, p, t, d[_cell(m, p, t)], d[f"{_cell(m, p, t)}_bh"])
                for m, p, t in self.cells if d.get(_cell(m, p, t))]

    def grid(self) -> list[dict[str, Any]]:
        rows = []
        for metric in dict.fromkeys(m for m, _p, _t in self.cells):
            for priority in Priority:
                cells = []
                for ticket_type, type_label in TARGET_TYPES:
                    name = _cell(metric, priority.value, ticket_type)
                    cells.append({"field": self[name], "bh": self[f"{name}_bh"],
                                  "type_label": type_label})
                rows.append({"metric": Metric(metric).label, "priority": priority.label,
                             "cells": cells})
        return rows


def _targets_initial(agreement: Agreement) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for t in agreement.targets.all():
        if t.ticket_type not in ("", TicketType.REQUEST):
            continue  # only the two grid columns are edited here (the API edits all)
        name = _cell(t.metric, t.priority, t.ticket_type)
        initial[name] = format_duration(t.seconds)
        initial[f"{name}_bh"] = t.business_hours
    return initial


class ThresholdsForm(ManageForm):
    """Rows of percent, action checkboxes and the team "escalate" hands over to; a row with an
    empty percent is dropped."""

    def __init__(self, *args: Any, rows: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = max(1, min(rows, actions.MAX_THRESHOLDS))
        self.fields["rows"] = forms.IntegerField(widget=forms.HiddenInput, initial=self.rows,
                                                 required=False)
        # One query for every row's list: active teams, and any a threshold already names.
        keep = {v for k, v in (self.initial or {}).items() if k.endswith("_escalate_to") and v}
        self.teams = {t.pk: t for t in Team.objects.filter(Q(is_active=True) | Q(pk__in=keep))}
        team_choices = [("", gettext("— none —"))] + [(str(pk), str(t))
                                                      for pk, t in self.teams.items()]
        for i in range(self.rows):
            self.fields[f"th_{i}_percent"] = forms.IntegerField(
                label=gettext("Threshold %(number)d, %% of the target") % {"number": i + 1},
                min_value=1, max_value=500, required=False)
            self.fields[f"th_{i}_actions"] = forms.MultipleChoiceField(
                label=gettext("Threshold %(number)d, actions") % {"number": i + 1},
                choices=ThresholdAction.choices, required=False,
                widget=forms.CheckboxSelectMultiple)
            self.fields[f"th_{i}_escalate_to"] = forms.TypedChoiceField(
                label=gettext("Threshold %(number)d, hand over to") % {"number": i + 1},
                choices=team_choices, coerce=int, empty_value=None, required=False)
        for name, field in self.fields.items():
            if name == "rows":
                continue
            if isinstance(field, forms.MultipleChoiceField):  # each checkbox has its label
                field.widget.attrs["class"] = "form-check-input"
                continue
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.update({"class": css, "aria-label": str(field.label)})

    def thresholds(self) -> list[actions.ThresholdSpec]:
        d = self.cleaned_data
        return [actions.ThresholdSpec(d[f"th_{i}_percent"], d[f"th_{i}_actions"],
                                      self.teams.get(d[f"th_{i}_escalate_to"] or 0))
                for i in range(self.rows) if d.get(f"th_{i}_percent") is not None]

    def table(self) -> list[dict[str, Any]]:
        return [{"number": i + 1, "percent": self[f"th_{i}_percent"],
                 "actions": self[f"th_{i}_actions"], "escalate_to": self[f"th_{i}_escalate_to"]}
                for i in range(self.rows)]


def _thresholds_initial(agreement: Agreement) -> tuple[dict[str, Any], int]:
    rows = list(agreement.thresholds.all())
    initial: dict[str, Any] = {}
    for i, t in enumerate(rows):
        initial[f"th_{i}_percent"] = t.percent
        initial[f"th_{i}_actions"] = list(t.actions)
        initial[f"th_{i}_escalate_to"] = t.escalate_to_id
    return initial, len(rows) + EXTRA_THRESHOLD_ROWS


def _posted_rows(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("rows", "1"))
    except ValueError:
        return 1


# --- calendars -----------------------------------------------------------------------------------

CALENDAR_SORTS = {
    "name": Sort(_("Name"), ("name",)),
    "zone": Sort(_("Time zone"), ("time_zone", "name")),
    "always": Sort(_("Around the clock"), ("-is_24x7", "name")),
    "holidays": Sort(_("Non-working days this year"), ("holiday_count", "name")),
}


@manager_required
@require_http_methods(["GET", "HEAD"])
def calendars(request: HttpRequest) -> HttpResponse:
    """The business calendars with their zone and this year's non-working days."""
    year = timezone.localdate().year
    key, desc = _ordering(request, CALENDAR_SORTS, "name")
    qs = Calendar.objects.annotate(holiday_count=Count(
        "days", filter=Q(days__kind=CalendarDayKind.HOLIDAY, days__date__year=year)))
    base = reverse("agent:manage_sla_calendars")
    return _list_response(
        request, "agent/sla/admin_calendars.html", "agent/sla/_admin_calendars_results.html", {
            "base_url": base, "columns": _columns(request, base, CALENDAR_SORTS, key, desc),
            "year": year, **_page(request, _order(qs, CALENDAR_SORTS[key], desc)),
        })


def _calendar_values(form: CalendarForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {k: d[k] for k in ("name", "time_zone", "is_24x7", "description")}


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def calendar_create(request: HttpRequest) -> HttpResponse:
    form = CalendarForm(request.POST if request.method == "POST" else None,
                        initial={"time_zone": timezone.get_default_timezone_name()})
    if request.method == "POST" and form.is_valid():
        try:
            calendar = actions.create_calendar(**_calendar_values(form), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Calendar “%(name)s” created: now set its weekly "
                                              "hours.") % {"name": calendar.name})
            return redirect("agent:manage_sla_calendar", pk=calendar.pk)
    return render(request, "agent/sla/admin_calendar_form.html", {"form": form},
                  status=400 if form.errors else 200)


@dataclass
class PreviewDay:
    day: date
    spans: list[tuple[str, str]]
    is_special: bool


def preview(calendar: Calendar, *, today: date | None = None,
            days: int = PREVIEW_DAYS) -> list[PreviewDay]:
    """The working intervals of the next ``days`` days in the calendar's own zone."""
    zone = zoneinfo.ZoneInfo(calendar.time_zone)
    first = today or timezone.localtime(timezone.now(), zone).date()
    dates = [first + timedelta(days=i) for i in range(days)]
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(dates[-1] + timedelta(days=1), time(), zone)
    by_day: dict[date, list[tuple[str, str]]] = {d: [] for d in dates}
    try:
        intervals = business_time(calendar).working_intervals(start, end)
    except ValueError:  # no working time at all
        intervals = []
    for a, b in intervals:
        a, b = a.astimezone(zone), b.astimezone(zone)
        while a < b:  # split at local midnights (24/7 comes as one long interval)
            midnight = datetime.combine(a.date() + timedelta(days=1), time(), zone)
            piece_end = min(b, midnight)
            label_end = "24:00" if piece_end == midnight else f"{piece_end:%H:%M}"
            if a.date() in by_day:
                by_day[a.date()].append((f"{a:%H:%M}", label_end))
            a = piece_end
    special = set(CalendarDay.objects.filter(calendar=calendar, date__range=(dates[0], dates[-1]))
                  .values_list("date", flat=True)) if not calendar.is_24x7 else set()
    return [PreviewDay(d, by_day[d], d in special) for d in dates]


def _year(request: HttpRequest) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return timezone.localdate().year
    return min(max(year, actions.FIRST_YEAR), actions.LAST_YEAR)


def _days_context(calendar: Calendar, year: int) -> dict[str, Any]:
    days = list(calendar.days.filter(date__year=year).order_by("date"))
    return {
        "calendar": calendar, "year": year, "prev_year": year - 1, "next_year": year + 1,
        "days": [{"day": d, "hours": format_intervals(d.periods)} for d in days],
        "holiday_count": sum(1 for d in days if d.kind == CalendarDayKind.HOLIDAY),
    }


def _calendar_page(request: HttpRequest, calendar: Calendar, *, year: int | None = None,
                   form: CalendarForm | None = None, hours_form: HoursForm | None = None,
                   day_form: DayForm | None = None, production_form: ProductionForm | None = None,
                   ical_form: IcalForm | None = None, status: int = 200) -> HttpResponse:
    year = year or _year(request)
    if form is None:
        form = CalendarForm(initial={"name": calendar.name, "time_zone": calendar.time_zone,
                                     "is_24x7": calendar.is_24x7,
                                     "description": calendar.description})
    if hours_form is None:
        weekly: dict[int, list[tuple[int, int]]] = {}
        for p in calendar.periods.all():
            weekly.setdefault(p.weekday, []).append((p.start, p.end))
        hours_form = HoursForm(initial={f"day_{d}": format_intervals(weekly.get(d, []))
                                        for d in actions.WEEKDAYS})
    return render(request, "agent/sla/admin_calendar.html", {
        **_days_context(calendar, year),
        "form": form, "hours_form": hours_form,
        "day_form": day_form or DayForm(initial={"kind": CalendarDayKind.HOLIDAY}),
        "production_form": production_form or ProductionForm(initial={"year": year}),
        "ical_form": ical_form or IcalForm(initial={"year_from": year, "year_to": year + 1}),
        "preview": preview(calendar),
        "agreements": list(calendar.agreements.order_by("kind", "name").only("id", "name",
                                                                                 "kind")),
    }, status=status)


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def calendar_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A calendar: its settings, weekly hours, exception days of a year (an htmx request for
    another year gets just the days), loads, and the next two weeks as they will count."""
    calendar = _object(Calendar.objects.all(), pk)
    if request.method != "POST":
        if is_partial(request):
            return _list_response(request, "agent/sla/_admin_calendar_days.html",
                                  "agent/sla/_admin_calendar_days.html",
                                  _days_context(calendar, _year(request)))
        return _calendar_page(request, calendar)
    form = CalendarForm(request.POST)
    if form.is_valid():
        try:
            actions.update_calendar(calendar, **_calendar_values(form), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Calendar “%(name)s” saved.")
                             % {"name": calendar.name})
            return redirect("agent:manage_sla_calendar", pk=calendar.pk)
    calendar.refresh_from_db()
    return _calendar_page(request, calendar, form=form, status=400)


@manager_required
@require_POST
def calendar_hours(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = _object(Calendar.objects.all(), pk)
    form = HoursForm(request.POST)
    if form.is_valid():
        try:
            actions.set_weekly_hours(calendar, periods=form.periods(), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Weekly hours of “%(name)s” saved.")
                             % {"name": calendar.name})
            return redirect("agent:manage_sla_calendar", pk=calendar.pk)
    return _calendar_page(request, calendar, hours_form=form, status=400)


def _back_to_year(calendar: Calendar, day: date | int) -> HttpResponse:
    year = day if isinstance(day, int) else day.year
    return redirect(f"{reverse('agent:manage_sla_calendar', args=[calendar.pk])}?year={year}"
                    "#calendar-days")


@manager_required
@require_POST
def calendar_day_add(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = _object(Calendar.objects.all(), pk)
    form = DayForm(request.POST)
    if form.is_valid():
        try:
            day = actions.add_calendar_day(calendar, **form.values(), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("%(date)s added to the calendar.")
                             % {"date": _date_label(day.date)})
            return _back_to_year(calendar, day.date)
    typed = form.cleaned_data.get("date")
    year = typed.year if isinstance(typed, date) else None
    return _calendar_page(request, calendar, year=year, day_form=form, status=400)


def _date_label(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def _day(request: HttpRequest, pk: int, day_pk: int) -> CalendarDay:
    calendar = _object(Calendar.objects.all(), pk)
    day = _object(calendar.days.all(), day_pk)
    day.calendar = calendar
    return day


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def calendar_day_edit(request: HttpRequest, pk: int, day_pk: int) -> HttpResponse:
    """Correct an exception day; it becomes the administrator's own, kept by later loads."""
    day = _day(request, pk, day_pk)
    if request.method == "POST":
        form = DayForm(request.POST)
        if form.is_valid():
            try:
                actions.update_calendar_day(day, **form.values(), actor=_user(request))
            except ActionError as exc:
                _refuse(exc)
                form.action_error(exc)
            else:
                messages.success(request, gettext("%(date)s saved.")
                                 % {"date": _date_label(day.date)})
                return _back_to_year(day.calendar, day.date)
    else:
        form = DayForm(initial={"date": day.date, "kind": day.kind,
                                "periods": format_intervals(day.periods), "name": day.name})
    return render(request, "agent/sla/admin_calendar_day.html", {
        "form": form, "day": day, "calendar": day.calendar,
        "is_loaded": day.source != CalendarDaySource.MANUAL,
    }, status=400 if form.errors else 200)


@manager_required
@require_POST
def calendar_day_delete(request: HttpRequest, pk: int, day_pk: int) -> HttpResponse:
    day = _day(request, pk, day_pk)
    try:
        actions.delete_calendar_day(day, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("%(date)s removed from the calendar.")
                         % {"date": _date_label(day.date)})
    return _back_to_year(day.calendar, day.date)


def _loaded_message(result: actions.DaysLoaded) -> str:
    parts = [
        ngettext("%(count)d day added", "%(count)d days added", result.added)
        % {"count": result.added},
        ngettext("%(count)d updated", "%(count)d updated", result.updated)
        % {"count": result.updated},
        ngettext("%(count)d entered by hand kept", "%(count)d entered by hand kept", result.kept)
        % {"count": result.kept},
        ngettext("%(count)d already up to date", "%(count)d already up to date",
                 result.unchanged) % {"count": result.unchanged},
    ]
    if result.removed:
        parts.append(ngettext("%(count)d removed", "%(count)d removed", result.removed)
                     % {"count": result.removed})
    return ", ".join(parts) + "."


@manager_required
@require_POST
def calendar_production(request: HttpRequest, pk: int) -> HttpResponse:
    """Load the Russian production calendar for a year."""
    calendar = _object(Calendar.objects.all(), pk)
    form = ProductionForm(request.POST)
    if form.is_valid():
        year = form.cleaned_data["year"]
        try:
            result = actions.load_production_calendar(calendar, years=[year],
                                                      actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.add_error("year", exc.message)
        else:
            messages.success(request, gettext("Production calendar %(year)d loaded: %(result)s")
                             % {"year": year, "result": _loaded_message(result)})
            return _back_to_year(calendar, year)
    return _calendar_page(request, calendar, production_form=form, status=400)


@manager_required
@require_POST
def calendar_ical(request: HttpRequest, pk: int) -> HttpResponse:
    """Import holidays from an iCalendar file for a range of years."""
    calendar = _object(Calendar.objects.all(), pk)
    form = IcalForm(request.POST, request.FILES)
    if form.is_valid():
        d = form.cleaned_data
        try:
            result = actions.import_ical(
                calendar, data=d["file"].read(),
                years=range(d["year_from"], d["year_to"] + 1), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.add_error(exc.field if exc.field in form.fields else "file", exc.message)
        else:
            messages.success(request, gettext("iCalendar file imported: %(result)s")
                             % {"result": _loaded_message(result)})
            return _back_to_year(calendar, d["year_from"])
    return _calendar_page(request, calendar, ical_form=form, status=400)


# --- agreements ----------------------------------------------------------------------------------

AGREEMENT_SORTS = {
    "name": Sort(_("Name"), ("name",)),
    "kind": Sort(_("Kind"), ("kind", "order", "name")),
    "order": Sort(_("Rule order"), ("order", "name")),
    "calendar": Sort(_("Business hours"), ("calendar__name", "name")),
    "targets": Sort(_("Targets"), ("target_count", "name")),
    "updated": Sort(_("Updated"), ("updated_at",)),
    "active": Sort(_("Active"), ("-is_active", "name")),
}
ACTIVE_FILTER = {"yes": True, "no": False}


@manager_required
@require_http_methods(["GET", "HEAD"])
def agreements(request: HttpRequest) -> HttpResponse:
    """SLAs, OLAs and underpinning contracts: filter by kind and state, sort, page."""
    kind = request.GET.get("kind", "")
    active = request.GET.get("active", "")
    key, desc = _ordering(request, AGREEMENT_SORTS, "kind")
    qs = Agreement.objects.select_related("calendar", "organisation", "service", "team").annotate(
        target_count=Count("targets"))
    if kind in AgreementKind.values:
        qs = qs.filter(kind=kind)
    if active in ACTIVE_FILTER:
        qs = qs.filter(is_active=ACTIVE_FILTER[active])
    base = reverse("agent:manage_sla_agreements")
    return _list_response(
        request, "agent/sla/admin_agreements.html", "agent/sla/_admin_agreements_results.html", {
            "base_url": base, "columns": _columns(request, base, AGREEMENT_SORTS, key, desc),
            "kind": kind, "active": active, "kinds": AgreementKind.choices,
            **_page(request, _order(qs, AGREEMENT_SORTS[key], desc)),
        })


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_create(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind") or AgreementKind.SLA,
               "reopen_policy": ReopenPolicy.RESUME, "retarget_policy": RetargetPolicy.KEEP_START,
               "calendar": Calendar.objects.filter(is_24x7=False).values_list(
                   "pk", flat=True).first()}
    form = AgreementForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            agreement = actions.create_agreement(**form.values(), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Agreement “%(name)s” created: now set its "
                                              "targets.") % {"name": agreement.name})
            return redirect("agent:manage_sla_agreement", pk=agreement.pk)
    return render(request, "agent/sla/admin_agreement.html", {
        "form": form, "agreement": None, **_duration_help(),
    }, status=400 if form.errors else 200)


def _duration_help() -> dict[str, Any]:
    return {"business_day_hours": BUSINESS_DAY // 3600}


def _agreement_page(request: HttpRequest, agreement: Agreement, *,
                    form: AgreementForm | None = None, targets_form: TargetsForm | None = None,
                    thresholds_form: ThresholdsForm | None = None,
                    status: int = 200) -> HttpResponse:
    if form is None:
        form = AgreementForm(agreement=agreement, initial=_agreement_initial(agreement))
    if targets_form is None:
        targets_form = TargetsForm(kind=agreement.kind, initial=_targets_initial(agreement))
    if thresholds_form is None:
        initial, rows = _thresholds_initial(agreement)
        thresholds_form = ThresholdsForm(initial=initial, rows=rows)
    other_types = [t for t in agreement.targets.all()
                   if t.ticket_type not in ("", TicketType.REQUEST)]
    return render(request, "agent/sla/admin_agreement.html", {
        "form": form, "agreement": agreement, "targets_form": targets_form,
        "grid": targets_form.grid(), "type_columns": [label for _t, label in TARGET_TYPES],
        "thresholds_form": thresholds_form, "threshold_rows": thresholds_form.table(),
        "other_types": other_types, **_duration_help(),
    }, status=status)


def _agreement(pk: int) -> Agreement:
    return _object(Agreement.objects.select_related("calendar").prefetch_related(
        "targets", "thresholds"), pk)


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An agreement: its fields and conditions, its targets grid and its thresholds."""
    agreement = _agreement(pk)
    if request.method != "POST":
        return _agreement_page(request, agreement)
    form = AgreementForm(request.POST, agreement=agreement)
    if form.is_valid():
        try:
            actions.update_agreement(agreement, **form.values(), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Agreement “%(name)s” saved.")
                             % {"name": agreement.name})
            return redirect("agent:manage_sla_agreement", pk=agreement.pk)
    return _agreement_page(request, _agreement(pk), form=form, status=400)


@manager_required
@require_POST
def agreement_targets(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = _agreement(pk)
    form = TargetsForm(request.POST, kind=agreement.kind)
    if form.is_valid():
        keep = [actions.TargetSpec(t.metric, t.priority, t.ticket_type, t.seconds,
                                   t.business_hours)
                for t in agreement.targets.all() if t.ticket_type not in ("", TicketType.REQUEST)]
        try:
            actions.set_targets(agreement, targets=[*form.targets(), *keep],
                                actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("Targets of “%(name)s” saved.")
                             % {"name": agreement.name})
            return redirect(f"{reverse('agent:manage_sla_agreement', args=[pk])}#targets")
    return _agreement_page(request, agreement, targets_form=form, status=400)


@manager_required
@require_POST
def agreement_thresholds(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = _agreement(pk)
    form = ThresholdsForm(request.POST, rows=_posted_rows(request))
    if form.is_valid():
        try:
            actions.set_thresholds(agreement, thresholds=form.thresholds(), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.add_error(None, exc.message)
        else:
            messages.success(request, gettext("Thresholds of “%(name)s” saved.")
                             % {"name": agreement.name})
            return redirect(f"{reverse('agent:manage_sla_agreement', args=[pk])}#thresholds")
    return _agreement_page(request, agreement, thresholds_form=form, status=400)


@manager_required
@require_POST
def agreement_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate an agreement (it stops applying to tickets) or bring it back."""
    agreement = _agreement(pk)
    is_active = request.POST.get("is_active") == "1"
    try:
        if is_active:
            actions.activate_agreement(agreement, actor=_user(request))
        else:
            actions.deactivate_agreement(agreement, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        text = (gettext("Agreement “%(name)s” is active again.") if is_active
                else gettext("Agreement “%(name)s” deactivated."))
        messages.success(request, text % {"name": agreement.name})
    return redirect("agent:manage_sla_agreement", pk=pk)


urlpatterns: list[URLPattern] = [
    path("manage/sla/calendars/", calendars, name="manage_sla_calendars"),
    path("manage/sla/calendars/new/", calendar_create, name="manage_sla_calendar_new"),
    path("manage/sla/calendars/<int:pk>/", calendar_detail, name="manage_sla_calendar"),
    path("manage/sla/calendars/<int:pk>/hours/", calendar_hours,
         name="manage_sla_calendar_hours"),
    path("manage/sla/calendars/<int:pk>/days/", calendar_day_add,
         name="manage_sla_calendar_day_new"),
    path("manage/sla/calendars/<int:pk>/days/<int:day_pk>/", calendar_day_edit,
         name="manage_sla_calendar_day"),
    path("manage/sla/calendars/<int:pk>/days/<int:day_pk>/delete/", calendar_day_delete,
         name="manage_sla_calendar_day_delete"),
    path("manage/sla/calendars/<int:pk>/production/", calendar_production,
         name="manage_sla_calendar_production"),
    path("manage/sla/calendars/<int:pk>/ical/", calendar_ical, name="manage_sla_calendar_ical"),
    path("manage/sla/agreements/", agreements, name="manage_sla_agreements"),
    path("manage/sla/agreements/new/", agreement_create, name="manage_sla_agreement_new"),
    path("manage/sla/agreements/<int:pk>/", agreement_detail, name="manage_sla_agreement"),
    path("manage/sla/agreements/<int:pk>/targets/", agreement_targets,
         name="manage_sla_agreement_targets"),
    path("manage/sla/agreements/<int:pk>/thresholds/", agreement_thresholds,
         name="manage_sla_agreement_thresholds"),
    path("manage/sla/agreements/<int:pk>/active/", agreement_active,
         name="manage_sla_agreement_active"),
]
