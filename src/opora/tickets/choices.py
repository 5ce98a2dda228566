"""Enumerations of the ticket domain, with what the SLA clock does in each status."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketType(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    REQUEST = "request", _("Service request")
    QUESTION = "question", _("Question")


#: Prefix of the number people use: INC-000123, REQ-000124, QST-000125.
NUMBER_PREFIX = {
    TicketType.INCIDENT: "INC",
    TicketType.REQUEST: "REQ",
    TicketType.QUESTION: "QST",
}


class Channel(models.TextChoices):
    """Where a ticket or an event came from."""

    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    API = "api", _("API")
    MONITORING = "monitoring", _("Monitoring")
    MESSENGER = "messenger", _("Messenger")
    CHAT = "chat", _("Chat")
    AGENT = "agent", _("Agent")
    WEB = "web", _("Web")
    SYSTEM = "system", _("System")


#: Channels through which a ticket can be opened (WEB and SYSTEM only carry later events).
INTAKE_CHANNEL_CHOICES = [
    (c.value, c.label) for c in Channel if c not in (Channel.WEB, Channel.SYSTEM)
]


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_REQUESTER = "waiting_requester", _("Waiting for requester")
    WAITING_VENDOR = "waiting_vendor", _("Waiting for vendor")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class ClockCategory(models.TextChoices):
    """What the SLA clock does while a ticket is in a status."""

    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")


STATUS_CLOCK: dict[str, ClockCategory] = {
    Status.NEW: ClockCategory.RUNNING,
    Status.ASSIGNED: ClockCategory.RUNNING,
    Status.IN_PROGRESS: ClockCategory.RUNNING,
    Status.WAITING_REQUESTER: ClockCategory.PAUSED,
    Status.WAITING_VENDOR: ClockCategory.PAUSED,
    Status.RESOLVED: ClockCategory.STOPPED,
    Status.CLOSED: ClockCategory.STOPPED,
    Status.CANCELLED: ClockCategory.STOPPED,
}

OPEN_STATUSES = frozenset(
    {
        Status.NEW,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_REQUESTER,
        Status.WAITING_VENDOR,
    }
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})
#: The statuses ``change_status`` moves between (the others have actions of their own).
WORKING_STATUS_CHOICES = [
    (s.value, s.label)
    for s in (Status.IN_PROGRESS, Status.WAITING_REQUESTER, Status.WAITING_VENDOR)
]


class Level(models.IntegerChoices):
    """Impact and urgency: how many are affected, how soon it hurts."""

    HIGH = 1, _("High")
    MEDIUM = 2, _("Medium")
    LOW = 3, _("Low")


class Priority(models.IntegerChoices):
    """Five priority levels; a lower number is more urgent (sorts first)."""

    CRITICAL = 1, _("Critical")
    HIGH = 2, _("High")
    MEDIUM = 3, _("Medium")
    LOW = 4, _("Low")
    INFORMATIONAL = 5, _("Informational")


#: The default impact × urgency matrix (ITIL's usual 3 × 3 over five priorities).
DEFAULT_PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (Level.HIGH, Level.HIGH): Priority.CRITICAL,
    (Level.HIGH, Level.MEDIUM): Priority.HIGH,
    (Level.HIGH, Level.LOW): Priority.MEDIUM,
    (Level.MEDIUM, Level.HIGH): Priority.HIGH,
    (Level.MEDIUM, Level.MEDIUM): Priority.MEDIUM,
    (Level.MEDIUM, Level.LOW): Priority.LOW,
    (Level.LOW, Level.HIGH): Priority.MEDIUM,
    (Level.LOW, Level.MEDIUM): Priority.LOW,
    (Level.LOW, Level.LOW): Priority.INFORMATIONAL,
}


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", _("Fixed")
    WORKAROUND = "workaround", _("Workaround provided")
    ANSWERED = "answered", _("Answered / consulted")
    FULFILLED = "fulfilled", _("Request fulfilled")
    NOT_REPRODUCIBLE = "not_reproducible", _("Could not reproduce")
    DUPLICATE = "duplicate", _("Duplicate")
    SELF_RESOLVED = "self_resolved", _("Resolved by the requester")


class EventKind(models.TextChoices):
    """Every kind of entry in a ticket's timeline (which is also its audit)."""

    CREATED = "created", _("Created")
    REPLY = "reply", _("Public reply")
    NOTE = "note", _("Internal note")
    STATUS_CHANGED = "status_changed", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    ESCALATED = "escalated", _("Escalated")
    FIELDS_CHANGED = "fields_changed", _("Fields changed")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")
    CANCELLED = "cancelled", _("Cancelled")
    WATCHER_ADDED = "watcher_added", _("Watcher added")
    WATCHER_REMOVED = "watcher_removed", _("Watcher removed")
    ATTACHMENT_ADDED = "attachment_added", _("Attachment added")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACHED = "sla_breached", _("SLA breached")


#: Events the requester sees (never internal notes, never internal routing details).
PUBLIC_EVENT_KINDS = frozenset(
    {
        EventKind.CREATED,
        EventKind.REPLY,
        EventKind.STATUS_CHANGED,
        EventKind.RESOLVED,
        EventKind.CLOSED,
        EventKind.REOPENED,
        EventKind.CANCELLED,
        EventKind.ATTACHMENT_ADDED,
    }
)
