"""Writes of canned responses: the ready answers agents insert into replies.

A service desk manager or administrator manages every canned response, including those for all
teams; a team lead those of the teams they lead. Each action checks that, runs in one
transaction and writes the audit row (Django's admin log) in it with the actor.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from opora.accounts.models import Team, User
from opora.accounts.team_actions import NotAllowed, is_desk_manager, led_team_ids
from opora.core.audit import log_change
from opora.tickets.errors import ActionError

from .models import CannedResponse

LANGUAGES = ("", "ru", "en")
TITLE_MAX = 200
BODY_MAX = 20_000


def canned_visible_to(user: User) -> QuerySet[CannedResponse]:
    """The canned responses ``user`` manages: all of them for a manager, their teams' for a lead,
    none for anyone else."""
    qs = CannedResponse.objects.all()
    if is_desk_manager(user):
        return qs
    teams = led_team_ids(user)
    return qs.filter(team_id__in=teams) if teams else qs.none()


def can_manage_team_canned(user: User, team: Team | None) -> bool:
    if is_desk_manager(user):
        return True
    return team is not None and team.pk in led_team_ids(user)


def _values(*, title: str, body: str, team: Team | None, language: str,
            actor: User) -> dict[str, Any]:
    title = " ".join((title or "").split())
    body = (body or "").strip()
    if not title:
        raise ActionError(_("This field is required."), code="required", field="title")
    if len(title) > TITLE_MAX:
        raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                          % {"max": TITLE_MAX}, code="too_long", field="title")
    if not body:
        raise ActionError(_("This field is required."), code="required", field="body")
    if len(body) > BODY_MAX:
        raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                          % {"max": BODY_MAX}, code="too_long", field="body")
    if language not in LANGUAGES:
        raise ActionError(_("Choose one of the offered languages."), code="invalid_choice",
                          field="language")
    if not can_manage_team_canned(actor, team):
        if team is None:
            raise ActionError(_("Only a service desk manager may write answers for every team; "
                                "choose one of your teams."), code="forbidden", field="team")
        raise ActionError(_("You may manage the canned responses of the teams you lead only."),
                          code="forbidden", field="team")
    return {"title": title, "body": body, "team": team, "language": language}


def _require_access(actor: User, response: CannedResponse) -> None:
    if not canned_visible_to(actor).filter(pk=response.pk).exists():
        raise NotAllowed(_("You may manage the canned responses of the teams you lead only."))


def create_canned_response(
    *, title: str, body: str, team: Team | None, language: str = "", actor: User,
) -> CannedResponse:
    """A new canned response (Markdown) for one team or, from a manager, for every team."""
    values = _values(title=title, body=body, team=team, language=language, actor=actor)
    with transaction.atomic():
        response = CannedResponse.objects.create(**values, created_by=actor)
        log_change(actor, response, ADDITION, [{"added": {}}])
    return response


def update_canned_response(
    response: CannedResponse, *, title: str, body: str, team: Team | None, language: str,
    actor: User,
) -> CannedResponse:
    """Change a canned response; a lead can neither take it from nor give it to another team."""
    _require_access(actor, response)
    values = _values(title=title, body=body, team=team, language=language, actor=actor)
    with transaction.atomic():
        current = CannedResponse.objects.select_for_update().get(pk=response.pk)
        changed = []
        for field, value in values.items():
            old = current.team_id if field == "team" else getattr(current, field)
            new = (value.pk if value is not None else None) if field == "team" else value
            if old != new:
                changed.append(field)
            setattr(current, field, value)
        if changed:
            current.save(update_fields=changed)
            log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    for field, value in values.items():
        setattr(response, field, value)
    return response


def set_canned_response_active(
    response: CannedResponse, *, is_active: bool, actor: User,
) -> CannedResponse:
    """Deactivate (agents no longer see it) or bring back a canned response."""
    _require_access(actor, response)
    with transaction.atomic():
        updated = CannedResponse.objects.filter(pk=response.pk).exclude(
            is_active=bool(is_active)).update(is_active=bool(is_active))
        response.is_active = bool(is_active)
        if updated:
            log_change(actor, response, CHANGE, [{"changed": {"fields": ["is_active"]}}])
    return response


def filter_canned(qs: QuerySet[CannedResponse], *, team: str, language: str
                  ) -> QuerySet[CannedResponse]:
    """The list's filters: ``team`` is a team id, "all" (for every team) or empty (any);
    ``language`` is "any" / "ru" / "en" or empty (any)."""
    if team == "all":
        qs = qs.filter(team__isnull=True)
    elif team.isdigit():
        qs = qs.filter(Q(team_id=int(team)))
    if language == "any":
        qs = qs.filter(language="")
    elif language in ("ru", "en"):
        qs = qs.filter(language=language)
    return qs
