"""A new request: category first, then the fields that category needs, through open_ticket."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opora.catalog.models import Category
from opora.testing import factories as f
from opora.tickets.actions import BODY_MAX
from opora.tickets.choices import Channel, EventKind, Level, Priority, TicketType
from opora.tickets.models import Attachment, Ticket

pytestmark = pytest.mark.django_db

NEW = reverse("portal:new")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _form(category="hardware", **extra):
    data = {
        "category": category,
        "title": "Printer in room 214 jams",
        "description": "Every second page jams since Monday.",
        "type": "incident",
        "urgency": "2",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(NEW).status_code == 302
    assert client.post(NEW, _form()).status_code == 302
    assert not Ticket.objects.exists()


def test_category_comes_first_with_the_active_tree(world, login):
    parent = Category.objects.get(code="hardware")
    child = f.CategoryFactory.create(parent=parent, name_en="Printers", name="Принтеры")
    retired = f.CategoryFactory.create(name_en="Retired topic", is_active=False)
    f.CategoryFactory.create(parent=retired, name_en="Orphaned child")
    response = login(world.requester).get(NEW)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Hardware failure" in text
    assert "Printers" in text
    assert f"?category={child.code}" in text
    assert "Retired topic" not in text
    assert "Orphaned child" not in text
    # The child sits right after its parent.
    codes = [c.code for c, _depth in response.context["tree"]]
    assert codes.index(child.code) == codes.index("hardware") + 1


def test_category_names_follow_the_language(world, login):
    world.requester.language = "ru"
    world.requester.save(update_fields=["language"])
    text = login(world.requester).get(NEW).content.decode()
    assert "Отказ оборудования" in text
    assert "Hardware failure" not in text


def test_unknown_category_shows_the_choice_again(world, login):
    response = login(world.requester).get(NEW, {"category": "no-such-thing"})
    assert response.status_code == 400
    assert "portal/new_category.html" in [t.name for t in response.templates]


def test_each_category_asks_its_own_questions(world, login):
    client = login(world.requester)
    recovery = client.get(NEW, {"category": "data-recovery"}).content.decode()
    for label in ("What was lost?", "Where was it stored?", "When did you last see it?"):
        assert label in recovery
    service = client.get(NEW, {"category": "service-request"}).content.decode()
    assert "For whom?" in service
    assert "Needed by" in service
    assert "What was lost?" not in service


@pytest.mark.parametrize(("code", "expected"), [
    ("service-request", TicketType.REQUEST),
    ("consulting", TicketType.QUESTION),
    ("hardware", TicketType.INCIDENT),
])
def test_type_default_follows_the_category(world, login, code, expected):
    response = login(world.requester).get(NEW, {"category": code})
    assert response.context["form"]["type"].value() == expected


def test_a_sub_category_asks_what_its_parent_asks(world, login):
    child = f.CategoryFactory.create(parent=Category.objects.get(code="service-request"))
    response = login(world.requester).get(NEW, {"category": child.code})
    assert response.context["form"]["type"].value() == TicketType.REQUEST
    assert "For whom?" in response.content.decode()


def test_a_valid_request_opens_a_ticket_through_the_action(world, login):
    w = world
    service = f.ServiceFactory.create()
    client = login(w.requester)
    response = client.post(NEW, _form(category="data-recovery", title="Lost the May report",
                                      q_what_lost="report-may.xlsx", q_where=r"\\fs\finance",
                                      q_when="", service=str(service.pk)))
    ticket = Ticket.objects.exclude(pk=w.ticket.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:request", args=[ticket.number])
    assert ticket.requester == w.requester
    assert ticket.created_by == w.requester
    assert ticket.channel == Channel.PORTAL
    assert ticket.category.code == "data-recovery"
    assert ticket.service == service
    assert ticket.organisation == w.org
    assert ticket.impact == Level.MEDIUM
    assert ticket.description == (
        "Every second page jams since Monday.\n\n"
        "**What was lost?** report-may.xlsx\n"
        "**Where was it stored?** \\\\fs\\finance"
    )
    created = ticket.events.get()
    assert (created.kind, created.actor, created.channel) == (EventKind.CREATED, w.requester,
                                                               Channel.PORTAL)
    page = client.get(response["Location"])
    assert f"Your request {ticket.number} is registered" in page.content.decode()


def test_service_request_asks_for_whom_and_by_when(world, login):
    with time_machine.travel(datetime.datetime(2025, 5, 5, 9, 0, tzinfo=datetime.UTC), tick=False):
        response = login(world.requester).post(NEW, _form(
            category="service-request", type="request", title="Laptop for a new colleague",
            q_for_whom="Ivan Novikov, sales", q_by_when="2025-05-12"))
    assert response.status_code == 302
    ticket = Ticket.objects.get(title="Laptop for a new colleague")
    assert ticket.type == TicketType.REQUEST
    assert (ticket.number or "").startswith("REQ-")
    assert "**For whom?** Ivan Novikov, sales\n**Needed by:** 2025-05-12" in ticket.description


def test_several_people_affected_raises_impact(world, login):
    login(world.requester).post(NEW, _form(urgency="1", many_affected="on", title="Nobody can print"))
    ticket = Ticket.objects.get(title="Nobody can print")
    assert (ticket.impact, ticket.urgency, ticket.priority) == (Level.HIGH, Level.HIGH,
                                                                 Priority.CRITICAL)


def test_low_urgency_for_one_person(world, login):
    login(world.requester).post(NEW, _form(urgency="3", title="Can wait"))
    ticket = Ticket.objects.get(title="Can wait")
    assert (ticket.impact, ticket.urgency, ticket.priority) == (Level.MEDIUM, Level.LOW,
                                                                 Priority.LOW)


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"),
    ({"title": "x" * 256}, "title"),
    ({"description": "  "}, "description"),
    ({"type": "problem"}, "type"),
    ({"urgency": "7"}, "urgency"),
    ({"service": "999999"}, "service"),
])
def test_bad_input_is_shown_with_everything_kept(world, login, changes, field):
    data = _form(q_device="HP LaserJet 4250", **changes)
    response = login(world.requester).post(NEW, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    text = response.content.decode()
    assert 'aria-invalid="true"' in text
    # What was typed elsewhere is still there.
    assert "HP LaserJet 4250" in text
    if field != "description":
        assert "Every second page jams since Monday." in text
    assert Ticket.objects.count() == 1


def test_a_required_category_question(world, login):
    response = login(world.requester).post(NEW, _form(category="data-recovery", q_what_lost=""))
    assert response.status_code == 400
    assert "q_what_lost" in response.context["form"].errors
    assert "Printer in room 214 jams" in response.content.decode()


def test_a_date_in_the_past_is_refused(world, login):
    with time_machine.travel(datetime.datetime(2025, 5, 5, 9, 0, tzinfo=datetime.UTC), tick=False):
        response = login(world.requester).post(NEW, _form(
            category="service-request", q_for_whom="me", q_by_when="2025-05-01"))
    assert response.status_code == 400
    assert response.context["form"].errors["q_by_when"] == ["This date is in the past."]


def test_an_inactive_service_is_not_offered(world, login):
    retired = f.ServiceFactory.create(is_active=False, name_en="Old fax")
    client = login(world.requester)
    assert "Old fax" not in client.get(NEW, {"category": "hardware"}).content.decode()
    response = client.post(NEW, _form(service=str(retired.pk)))
    assert response.status_code == 400
    assert "service" in response.context["form"].errors


def test_attachments_are_accepted(world, login):
    files = [SimpleUploadedFile("screen.png", PNG, content_type="image/png"),
             SimpleUploadedFile("log.txt", b"error 49.4C02\n", content_type="text/plain")]
    response = login(world.requester).post(NEW, {**_form(title="With files"), "attachments": files})
    assert response.status_code == 302
    ticket = Ticket.objects.get(title="With files")
    names = sorted(Attachment.objects.filter(ticket=ticket).values_list("filename", flat=True))
    assert names == ["log.txt", "screen.png"]
    assert all(a.is_public and a.event is not None and a.event.kind == EventKind.CREATED
               for a in Attachment.objects.filter(ticket=ticket))


def test_refused_attachments_are_named_one_by_one(world, login):
    files = [SimpleUploadedFile("tool.exe", b"MZ" + b"\x00" * 64),
             SimpleUploadedFile("empty.txt", b""),
             SimpleUploadedFile("fine.png", PNG)]
    response = login(world.requester).post(NEW, {**_form(title="Bad files"), "attachments": files})
    assert response.status_code == 400
    errors = response.context["form"].errors["attachments"]
    assert errors == ["Files of type “.exe” are not accepted.", "The file “empty.txt” is empty."]
    text = response.content.decode()
    assert "Bad files" in text  # the title is kept
    assert "Every second page jams since Monday." in text
    assert "please choose them again" in text
    assert not Ticket.objects.filter(title="Bad files").exists()
    assert not Attachment.objects.exists()


def test_disguised_content_is_refused(world, login):
    html = SimpleUploadedFile("invoice.pdf", b"<!DOCTYPE html><script>alert(1)</script>")
    response = login(world.requester).post(NEW, {**_form(), "attachments": [html]})
    assert response.status_code == 400
    assert response.context["form"].errors["attachments"] == [
        "The content of “invoice.pdf” is not an accepted file type."]


def test_too_large_a_file(world, login, settings):
    settings.OPORA_MAX_ATTACHMENT_BYTES = 10
    big = SimpleUploadedFile("big.txt", b"x" * 11)
    response = login(world.requester).post(NEW, {**_form(), "attachments": [big]})
    assert response.status_code == 400
    assert "big.txt" in response.context["form"].errors["attachments"][0]


def test_too_many_files(world, login):
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(11)]
    response = login(world.requester).post(NEW, {**_form(), "attachments": files})
    assert response.status_code == 400
    assert response.context["form"].errors["attachments"] == [
        "Attach at most 10 files to one message."]


def test_without_any_category_the_form_comes_straight_away(world, login):
    Category.objects.update(is_active=False)
    client = login(world.requester)
    assert "portal/new.html" in [t.name for t in client.get(NEW).templates]
    response = client.post(NEW, _form(category=None, title="No categories here"))
    assert response.status_code == 302
    assert Ticket.objects.get(title="No categories here").category is None


def test_an_action_error_is_shown_beside_the_form(world, login):
    # The text fits the form, but with the answers added it exceeds what a ticket holds: the
    # action refuses it, and the page shows why next to the field, with everything kept.
    long_text = "x" * BODY_MAX
    response = login(world.requester).post(NEW, _form(description=long_text,
                                                      q_device="HP LaserJet 4250"))
    assert response.status_code == 400
    assert response.context["form"].errors["description"] == [
        f"Ensure this field has no more than {BODY_MAX} characters."]
    assert "HP LaserJet 4250" in response.content.decode()
    assert Ticket.objects.count() == 1


def test_staff_may_open_a_request_for_themselves(world, login):
    response = login(world.l1_agent).post(NEW, _form(title="My monitor flickers"))
    assert response.status_code == 302
    ticket = Ticket.objects.get(title="My monitor flickers")
    assert ticket.requester == world.l1_agent
    assert ticket.channel == Channel.PORTAL
