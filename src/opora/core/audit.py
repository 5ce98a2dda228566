"""The audit of configuration changes (teams, catalog, matrix, canned responses).

Ticket changes are audited by their timeline; everything an administration page changes is
written to Django's admin log, in the caller's transaction, with the admin's JSON message shape
so the admin site's history shows it as its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.contrib.admin.models import LogEntry
from django.db.models import Model

from opora.accounts.models import User


def log_change(actor: User, obj: Model, flag: int, message: list[dict[str, Any]]) -> None:
    """One admin-log row for ``obj`` (``flag``: ADDITION, CHANGE or DELETION)."""
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[obj], action_flag=flag, change_message=json.dumps(message),
    )


def changed_fields(obj: Model, values: Mapping[str, Any]) -> list[str]:
    """The fields of ``obj`` whose value differs from ``values`` — what a change message lists
    (a relation is compared by its id: no query)."""
    changed = []
    for field, value in values.items():
        if obj._meta.get_field(field).is_relation:
            if getattr(obj, f"{field}_id") != (value.pk if value is not None else None):
                changed.append(field)
        elif getattr(obj, field) != value:
            changed.append(field)
    return changed
