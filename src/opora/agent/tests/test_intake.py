"""Phone intake: finding the caller (by any spelling of their number), the screen pop, a new
requester, and the ticket registered through ``open_ticket`` with the call's channel."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from opora.accounts.actions import register_requester
from opora.accounts.models import User
from opora.agent.intake import people_matching, phone_tail
from opora.testing import factories as f
from opora.tickets.choices import Channel, EventKind, Priority, Status
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def caller(world):
    world.requester.phone = "+7 495 100-00-01"
    world.requester.save()
    return world.requester


def ticket_data(requester: User, **changes: Any) -> dict[str, Any]:
    data = {"requester": requester.pk, "title": "Cannot print invoices",
            "description": "The printer on floor 2 shows *error 49*.", "type": "incident",
            "category": "", "service": "", "impact": 2, "urgency": 2, "team": "",
            "channel": "phone"}
    data.update(changes)
    return data


# --- access --------------------------------------------------------------------------------------


def test_the_intake_page_is_for_the_desk(world, client):
    client.force_login(world.l1_agent)
    r = client.get("/agent/new/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="people-q"' in html and 'id="intake-form"' in html
    # The default intake team is chosen, the channel is the phone.
    assert f'<option value="{world.l1.pk}" selected>' in html
    assert '<option value="phone" selected>' in html
    assert "<script>" not in html


@pytest.mark.parametrize("who", ["requester", "org_manager"])
def test_requesters_are_sent_to_the_portal(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get("/agent/new/")["Location"] == "/portal/"
    assert client.get("/agent/people/?q=Пётр", **HX).status_code == 403
    assert client.post("/agent/new/", ticket_data(world.requester)).status_code == 403
    assert client.post("/agent/new/requester/", {"full_name": "X", "email": "x@x.example"}
                       ).status_code == 403
    assert not User.objects.filter(email="x@x.example").exists()


def test_anonymous_people_sign_in_first(client):
    assert client.get("/agent/new/")["Location"].startswith("/login/")


# --- finding the caller --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["+7 (495) 100-00-01", "84951000001", "1000001",
                                   "+74951000001", "495 100 00 01", "7 495 100-00-01"])
def test_any_spelling_of_the_number_finds_the_caller(world, caller, client, typed):
    f.RequesterFactory.create(organisation=world.org, phone="+7 495 200-00-01")  # a different line
    client.force_login(world.l1_agent)
    r = client.get("/agent/people/", {"q": typed}, **HX)
    assert r.status_code == 200
    html = r.content.decode()
    assert caller.full_name in html and "<html" not in html
    assert html.count("data-person") == 1


def test_phone_tail():
    assert phone_tail("+7 (495) 100-00-01") == phone_tail("84951000001") == "4951000001"
    assert phone_tail("100-00-01") == "1000001"


def test_short_or_unknown_numbers_find_nobody(world, caller, client):
    assert not people_matching(world.l1_agent, "1234").exists()
    assert not people_matching(world.l1_agent, "+7 495 999-99-99").exists()
    assert not people_matching(world.l1_agent, "").exists()
    client.force_login(world.l1_agent)
    # Too little to search by yet: no "nobody found" while the operator is still typing.
    for typed in ("1234", "П", ""):
        html = client.get("/agent/people/", {"q": typed}, **HX).content.decode()
        assert "data-person" not in html and "Nobody found" not in html


def test_search_by_name_and_email(world, caller, client):
    client.force_login(world.l1_agent)
    html = client.get("/agent/people/", {"q": "Пользователев"}, **HX).content.decode()
    assert caller.full_name in html and world.org.name in html
    html = client.get("/agent/people/", {"q": caller.email.upper()}, **HX).content.decode()
    assert caller.full_name in html


def test_staff_find_requesters_of_any_organisation_but_never_disabled_accounts(world, client):
    w = world
    gone = f.RequesterFactory.create(organisation=w.org, full_name="Уволенный Сотрудник",
                              phone="+7 495 300-00-01", is_active=False)
    w.outsider.phone = "+44 20 7946 0001"
    w.outsider.save()
    client.force_login(w.l1_agent)
    assert w.outsider.full_name in client.get(
        "/agent/people/", {"q": "020 7946 0001"}, **HX).content.decode()
    for q in ("Уволенный", "3000001", gone.email):
        html = client.get("/agent/people/", {"q": q}, **HX).content.decode()
        assert gone.full_name not in html
    assert gone not in people_matching(w.manager, "Уволенный")


def test_nobody_found_offers_to_register_the_caller(world, client):
    client.force_login(world.l1_agent)
    html = client.get("/agent/people/", {"q": "+7 999 000-11-22"}, **HX).content.decode()
    assert "Nobody found" in html and "/agent/new/requester/?q=" in html
    r = client.get("/agent/new/requester/", {"q": "+7 999 000-11-22"}, **HX)
    html = r.content.decode()
    assert '<details id="new-requester" class="mt-3" open>' in html
    assert 'value="+7 999 000-11-22"' in html


def test_choosing_the_caller_shows_their_organisation_and_open_tickets(world, caller, client):
    hidden = f.TicketFactory.create(requester=caller, team=f.TeamFactory.create(), title="Not for L1 eyes")
    client.force_login(world.l1_agent)
    r = client.get("/agent/new/caller/", {"person": caller.pk}, **HX)
    html = r.content.decode()
    assert f'name="requester" value="{caller.pk}" form="intake-form"' in html
    assert world.org.name in html and world.ticket.number in html
    assert hidden.number not in html
    assert 'id="people-results" hx-swap-oob="innerHTML"' in html


# --- the screen pop ------------------------------------------------------------------------------


def test_screen_pop_by_phone_chooses_the_caller(world, caller, client):
    client.force_login(world.l1_agent)
    r = client.get("/agent/new", {"phone": "+7 (495) 100-00-01"}, follow=True)
    assert r.status_code == 200
    html = r.content.decode()
    assert f'name="requester" value="{caller.pk}"' in html
    assert world.ticket.number in html  # their open ticket, in case the call is about it
    assert "Nobody found" not in html
    assert '<option value="phone" selected>' in html


def test_screen_pop_with_a_plus_sign_unescaped(world, caller, client):
    # Telephony systems often put "+7..." in the URL as is: "+" then arrives as a space.
    client.force_login(world.l1_agent)
    html = client.get("/agent/new/?phone=+74951000001").content.decode()
    assert f'name="requester" value="{caller.pk}"' in html
    html = client.get("/agent/new/?phone=+7 999 000-11-22").content.decode()
    assert 'value="+7 999 000-11-22"' in html  # the new-requester form keeps the "+"


def test_screen_pop_by_email(world, caller, client):
    client.force_login(world.l1_agent)
    html = client.get("/agent/new/", {"email": caller.email.upper()}).content.decode()
    assert f'name="requester" value="{caller.pk}"' in html
    assert '<option value="email" selected>' in html


def test_screen_pop_of_an_unknown_number_opens_the_new_requester_form(world, client):
    client.force_login(world.l1_agent)
    html = client.get("/agent/new/", {"phone": "+7 999 000-11-22"}).content.decode()
    assert 'name="requester"' not in html
    assert '<details id="new-requester" class="mt-3" open>' in html
    assert 'id="new-phone" name="phone" type="tel" maxlength="50" class="form-control" ' \
           'value="+7 999 000-11-22"' in html


def test_screen_pop_with_several_matches_lists_them(world, caller, client):
    f.RequesterFactory.create(organisation=world.other_org, phone="8 (495) 100-00-01",
                       full_name="Двойник Номера")
    client.force_login(world.l1_agent)
    html = client.get("/agent/new/", {"phone": "4951000001"}).content.decode()
    assert 'name="requester"' not in html
    assert html.count("data-person") == 2 and "Двойник Номера" in html


# --- registering the ticket ----------------------------------------------------------------------


def test_registering_a_ticket_for_the_caller(world, caller, client):
    client.force_login(world.l1_agent)
    upload = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32)
    r = client.post("/agent/new/", {**ticket_data(caller, impact=1, urgency=1,
                                                  team=world.l2.pk), "attachments": [upload]})
    assert r.status_code == 302
    ticket = Ticket.objects.exclude(pk=world.ticket.pk).get()
    assert r["Location"] == f"/agent/tickets/{ticket.number}/"
    assert ticket.requester == caller and ticket.organisation == world.org
    assert ticket.channel == Channel.PHONE and ticket.created_by == world.l1_agent
    assert ticket.priority == Priority.CRITICAL and ticket.team == world.l2
    assert ticket.status == Status.NEW
    created = ticket.events.get(kind=EventKind.CREATED)
    assert created.actor == world.l1_agent and created.channel == Channel.PHONE
    assert [a.filename for a in ticket.attachments.all()] == ["photo.png"]


def test_the_team_defaults_to_the_intake_team(world, caller, client):
    client.force_login(world.l1_agent)
    assert client.post("/agent/new/", ticket_data(caller, channel="messenger")).status_code == 302
    ticket = Ticket.objects.exclude(pk=world.ticket.pk).get()
    assert ticket.team == world.l1 and ticket.channel == Channel.MESSENGER


def test_a_refused_ticket_keeps_everything_typed(world, caller, client):
    client.force_login(world.l1_agent)
    r = client.post("/agent/new/", ticket_data(caller, title="", urgency=1))
    assert r.status_code == 400
    html = r.content.decode()
    assert "This field is required." in html
    assert "\nThe printer on floor 2 shows *error 49*.</textarea>" in html
    assert f'name="requester" value="{caller.pk}"' in html
    assert 'id="intake-urgency"' in html and '<option value="1" selected>High</option>' in html
    assert Ticket.objects.count() == 1


def test_a_ticket_needs_a_caller(world, client):
    client.force_login(world.l1_agent)
    data = ticket_data(world.requester)
    data.pop("requester")
    r = client.post("/agent/new/", data)
    assert r.status_code == 400 and "Find the caller first" in r.content.decode()


def test_disabled_people_and_channels_not_for_intake_are_refused(world, caller, client):
    gone = f.RequesterFactory.create(organisation=world.org, is_active=False)
    client.force_login(world.l1_agent)
    assert client.post("/agent/new/", ticket_data(gone)).status_code == 400
    assert client.post("/agent/new/", ticket_data(caller, channel="web")).status_code == 400
    assert client.post("/agent/new/", ticket_data(caller, channel="system")).status_code == 400
    assert Ticket.objects.count() == 1


def test_priority_preview(world, client):
    client.force_login(world.l1_agent)
    r = client.get("/agent/new/priority/", {"impact": 1, "urgency": 1}, **HX)
    assert r.status_code == 200 and "Critical" in r.content.decode()
    r = client.get("/agent/new/priority/", {"impact": 3, "urgency": 3}, **HX)
    assert "Informational" in r.content.decode()
    r = client.get("/agent/new/priority/", {"impact": "x", "urgency": 9}, **HX)
    assert "Medium" in r.content.decode()


# --- a caller the desk does not know -------------------------------------------------------------


def test_register_requester(world):
    person = register_requester(full_name="  Новый   Звонящий ", email=" New.Caller@Sever.Example ",
                                phone="+7 495 555-00-01", organisation=world.org,
                                actor=world.l1_agent)
    assert person.full_name == "Новый Звонящий" and person.email == "new.caller@sever.example"
    assert person.role == "requester" and not person.has_usable_password()
    assert person.organisation == world.org
    with pytest.raises(ActionError) as exc:
        register_requester(full_name="Again", email="NEW.caller@sever.example",
                           actor=world.l1_agent)
    assert exc.value.code == "duplicate_email" and exc.value.field == "email"
    with pytest.raises(ActionError) as exc:
        register_requester(full_name="X", email="not-an-email", actor=world.l1_agent)
    assert exc.value.field == "email"
    with pytest.raises(ActionError) as exc:
        register_requester(full_name=" ", email="a@b.example", actor=world.l1_agent)
    assert exc.value.field == "full_name"
    with pytest.raises(ActionError) as exc:
        register_requester(full_name="X", email="x@b.example", actor=world.requester)
    assert exc.value.code == "staff_only"
    world.other_org.is_active = False
    world.other_org.save()
    with pytest.raises(ActionError) as exc:
        register_requester(full_name="X", email="y@b.example", organisation=world.other_org,
                           actor=world.l1_agent)
    assert exc.value.field == "organisation"


def test_registering_the_caller_with_htmx_swaps_the_caller_card(world, client):
    client.force_login(world.l1_agent)
    data = {"full_name": "Новый Звонящий", "email": "new@sever.example",
            "phone": "+7 495 555-00-01", "organisation": world.org.pk}
    r = client.post("/agent/new/requester/", data, **HX)
    assert r.status_code == 200
    person = User.objects.get(email="new@sever.example")
    html = r.content.decode()
    assert '<div id="caller" hx-swap-oob="innerHTML">' in html
    assert f'name="requester" value="{person.pk}"' in html
    assert "The caller is registered." in html
    # The same email in another case is refused, next to the field, with the rest kept.
    r = client.post("/agent/new/requester/", {**data, "email": "NEW@sever.example"}, **HX)
    html = r.content.decode()
    assert "already registered" in html and 'value="Новый Звонящий"' in html
    assert User.objects.filter(email__iexact="new@sever.example").count() == 1


def test_registering_the_caller_without_htmx(world, client):
    client.force_login(world.l1_agent)
    r = client.post("/agent/new/requester/", {"full_name": "Caller", "email": "c@x.example"})
    person = User.objects.get(email="c@x.example")
    assert r.status_code == 302 and r["Location"] == f"/agent/new/?person={person.pk}"
    html = client.get(r["Location"]).content.decode()
    assert f'name="requester" value="{person.pk}"' in html
    r = client.post("/agent/new/requester/", {"full_name": "", "email": "bad"})
    assert r.status_code == 400
    assert '<details id="new-requester" class="mt-3" open>' in r.content.decode()
