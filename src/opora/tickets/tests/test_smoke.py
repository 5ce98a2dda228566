import pytest

from opora.tickets import actions
from opora.tickets.choices import Channel, Status
from opora.tickets.models import Ticket


@pytest.mark.django_db
def test_ticket_life_through_the_api(world, api):
    api.as_user(world.requester)
    r = api.post("/api/v1/tickets/", {"title": "VPN не работает", "description": "Ошибка 809"},
                 format="json")
    assert r.status_code == 201, r.json()
    number = r.json()["number"]
    assert number.startswith("INC-")
    api.as_user(world.l1_agent)
    r = api.post(f"/api/v1/tickets/{number}/assign/", {"assignee": world.l1_agent.pk},
                 format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == Status.ASSIGNED
    r = api.post(f"/api/v1/tickets/{number}/escalate/",
                 {"to_team": world.l2.pk, "summary": "Перезагрузка не помогла, ошибка 809"},
                 format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["current_line"] == 2
    ticket = Ticket.objects.get(number=number)
    actions.add_note(ticket, body="internal", actor=world.l2_agent, channel=Channel.WEB)
    api.as_user(world.requester)
    r = api.get(f"/api/v1/tickets/{number}/")
    kinds = [e["kind"] for e in r.json()["timeline"]]
    assert "note" not in kinds and "escalated" not in kinds
