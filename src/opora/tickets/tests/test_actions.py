"""Every ticket action, at the domain interface.

For a change that succeeds the tests check exactly which timeline events were written (kind,
actor, channel, visibility, data), that ``version`` went up by one and that ``updated_at``
moved to the (frozen) time of the action. For a refused change they check the error code and
that nothing at all was written: the ticket row is unchanged and the timeline did not grow.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from opora.accounts.models import Line, Team
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import (
    Channel,
    EventKind,
    Level,
    Priority,
    ResolutionCode,
    Status,
    TicketType,
)
from opora.tickets.errors import ActionError, InvalidTransition
from opora.tickets.models import PriorityMatrixCell, Ticket, TicketEvent

S = Status
K = EventKind
T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=30)
T2 = T0 + timedelta(hours=2)


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Time stands still at T0 (the world is built then); ``at(clock, T1)`` moves it."""
    time_machine.move_to(T0, tick=False)
    return time_machine


def at(clock: Any, when: datetime) -> datetime:
    clock.move_to(when, tick=False)
    return when


def named(obj: Any) -> dict[str, Any] | None:
    """How actions record a person or a team in event data."""
    if obj is None:
        return None
    return {"id": obj.pk, "name": getattr(obj, "full_name", None) or obj.name}


def ev(kind: EventKind, actor: Any, channel: Channel, *, public: bool = True,
       data: dict[str, Any] | None = None) -> tuple[str, int | None, str, bool, dict[str, Any]]:
    return (kind.value, actor.pk if actor else None, channel.value, public, data or {})


class Audit:
    """A snapshot of a ticket's row and of the whole timeline, taken before an action."""

    def __init__(self, ticket: Ticket) -> None:
        self.pk = ticket.pk
        self.before = self.row()
        self.event_count = TicketEvent.objects.count()
        self.last_event_id = TicketEvent.objects.order_by("-id").values_list("id", flat=True)[0]

    def row(self) -> dict[str, Any]:
        row = Ticket.objects.filter(pk=self.pk).values().get()
        row["watchers"] = sorted(
            Ticket.watchers.through.objects.filter(ticket_id=self.pk).values_list("user_id",
                                                                                 flat=True)
        )
        return row

    def events(self) -> list[TicketEvent]:
        return list(TicketEvent.objects.filter(id__gt=self.last_event_id).order_by("id"))

    def assert_wrote(self, *expected: tuple[Any, ...], at: datetime) -> tuple[Ticket, list[TicketEvent]]:
        """Exactly these events (in order) were written at ``at``, in one new version."""
        events = self.events()
        assert [(e.kind, e.actor_id, e.channel, e.is_public, e.data) for e in events] == list(expected)
        assert {(e.ticket_id, e.created_at) for e in events} == {(self.pk, at)}
        after = Ticket.objects.get(pk=self.pk)
        assert after.version == self.before["version"] + 1
        assert self.before["updated_at"] != at
        assert after.updated_at == at
        return after, events

    def assert_nothing_written(self) -> None:
        assert TicketEvent.objects.count() == self.event_count
        assert self.row() == self.before


def refused(audit: Audit, error_code: str, action: Any, /, *args: Any, field: str | None = None,
            **kwargs: Any) -> ActionError:
    """``action(*args, **kwargs)`` raises ``error_code`` (on ``field``) and writes nothing."""
    with pytest.raises(ActionError) as caught:
        action(*args, **kwargs)
    assert caught.value.code == error_code
    if field is not None:
        assert caught.value.field == field
    audit.assert_nothing_written()
    return caught.value


def edit_cell(impact: int, urgency: int, priority: int) -> None:
    """Change one cell of the matrix (seeded by a migration, but a flushed database has none)."""
    PriorityMatrixCell.objects.update_or_create(impact=impact, urgency=urgency,
                                                defaults={"priority": priority})


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# --- getting a ticket into a status (at T0) -------------------------------------------------------


def in_progress(w: Any) -> Ticket:
    return actions.change_status(w.ticket, status=S.IN_PROGRESS, actor=w.l1_agent,
                                 channel=Channel.WEB)


def waiting_requester(w: Any) -> Ticket:
    in_progress(w)
    return actions.change_status(w.ticket, status=S.WAITING_REQUESTER, actor=w.l1_agent,
                                 channel=Channel.WEB)


def resolved(w: Any, ticket: Ticket | None = None) -> Ticket:
    ticket = ticket or in_progress(w)
    return actions.resolve(ticket, code=ResolutionCode.FIXED, resolution="Replaced the toner.",
                           actor=w.l1_agent, channel=Channel.WEB)


def closed(w: Any) -> Ticket:
    return actions.close(resolved(w), actor=w.requester, channel=Channel.PORTAL)


def cancelled(w: Any) -> Ticket:
    return actions.cancel(w.ticket, reason="Not needed any more", actor=w.requester,
                          channel=Channel.PORTAL)


def teamless_ticket(w: Any) -> Ticket:
    """A ticket that nothing routed: no active line-1 team exists when it is opened."""
    Team.objects.filter(line=Line.L1).update(is_active=False)
    ticket = cast(Ticket, f.TicketFactory(requester=w.requester))
    Team.objects.filter(line=Line.L1).update(is_active=True)
    assert ticket.team_id is None
    return ticket


# --- open_ticket --------------------------------------------------------------------------------


