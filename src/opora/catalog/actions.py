"""Writes of the classification: the category tree and the service catalog.

Only service desk managers and administrators change them. Categories and services are never
deleted (tickets keep pointing at them): they are deactivated. Each action validates, runs in
one transaction and writes the audit row (Django's admin log) in it with the actor.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from opora.accounts.models import Team, User
from opora.accounts.team_actions import NotAllowed, is_desk_manager
from opora.core.audit import changed_fields, log_change
from opora.tickets.errors import ActionError

from .models import Category, Service


def _require_manager(actor: User) -> None:
    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))


def _clean_fields(obj: Model) -> None:
    try:
        obj.clean_fields()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ActionError(messages[0], code="invalid", field=field) from exc


def _text(value: str) -> str:
    return " ".join((value or "").split())


def _required(value: str, field: str) -> str:
    if not value:
        raise ActionError(_("This field is required."), code="required", field=field)
    return value


def _code(value: str) -> str:
    return _required((value or "").strip().lower(), "code")


# --- categories ----------------------------------------------------------------------------------


def ancestor_ids(parent_id: int | None) -> list[int]:
    """The ids from ``parent_id`` up to the root (one query for the whole tree)."""
    parents = dict(Category.objects.values_list("id", "parent_id"))
    chain: list[int] = []
    node = parent_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    return chain


def _category_values(
    *, code: str, name: str, name_en: str, parent: Category | None, position: int,
    is_active: bool,
) -> dict[str, Any]:
    if position is None or position < 0:
        raise ActionError(_("Enter a whole number, zero or more."), code="invalid",
                          field="position")
    return {"code": _code(code), "name": _required(_text(name), "name"),
            "name_en": _text(name_en), "parent": parent, "position": int(position),
            "is_active": bool(is_active)}


def _check_category(category: Category) -> None:
    _clean_fields(category)
    taken = Category.objects.filter(code=category.code)
    if category.pk:
        taken = taken.exclude(pk=category.pk)
    if taken.exists():
        raise ActionError(_("A category with this code already exists."), code="duplicate",
                          field="code")
    parent = category.parent
    if parent is not None:
        if category.pk and category.pk in ancestor_ids(parent.pk):
            raise ActionError(
                _("A category cannot be placed under itself or one of its subcategories."),
                code="cycle", field="parent")
        if category.is_active and not parent.is_active:
            raise ActionError(_("The parent category is not active."), code="inactive",
                              field="parent")


def create_category(
    *, code: str, name: str, name_en: str = "", parent: Category | None = None,
    position: int = 0, is_active: bool = True, actor: User,
) -> Category:
    """A new node of the category tree; the code is unique and stable (rules, imports, API)."""
    _require_manager(actor)
    category = Category(**_category_values(code=code, name=name, name_en=name_en, parent=parent,
                                           position=position, is_active=is_active))
    _check_category(category)
    try:
        with transaction.atomic():
            category.save()
            log_change(actor, category, ADDITION, [{"added": {}}])
    except IntegrityError as exc:
        raise ActionError(_("A category with this code already exists."), code="duplicate",
                          field="code") from exc
    return category


def update_category(
    category: Category, *, code: str, name: str, name_en: str, parent: Category | None,
    position: int, is_active: bool, actor: User,
) -> Category:
    """Change a category; moving it under itself or under one of its subcategories is refused
    (the tree never gets a cycle). Deactivating hides it from new tickets; old ones keep it."""
    _require_manager(actor)
    values = _category_values(code=code, name=name, name_en=name_en, parent=parent,
                              position=position, is_active=is_active)
    try:
        with transaction.atomic():
            current = Category.objects.select_for_update().get(pk=category.pk)
            changed = changed_fields(current, values)
            for field, value in values.items():
                setattr(current, field, value)
            _check_category(current)
            if changed:
                current.save(update_fields=changed)
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("A category with this code already exists."), code="duplicate",
                          field="code") from exc
    for field, value in values.items():
        setattr(category, field, value)
    return category


# --- services ------------------------------------------------------------------------------------


def _service_values(
    *, code: str, name: str, name_en: str, description: str, owner_team: Team | None,
    is_active: bool,
) -> dict[str, Any]:
    return {"code": _code(code), "name": _required(_text(name), "name"),
            "name_en": _text(name_en), "description": (description or "").strip(),
            "owner_team": owner_team, "is_active": bool(is_active)}


def _check_service(service: Service, owner_changed: bool) -> None:
    _clean_fields(service)
    taken = Service.objects.filter(code=service.code)
    if service.pk:
        taken = taken.exclude(pk=service.pk)
    if taken.exists():
        raise ActionError(_("A service with this code already exists."), code="duplicate",
                          field="code")
    if owner_changed and service.owner_team is not None and not service.owner_team.is_active:
        raise ActionError(_("This team is not active."), code="inactive", field="owner_team")


def create_service(
    *, code: str, name: str, name_en: str = "", description: str = "",
    owner_team: Team | None = None, is_active: bool = True, actor: User,
) -> Service:
    """A new service of the catalog, optionally owned by a support team."""
    _require_manager(actor)
    service = Service(**_service_values(code=code, name=name, name_en=name_en,
                                        description=description, owner_team=owner_team,
                                        is_active=is_active))
    _check_service(service, owner_changed=True)
    try:
        with transaction.atomic():
            service.save()
            log_change(actor, service, ADDITION, [{"added": {}}])
    except IntegrityError as exc:
        raise ActionError(_("A service with this code already exists."), code="duplicate",
                          field="code") from exc
    return service


def update_service(
    service: Service, *, code: str, name: str, name_en: str, description: str,
    owner_team: Team | None, is_active: bool, actor: User,
) -> Service:
    """Change a service of the catalog (deactivate rather than delete)."""
    _require_manager(actor)
    values = _service_values(code=code, name=name, name_en=name_en, description=description,
                             owner_team=owner_team, is_active=is_active)
    try:
        with transaction.atomic():
            current = Service.objects.select_for_update().get(pk=service.pk)
            changed = changed_fields(current, values)
            for field, value in values.items():
                setattr(current, field, value)
            _check_service(current, owner_changed="owner_team" in changed)
            if changed:
                current.save(update_fields=changed)
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("A service with this code already exists."), code="duplicate",
                          field="code") from exc
    for field, value in values.items():
        setattr(service, field, value)
    return service
