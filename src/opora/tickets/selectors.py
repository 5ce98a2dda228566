"""Reads shared by the pages, the API, reports and exports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet

from .choices import DEFAULT_PRIORITY_MATRIX, Priority
from .models import Attachment, PriorityMatrixCell, Ticket, TicketEvent
from .permissions import can_view_internal

if TYPE_CHECKING:
    from opora.accounts.models import User


def priority_for(impact: int, urgency: int) -> int:
    """Priority from the editable matrix; the built-in default fills a missing cell."""
    cell = (
        PriorityMatrixCell.objects.filter(impact=impact, urgency=urgency)
        .values_list("priority", flat=True)
        .first()
    )
    if cell is not None:
        return cell
    return DEFAULT_PRIORITY_MATRIX.get((impact, urgency), Priority.MEDIUM)


def ticket_list(user: User) -> QuerySet[Ticket]:
    """The tickets ``user`` may see, with what a list row shows joined in."""
    return Ticket.objects.visible_to(user).for_list()


def timeline(ticket: Ticket, user: User) -> QuerySet[TicketEvent]:
    """The ticket's events as ``user`` may see them: the requester side never sees internal
    notes, routing or field changes, nor the files attached to them."""
    events = ticket.events.select_related("actor")
    attachments = Attachment.objects.order_by("id")
    if not can_view_internal(user):
        events = events.filter(is_public=True)
        attachments = attachments.filter(is_public=True)
    return events.prefetch_related(Prefetch("attachments", queryset=attachments))


def visible_attachments(ticket: Ticket, user: User) -> QuerySet[Attachment]:
    qs = ticket.attachments.select_related("uploaded_by")
    if not can_view_internal(user):
        qs = qs.filter(is_public=True)
    return qs