class TestOpenTicket:
    @pytest.mark.parametrize(
        ("ticket_type", "prefix"),
        [(TicketType.INCIDENT, "INC"), (TicketType.REQUEST, "REQ"), (TicketType.QUESTION, "QST")],
    )
    def test_number_is_prefix_and_zero_padded_pk(self, world, ticket_type, prefix):
        ticket = actions.open_ticket(requester=world.requester, title="Нужен доступ к 1С",
                                     ticket_type=ticket_type, channel=Channel.PORTAL,
                                     actor=world.requester)
        assert ticket.number is not None
        assert re.fullmatch(rf"{prefix}-\d{{6}}", ticket.number)
        assert ticket.number == f"{prefix}-{ticket.pk:06d}"
        assert fresh(ticket).number == ticket.number
        assert fresh(ticket).type == ticket_type

    def test_writes_the_ticket_and_one_created_event(self, world):
        ticket = actions.open_ticket(
            requester=world.requester, title="  VPN не подключается  ",
            description="  Ошибка 809  ", channel=Channel.EMAIL, actor=world.requester,
        )
        ticket = fresh(ticket)
        assert ticket.title == "VPN не подключается"
        assert ticket.description == "Ошибка 809"
        assert ticket.status == S.NEW
        assert ticket.channel == Channel.EMAIL
        assert ticket.version == 1
        assert ticket.created_at == ticket.updated_at == T0
        assert ticket.created_by == world.requester
        assert ticket.assignee is None
        assert ticket.first_response_at is None
        events = list(ticket.events.all())
        assert [(e.kind, e.actor_id, e.channel, e.is_public, e.body, e.data, e.created_at)
                for e in events] == [
            (K.CREATED, world.requester.pk, Channel.EMAIL, True, "Ошибка 809",
             {"title": "VPN не подключается"}, T0),
        ]

    def test_organisation_is_the_requesters_even_when_staff_registers_it(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="Звонок: не печатает",
                                     channel=Channel.PHONE, actor=world.l1_agent)
        ticket = fresh(ticket)
        assert ticket.organisation == world.org
        assert world.l1_agent.organisation is None
        assert ticket.requester == world.requester
        assert ticket.created_by == world.l1_agent
        assert list(ticket.events.values_list("kind", "actor_id", "channel")) == [
            (K.CREATED, world.l1_agent.pk, Channel.PHONE)
        ]

    def test_a_system_intake_has_no_actor(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="Disk C: 95% full",
                                     channel=Channel.MONITORING, actor=None)
        assert fresh(ticket).created_by is None
        assert list(ticket.events.values_list("kind", "actor_id")) == [(K.CREATED, None)]

    @pytest.mark.parametrize(
        ("impact", "urgency", "priority"),
        [
            (1, 1, 1), (1, 2, 2), (1, 3, 3),
            (2, 1, 2), (2, 2, 3), (2, 3, 4),
            (3, 1, 3), (3, 2, 4), (3, 3, 5),
        ],
    )
    def test_priority_from_the_default_matrix(self, world, impact, urgency, priority):
        ticket = actions.open_ticket(requester=world.requester, title="x", impact=impact,
                                     urgency=urgency, channel=Channel.PORTAL, actor=world.requester)
        ticket = fresh(ticket)
        assert (ticket.impact, ticket.urgency, ticket.priority) == (impact, urgency, priority)

    def test_priority_from_an_edited_matrix_cell(self, world):
        edit_cell(Level.MEDIUM, Level.MEDIUM, Priority.CRITICAL)
        edited = actions.open_ticket(requester=world.requester, title="x", channel=Channel.PORTAL,
                                     actor=world.requester)
        other = actions.open_ticket(requester=world.requester, title="y", impact=Level.LOW,
                                    urgency=Level.LOW, channel=Channel.PORTAL,
                                    actor=world.requester)
        assert fresh(edited).priority == Priority.CRITICAL
        # Cells that were not edited keep the built-in default.
        assert fresh(other).priority == Priority.INFORMATIONAL

    def test_a_missing_matrix_cell_falls_back_to_the_default(self, world):
        PriorityMatrixCell.objects.filter(impact=Level.HIGH, urgency=Level.HIGH).delete()
        ticket = actions.open_ticket(requester=world.requester, title="x", impact=Level.HIGH,
                                     urgency=Level.HIGH, channel=Channel.PHONE,
                                     actor=world.l1_agent)
        assert fresh(ticket).priority == Priority.CRITICAL

    def test_default_intake_team_is_the_first_active_line_1_team(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="x", channel=Channel.PORTAL,
                                     actor=world.requester)
        assert (fresh(ticket).team, fresh(ticket).current_line) == (world.l1, 1)
        world.l1.is_active = False
        world.l1.save()
        second = actions.open_ticket(requester=world.requester, title="y",
                                     channel=Channel.PORTAL, actor=world.requester)
        assert fresh(second).team == world.elsewhere

    def test_no_intake_team_leaves_the_ticket_unrouted_on_line_1(self, world):
        ticket = teamless_ticket(world)
        assert (fresh(ticket).team_id, fresh(ticket).current_line) == (None, 1)

    def test_a_given_team_sets_the_line(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="Switch down",
                                     team=world.l2, channel=Channel.PHONE, actor=world.l1_agent)
        assert (fresh(ticket).team, fresh(ticket).current_line) == (world.l2, 2)

    def test_staff_may_flag_a_major_incident(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="Всё лежит", is_major=True,
                                     channel=Channel.PHONE, actor=world.l1_agent)
        assert fresh(ticket).is_major is True

    @pytest.mark.parametrize(
        ("changes", "code", "field"),
        [
            ({"title": ""}, "required", "title"),
            ({"title": "   "}, "required", "title"),
            ({"title": "x" * 256}, "too_long", "title"),
            ({"description": "x" * 100_001}, "too_long", "description"),
            ({"ticket_type": "bug"}, "invalid_choice", "type"),
            ({"channel": "fax"}, "invalid_choice", "channel"),
            ({"impact": 0}, "invalid_choice", None),
            ({"impact": 4}, "invalid_choice", None),
            ({"urgency": 5}, "invalid_choice", None),
        ],
    )
    def test_invalid_input_is_refused_and_nothing_written(self, world, changes, code, field):
        kwargs: dict[str, Any] = {"requester": world.requester, "title": "Принтер",
                                  "channel": Channel.PORTAL, "actor": world.requester, **changes}
        self.assert_refused(code, field, **kwargs)

    def test_title_of_exactly_255_characters_is_accepted(self, world):
        ticket = actions.open_ticket(requester=world.requester, title="x" * 255,
                                     channel=Channel.PORTAL, actor=world.requester)
        assert fresh(ticket).title == "x" * 255

    def test_inactive_requester(self, world):
        world.requester.is_active = False
        world.requester.save()
        self.assert_refused("inactive_requester", "requester", requester=world.requester,
                            title="x", channel=Channel.PHONE, actor=world.l1_agent)

    def test_inactive_category_service_or_team(self, world):
        category = f.CategoryFactory(is_active=False)
        service = f.ServiceFactory(is_active=False)
        world.l3.is_active = False
        world.l3.save()
        base = {"requester": world.requester, "title": "x", "channel": Channel.PORTAL,
                "actor": world.requester}
        self.assert_refused("inactive", "category", category=category, **base)
        self.assert_refused("inactive", "service", service=service, **base)
        self.assert_refused("inactive", "team", team=world.l3,
                            **{**base, "actor": world.l1_agent, "channel": Channel.PHONE})

    def test_routing_to_a_team_is_for_staff(self, world):
        self.assert_refused("staff_only", None, requester=world.requester, title="x",
                            team=world.l2, channel=Channel.PORTAL, actor=world.requester)

    @pytest.mark.parametrize("channel", [Channel.WEB, Channel.SYSTEM, "fax"])
    def test_only_intake_channels_open_tickets(self, world, channel):
        self.assert_refused("invalid_choice", "channel", requester=world.requester, title="x",
                            channel=channel, actor=world.requester)

    @pytest.mark.parametrize("who", ["colleague", "org_manager", "outsider"])
    def test_registering_for_someone_else_is_for_staff(self, world, who):
        self.assert_refused("staff_only", None, requester=world.requester, title="x",
                            channel=Channel.PORTAL, actor=getattr(world, who))

    def test_a_requester_may_not_declare_a_major_incident(self, world):
        self.assert_refused("staff_only", None, requester=world.requester, title="x",
                            is_major=True, channel=Channel.PORTAL, actor=world.requester)

    @staticmethod
    def assert_refused(code: str, field: str | None, **kwargs: Any) -> None:
        counts = (Ticket.objects.count(), TicketEvent.objects.count())
        with pytest.raises(ActionError) as caught:
            actions.open_ticket(**kwargs)
        assert caught.value.code == code
        assert caught.value.field == field
        assert (Ticket.objects.count(), TicketEvent.objects.count()) == counts


