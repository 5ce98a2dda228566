"""Reads of people shared by the API and the pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Role, User


def users_visible_to(user: User) -> QuerySet[User]:
    """Staff see everyone; an organisation manager their organisation; a requester themselves."""
    qs = User.objects.select_related("organisation")
    if user.is_agent_side or user.is_superuser:
        return qs
    if user.role == Role.ORG_MANAGER and user.organisation_id:
        return qs.filter(Q(organisation_id=user.organisation_id) | Q(pk=user.pk))
    return qs.filter(pk=user.pk)
