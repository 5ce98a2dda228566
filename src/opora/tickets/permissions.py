"""The one authorisation funnel for tickets.

Lists read through ``Ticket.objects.visible_to(user)``; single tickets through
``access_ticket``. A ticket the person may not see is "not found" — the same answer as a ticket
that does not exist — so nobody can probe for other organisations' ticket numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from opora.accounts.models import Role

from .models import Ticket
from .querysets import TicketQuerySet

if TYPE_CHECKING:
    from opora.accounts.models import User

Need = Literal["view", "reply", "note", "work", "confirm"]


class TicketNotFound(Http404):
    pass


def can_view_internal(user: User) -> bool:
    """Internal notes and routing details are for the service desk only."""
    return bool(user.is_authenticated and (user.is_agent_side or user.is_superuser))


def can(user: User, ticket: Ticket, need: Need) -> bool:
    """Whether ``user`` (who can already see ``ticket``) may do ``need`` on it."""
    staff = can_view_internal(user)
    if need in ("view", "reply"):
        return True
    if need == "confirm":
        # Confirming, reopening or withdrawing is the requester's decision (or their
        # organisation manager's, or the desk's) — not a watching colleague's.
        return staff or user.pk == ticket.requester_id or (
            user.role == Role.ORG_MANAGER
            and user.organisation_id is not None
            and user.organisation_id == ticket.organisation_id
        )
    # Notes and working the ticket (assign, escalate, status, resolve, fields) are staff only.
    return staff


def lookup(queryset: QuerySet[Ticket], ref: int | str) -> Ticket:
    """Find by primary key or by the number people use (``INC-000123``)."""
    text = str(ref).strip()
    try:
        if text.isdigit():
            return queryset.get(pk=int(text))
        return queryset.get(number__iexact=text)
    except Ticket.DoesNotExist as exc:
        raise TicketNotFound(_("Ticket not found.")) from exc


def access_ticket(
    user: User,
    ref: int | str,
    *,
    need: Need = "view",
    queryset: TicketQuerySet | None = None,
) -> Ticket:
    """Return the ticket if ``user`` may ``need`` it; 404 when it is not visible, 403 when it is
    visible but the person's role does not allow the operation."""
    base = queryset if queryset is not None else Ticket.objects.all()
    ticket = lookup(base.visible_to(user), ref)
    if not can(user, ticket, need):
        raise PermissionDenied(_("You are not allowed to do this on this ticket."))
    return ticket