# --- reply --------------------------------------------------------------------------------------


class TestReply:
    def test_staff_first_reply_stamps_first_response_once(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        event = actions.reply(world.ticket, body="  Перезагрузите принтер.  ",
                              actor=world.l1_agent, channel=Channel.WEB)
        ticket, events = audit.assert_wrote(ev(K.REPLY, world.l1_agent, Channel.WEB), at=now)
        assert events == [event]
        assert event.body == "Перезагрузите принтер."
        assert ticket.first_response_at == T1
        assert ticket.status == S.NEW

        audit = Audit(world.ticket)
        now = at(clock, T2)
        actions.reply(world.ticket, body="Ещё вопрос?", actor=world.l1_agent2, channel=Channel.API)
        ticket, _ = audit.assert_wrote(ev(K.REPLY, world.l1_agent2, Channel.API), at=now)
        assert ticket.first_response_at == T1

    def test_requester_reply_does_not_count_as_a_response(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reply(world.ticket, body="Всё ещё не работает", actor=world.requester,
                      channel=Channel.EMAIL)
        ticket, _ = audit.assert_wrote(ev(K.REPLY, world.requester, Channel.EMAIL), at=now)
        assert ticket.first_response_at is None
        assert ticket.status == S.NEW

    def test_requester_answer_while_waiting_puts_the_ticket_back_to_work(self, world, clock):
        waiting_requester(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reply(world.ticket, body="Вот скриншот", actor=world.requester,
                      channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.REPLY, world.requester, Channel.PORTAL),
            ev(K.STATUS_CHANGED, world.requester, Channel.PORTAL,
               data={"status": [S.WAITING_REQUESTER, S.IN_PROGRESS]}),
            at=now,
        )
        assert ticket.status == S.IN_PROGRESS

    def test_staff_reply_while_waiting_keeps_waiting(self, world, clock):
        waiting_requester(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reply(world.ticket, body="Напоминаем", actor=world.l1_agent, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(ev(K.REPLY, world.l1_agent, Channel.WEB), at=now)
        assert ticket.status == S.WAITING_REQUESTER

    @pytest.mark.parametrize("make", [closed, cancelled])
    def test_refused_on_a_finished_ticket(self, world, clock, make):
        make(world)
        audit = Audit(world.ticket)
        at(clock, T1)
        for actor in (world.requester, world.l1_agent):
            refused(audit, "ticket_closed", actions.reply, world.ticket, body="Алло?",
                    actor=actor, channel=Channel.EMAIL)

    def test_empty_body_refused(self, world):
        refused(Audit(world.ticket), "required", actions.reply, world.ticket, body="  ",
                actor=world.l1_agent, channel=Channel.WEB, field="body")


# --- add_note -----------------------------------------------------------------------------------


class TestAddNote:
    def test_internal_note(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        event = actions.add_note(world.ticket, body="Похоже на драйвер", actor=world.l1_agent,
                                 channel=Channel.WEB)
        ticket, events = audit.assert_wrote(
            ev(K.NOTE, world.l1_agent, Channel.WEB, public=False), at=now,
        )
        assert events == [event]
        assert event.is_public is False
        assert event.body == "Похоже на драйвер"
        # A note is not an answer to the requester.
        assert ticket.first_response_at is None

    @pytest.mark.parametrize("who", ["requester", "org_manager"])
    def test_staff_only(self, world, who):
        refused(Audit(world.ticket), "staff_only", actions.add_note, world.ticket, body="psst",
                actor=getattr(world, who), channel=Channel.PORTAL)

    def test_empty_note_refused(self, world):
        refused(Audit(world.ticket), "required", actions.add_note, world.ticket, body="",
                actor=world.l1_agent, channel=Channel.WEB, field="body")


# --- assign -------------------------------------------------------------------------------------


class TestAssign:
    def test_to_an_agent_of_the_team(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, assignee=world.l1_agent, actor=world.lead,
                       channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l1)],
                     "assignee": [None, named(world.l1_agent)]}),
            ev(K.STATUS_CHANGED, world.lead, Channel.WEB, data={"status": [S.NEW, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.status) == (world.l1, world.l1_agent,
                                                                 S.ASSIGNED)

    def test_to_a_team_moves_the_line(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, team=world.l2, actor=world.l1_agent, channel=Channel.API)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.l1_agent, Channel.API, public=False,
               data={"team": [named(world.l1), named(world.l2)], "assignee": [None, None]}),
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.API,
               data={"status": [S.NEW, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.current_line, ticket.status) == (
            world.l2, None, 2, S.ASSIGNED)

    def test_to_a_team_and_its_agent_together(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, team=world.l2, assignee=world.l2_agent, actor=world.lead,
                       channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l2)],
                     "assignee": [None, named(world.l2_agent)]}),
            ev(K.STATUS_CHANGED, world.lead, Channel.WEB, data={"status": [S.NEW, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.current_line) == (world.l2, world.l2_agent, 2)

    def test_an_unrouted_ticket_goes_to_the_agents_team(self, world, clock):
        ticket = teamless_ticket(world)
        audit = Audit(ticket)
        now = at(clock, T1)
        actions.assign(ticket, assignee=world.l2_agent, actor=world.lead, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [None, named(world.l2)], "assignee": [None, named(world.l2_agent)]}),
            ev(K.STATUS_CHANGED, world.lead, Channel.WEB, data={"status": [S.NEW, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.current_line) == (world.l2, world.l2_agent, 2)

    def test_reassigning_an_assigned_ticket_keeps_the_status(self, world, clock):
        actions.assign(world.ticket, assignee=world.l1_agent, actor=world.lead,
                       channel=Channel.WEB)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l1)],
                     "assignee": [named(world.l1_agent), named(world.l1_agent2)]}),
            at=now,
        )
        assert (ticket.assignee, ticket.status) == (world.l1_agent2, S.ASSIGNED)

    def test_unassigning_a_ticket_in_progress_puts_it_back_in_the_queue(self, world, clock):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, assignee=None, actor=world.lead, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l1)],
                     "assignee": [named(world.l1_agent), None]}),
            ev(K.STATUS_CHANGED, world.lead, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.status) == (world.l1, None, S.ASSIGNED)

    def test_moving_team_drops_an_assignee_who_is_not_a_member(self, world, clock):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, team=world.l2, actor=world.lead, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l2)],
                     "assignee": [named(world.l1_agent), None]}),
            ev(K.STATUS_CHANGED, world.lead, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.current_line, ticket.status) == (
            world.l2, None, 2, S.ASSIGNED)

    def test_moving_team_keeps_an_assignee_who_is_a_member(self, world, clock):
        in_progress(world)
        both = cast(Team, f.TeamFactory(name="Printers", line=2, members=[world.l1_agent]))
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.assign(world.ticket, team=both, actor=world.lead, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ASSIGNED, world.lead, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(both)],
                     "assignee": [named(world.l1_agent), named(world.l1_agent)]}),
            at=now,
        )
        assert (ticket.team, ticket.assignee, ticket.status) == (both, world.l1_agent,
                                                                 S.IN_PROGRESS)

    @pytest.mark.parametrize(
        ("kwargs", "code", "field"),
        [
            ({"assignee": "l2_agent"}, "not_a_member", "assignee"),
            ({"assignee": "loner"}, "not_a_member", "assignee"),
            ({"team": "l1", "assignee": "l2_agent"}, "not_a_member", "assignee"),
            ({"assignee": "requester"}, "not_an_agent", "assignee"),
            ({"team": None}, "required", "team"),
            ({}, "required", None),
            ({"team": "l1"}, "no_change", None),
            ({"assignee": None}, "no_change", None),
        ],
    )
    def test_refused(self, world, kwargs, code, field):
        kwargs = {k: getattr(world, v) if isinstance(v, str) else v for k, v in kwargs.items()}
        refused(Audit(world.ticket), code, actions.assign, world.ticket, actor=world.lead,
                channel=Channel.WEB, field=field, **kwargs)

    def test_an_inactive_agent_or_team_is_refused(self, world):
        world.l1_agent2.is_active = False
        world.l1_agent2.save()
        world.l3.is_active = False
        world.l3.save()
        audit = Audit(world.ticket)
        refused(audit, "not_an_agent", actions.assign, world.ticket, assignee=world.l1_agent2,
                actor=world.lead, channel=Channel.WEB)
        refused(audit, "inactive", actions.assign, world.ticket, team=world.l3,
                actor=world.lead, channel=Channel.WEB, field="team")

    def test_assigning_the_same_agent_again_is_no_change(self, world):
        actions.assign(world.ticket, assignee=world.l1_agent, actor=world.lead,
                       channel=Channel.WEB)
        refused(Audit(world.ticket), "no_change", actions.assign, world.ticket,
                assignee=world.l1_agent, actor=world.lead, channel=Channel.WEB)

    @pytest.mark.parametrize("who", ["requester", "org_manager"])
    def test_non_staff_refused(self, world, who):
        refused(Audit(world.ticket), "staff_only", actions.assign, world.ticket,
                assignee=world.l1_agent, actor=getattr(world, who), channel=Channel.PORTAL)

    @pytest.mark.parametrize("make", [resolved, closed, cancelled])
    def test_only_open_tickets(self, world, make):
        make(world)
        error = refused(Audit(world.ticket), "ticket_not_open", actions.assign, world.ticket,
                        assignee=world.l1_agent2, actor=world.lead, channel=Channel.WEB)
        assert isinstance(error, InvalidTransition)


