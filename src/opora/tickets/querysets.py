"""Ticket querysets: ``visible_to(user)`` is the only way a list of tickets is read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

from .choices import OPEN_STATUSES

if TYPE_CHECKING:
    from opora.accounts.models import User


def visibility_q(user: User) -> Q | None:
    """The rule of who sees which ticket, as one filter; ``None`` means "everything".

    - desk managers and administrators: every ticket;
    - agents and team leads: their teams' tickets, those assigned to them and those they watch;
    - organisation managers: every ticket of their organisation, plus their own;
    - requesters: the tickets they requested or watch.
    """
    from opora.accounts.models import Role, TeamMembership

    from .models import Ticket

    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.sees_everything:
        return None
    # Sub-selects rather than joins: no duplicate rows, no DISTINCT, index-friendly ORs.
    watched = Q(
        pk__in=Ticket.watchers.through.objects.filter(user_id=user.pk).values("ticket_id")
    )
    if user.role in (Role.AGENT, Role.TEAM_LEAD):
        my_teams = TeamMembership.objects.filter(user_id=user.pk).values("team_id")
        return Q(team_id__in=my_teams) | Q(assignee_id=user.pk) | watched
    own = Q(requester_id=user.pk) | watched
    if user.role == Role.ORG_MANAGER and user.organisation_id:
        return own | Q(organisation_id=user.organisation_id)
    return own


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> TicketQuerySet:
        q = visibility_q(user)
        if q is None:
            return self
        return self.filter(q)

    def open(self) -> TicketQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def for_list(self) -> TicketQuerySet:
        """Everything a queue row shows, in a constant number of queries."""
        return self.select_related(
            "requester", "organisation", "category", "service", "team", "assignee",
        )
