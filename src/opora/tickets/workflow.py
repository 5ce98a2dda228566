"""The ticket lifecycle as data plus one function. Pure: no database, no request.

Each move names the action that performs it, because some moves need more than a new status
(resolve needs a resolution code, reopen and cancel a reason). Pages and the API show exactly
what ``allowed_transitions`` returns; actions call ``check_transition`` before changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.utils.translation import gettext_lazy as _

from .choices import Status

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from opora.accounts.models import User

    from .models import Ticket

Side = Literal["staff", "requester"]
ActionName = Literal["change_status", "resolve", "close", "reopen", "cancel"]

S = Status
_WORKING = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_REQUESTER, S.WAITING_VENDOR)

#: (from status, to status) → (action, sides allowed to make the move).
TRANSITIONS: dict[tuple[Status, Status], tuple[ActionName, frozenset[Side]]] = {}

_STAFF: frozenset[Side] = frozenset({"staff"})
_BOTH: frozenset[Side] = frozenset({"staff", "requester"})

for _src in _WORKING:
    for _dst in (S.IN_PROGRESS, S.WAITING_REQUESTER, S.WAITING_VENDOR):
        if _src != _dst:
            TRANSITIONS[(_src, _dst)] = ("change_status", _STAFF)
    TRANSITIONS[(_src, S.RESOLVED)] = ("resolve", _STAFF)
    # A requester may withdraw their own request while it is open.
    TRANSITIONS[(_src, S.CANCELLED)] = ("cancel", _BOTH)
# Confirming a resolution closes the ticket; either side may do it.
TRANSITIONS[(S.RESOLVED, S.CLOSED)] = ("close", _BOTH)
# Reopen goes back to work: the requester may reopen a resolved ticket, staff also a closed one.
for _dst in (S.NEW, S.ASSIGNED, S.IN_PROGRESS):
    TRANSITIONS[(S.RESOLVED, _dst)] = ("reopen", _BOTH)
    TRANSITIONS[(S.CLOSED, _dst)] = ("reopen", _STAFF)


@dataclass(frozen=True)
class Transition:
    """A move a person may make now: the action to call and the status it leads to."""

    action: ActionName
    target: Status
    label: _StrPromise | str


_ACTION_LABELS = {
    "change_status": None,
    "resolve": _("Resolve"),
    "close": _("Close"),
    "reopen": _("Reopen"),
    "cancel": _("Cancel"),
}


class TransitionNotAllowed(Exception):
    """The workflow table has no such move for this side."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__(source, target)
        self.source = source
        self.target = target


def side_of(user: User) -> Side:
    return "staff" if user.is_agent_side or user.is_superuser else "requester"


def reopen_target(ticket: Ticket) -> Status:
    """Where a reopened ticket goes: back to its assignee, else its team's queue, else new."""
    if ticket.assignee_id:
        return Status.IN_PROGRESS
    if ticket.team_id:
        return Status.ASSIGNED
    return Status.NEW


def is_allowed(source: str, target: str, action: ActionName, side: Side) -> bool:
    move = TRANSITIONS.get((Status(source), Status(target)))
    return move is not None and move[0] == action and side in move[1]


def check_transition(source: str, target: str, action: ActionName, side: Side) -> None:
    if not is_allowed(source, target, action, side):
        raise TransitionNotAllowed(source, target)


def allowed_transitions(ticket: Ticket, user: User) -> list[Transition]:
    """The moves ``user`` may make on ``ticket`` now (visibility is checked elsewhere)."""
    side = side_of(user)
    result: list[Transition] = []
    source = Status(ticket.status)
    for (src, dst), (action, sides) in TRANSITIONS.items():
        if src != source or side not in sides:
            continue
        if action == "reopen" and dst != reopen_target(ticket):
            continue
        label = _ACTION_LABELS[action] or dst.label
        result.append(Transition(action=action, target=dst, label=label))
    return result