# --- escalate -----------------------------------------------------------------------------------


SUMMARY = "Перезагрузка не помогла, ошибка 809 на всех ПК"


class TestEscalate:
    def test_to_line_2_leaves_the_assignee_and_waits_in_the_queue(self, world, clock):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.escalate(world.ticket, to_team=world.l2, summary=SUMMARY, actor=world.l1_agent,
                         channel=Channel.WEB)
        ticket, events = audit.assert_wrote(
            ev(K.ESCALATED, world.l1_agent, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l2)],
                     "assignee": [named(world.l1_agent), None],
                     "line": [1, 2], "vendor_reference": ""}),
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.ASSIGNED]}),
            at=now,
        )
        assert events[0].body == SUMMARY
        assert (ticket.team, ticket.assignee, ticket.current_line, ticket.status) == (
            world.l2, None, 2, S.ASSIGNED)
        assert ticket.escalated_at == T1
        assert ticket.vendor_reference == ""

    def test_an_assigned_ticket_writes_no_status_event(self, world, clock):
        actions.assign(world.ticket, team=world.l1, assignee=world.l1_agent, actor=world.lead,
                       channel=Channel.WEB)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.escalate(world.ticket, to_team=world.l3, summary=SUMMARY, actor=world.l1_agent,
                         channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ESCALATED, world.l1_agent, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l3)],
                     "assignee": [named(world.l1_agent), None],
                     "line": [1, 3], "vendor_reference": ""}),
            at=now,
        )
        assert (ticket.status, ticket.current_line, ticket.escalated_at) == (S.ASSIGNED, 3, T1)

    def test_to_line_4_waits_for_the_vendor(self, world, clock):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.escalate(world.ticket, to_team=world.l4, summary=SUMMARY,
                         vendor_reference="  CASE-000042  ", actor=world.l1_agent,
                         channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.ESCALATED, world.l1_agent, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l4)],
                     "assignee": [named(world.l1_agent), None],
                     "line": [1, 4], "vendor_reference": "CASE-000042"}),
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.WAITING_VENDOR]}),
            at=now,
        )
        assert (ticket.status, ticket.vendor_reference, ticket.current_line) == (
            S.WAITING_VENDOR, "CASE-000042", 4)
        assert ticket.escalated_at == T1

    def test_a_summary_of_exactly_ten_characters_is_enough(self, world):
        ticket = actions.escalate(world.ticket, to_team=world.l2, summary="  0123456789  ",
                                  actor=world.l1_agent, channel=Channel.WEB)
        assert fresh(ticket).team == world.l2
        assert ticket.events.get(kind=K.ESCALATED).body == "0123456789"

    @pytest.mark.parametrize(
        ("summary", "code"),
        [("", "required"), ("    ", "required"), ("Не помогл", "summary_too_short"),
         ("123456789", "summary_too_short"), ("  12345678  ", "summary_too_short")],
    )
    def test_summary_is_required_and_not_too_short(self, world, summary, code):
        refused(Audit(world.ticket), code, actions.escalate, world.ticket, to_team=world.l2,
                summary=summary, actor=world.l1_agent, channel=Channel.WEB, field="summary")

    def test_must_go_to_a_higher_line(self, world):
        audit = Audit(world.ticket)
        refused(audit, "not_a_higher_line", actions.escalate, world.ticket,
                to_team=world.elsewhere, summary=SUMMARY, actor=world.l1_agent,
                channel=Channel.WEB, field="to_team")
        actions.escalate(world.ticket, to_team=world.l3, summary=SUMMARY, actor=world.l1_agent,
                         channel=Channel.WEB)
        refused(Audit(world.ticket), "not_a_higher_line", actions.escalate, world.ticket,
                to_team=world.l2, summary=SUMMARY, actor=world.l1_agent, channel=Channel.WEB)

    def test_refused_for_non_staff_an_inactive_team_or_a_finished_ticket(self, world):
        audit = Audit(world.ticket)
        refused(audit, "staff_only", actions.escalate, world.ticket, to_team=world.l2,
                summary=SUMMARY, actor=world.requester, channel=Channel.PORTAL)
        world.l3.is_active = False
        world.l3.save()
        refused(audit, "inactive", actions.escalate, world.ticket, to_team=world.l3,
                summary=SUMMARY, actor=world.l1_agent, channel=Channel.WEB, field="to_team")
        refused(audit, "too_long", actions.escalate, world.ticket, to_team=world.l4,
                summary=SUMMARY, vendor_reference="x" * 201, actor=world.l1_agent,
                channel=Channel.WEB, field="vendor_reference")
        resolved(world)
        error = refused(Audit(world.ticket), "ticket_not_open", actions.escalate, world.ticket,
                        to_team=world.l2, summary=SUMMARY, actor=world.l1_agent,
                        channel=Channel.WEB)
        assert isinstance(error, InvalidTransition)


