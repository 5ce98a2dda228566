"""Preferences: language, time zone and email notifications — saved and applied."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from opora.portal.preferences import COMMON_TIME_ZONES, update_preferences
from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.choices import Channel
from opora.tickets.errors import ActionError

pytestmark = pytest.mark.django_db

PREFS = reverse("portal:preferences")


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(PREFS).status_code == 302
    assert client.post(PREFS, {"language": "en"}).status_code == 302


@pytest.mark.parametrize("who", ["requester", "org_manager", "l1_agent", "admin"])
def test_everyone_may_open_it(world, login, who):
    response = login(getattr(world, who)).get(PREFS)
    assert response.status_code == 200
    for zone in ("Europe/Moscow", "Asia/Vladivostok", "UTC"):
        assert f'value="{zone}"' in response.content.decode()


def test_initial_values_are_the_persons(world, login):
    w = world
    w.requester.language, w.requester.time_zone, w.requester.email_notifications = (
        "en", "Asia/Omsk", False)
    w.requester.save()
    form = login(w.requester).get(PREFS).context["form"]
    assert (form["language"].value(), form["time_zone"].value(),
            form["email_notifications"].value()) == ("en", "Asia/Omsk", False)


def test_saved(world, login):
    client = login(world.requester)
    response = client.post(PREFS, {"language": "en", "time_zone": "Asia/Vladivostok"})
    assert response.status_code == 302
    world.requester.refresh_from_db()
    assert (world.requester.language, world.requester.time_zone,
            world.requester.email_notifications) == ("en", "Asia/Vladivostok", False)
    assert response.cookies["django_language"].value == "en"
    assert "Your preferences are saved." in client.get(PREFS).content.decode()
    client.post(PREFS, {"language": "en", "time_zone": "UTC", "email_notifications": "on"})
    world.requester.refresh_from_db()
    assert world.requester.email_notifications is True


@pytest.mark.parametrize(("data", "field"), [
    ({"language": "de", "time_zone": "UTC"}, "language"),
    ({"language": "en", "time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"language": "en", "time_zone": "../../etc/passwd"}, "time_zone"),
    ({"language": "en"}, "time_zone"),
])
def test_bad_input(world, login, data, field):
    response = login(world.requester).post(PREFS, {**data, "email_notifications": "on"})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    world.requester.refresh_from_db()
    assert world.requester.language == ""


def test_a_zone_set_by_an_administrator_stays_selectable(world, login):
    world.requester.time_zone = "America/Chicago"
    world.requester.save()
    assert "America/Chicago" not in COMMON_TIME_ZONES
    client = login(world.requester)
    assert 'value="America/Chicago" selected' in client.get(PREFS).content.decode()
    response = client.post(PREFS, {"language": "ru", "time_zone": "America/Chicago"})
    assert response.status_code == 302


def test_switching_to_english_applies_from_the_next_page(world, login, settings):
    settings.LANGUAGE_CODE = "ru"
    w = world
    actions.reply(w.ticket, body="Hello from the desk", actor=w.l1_agent, channel=Channel.WEB)
    client = login(w.requester)
    page = reverse("portal:request", args=[w.ticket.number])
    before = client.get(page).content.decode()
    assert '<html lang="ru">' in before
    assert "Служба поддержки" in before
    client.post(PREFS, {"language": "en", "time_zone": "Europe/Moscow"})
    after = client.get(page).content.decode()
    assert '<html lang="en">' in after
    assert "Service desk" in after
    assert "Служба поддержки" not in after


def test_the_time_zone_is_applied(world, login):
    with time_machine.travel(datetime.datetime(2025, 5, 20, 12, 0, tzinfo=datetime.UTC),
                             tick=False):
        ticket = f.TicketFactory.create(requester=world.requester, title="Timed")
    client = login(world.requester)
    page = reverse("portal:request", args=[ticket.number])
    client.post(PREFS, {"language": "en", "time_zone": "Asia/Vladivostok"})
    assert 'datetime="2025-05-20T22:00:00+10:00"' in client.get(page).content.decode()
    client.post(PREFS, {"language": "en", "time_zone": "Europe/Kaliningrad"})
    assert 'datetime="2025-05-20T14:00:00+02:00"' in client.get(page).content.decode()


def test_update_preferences_refuses_unknown_values(world):
    with pytest.raises(ActionError) as bad_language:
        update_preferences(world.requester, language="xx", time_zone="UTC",
                           email_notifications=True)
    assert bad_language.value.field == "language"
    with pytest.raises(ActionError) as bad_zone:
        update_preferences(world.requester, language="en", time_zone="",
                           email_notifications=True)
    assert bad_zone.value.field == "time_zone"
    world.requester.refresh_from_db()
    assert (world.requester.language, world.requester.time_zone) == ("", "")
