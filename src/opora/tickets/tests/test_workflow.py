"""The transition table, tested as data: no database, no request.

The expected moves are written out here by hand (not derived from ``workflow.TRANSITIONS``), so a
change to the table has to be made deliberately in both places.
"""

from __future__ import annotations

import pytest

from opora.accounts.models import Role, User
from opora.tickets import workflow
from opora.tickets.choices import Status
from opora.tickets.models import Ticket

S = Status
OPEN = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_REQUESTER, S.WAITING_VENDOR)
WORKING_TARGETS = (S.IN_PROGRESS, S.WAITING_REQUESTER, S.WAITING_VENDOR)
ACTIONS: tuple[workflow.ActionName, ...] = ("change_status", "resolve", "close", "reopen", "cancel")


def _expected_table() -> dict[tuple[Status, Status], tuple[str, frozenset[str]]]:
    staff, both = frozenset({"staff"}), frozenset({"staff", "requester"})
    table: dict[tuple[Status, Status], tuple[str, frozenset[str]]] = {}
    for src in OPEN:
        for dst in WORKING_TARGETS:
            if src != dst:
                table[(src, dst)] = ("change_status", staff)
        table[(src, S.RESOLVED)] = ("resolve", staff)
        table[(src, S.CANCELLED)] = ("cancel", both)
    table[(S.RESOLVED, S.CLOSED)] = ("close", both)
    for dst in (S.NEW, S.ASSIGNED, S.IN_PROGRESS):
        table[(S.RESOLVED, dst)] = ("reopen", both)
        table[(S.CLOSED, dst)] = ("reopen", staff)
    return table


EXPECTED = _expected_table()
ALL_MOVES = [(src, dst) for src in Status for dst in Status]


def user(role: Role, **extra: object) -> User:
    return User(email=f"{role}@example.com", full_name=str(role), role=role, **extra)


def ticket(status: Status, *, assignee: bool = False, team: bool = False) -> Ticket:
    return Ticket(status=status, assignee_id=7 if assignee else None, team_id=3 if team else None)


def moves(status: Status, who: User, **where: bool) -> set[tuple[str, Status]]:
    found = workflow.allowed_transitions(ticket(status, **where), who)
    return {(t.action, t.target) for t in found}


# --- the table ----------------------------------------------------------------------------------


def test_table_is_exactly_the_documented_lifecycle():
    assert workflow.TRANSITIONS == EXPECTED


@pytest.mark.parametrize("side", ["staff", "requester"])
@pytest.mark.parametrize("action", ACTIONS)
def test_is_allowed_and_check_transition_agree_with_the_table(side, action):
    wrong = []
    for source, target in ALL_MOVES:
        rule = EXPECTED.get((source, target))
        expected = rule is not None and rule[0] == action and side in rule[1]
        if workflow.is_allowed(source, target, action, side) is not expected:
            wrong.append((source.value, target.value))
        if expected:
            workflow.check_transition(source, target, action, side)
        else:
            with pytest.raises(workflow.TransitionNotAllowed) as caught:
                workflow.check_transition(source, target, action, side)
            assert (caught.value.source, caught.value.target) == (source, target)
    assert wrong == []


@pytest.mark.parametrize("source", OPEN)
@pytest.mark.parametrize("target", WORKING_TARGETS)
def test_staff_move_between_working_statuses(source, target):
    assert workflow.is_allowed(source, target, "change_status", "staff") is (source != target)


@pytest.mark.parametrize("source", OPEN)
@pytest.mark.parametrize("target", WORKING_TARGETS)
def test_requester_never_changes_status(source, target):
    assert not workflow.is_allowed(source, target, "change_status", "requester")


@pytest.mark.parametrize("target", list(Status))
@pytest.mark.parametrize("side", ["staff", "requester"])
@pytest.mark.parametrize("action", ACTIONS)
def test_cancelled_is_final(target, side, action):
    assert not workflow.is_allowed(S.CANCELLED, target, action, side)