# --- change_status ------------------------------------------------------------------------------


class TestChangeStatus:
    def test_taking_into_work_makes_the_agent_the_assignee(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.change_status(world.ticket, status=S.IN_PROGRESS, actor=world.l1_agent,
                              channel=Channel.WEB, comment="Беру")
        ticket, events = audit.assert_wrote(
            ev(K.ASSIGNED, world.l1_agent, Channel.WEB, public=False,
               data={"team": [named(world.l1), named(world.l1)],
                     "assignee": [None, named(world.l1_agent)]}),
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.NEW, S.IN_PROGRESS]}),
            at=now,
        )
        assert events[1].body == "Беру"
        assert (ticket.status, ticket.assignee) == (S.IN_PROGRESS, world.l1_agent)

    def test_an_assigned_ticket_keeps_its_assignee(self, world, clock):
        actions.assign(world.ticket, assignee=world.l1_agent2, actor=world.lead,
                       channel=Channel.WEB)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.change_status(world.ticket, status=S.IN_PROGRESS, actor=world.l1_agent,
                              channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.ASSIGNED, S.IN_PROGRESS]}),
            at=now,
        )
        assert (ticket.status, ticket.assignee) == (S.IN_PROGRESS, world.l1_agent2)

    def test_the_system_taking_into_work_assigns_nobody(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.change_status(world.ticket, status=S.IN_PROGRESS, actor=None,
                              channel=Channel.SYSTEM)
        ticket, _ = audit.assert_wrote(
            ev(K.STATUS_CHANGED, None, Channel.SYSTEM, data={"status": [S.NEW, S.IN_PROGRESS]}),
            at=now,
        )
        assert ticket.assignee is None

    @pytest.mark.parametrize("target", [S.WAITING_REQUESTER, S.WAITING_VENDOR])
    def test_waiting_statuses(self, world, clock, target):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.change_status(world.ticket, status=target, comment="Пришлите модель",
                              actor=world.l1_agent, channel=Channel.WEB)
        ticket, events = audit.assert_wrote(
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.IN_PROGRESS, target]}),
            at=now,
        )
        assert events[0].body == "Пришлите модель"
        assert (ticket.status, ticket.assignee) == (target, world.l1_agent)

    def test_waiting_from_new_does_not_assign(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.change_status(world.ticket, status=S.WAITING_REQUESTER, actor=world.l1_agent,
                              channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.STATUS_CHANGED, world.l1_agent, Channel.WEB,
               data={"status": [S.NEW, S.WAITING_REQUESTER]}),
            at=now,
        )
        assert ticket.assignee is None

    def test_unknown_status(self, world):
        refused(Audit(world.ticket), "invalid_choice", actions.change_status, world.ticket,
                status="paused", actor=world.l1_agent, channel=Channel.WEB, field="status")

    @pytest.mark.parametrize("target", [S.IN_PROGRESS, S.WAITING_VENDOR, S.RESOLVED, S.CLOSED])
    def test_the_requester_may_not_change_status(self, world, target):
        error = refused(Audit(world.ticket), "transition_not_allowed", actions.change_status,
                        world.ticket, status=target, actor=world.requester,
                        channel=Channel.PORTAL)
        assert isinstance(error, InvalidTransition)
        assert error.status == 409

    @pytest.mark.parametrize(
        ("make", "target"),
        [
            (resolved, S.IN_PROGRESS),
            (resolved, S.WAITING_REQUESTER),
            (closed, S.IN_PROGRESS),
            (cancelled, S.IN_PROGRESS),
            (cancelled, S.WAITING_VENDOR),
            (in_progress, S.IN_PROGRESS),
            (in_progress, S.RESOLVED),
            (in_progress, S.CANCELLED),
            (in_progress, S.NEW),
            (in_progress, S.ASSIGNED),
        ],
    )
    def test_moves_outside_the_table_are_refused(self, world, make, target):
        make(world)
        refused(Audit(world.ticket), "transition_not_allowed", actions.change_status,
                world.ticket, status=target, actor=world.l1_agent, channel=Channel.WEB)


# --- resolve ------------------------------------------------------------------------------------


