"""Writes of the support teams: the team itself (name, line, speciality, email, active) and its
members (who is in it, who leads it).

Service desk managers and administrators manage every team; a team lead manages the members of
the teams they lead (their membership is marked ``is_lead``) and nothing else. Each action checks
that itself, runs in one transaction and writes the audit row (Django's admin log, the same
record the admin site writes) in that transaction, with the actor named explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from opora.core.audit import log_change
from opora.tickets.choices import OPEN_STATUSES
from opora.tickets.errors import ActionError

from .models import GLOBAL_ROLES, STAFF_ROLES, Line, Role, Team, TeamMembership, User


class NotAllowed(ActionError):
    """The actor's role does not allow this change (the pages answer 403 or 404)."""

    status = 403
    default_code = "forbidden"


# --- who may do what ---------------------------------------------------------------------------


def is_desk_manager(user: Any) -> bool:
    """Service desk managers and administrators manage teams, the catalog and the matrix."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (user.role in GLOBAL_ROLES or user.is_superuser)
    )


def is_team_lead(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and user.role == Role.TEAM_LEAD)


def led_team_ids(user: Any) -> set[int]:
    """The teams ``user`` leads (a team lead whose membership is marked as the lead)."""
    if not is_team_lead(user):
        return set()
    return set(
        TeamMembership.objects.filter(user_id=user.pk, is_lead=True).values_list(
            "team_id", flat=True)
    )


def can_manage_members(user: Any, team: Team) -> bool:
    return is_desk_manager(user) or team.pk in led_team_ids(user)


def _require_manager(actor: User) -> None:
    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))


def _require_members_right(actor: User, team: Team) -> None:
    if not can_manage_members(actor, team):
        raise NotAllowed(_("You may manage the members of the teams you lead only."))


# --- audit ---------------------------------------------------------------------------------------


def _membership_message(key: str, membership: TeamMembership, **extra: Any) -> list[dict[str, Any]]:
    with translation.override(None):  # the admin stores these untranslated
        return [{key: {"name": str(TeamMembership._meta.verbose_name),
                       "object": str(membership.user), **extra}}]


# --- validation ----------------------------------------------------------------------------------


def _clean_fields(obj: Model, exclude: Sequence[str] = ()) -> None:
    """The model's own field checks (length, email, choices) as an ``ActionError`` on the first
    field that fails."""
    try:
        obj.clean_fields(exclude=list(exclude))
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ActionError(messages[0], code="invalid", field=field) from exc


def _team_values(name: str, line: int, speciality: str, email: str) -> dict[str, Any]:
    name = " ".join(name.split())
    if not name:
        raise ActionError(_("This field is required."), code="required", field="name")
    if line not in Line.values:
        raise ActionError(_("Choose a line from 1 to 4."), code="invalid_choice", field="line")
    return {"name": name, "line": line, "speciality": " ".join(speciality.split()),
            "email": email.strip().lower()}


def _check_name_free(name: str, team: Team | None) -> None:
    others = Team.objects.filter(name__iexact=name)
    if team is not None:
        others = others.exclude(pk=team.pk)
    if others.exists():
        raise ActionError(_("A team with this name already exists."), code="duplicate",
                          field="name")


def open_ticket_count(team: Team) -> int:
    return team.tickets.filter(status__in=OPEN_STATUSES).count()


# --- teams ---------------------------------------------------------------------------------------


def create_team(
    *, name: str, line: int, speciality: str = "", email: str = "", is_active: bool = True,
    actor: User,
) -> Team:
    """A new support team. The name is unique whatever its case."""
    _require_manager(actor)
    values = _team_values(name, line, speciality, email)
    team = Team(**values, is_active=is_active)
    _clean_fields(team)
    _check_name_free(team.name, None)
    try:
        with transaction.atomic():
            team.save()
            log_change(actor, team, ADDITION, [{"added": {}}])
    except IntegrityError as exc:  # created by someone else a moment ago
        raise ActionError(_("A team with this name already exists."), code="duplicate",
                          field="name") from exc
    return team


def update_team(
    team: Team, *, name: str, line: int, speciality: str, email: str, is_active: bool,
    actor: User,
) -> Team:
    """Change a team. A team that still has open tickets cannot be deactivated: they would be
    left in a queue nobody works."""
    _require_manager(actor)
    values = {**_team_values(name, line, speciality, email), "is_active": bool(is_active)}
    try:
        with transaction.atomic():
            current = Team.objects.select_for_update().get(pk=team.pk)
            changed = [f for f, v in values.items() if getattr(current, f) != v]
            for field, value in values.items():
                setattr(current, field, value)
            _clean_fields(current)
            if "name" in changed:
                _check_name_free(current.name, current)
            if "is_active" in changed and not current.is_active:
                count = open_ticket_count(current)
                if count:
                    raise ActionError(
                        ngettext(
                            "The team still has %(count)d open ticket. Reassign it before "
                            "deactivating the team.",
                            "The team still has %(count)d open tickets. Reassign them before "
                            "deactivating the team.",
                            count,
                        ) % {"count": count},
                        code="open_tickets", field="is_active",
                    )
            if changed:
                current.save(update_fields=changed)
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("A team with this name already exists."), code="duplicate",
                          field="name") from exc
    for field, value in values.items():
        setattr(team, field, value)
    return team


# --- members -------------------------------------------------------------------------------------


def add_member(team: Team, *, user: User, is_lead: bool = False, actor: User) -> TeamMembership:
    """Put an active member of the service desk staff into the team."""
    _require_members_right(actor, team)
    if not user.is_active or user.role not in STAFF_ROLES:
        raise ActionError(_("Only active service desk staff can be team members."),
                          code="not_staff", field="user")
    try:
        with transaction.atomic():
            if TeamMembership.objects.filter(team=team, user=user).exists():
                raise ActionError(
                    _("%(name)s is already in this team.") % {"name": user.full_name},
                    code="duplicate", field="user")
            membership = TeamMembership.objects.create(team=team, user=user,
                                                       is_lead=bool(is_lead))
            log_change(actor, team, CHANGE, _membership_message("added", membership))
    except IntegrityError as exc:
        raise ActionError(_("%(name)s is already in this team.") % {"name": user.full_name},
                          code="duplicate", field="user") from exc
    return membership


def _own_lead_guard(membership: TeamMembership, actor: User) -> None:
    if membership.user_id == actor.pk and not is_desk_manager(actor):
        raise ActionError(
            _("You cannot remove yourself as the lead of your team; ask a service desk "
              "manager."), code="own_membership")


def remove_member(membership: TeamMembership, *, actor: User) -> None:
    """Take a person out of a team (their tickets stay assigned to them)."""
    team = membership.team
    _require_members_right(actor, team)
    _own_lead_guard(membership, actor)
    with transaction.atomic():
        message = _membership_message("deleted", membership)
        deleted, _rows = TeamMembership.objects.filter(pk=membership.pk).delete()
        if not deleted:
            raise ActionError(_("This person is no longer in the team."), code="gone")
        log_change(actor, team, CHANGE, message)


def set_member_lead(membership: TeamMembership, *, is_lead: bool, actor: User) -> TeamMembership:
    """Mark a member as a lead of the team, or unmark them."""
    team = membership.team
    _require_members_right(actor, team)
    if not is_lead:
        _own_lead_guard(membership, actor)
    with transaction.atomic():
        updated = TeamMembership.objects.filter(pk=membership.pk).update(is_lead=bool(is_lead))
        if not updated:
            raise ActionError(_("This person is no longer in the team."), code="gone")
        if membership.is_lead != bool(is_lead):
            membership.is_lead = bool(is_lead)
            log_change(actor, team, CHANGE,
                       _membership_message("changed", membership, fields=["is_lead"]))
    return membership