@pytest.mark.parametrize("target", [S.NEW, S.ASSIGNED, *WORKING_TARGETS])
def test_a_resolved_ticket_goes_back_to_work_only_by_reopening(target):
    assert not workflow.is_allowed(S.RESOLVED, target, "change_status", "staff")
    with pytest.raises(workflow.TransitionNotAllowed):
        workflow.check_transition(S.RESOLVED, target, "change_status", "staff")


@pytest.mark.parametrize("source", OPEN)
def test_new_and_assigned_are_not_change_status_targets(source):
    assert not workflow.is_allowed(source, S.NEW, "change_status", "staff")
    assert not workflow.is_allowed(source, S.ASSIGNED, "change_status", "staff")


@pytest.mark.parametrize("source", OPEN)
def test_resolving_is_for_staff_and_cancelling_for_both(source):
    assert workflow.is_allowed(source, S.RESOLVED, "resolve", "staff")
    assert not workflow.is_allowed(source, S.RESOLVED, "resolve", "requester")
    assert workflow.is_allowed(source, S.CANCELLED, "cancel", "staff")
    assert workflow.is_allowed(source, S.CANCELLED, "cancel", "requester")
    # Only a resolved ticket closes; an open one cannot skip the resolution.
    assert not workflow.is_allowed(source, S.CLOSED, "close", "staff")


def test_closing_and_reopening_sides():
    assert workflow.is_allowed(S.RESOLVED, S.CLOSED, "close", "requester")
    assert workflow.is_allowed(S.RESOLVED, S.CLOSED, "close", "staff")
    assert workflow.is_allowed(S.RESOLVED, S.IN_PROGRESS, "reopen", "requester")
    assert workflow.is_allowed(S.CLOSED, S.IN_PROGRESS, "reopen", "staff")
    assert not workflow.is_allowed(S.CLOSED, S.IN_PROGRESS, "reopen", "requester")
    assert not workflow.is_allowed(S.CLOSED, S.RESOLVED, "resolve", "staff")
    assert not workflow.is_allowed(S.CLOSED, S.CANCELLED, "cancel", "staff")


def test_the_action_must_match_the_move():
    # The move exists, but only through its own action.
    assert not workflow.is_allowed(S.IN_PROGRESS, S.RESOLVED, "change_status", "staff")
    assert not workflow.is_allowed(S.IN_PROGRESS, S.CANCELLED, "change_status", "staff")
    assert not workflow.is_allowed(S.RESOLVED, S.CLOSED, "change_status", "staff")
    assert not workflow.is_allowed(S.RESOLVED, S.IN_PROGRESS, "change_status", "staff")


# --- who is on which side -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "side"),
    [
        (Role.REQUESTER, "requester"),
        (Role.ORG_MANAGER, "requester"),
        (Role.AGENT, "staff"),
        (Role.TEAM_LEAD, "staff"),
        (Role.DESK_MANAGER, "staff"),
        (Role.ADMIN, "staff"),
    ],
)
def test_side_of_role(role, side):
    assert workflow.side_of(user(role)) == side


def test_a_superuser_is_staff_whatever_the_role():
    assert workflow.side_of(user(Role.REQUESTER, is_superuser=True)) == "staff"


# --- reopen target ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignee", "team", "target"),
    [
        (True, True, S.IN_PROGRESS),
        (True, False, S.IN_PROGRESS),
        (False, True, S.ASSIGNED),
        (False, False, S.NEW),
    ],
)
def test_reopen_target(assignee, team, target):
    assert workflow.reopen_target(ticket(S.RESOLVED, assignee=assignee, team=team)) == target


# --- allowed_transitions ------------------------------------------------------------------------