class TestResolve:
    def test_resolve(self, world, clock):
        in_progress(world)
        actions.reply(world.ticket, body="Смотрю", actor=world.l1_agent, channel=Channel.WEB)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.resolve(world.ticket, code=ResolutionCode.FIXED, resolution="  Заменили тонер ",
                        actor=world.l1_agent, channel=Channel.WEB)
        ticket, events = audit.assert_wrote(
            ev(K.RESOLVED, world.l1_agent, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.RESOLVED], "code": "fixed"}),
            at=now,
        )
        assert events[0].body == "Заменили тонер"
        assert (ticket.status, ticket.resolution_code, ticket.resolution) == (
            S.RESOLVED, ResolutionCode.FIXED, "Заменили тонер")
        assert ticket.resolved_at == T1
        assert ticket.first_response_at == T0  # the earlier reply

    def test_resolving_without_a_reply_counts_as_the_first_response(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.resolve(world.ticket, code=ResolutionCode.ANSWERED, resolution="См. инструкцию",
                        actor=world.l1_agent, channel=Channel.EMAIL)
        ticket, _ = audit.assert_wrote(
            ev(K.RESOLVED, world.l1_agent, Channel.EMAIL,
               data={"status": [S.NEW, S.RESOLVED], "code": "answered"}),
            at=now,
        )
        assert ticket.first_response_at == T1 == ticket.resolved_at

    @pytest.mark.parametrize(
        ("code", "resolution", "error", "field"),
        [
            ("", "Готово", "invalid_choice", "code"),
            ("magic", "Готово", "invalid_choice", "code"),
            (ResolutionCode.FIXED, "", "required", "resolution"),
            (ResolutionCode.FIXED, "   ", "required", "resolution"),
        ],
    )
    def test_code_and_text_are_required(self, world, code, resolution, error, field):
        refused(Audit(world.ticket), error, actions.resolve, world.ticket, code=code,
                resolution=resolution, actor=world.l1_agent, channel=Channel.WEB, field=field)

    def test_staff_only(self, world):
        refused(Audit(world.ticket), "staff_only", actions.resolve, world.ticket,
                code=ResolutionCode.SELF_RESOLVED, resolution="Само прошло",
                actor=world.requester, channel=Channel.PORTAL)

    @pytest.mark.parametrize("make", [resolved, closed, cancelled])
    def test_only_open_tickets(self, world, make):
        make(world)
        refused(Audit(world.ticket), "transition_not_allowed", actions.resolve, world.ticket,
                code=ResolutionCode.FIXED, resolution="Ещё раз", actor=world.l1_agent,
                channel=Channel.WEB)


# --- close --------------------------------------------------------------------------------------


class TestClose:
    @pytest.mark.parametrize(
        ("who", "channel", "confirmed"),
        [("requester", Channel.PORTAL, True), ("l1_agent", Channel.WEB, False),
         (None, Channel.SYSTEM, False)],
    )
    def test_close_a_resolved_ticket(self, world, clock, who, channel, confirmed):
        resolved(world)
        actor = getattr(world, who) if who else None
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.close(world.ticket, actor=actor, channel=channel, comment=" Спасибо ")
        ticket, events = audit.assert_wrote(
            ev(K.CLOSED, actor, channel,
               data={"status": [S.RESOLVED, S.CLOSED], "confirmed_by_requester": confirmed}),
            at=now,
        )
        assert events[0].body == "Спасибо"
        assert (ticket.status, ticket.closed_at) == (S.CLOSED, T1)
        assert ticket.resolution == "Replaced the toner."

    @pytest.mark.parametrize("make", [in_progress, closed, cancelled])
    @pytest.mark.parametrize("who", ["requester", "l1_agent"])
    def test_only_from_resolved(self, world, make, who):
        make(world)
        refused(Audit(world.ticket), "transition_not_allowed", actions.close, world.ticket,
                actor=getattr(world, who), channel=Channel.WEB)

    def test_from_new(self, world):
        refused(Audit(world.ticket), "transition_not_allowed", actions.close, world.ticket,
                actor=world.l1_agent, channel=Channel.WEB)


# --- reopen -------------------------------------------------------------------------------------


class TestReopen:
    def test_back_to_the_assignee(self, world, clock):
        resolved(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reopen(world.ticket, reason="  Снова не печатает ", actor=world.requester,
                       channel=Channel.EMAIL)
        ticket, events = audit.assert_wrote(
            ev(K.REOPENED, world.requester, Channel.EMAIL,
               data={"status": [S.RESOLVED, S.IN_PROGRESS]}),
            at=now,
        )
        assert events[0].body == "Снова не печатает"
        assert (ticket.status, ticket.assignee, ticket.reopen_count) == (
            S.IN_PROGRESS, world.l1_agent, 1)
        assert (ticket.resolution_code, ticket.resolution, ticket.resolved_at,
                ticket.closed_at) == ("", "", None, None)

    def test_back_to_the_team_queue(self, world, clock):
        resolved(world, ticket=world.ticket)  # resolved from new: a team, no assignee
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reopen(world.ticket, reason="Не решено", actor=world.requester,
                       channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.REOPENED, world.requester, Channel.PORTAL,
               data={"status": [S.RESOLVED, S.ASSIGNED]}),
            at=now,
        )
        assert (ticket.status, ticket.team, ticket.assignee) == (S.ASSIGNED, world.l1, None)

    def test_back_to_new_without_team_or_assignee(self, world, clock):
        ticket = resolved(world, ticket=teamless_ticket(world))
        audit = Audit(ticket)
        now = at(clock, T1)
        actions.reopen(ticket, reason="Не решено", actor=world.requester, channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.REOPENED, world.requester, Channel.PORTAL, data={"status": [S.RESOLVED, S.NEW]}),
            at=now,
        )
        assert ticket.status == S.NEW

    def test_the_requester_may_not_reopen_a_closed_ticket_but_staff_may(self, world, clock):
        closed(world)
        error = refused(Audit(world.ticket), "transition_not_allowed", actions.reopen,
                        world.ticket, reason="Опять", actor=world.requester,
                        channel=Channel.PORTAL)
        assert isinstance(error, InvalidTransition)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reopen(world.ticket, reason="Клиент позвонил", actor=world.l1_agent,
                       channel=Channel.PHONE)
        ticket, _ = audit.assert_wrote(
            ev(K.REOPENED, world.l1_agent, Channel.PHONE,
               data={"status": [S.CLOSED, S.IN_PROGRESS]}),
            at=now,
        )
        assert (ticket.status, ticket.closed_at, ticket.resolved_at, ticket.reopen_count) == (
            S.IN_PROGRESS, None, None, 1)

    def test_reopen_count_counts(self, world, clock):
        resolved(world)
        actions.reopen(world.ticket, reason="Раз", actor=world.requester, channel=Channel.PORTAL)
        resolved(world, ticket=world.ticket)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.reopen(world.ticket, reason="Два", actor=world.requester, channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.REOPENED, world.requester, Channel.PORTAL,
               data={"status": [S.RESOLVED, S.IN_PROGRESS]}),
            at=now,
        )
        assert ticket.reopen_count == 2

    def test_reason_required(self, world):
        resolved(world)
        refused(Audit(world.ticket), "required", actions.reopen, world.ticket, reason=" ",
                actor=world.requester, channel=Channel.PORTAL, field="reason")

    @pytest.mark.parametrize("make", [in_progress, cancelled])
    def test_only_resolved_or_closed(self, world, make):
        make(world)
        refused(Audit(world.ticket), "transition_not_allowed", actions.reopen, world.ticket,
                reason="Опять", actor=world.l1_agent, channel=Channel.WEB)


