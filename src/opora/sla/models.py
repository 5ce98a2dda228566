"""Service levels: calendars, agreements with their targets and thresholds, and per-ticket clocks.

Models hold fields and constraints only: every change goes through ``sla.actions`` (configuration)
or ``sla.engine`` (clocks, called from the ticket actions and the worker's scan).
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opora.tickets.choices import Priority, TicketType

from .choices import (
    AgreementKind,
    CalendarDayKind,
    CalendarDaySource,
    ClockState,
    Metric,
    Outcome,
    PenaltyKind,
    ReopenPolicy,
    RetargetPolicy,
    SlaEventKind,
)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone."), code="invalid") from exc


class Calendar(models.Model):
    """When the desk works: weekly hours in a time zone, holidays and days with their own hours.

    ``version`` is bumped by every change, so computed schedules can be cached by (id, version).
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    is_24x7 = models.BooleanField(
        _("around the clock"), default=False,
        help_text=_("Every hour of every day counts; weekly hours and holidays are ignored."),
    )
    description = models.TextField(_("description"), blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class WorkingPeriod(models.Model):
    """One working interval of a weekday (several a day allow a lunch break)."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), validators=[MaxValueValidator(6)],
        help_text=_("0 = Monday … 6 = Sunday"),
    )
    #: Seconds from local midnight; the end may be 86400 (24:00).
    start = models.PositiveIntegerField(pgettext_lazy("working period", "from"),
                                        validators=[MaxValueValidator(86400)])
    end = models.PositiveIntegerField(pgettext_lazy("working period", "until"),
                                      validators=[MaxValueValidator(86400)])

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name = _("working period")
        verbose_name_plural = _("working periods")
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")) & Q(end__lte=86400),
                                   name="sla_period_order"),
        ]

    def __str__(self) -> str:
        return f"{self.weekday}: {self.start}–{self.end}"


class CalendarDay(models.Model):
    """An exception to the weekly hours: a non-working day, or a day with its own hours
    (a Saturday made working, a shortened pre-holiday day)."""

    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=20, choices=CalendarDayKind.choices)
    #: For working days: ``[[start_seconds, end_seconds], ...]`` in local time.
    periods = models.JSONField(_("hours"), default=list, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=CalendarDaySource.choices,
                              default=CalendarDaySource.MANUAL)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="sla_calendar_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}"


class Agreement(models.Model):
    """A promise about response and resolution times, with whom it is made and when it applies.

    Which SLA applies to a ticket: the one set explicitly on the ticket, else the contract of the
    ticket's organisation for its service, else the organisation's contract, else the first
    matching rule (``order``, ``conditions``), else the default. OLAs apply while the ticket is
    with their team; underpinning contracts while it is with their vendor (a line-4 team).
    """

    kind = models.CharField(_("kind"), max_length=10, choices=AgreementKind.choices,
                            default=AgreementKind.SLA)
    name = models.CharField(_("name"), max_length=200, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("Applies when no other agreement does."),
    )
    order = models.PositiveIntegerField(_("rule order"), default=100)
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True,
        related_name="agreements", verbose_name=_("customer organisation"),
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, null=True, blank=True,
        related_name="agreements", verbose_name=_("service"),
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, null=True, blank=True,
        related_name="agreements", verbose_name=_("team (OLA) or vendor (UC)"),
    )
    #: Rule conditions for SLAs without an organisation, all of which must hold, e.g.
    #: ``{"type": ["incident"], "channel": ["email"], "category": [3, 4], "is_major": true}``.
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="agreements",
                                 verbose_name=_("business hours"))
    reopen_policy = models.CharField(_("on reopen"), max_length=20, choices=ReopenPolicy.choices,
                                     default=ReopenPolicy.RESUME)
    retarget_policy = models.CharField(_("on priority change"), max_length=20,
                                       choices=RetargetPolicy.choices,
                                       default=RetargetPolicy.KEEP_START)
    compliance_target = models.DecimalField(
        _("compliance target, %"), max_digits=5, decimal_places=2, default=Decimal("95"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    monthly_fee = models.DecimalField(_("monthly fee"), max_digits=14, decimal_places=2,
                                      default=Decimal("0"), validators=[MinValueValidator(0)])
    penalty_kind = models.CharField(_("penalty"), max_length=20, choices=PenaltyKind.choices,
                                    default=PenaltyKind.NONE, blank=True)
    penalty_percent = models.DecimalField(
        _("penalty, % of the fee"), max_digits=6, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    penalty_cap_percent = models.DecimalField(
        _("penalty cap, % of the fee"), max_digits=6, decimal_places=2, default=Decimal("100"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        ordering = ["kind", "order", "name"]
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(is_default=True),
                                    name="sla_one_default_per_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class Target(models.Model):
    """How long a metric may take for tickets of a priority (and optionally a type)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    #: Empty: any type; a type-specific target wins over the general one.
    ticket_type = models.CharField(_("ticket type"), max_length=20, choices=TicketType.choices,
                                   blank=True)
    seconds = models.PositiveIntegerField(_("target, seconds"),
                                          validators=[MinValueValidator(60)])
    business_hours = models.BooleanField(
        _("business hours"), default=True,
        help_text=_("Count only the agreement calendar's working time; off: around the clock."),
    )

    class Meta:
        ordering = ["metric", "priority", "ticket_type"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(fields=["agreement", "metric", "priority", "ticket_type"],
                                    name="sla_target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} P{self.priority}: {self.seconds}s"


class Threshold(models.Model):
    """A point on the way to the target (percent of it) and what happens there; 100 = breach."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="thresholds")
    percent = models.PositiveSmallIntegerField(
        _("percent of the target"), validators=[MinValueValidator(1), MaxValueValidator(500)],
    )
    actions = models.JSONField(_("actions"), default=list, blank=True)
    escalate_to = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("hand over to"),
    )

    class Meta:
        ordering = ["percent"]
        verbose_name = _("threshold")
        verbose_name_plural = _("thresholds")
        constraints = [
            models.UniqueConstraint(fields=["agreement", "percent"], name="sla_threshold_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.percent}%"


class Clock(models.Model):
    """One metric of one ticket under one agreement: how much of its target is used.

    Business time already counted is ``elapsed_us`` (microseconds); while running, the time since
    ``running_since`` adds to it. ``due_at`` and ``next_check_at`` are kept only while running, so
    the worker's scan reads an index of instants instead of looping over tickets. A restart (a
    reopen under the "restart" policy) stops this clock and starts the next ``cycle``.
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="sla_clocks", verbose_name=_("ticket"))
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="clocks",
                                  verbose_name=_("agreement"))
    kind = models.CharField(_("kind"), max_length=10, choices=AgreementKind.choices)
    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    #: ``None``: around the clock.
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    ticket_type = models.CharField(_("ticket type"), max_length=20, choices=TicketType.choices)
    team = models.ForeignKey("accounts.Team", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("team"))
    target_seconds = models.PositiveIntegerField(_("target, seconds"))
    state = models.CharField(_("state"), max_length=10, choices=ClockState.choices)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True,
                               default=Outcome.PENDING)
    started_at = models.DateTimeField(_("started"))
    elapsed_us = models.BigIntegerField(_("business time used, µs"), default=0)
    running_since = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    fired_percent = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)

    class Meta:
        ordering = ["ticket", "kind", "metric", "cycle"]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "agreement", "metric", "cycle"],
                                    name="sla_clock_unique"),
        ]
        indexes = [
            # The scan: clocks with a threshold due. Only running clocks with something left to
            # fire are in it, so it stays small however many tickets there are.
            models.Index(fields=["next_check_at"], name="sla_clock_check_idx",
                         condition=Q(next_check_at__isnull=False)),
            # Queues and "Breaching soon": running clocks by due instant.
            models.Index(fields=["due_at"], name="sla_clock_due_idx",
                         condition=Q(due_at__isnull=False)),
            # "Breaching soon": running clocks past the amber threshold.
            models.Index(fields=["fired_percent"], name="sla_clock_amber_idx",
                         condition=Q(due_at__isnull=False, fired_percent__gte=75)),
            models.Index(fields=["started_at", "metric"], name="sla_clock_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.metric} #{self.cycle} {self.state}"

    @property
    def target_us(self) -> int:
        return self.target_seconds * 1_000_000


class Firing(models.Model):
    """A threshold reached by a clock: unique, so it happens once however many workers scan."""

    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="firings")
    percent = models.PositiveSmallIntegerField(_("percent"))
    reached_at = models.DateTimeField(_("reached"))
    fired_at = models.DateTimeField(_("fired"), default=timezone.now)
    actions = models.JSONField(_("actions"), default=list)
    done_at = models.DateTimeField(_("actions done"), null=True, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)

    class Meta:
        ordering = ["reached_at", "id"]
        verbose_name = _("threshold firing")
        verbose_name_plural = _("threshold firings")
        constraints = [
            models.UniqueConstraint(fields=["clock", "percent"], name="sla_firing_once"),
        ]

    def __str__(self) -> str:
        return f"{self.clock_id} {self.percent}%"


class SlaEvent(models.Model):
    """One entry of a ticket's SLA timeline; ``data`` says why (e.g. ``{"status": "..."}``).

    Append-only, like the ticket timeline.
    """

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="sla_events")
    clock = models.ForeignKey(Clock, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=SlaEventKind.choices)
    at = models.DateTimeField(_("time"))
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("SLA event")
        verbose_name_plural = _("SLA events")
        indexes = [models.Index(fields=["ticket", "at"], name="sla_event_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("SLA events are append-only")
        super().save(*args, **kwargs)


__all__ = [
    "Agreement",
    "Calendar",
    "CalendarDay",
    "Clock",
    "Firing",
    "SlaEvent",
    "Target",
    "Threshold",
    "WorkingPeriod",
]
