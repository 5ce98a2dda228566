"""One request: who may see it, the public timeline only, and the requester's moves through the
actions (reply, confirm, reopen, withdraw) with the version they saw."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opora.testing import factories as f
from opora.tickets import actions
from opora.tickets.attachments import check_upload
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.models import Attachment, TicketEvent
from opora.tickets.permissions import can

pytestmark = pytest.mark.django_db

WEB = Channel.WEB
PORTAL = Channel.PORTAL


def url(ticket, op=None):
    name = f"portal:{op}" if op else "portal:request"
    return reverse(name, args=[ticket.number])


def _version(response, prefix):
    match = re.search(rf'name="{prefix}-version" value="(\d+)"', response.content.decode())
    assert match, f"no {prefix} version on the page"
    return int(match.group(1))


def _main(response):
    """The page without its header (where a signed-in agent sees their own name)."""
    text = response.content.decode()
    return text[text.index("<main"):text.index("</main>")]


def _resolve(world, ticket=None):
    t = ticket or world.ticket
    actions.resolve(t, code=ResolutionCode.FIXED, resolution="Replaced the fuser unit.",
                    actor=world.l1_agent, channel=WEB)
    t.refresh_from_db()
    return t


# --- who sees it ---------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, world):
    for target in (url(world.ticket), url(world.ticket, "reply"), url(world.ticket, "cancel")):
        response = client.post(target) if target != url(world.ticket) else client.get(target)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login"))


def test_requester_by_number_and_by_id(world, login):
    client = login(world.requester)
    assert client.get(url(world.ticket)).status_code == 200
    assert client.get(reverse("portal:request", args=[world.ticket.pk])).status_code == 200
    assert client.get(url(world.ticket).replace("INC-", "inc-")).status_code == 200


@pytest.mark.parametrize(("who", "code"), [
    ("requester", 200), ("org_manager", 200), ("colleague", 404), ("outsider", 404),
    ("other_manager", 404),
])
def test_scope(world, login, who, code):
    assert login(getattr(world, who)).get(url(world.ticket)).status_code == code


def test_another_organisation_is_the_same_as_nothing(world, login):
    client = login(world.outsider)
    foreign = client.get(url(world.ticket))
    missing = client.get(reverse("portal:request", args=["INC-999999"]))
    assert foreign.status_code == missing.status_code == 404
    # Nor can they act on it.
    post = client.post(url(world.ticket, "cancel"),
                       {"cancel-version": world.ticket.version, "cancel-reason": "mine now"})
    assert post.status_code == 404
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.NEW


def test_a_colleague_who_watches_sees_it(world, login):
    actions.add_watcher(world.ticket, user=world.colleague, actor=world.colleague, channel=PORTAL)
    client = login(world.colleague)
    response = client.get(url(world.ticket))
    assert response.status_code == 200
    text = response.content.decode()
    assert world.requester.full_name in text  # "Requested by"
    assert 'name="reply-body"' in text
    # The withdraw button is there exactly when the funnel lets the colleague withdraw.
    may = can(world.colleague, world.ticket, "confirm")
    assert ("Withdraw this request" in text) is may
    post = client.post(url(world.ticket, "cancel"), {"cancel-version": world.ticket.version,
                                                     "cancel-reason": "Not needed"})
    assert post.status_code == (302 if may else 403)


# --- what the page shows -------------------------------------------------------------------------


@pytest.fixture
def busy(world):
    """A ticket worked on by the desk: internal notes, files, assignment, escalation, a reply."""
    w = world
    t = w.ticket
    actions.change_status(t, status=Status.IN_PROGRESS, actor=w.l1_agent, channel=WEB)
    secret = check_upload(SimpleUploadedFile("internal-dump.txt", b"password=hunter2"),
                          "internal-dump.txt")
    actions.add_note(t, body="Internal: the user's PC has a pirated Office.", actor=w.l1_agent,
                     channel=WEB, attachments=[secret])
    actions.escalate(t, to_team=w.l2, summary="Escalation summary: VLAN 42 misconfigured.",
                     actor=w.l1_agent, channel=WEB)
    actions.assign(t, assignee=w.l2_agent, actor=w.l2_agent, channel=WEB)
    actions.change_status(t, status=Status.IN_PROGRESS, actor=w.l2_agent, channel=WEB)
    public = check_upload(SimpleUploadedFile("instructions.txt", b"Restart the router."),
                          "instructions.txt")
    actions.reply(t, body="Please restart the printer and tell us.", actor=w.l2_agent,
                  channel=WEB, attachments=[public])
    actions.update_fields(t, changes={"title": "Printer VLAN issue (internal title)"},
                          actor=w.l2_agent, channel=WEB)
    t.refresh_from_db()
    return t


SECRETS = ["pirated Office", "internal-dump.txt", "VLAN 42", "Escalation summary",
           "Сергей Сетевой", "Ольга Первова", "Network", "Line 2"]


@pytest.mark.parametrize("who", ["requester", "org_manager", "l2_agent", "admin"])
def test_the_page_never_shows_internal_content(world, busy, login, who):
    response = login(getattr(world, who)).get(url(busy))
    assert response.status_code == 200
    text = _main(response)
    for secret in SECRETS:
        assert secret not in text, secret
    kinds = {e.kind for e in response.context["events"]}
    assert kinds <= {EventKind.CREATED, EventKind.REPLY, EventKind.STATUS_CHANGED}
    assert "Please restart the printer and tell us." in text
    assert "instructions.txt" in text
    assert "Service desk" in text
    # The internal attachment is not even linked by its id.
    internal = Attachment.objects.get(filename="internal-dump.txt")
    assert reverse("api:attachment-download", args=[internal.pk]) not in text


@pytest.mark.parametrize(("setting", "shown"), [("none", False), ("all", True), ("ALL", True),
                                                ("some", False)])
def test_staff_names_setting(world, busy, login, settings, setting, shown):
    settings.OPORA_PORTAL_STAFF_NAMES = setting
    text = _main(login(world.requester).get(url(busy)))
    assert ("Сергей Сетевой" in text) is shown
    if not shown:
        assert "Service desk" in text
    # Names or not, nothing internal.
    assert "pirated Office" not in text
    assert "VLAN 42" not in text


def test_the_requester_reads_you_and_a_colleague_reads_the_name(world, login):
    actions.add_watcher(world.ticket, user=world.colleague, actor=world.colleague, channel=PORTAL)
    actions.reply(world.ticket, body="Any news?", actor=world.colleague, channel=PORTAL)
    own = login(world.requester).get(url(world.ticket))
    whos = [e.who for e in own.context["events"]]
    assert whos == ["You", world.colleague.full_name]


def test_the_public_attachment_downloads_and_the_internal_does_not(world, busy, login):
    client = login(world.requester)
    public = Attachment.objects.get(filename="instructions.txt")
    internal = Attachment.objects.get(filename="internal-dump.txt")
    assert client.get(reverse("api:attachment-download", args=[public.pk])).status_code == 200
    assert client.get(reverse("api:attachment-download", args=[internal.pk])).status_code == 404


def test_buttons_follow_the_workflow(world, login):
    client = login(world.requester)
    open_page = client.get(url(world.ticket)).content.decode()
    assert "Withdraw my request" in open_page
    assert "confirm the solution" not in open_page
    assert "not solved" not in open_page
    _resolve(world)
    resolved = client.get(url(world.ticket)).content.decode()
    assert "Yes, confirm the solution" in resolved
    assert "No, it is not solved" in resolved
    assert "Withdraw my request" not in resolved
    assert "Replaced the fuser unit." in resolved
    actions.close(world.ticket, actor=world.l1_agent, channel=WEB)
    closed = client.get(url(world.ticket)).content.decode()
    for label in ("confirm the solution", "not solved", "Withdraw", 'name="reply-body"'):
        assert label not in closed
    assert "new messages cannot be added" in closed


# --- the moves -----------------------------------------------------------------------------------


def test_reply_goes_through_the_action(world, login):
    client = login(world.requester)
    version = _version(client.get(url(world.ticket)), "reply")
    png = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    response = client.post(url(world.ticket, "reply"), {
        "reply-version": version, "reply-body": "It jams on **duplex** only.",
        "reply-attachments": [png]})
    assert response.status_code == 302
    assert response["Location"] == url(world.ticket)
    event = world.ticket.events.filter(kind=EventKind.REPLY).get()
    assert (event.actor, event.channel, event.is_public) == (world.requester, PORTAL, True)
    assert event.attachments.get().filename == "photo.png"
    page = client.get(url(world.ticket)).content.decode()
    assert "Your message has been sent." in page
    assert "<strong>duplex</strong>" in page


def test_a_reply_while_the_desk_waits_puts_it_back_to_work(world, login):
    actions.change_status(world.ticket, status=Status.WAITING_REQUESTER, actor=world.l1_agent,
                          channel=WEB)
    world.ticket.refresh_from_db()
    client = login(world.requester)
    page = client.get(url(world.ticket)).content.decode()
    assert "Answer the service desk" in page
    client.post(url(world.ticket, "reply"), {"reply-version": world.ticket.version,
                                              "reply-body": "Done, restarted."})
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.IN_PROGRESS


def test_an_empty_reply_is_refused(world, login):
    response = login(world.requester).post(url(world.ticket, "reply"),
                                           {"reply-version": world.ticket.version, "reply-body": " "})
    assert response.status_code == 400
    assert "Write a message or attach a file." in response.content.decode()
    assert not world.ticket.events.filter(kind=EventKind.REPLY).exists()


def test_a_refused_reply_file_keeps_the_text(world, login):
    exe = SimpleUploadedFile("setup.exe", b"MZ\x90\x00")
    response = login(world.requester).post(url(world.ticket, "reply"), {
        "reply-version": world.ticket.version, "reply-body": "See the installer.",
        "reply-attachments": [exe]})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Files of type “.exe” are not accepted." in text
    assert "See the installer." in text
    assert not world.ticket.events.filter(kind=EventKind.REPLY).exists()


def test_a_stale_reply_is_refused_and_keeps_the_text(world, login):
    client = login(world.requester)
    seen = _version(client.get(url(world.ticket)), "reply")
    # Meanwhile the desk answers.
    actions.reply(world.ticket, body="We are on our way.", actor=world.l1_agent, channel=WEB)
    response = client.post(url(world.ticket, "reply"), {"reply-version": seen,
                                                        "reply-body": "My typed answer"})
    assert response.status_code == 409
    text = response.content.decode()
    assert "Someone else changed this request while you were writing" in text
    assert "My typed answer" in text
    assert "We are on our way." in text  # the current state is shown
    world.ticket.refresh_from_db()
    # The form now carries the current version: sending again is a deliberate choice.
    assert _version(response, "reply") == world.ticket.version != seen
    assert world.ticket.events.filter(kind=EventKind.REPLY).count() == 1
    again = client.post(url(world.ticket, "reply"), {"reply-version": world.ticket.version,
                                                     "reply-body": "My typed answer"})
    assert again.status_code == 302


def test_a_missing_version_is_refused(world, login):
    response = login(world.requester).post(url(world.ticket, "reply"), {"reply-body": "hi"})
    assert response.status_code == 400
    assert "This page is out of date" in response.content.decode()


def test_confirm_closes_through_the_action(world, login):
    t = _resolve(world)
    response = login(world.requester).post(url(t, "confirm"), {"confirm-version": t.version})
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.status == Status.CLOSED
    event = t.events.get(kind=EventKind.CLOSED)
    assert (event.actor, event.channel) == (world.requester, PORTAL)
    assert event.data["confirmed_by_requester"] is True


def test_confirm_of_an_open_ticket_is_refused(world, login):
    response = login(world.requester).post(url(world.ticket, "confirm"),
                                           {"confirm-version": world.ticket.version})
    assert response.status_code == 409
    assert "cannot be moved" in response.content.decode()
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.NEW


def test_reopen_needs_a_reason(world, login):
    t = _resolve(world)
    client = login(world.requester)
    response = client.post(url(t, "reopen"), {"reopen-version": t.version, "reopen-reason": ""})
    assert response.status_code == 400
    assert "<details class=\"mt-3\" id=\"reopen\" open>" in response.content.decode()
    t.refresh_from_db()
    assert t.status == Status.RESOLVED
    ok = client.post(url(t, "reopen"), {"reopen-version": t.version,
                                        "reopen-reason": "Still jams on duplex."})
    assert ok.status_code == 302
    t.refresh_from_db()
    assert t.status == Status.ASSIGNED  # back to the team's queue
    event = t.events.get(kind=EventKind.REOPENED)
    assert (event.actor, event.channel, event.body) == (world.requester, PORTAL,
                                                        "Still jams on duplex.")


def test_a_stale_reopen_after_the_desk_closed_it_keeps_the_reason(world, login):
    t = _resolve(world)
    client = login(world.requester)
    seen = _version(client.get(url(t)), "reopen")
    actions.close(t, actor=world.l1_agent, channel=WEB)
    response = client.post(url(t, "reopen"), {"reopen-version": seen,
                                              "reopen-reason": "Still broken, sorry."})
    assert response.status_code == 409
    text = response.content.decode()
    # The form is no longer offered (closed), so the error and the typed text are at the top.
    assert "Someone else changed this request" in text
    assert "Still broken, sorry." in text
    t.refresh_from_db()
    assert t.status == Status.CLOSED


def test_withdraw_through_the_action(world, login):
    client = login(world.requester)
    missing = client.post(url(world.ticket, "cancel"), {"cancel-version": world.ticket.version,
                                                        "cancel-reason": " "})
    assert missing.status_code == 400
    response = client.post(url(world.ticket, "cancel"), {"cancel-version": world.ticket.version,
                                                         "cancel-reason": "Works again."})
    assert response.status_code == 302
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.CANCELLED
    event = world.ticket.events.get(kind=EventKind.CANCELLED)
    assert (event.actor, event.channel, event.body) == (world.requester, PORTAL, "Works again.")
    page = client.get(url(world.ticket)).content.decode()
    assert "Your request has been withdrawn." in page
    assert "Request withdrawn" in page


def test_a_reply_to_a_closed_request_is_refused_by_the_action(world, login):
    t = _resolve(world)
    actions.close(t, actor=world.requester, channel=PORTAL)
    t.refresh_from_db()
    response = login(world.requester).post(url(t, "reply"), {"reply-version": t.version,
                                                             "reply-body": "One more thing"})
    assert response.status_code in (400, 409)  # refused by the action, whatever its code
    text = response.content.decode()
    assert "The ticket is closed" in text
    assert "One more thing" in text


def test_staff_work_on_others_requests_in_the_workspace(world, login):
    client = login(world.l1_agent)
    page = client.get(url(world.ticket)).content.decode()
    assert 'name="reply-body"' not in page
    assert "Withdraw" not in page
    assert "open it in the workspace" in page
    response = client.post(url(world.ticket, "cancel"), {"cancel-version": world.ticket.version,
                                                         "cancel-reason": "Not ours"})
    assert response.status_code == 403
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.NEW
    # Their own request is theirs to handle here.
    own = f.TicketFactory.create(requester=world.l1_agent)
    assert 'name="reply-body"' in client.get(url(own)).content.decode()
    ok = client.post(url(own, "cancel"), {"cancel-version": own.version,
                                          "cancel-reason": "Fixed it myself"})
    assert ok.status_code == 302


def test_get_on_a_move_goes_back_to_the_page(world, login):
    response = login(world.requester).get(url(world.ticket, "cancel"))
    assert response.status_code == 302
    assert response["Location"] == url(world.ticket)


def test_events_are_written_once_per_move(world, login):
    before = TicketEvent.objects.count()
    login(world.requester).post(url(world.ticket, "reply"), {
        "reply-version": world.ticket.version, "reply-body": "Hello"})
    assert TicketEvent.objects.count() == before + 1


#: session (1), user (1), the ticket through the access funnel with its joins (1),
#: the public timeline with actors (1), its attachments (1).
DETAIL_QUERIES = 5


@pytest.mark.parametrize("count", [3, 40])
def test_request_page_query_count_does_not_grow(world, login, django_assert_num_queries, count):
    w = world
    t = f.TicketFactory.create(requester=w.requester, category=f.CategoryFactory.create(),
                        service=f.ServiceFactory.create())
    people = [w.l1_agent, w.requester, w.l1_agent2]
    for i in range(count - 1):
        upload = check_upload(SimpleUploadedFile(f"f{i}.txt", b"data"), f"f{i}.txt")
        actions.reply(t, body=f"message {i}", actor=people[i % 3], channel=WEB,
                      attachments=[upload] if i % 2 else [])
    assert t.events.count() == count
    client = login(w.requester)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(url(t))
    assert response.status_code == 200
    assert len(response.context["events"]) == count