# --- cancel -------------------------------------------------------------------------------------


class TestCancel:
    def test_the_requester_withdraws(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.cancel(world.ticket, reason=" Сам разобрался ", actor=world.requester,
                       channel=Channel.PORTAL)
        ticket, events = audit.assert_wrote(
            ev(K.CANCELLED, world.requester, Channel.PORTAL,
               data={"status": [S.NEW, S.CANCELLED]}),
            at=now,
        )
        assert events[0].body == "Сам разобрался"
        assert (ticket.status, ticket.closed_at) == (S.CANCELLED, T1)

    def test_staff_rejects(self, world, clock):
        in_progress(world)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.cancel(world.ticket, reason="Не к ИТ", actor=world.lead, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.CANCELLED, world.lead, Channel.WEB,
               data={"status": [S.IN_PROGRESS, S.CANCELLED]}),
            at=now,
        )
        assert ticket.status == S.CANCELLED

    def test_reason_required(self, world):
        refused(Audit(world.ticket), "required", actions.cancel, world.ticket, reason="",
                actor=world.requester, channel=Channel.PORTAL, field="reason")

    @pytest.mark.parametrize("make", [resolved, closed, cancelled])
    @pytest.mark.parametrize("who", ["requester", "l1_agent"])
    def test_only_open_tickets(self, world, make, who):
        make(world)
        refused(Audit(world.ticket), "transition_not_allowed", actions.cancel, world.ticket,
                reason="Отмена", actor=getattr(world, who), channel=Channel.WEB)


# --- update_fields ------------------------------------------------------------------------------


class TestUpdateFields:
    def change(self, world: Any, clock: Any, changes: dict[str, Any],
               diff: dict[str, list[Any]]) -> Ticket:
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.update_fields(world.ticket, changes=changes, actor=world.l1_agent,
                              channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.FIELDS_CHANGED, world.l1_agent, Channel.WEB, public=False, data=diff), at=now,
        )
        return ticket

    def test_impact_recomputes_the_priority(self, world, clock):
        ticket = self.change(world, clock, {"impact": Level.HIGH},
                             {"impact": [2, 1], "priority": [3, 2]})
        assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 2, Priority.HIGH)

    def test_urgency_recomputes_from_an_edited_matrix(self, world, clock):
        edit_cell(Level.MEDIUM, Level.LOW, Priority.INFORMATIONAL)
        ticket = self.change(world, clock, {"urgency": Level.LOW},
                             {"urgency": [2, 3], "priority": [3, 5]})
        assert ticket.priority == Priority.INFORMATIONAL

    def test_a_given_priority_overrides_the_matrix(self, world, clock):
        ticket = self.change(world, clock, {"impact": 1, "urgency": 1, "priority": 4},
                             {"impact": [2, 1], "urgency": [2, 1], "priority": [3, 4]})
        assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 1, 4)

    def test_priority_alone(self, world, clock):
        ticket = self.change(world, clock, {"priority": Priority.CRITICAL}, {"priority": [3, 1]})
        assert (ticket.impact, ticket.urgency, ticket.priority) == (2, 2, 1)

    def test_an_unchanged_recomputed_priority_is_not_in_the_diff(self, world, clock):
        # (1, 3) → medium, the same as (2, 2).
        ticket = self.change(world, clock, {"impact": 1, "urgency": 3},
                             {"impact": [2, 1], "urgency": [2, 3]})
        assert ticket.priority == Priority.MEDIUM

    def test_the_number_never_changes_with_the_type(self, world, clock):
        number = world.ticket.number
        assert number.startswith("INC-")
        ticket = self.change(world, clock, {"type": TicketType.REQUEST},
                             {"type": ["incident", "request"]})
        assert (ticket.type, ticket.number) == (TicketType.REQUEST, number)

    def test_title_description_category_service_and_major(self, world, clock):
        category, service = f.CategoryFactory(), f.ServiceFactory()
        old_title = world.ticket.title
        ticket = self.change(
            world, clock,
            {"title": " Принтер 3 этаж ", "description": "Бумага", "category": category,
             "service": service, "is_major": True},
            {"title": [old_title, "Принтер 3 этаж"],
             "description": ["Error 49.4C02 on the display.", "Бумага"],
             "category": [None, named(category)], "service": [None, named(service)],
             "is_major": [False, True]},
        )
        assert (ticket.title, ticket.description, ticket.category, ticket.service,
                ticket.is_major) == ("Принтер 3 этаж", "Бумага", category, service, True)

    def test_clearing_a_category_records_the_old_one(self, world, clock):
        category = f.CategoryFactory()
        actions.update_fields(world.ticket, changes={"category": category},
                              actor=world.l1_agent, channel=Channel.WEB)
        ticket = self.change(world, clock, {"category": None}, {"category": [named(category), None]})
        assert ticket.category is None

    @pytest.mark.parametrize(
        ("changes", "code", "field"),
        [
            ({"status": "closed"}, "not_editable", None),
            ({"number": "INC-999999"}, "not_editable", None),
            ({"title": "x", "assignee": None}, "not_editable", None),
            ({}, "no_change", None),
            ({"impact": 2, "urgency": 2}, "no_change", None),
            ({"title": ""}, "required", "title"),
            ({"title": "x" * 256}, "too_long", "title"),
            ({"type": "bug"}, "invalid_choice", "type"),
            ({"impact": 4}, "invalid_choice", "impact"),
            ({"urgency": "2"}, "invalid_choice", "urgency"),
            ({"priority": 0}, "invalid_choice", "priority"),
            ({"category": 1}, "invalid_choice", "category"),
            # A bad value after a good one: the good one is not saved either.
            ({"title": "Новый заголовок", "impact": 9}, "invalid_choice", "impact"),
        ],
    )
    def test_refused(self, world, changes, code, field):
        refused(Audit(world.ticket), code, actions.update_fields, world.ticket, changes=changes,
                actor=world.l1_agent, channel=Channel.WEB, field=field)

    def test_same_title_is_no_change(self, world):
        refused(Audit(world.ticket), "no_change", actions.update_fields, world.ticket,
                changes={"title": world.ticket.title}, actor=world.l1_agent,
                channel=Channel.WEB)

    def test_inactive_category(self, world):
        category = f.CategoryFactory(is_active=False)
        refused(Audit(world.ticket), "inactive", actions.update_fields, world.ticket,
                changes={"category": category}, actor=world.l1_agent, channel=Channel.WEB,
                field="category")

    def test_staff_only(self, world):
        refused(Audit(world.ticket), "staff_only", actions.update_fields, world.ticket,
                changes={"impact": 1}, actor=world.requester, channel=Channel.PORTAL)

    @pytest.mark.parametrize("make", [closed, cancelled])
    def test_a_finished_ticket_cannot_be_changed(self, world, make):
        make(world)
        refused(Audit(world.ticket), "ticket_not_open", actions.update_fields, world.ticket,
                changes={"title": "Поздно"}, actor=world.l1_agent, channel=Channel.WEB)


