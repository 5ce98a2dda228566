"""Enumerations of the service-level domain."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AgreementKind(models.TextChoices):
    """Who promises whom: the desk a customer (SLA), a line another line (OLA), a vendor us (UC)."""

    SLA = "sla", _("Service level agreement (customer)")
    OLA = "ola", _("Operational level agreement (internal team)")
    UC = "uc", _("Underpinning contract (vendor)")


class Metric(models.TextChoices):
    """What a clock measures."""

    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")


class Outcome(models.TextChoices):
    """How a stopped clock ended; what compliance reports count."""

    PENDING = "", _("Pending")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    CANCELLED = "cancelled", _("Not counted (cancelled)")
    HANDED_OVER = "handed_over", _("Not counted (handed over)")


class ReopenPolicy(models.TextChoices):
    """What the resolution clock does when a resolved ticket is reopened."""

    RESUME = "resume", _("Resume: continue counting from where it stopped")
    RESTART = "restart", _("Restart: a new clock with the full target")
    KEEP_STOPPED = "keep_stopped", _("Keep stopped: the first resolution counts")


class RetargetPolicy(models.TextChoices):
    """What a priority (or type) change does to running clocks."""

    KEEP_START = "keep_start", _("Keep the original start, apply the new target")
    RESTART = "restart", _("Restart the clock from the change")


class PenaltyKind(models.TextChoices):
    NONE = "", _("No penalty")
    PER_BREACH = "per_breach", _("A share of the monthly fee per breached ticket")
    PER_POINT = "per_point", _("A share of the monthly fee per percentage point below target")


class ThresholdAction(models.TextChoices):
    """What happens when a clock reaches a threshold."""

    NOTIFY_ASSIGNEE = "notify_assignee", _("Notify the assignee")
    NOTIFY_TEAM_LEAD = "notify_team_lead", _("Notify the team lead")
    NOTIFY_MANAGER = "notify_manager", _("Notify the service desk managers")
    RAISE_PRIORITY = "raise_priority", _("Raise the priority by one level")
    ESCALATE = "escalate", _("Hand over to another team")


class SlaEventKind(models.TextChoices):
    """Entries of a ticket's SLA timeline."""

    STARTED = "started", _("Started")
    PAUSED = "paused", _("Paused")
    RESUMED = "resumed", _("Resumed")
    STOPPED = "stopped", _("Stopped")
    RETARGETED = "retargeted", _("Target changed")
    RESTARTED = "restarted", _("Restarted")
    THRESHOLD = "threshold", _("Threshold reached")
    BREACHED = "breached", _("Breached")


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Non-working day")
    WORKING = "working", _("Working day with its own hours")


class CalendarDaySource(models.TextChoices):
    MANUAL = "manual", _("Entered by an administrator")
    PRODUCTION = "production", _("Russian production calendar")
    ICAL = "ical", _("Imported from iCalendar")


#: Percentages of the target at which warnings fire by default; 100 is the breach.
DEFAULT_THRESHOLDS: dict[int, list[str]] = {
    50: [ThresholdAction.NOTIFY_ASSIGNEE],
    75: [ThresholdAction.NOTIFY_ASSIGNEE, ThresholdAction.NOTIFY_TEAM_LEAD],
    90: [ThresholdAction.NOTIFY_TEAM_LEAD, ThresholdAction.NOTIFY_MANAGER],
    100: [ThresholdAction.NOTIFY_ASSIGNEE, ThresholdAction.NOTIFY_TEAM_LEAD,
          ThresholdAction.NOTIFY_MANAGER],
}
BREACH_PERCENT = 100

HOUR = 3600
#: One business day of the default calendar (09:00–18:00 with an hour for lunch).
BUSINESS_DAY = 8 * HOUR