AGENT = user(Role.AGENT)
REQUESTER = user(Role.REQUESTER)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.NEW, {("change_status", S.IN_PROGRESS), ("change_status", S.WAITING_REQUESTER),
                 ("change_status", S.WAITING_VENDOR), ("resolve", S.RESOLVED),
                 ("cancel", S.CANCELLED)}),
        (S.ASSIGNED, {("change_status", S.IN_PROGRESS), ("change_status", S.WAITING_REQUESTER),
                      ("change_status", S.WAITING_VENDOR), ("resolve", S.RESOLVED),
                      ("cancel", S.CANCELLED)}),
        (S.IN_PROGRESS, {("change_status", S.WAITING_REQUESTER),
                         ("change_status", S.WAITING_VENDOR), ("resolve", S.RESOLVED),
                         ("cancel", S.CANCELLED)}),
        (S.WAITING_REQUESTER, {("change_status", S.IN_PROGRESS),
                               ("change_status", S.WAITING_VENDOR), ("resolve", S.RESOLVED),
                               ("cancel", S.CANCELLED)}),
        (S.WAITING_VENDOR, {("change_status", S.IN_PROGRESS),
                            ("change_status", S.WAITING_REQUESTER), ("resolve", S.RESOLVED),
                            ("cancel", S.CANCELLED)}),
        (S.RESOLVED, {("close", S.CLOSED), ("reopen", S.ASSIGNED)}),
        (S.CLOSED, {("reopen", S.ASSIGNED)}),
        (S.CANCELLED, set()),
    ],
)
def test_allowed_transitions_for_staff(status, expected):
    assert moves(status, AGENT, team=True) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.NEW, {("cancel", S.CANCELLED)}),
        (S.ASSIGNED, {("cancel", S.CANCELLED)}),
        (S.IN_PROGRESS, {("cancel", S.CANCELLED)}),
        (S.WAITING_REQUESTER, {("cancel", S.CANCELLED)}),
        (S.WAITING_VENDOR, {("cancel", S.CANCELLED)}),
        (S.RESOLVED, {("close", S.CLOSED), ("reopen", S.ASSIGNED)}),
        (S.CLOSED, set()),
        (S.CANCELLED, set()),
    ],
)
def test_allowed_transitions_for_the_requester(status, expected):
    assert moves(status, REQUESTER, team=True) == expected


@pytest.mark.parametrize(
    ("where", "target"),
    [
        ({"assignee": True, "team": True}, S.IN_PROGRESS),
        ({"team": True}, S.ASSIGNED),
        ({}, S.NEW),
    ],
)
@pytest.mark.parametrize("who", [AGENT, REQUESTER], ids=["staff", "requester"])
def test_allowed_transitions_offer_only_the_one_reopen_target(where, target, who):
    reopens = {dst for action, dst in moves(S.RESOLVED, who, **where) if action == "reopen"}
    assert reopens == {target}


@pytest.mark.parametrize("where", [{"assignee": True, "team": True}, {"team": True}, {}])
def test_staff_reopen_a_closed_ticket_to_the_same_target(where):
    target = workflow.reopen_target(ticket(S.CLOSED, **where))
    assert moves(S.CLOSED, AGENT, **where) == {("reopen", target)}
    assert moves(S.CLOSED, REQUESTER, **where) == set()


def test_transition_labels():
    by_target = {t.target: t for t in workflow.allowed_transitions(ticket(S.ASSIGNED), AGENT)}
    # change_status moves are labelled with the status they lead to; the others with the action.
    assert str(by_target[S.IN_PROGRESS].label) == str(S.IN_PROGRESS.label)
    assert str(by_target[S.WAITING_VENDOR].label) == str(S.WAITING_VENDOR.label)
    assert str(by_target[S.RESOLVED].label) == str(workflow._ACTION_LABELS["resolve"])
    assert str(by_target[S.CANCELLED].label) == str(workflow._ACTION_LABELS["cancel"])
    resolved = {t.action: t for t in workflow.allowed_transitions(ticket(S.RESOLVED), REQUESTER)}
    assert str(resolved["close"].label) == str(workflow._ACTION_LABELS["close"])
    assert str(resolved["reopen"].label) == str(workflow._ACTION_LABELS["reopen"])


def test_every_allowed_transition_passes_check_transition():
    for status in Status:
        for who in (AGENT, REQUESTER):
            for where in ({"assignee": True, "team": True}, {"team": True}, {}):
                for move in workflow.allowed_transitions(ticket(status, **where), who):
                    workflow.check_transition(status, move.target, move.action,
                                              workflow.side_of(who))