# --- watchers -----------------------------------------------------------------------------------


class TestWatchers:
    def test_the_requester_follows_and_unfollows_themselves(self, world, clock):
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.add_watcher(world.ticket, user=world.requester, actor=world.requester,
                            channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.WATCHER_ADDED, world.requester, Channel.PORTAL, public=False,
               data={"watcher": named(world.requester)}),
            at=now,
        )
        assert list(ticket.watchers.all()) == [world.requester]

        audit = Audit(world.ticket)
        now = at(clock, T2)
        actions.remove_watcher(world.ticket, user=world.requester, actor=world.requester,
                               channel=Channel.PORTAL)
        ticket, _ = audit.assert_wrote(
            ev(K.WATCHER_REMOVED, world.requester, Channel.PORTAL, public=False,
               data={"watcher": named(world.requester)}),
            at=now,
        )
        assert list(ticket.watchers.all()) == []

    @pytest.mark.parametrize("who", ["colleague", "l2_agent"])
    def test_staff_add_a_colleague_or_an_agent(self, world, clock, who):
        person = getattr(world, who)
        audit = Audit(world.ticket)
        now = at(clock, T1)
        actions.add_watcher(world.ticket, user=person, actor=world.l1_agent, channel=Channel.WEB)
        ticket, _ = audit.assert_wrote(
            ev(K.WATCHER_ADDED, world.l1_agent, Channel.WEB, public=False,
               data={"watcher": named(person)}),
            at=now,
        )
        assert list(ticket.watchers.all()) == [person]

    def test_add_refused(self, world):
        audit = Audit(world.ticket)
        refused(audit, "staff_only", actions.add_watcher, world.ticket, user=world.colleague,
                actor=world.requester, channel=Channel.PORTAL)
        refused(audit, "other_organisation", actions.add_watcher, world.ticket,
                user=world.outsider, actor=world.l1_agent, channel=Channel.WEB, field="user")
        refused(audit, "other_organisation", actions.add_watcher, world.ticket,
                user=world.outsider, actor=world.outsider, channel=Channel.PORTAL)
        world.colleague.is_active = False
        world.colleague.save()
        refused(audit, "inactive", actions.add_watcher, world.ticket, user=world.colleague,
                actor=world.l1_agent, channel=Channel.WEB, field="user")

    def test_already_watching(self, world):
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.l1_agent,
                            channel=Channel.WEB)
        refused(Audit(world.ticket), "no_change", actions.add_watcher, world.ticket,
                user=world.colleague, actor=world.colleague, channel=Channel.PORTAL)

    def test_remove_refused(self, world):
        actions.add_watcher(world.ticket, user=world.colleague, actor=world.l1_agent,
                            channel=Channel.WEB)
        audit = Audit(world.ticket)
        refused(audit, "staff_only", actions.remove_watcher, world.ticket, user=world.colleague,
                actor=world.requester, channel=Channel.PORTAL)
        refused(audit, "no_change", actions.remove_watcher, world.ticket, user=world.requester,
                actor=world.requester, channel=Channel.PORTAL)


# --- the timeline is append-only ----------------------------------------------------------------


class TestAppendOnly:
    def test_events_cannot_be_edited_or_deleted(self, world):
        event = world.ticket.events.get()
        before = list(TicketEvent.objects.values())
        event.body = "rewritten history"
        with pytest.raises(PermissionError):
            event.save()
        with pytest.raises(PermissionError):
            event.delete()
        with pytest.raises(PermissionError):
            TicketEvent.objects.filter(pk=event.pk).update(body="rewritten")
        with pytest.raises(PermissionError):
            TicketEvent.objects.filter(pk=event.pk).delete()
        with pytest.raises(PermissionError):
            TicketEvent.objects.all().delete()
        with pytest.raises(PermissionError):
            world.ticket.events.update(is_public=False)
        with pytest.raises(PermissionError):
            world.ticket.events.all().delete()
        assert list(TicketEvent.objects.values()) == before

    def test_new_events_can_still_be_added(self, world):
        event = TicketEvent(ticket=world.ticket, kind=K.NOTE, channel=Channel.SYSTEM,
                            is_public=False, body="import")
        event.save()
        assert world.ticket.events.count() == 2


# --- follow-ups of the lead's review -------------------------------------------------------------


def test_the_agent_who_escalates_keeps_following_the_ticket(world):
    actions.escalate(world.ticket, to_team=world.l2, summary="Checked the cable, error 809.",
                     actor=world.l1_agent, channel=Channel.WEB)
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert list(ticket.watchers.all()) == [world.l1_agent]
    assert Ticket.objects.visible_to(world.l1_agent).filter(pk=ticket.pk).exists()
    # A member of the target team does not become a watcher of their own queue's ticket...
    world.l3.memberships.create(user=world.l2_agent)
    actions.escalate(ticket, to_team=world.l3, summary="Switch firmware, needs L3.",
                     actor=world.l2_agent, channel=Channel.WEB)
    assert set(Ticket.objects.get(pk=ticket.pk).watchers.all()) == {world.l1_agent}
    # ...but one who hands over to a team they are not in does.
    actions.escalate(ticket, to_team=world.l4, summary="Vendor firmware bug, case opened.",
                     actor=world.l2_agent, channel=Channel.WEB)
    assert set(Ticket.objects.get(pk=ticket.pk).watchers.all()) == {world.l1_agent, world.l2_agent}


def test_an_automatic_reply_is_not_the_first_response(world):
    actions.reply(world.ticket, body="We got your request.", actor=None, channel=Channel.SYSTEM)
    assert Ticket.objects.get(pk=world.ticket.pk).first_response_at is None


def test_taking_another_teams_ticket_into_work_does_not_make_you_its_assignee(world):
    actions.change_status(world.ticket, status=Status.IN_PROGRESS, actor=world.manager,
                          channel=Channel.WEB)
    assert Ticket.objects.get(pk=world.ticket.pk).assignee_id is None
