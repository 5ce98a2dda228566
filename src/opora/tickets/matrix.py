"""The editable impact × urgency → priority matrix: what it holds now and the one write.

``selectors.priority_for`` reads the same ``PriorityMatrixCell`` rows when a ticket is opened or
reclassified; the built-in default fills a missing cell.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import transaction
from django.utils.translation import gettext as _

from opora.accounts.models import User
from opora.accounts.team_actions import NotAllowed, is_desk_manager

from .choices import DEFAULT_PRIORITY_MATRIX, Level, Priority
from .errors import ActionError
from .models import PriorityMatrixCell

Cell = tuple[int, int]
#: Every (impact, urgency) pair, high to low.
CELLS: list[Cell] = [(i, u) for i in Level.values for u in Level.values]


def current_matrix() -> dict[Cell, int]:
    """The priority of every cell as ``priority_for`` answers it (one query)."""
    matrix = {cell: int(DEFAULT_PRIORITY_MATRIX[cell]) for cell in CELLS}
    for impact, urgency, priority in PriorityMatrixCell.objects.values_list(
        "impact", "urgency", "priority"
    ):
        matrix[(impact, urgency)] = priority
    return matrix


class MatrixError(ActionError):
    """Some cells are not valid; ``cells`` names them. Nothing was saved."""

    def __init__(self, message: str, *, cells: list[Cell]) -> None:
        super().__init__(message, code="invalid_matrix", field="cells")
        self.cells = cells


def save_priority_matrix(*, cells: Mapping[Cell, int | str | None], actor: User) -> list[Cell]:
    """Replace the whole matrix at once: all nine cells must hold one of the five priorities, or
    nothing is saved. Returns the cells that changed (each one gets an audit row)."""
    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))
    wanted: dict[Cell, int] = {}
    bad: list[Cell] = []
    for cell in CELLS:
        raw = cells.get(cell)
        try:
            value = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = 0
        if value not in Priority.values:
            bad.append(cell)
        else:
            wanted[cell] = value
    if bad:
        raise MatrixError(_("Choose a priority in every cell of the matrix."), cells=bad)
    changed: list[Cell] = []
    with transaction.atomic():
        existing = {
            (c.impact, c.urgency): c
            for c in PriorityMatrixCell.objects.select_for_update().order_by("impact", "urgency")
        }
        added: list[PriorityMatrixCell] = []
        updated: list[PriorityMatrixCell] = []
        for cell, priority in wanted.items():
            row = existing.get(cell)
            if row is None:
                row = PriorityMatrixCell.objects.create(impact=cell[0], urgency=cell[1],
                                                        priority=priority)
                added.append(row)
            elif row.priority != priority:
                row.priority = priority
                row.save(update_fields=["priority"])
                updated.append(row)
            else:
                continue
            changed.append(cell)
        if added:
            LogEntry.objects.log_actions(user_id=actor.pk, queryset=added, action_flag=ADDITION,
                                         change_message=json.dumps([{"added": {}}]))
        if updated:
            LogEntry.objects.log_actions(
                user_id=actor.pk, queryset=updated, action_flag=CHANGE,
                change_message=json.dumps([{"changed": {"fields": ["priority"]}}]))
    return changed
