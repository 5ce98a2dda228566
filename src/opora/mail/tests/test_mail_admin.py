"""The email administration pages (``/agent/manage/mail/``): who may open what, mailbox
configuration with its audit row, the quarantine (filters, sorting, paging, re-process one and
many), the raw message as a text download, and pinned query counts."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from opora.mail import ingest
from opora.mail.models import InboundMessage, InboundStatus, Mailbox
from opora.testing import factories as f
from opora.tickets.models import Ticket

from .test_ingest_helpers import make_mail, make_mailbox

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def w(world):
    world.mailbox = make_mailbox(name="Support", address="support@desk.example", team=world.l1)
    world.message = ingest.receive(make_mail(sender=world.requester.email), mailbox=world.mailbox)
    world.quarantined = ingest.receive(make_mail(sender=world.requester.email, subject="Сломано"),
                                       mailbox=world.mailbox, process_now=False)
    InboundMessage.objects.filter(pk=world.quarantined.pk).update(
        status=InboundStatus.QUARANTINED, error="RuntimeError: boom", attempts=1)
    return world


def mailbox_data(**changes: Any) -> dict[str, Any]:
    return {"name": "Sales", "address": "sales@desk.example", "is_active": "on",
            "imap_host": "imap.desk.example", "imap_security": "ssl", "imap_port": "",
            "imap_user": "sales", "password_env": "OPORA_MAILBOX_SALES_PASSWORD",
            "imap_folder": "INBOX", "team": "", "category": "", "organisation": "",
            "unknown_senders": "create", "reopen_on_reply": "on", "monitoring_senders": "",
            **changes}


def log_rows(obj: Any) -> list[LogEntry]:
    ct = ContentType.objects.get_for_model(obj)
    return list(LogEntry.objects.filter(content_type=ct, object_id=str(obj.pk)).order_by("pk"))


# --- permissions ---------------------------------------------------------------------------------

PAGES: dict[str, Any] = {
    "mail": lambda w: reverse("agent:manage_mail"),
    "mailbox_new": lambda w: reverse("agent:manage_mailbox_new"),
    "mailbox": lambda w: reverse("agent:manage_mailbox", args=[w.mailbox.pk]),
    "messages": lambda w: reverse("agent:manage_mail_messages"),
    "message": lambda w: reverse("agent:manage_mail_message", args=[w.quarantined.pk]),
    "raw": lambda w: reverse("agent:manage_mail_raw", args=[w.quarantined.pk]),
}
EXPECTED = {
    "manager": dict.fromkeys(PAGES, 200),
    "admin": dict.fromkeys(PAGES, 200),
    "lead": dict.fromkeys(PAGES, 403),
    "l1_agent": dict.fromkeys(PAGES, 403),
    "requester": dict.fromkeys(PAGES, 302),
}
POSTS: dict[str, Any] = {
    "mailbox_new": lambda w: reverse("agent:manage_mailbox_new"),
    "mailbox": lambda w: reverse("agent:manage_mailbox", args=[w.mailbox.pk]),
    "test": lambda w: reverse("agent:manage_mailbox_test", args=[w.mailbox.pk]),
    "poll": lambda w: reverse("agent:manage_mailbox_poll", args=[w.mailbox.pk]),
    "reprocess": lambda w: reverse("agent:manage_mail_reprocess", args=[w.quarantined.pk]),
    "bulk": lambda w: reverse("agent:manage_mail_reprocess_bulk"),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("page", sorted(PAGES))
def test_permission_matrix(client, w, who, page):
    client.force_login(getattr(w, who))
    response = client.get(PAGES[page](w))
    assert response.status_code == EXPECTED[who][page]
    if who == "requester":
        assert response["Location"] == reverse("portal:home")


@pytest.mark.parametrize("page", sorted(PAGES))
def test_anonymous_is_sent_to_sign_in(client, w, page):
    response = client.get(PAGES[page](w))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("post", sorted(POSTS))
def test_only_managers_write(client, w, post):
    for who in ("requester", "l1_agent", "lead"):
        client.force_login(getattr(w, who))
        assert client.post(POSTS[post](w), {"ids": [w.quarantined.pk]}).status_code == 403
    assert not LogEntry.objects.exists()
    w.quarantined.refresh_from_db()
    assert w.quarantined.status == InboundStatus.QUARANTINED


def test_the_administration_index_links_the_email_pages(client, w):
    client.force_login(w.manager)
    page = client.get(reverse("agent:manage")).content.decode()
    assert reverse("agent:manage_mail") in page
    assert reverse("agent:manage_mail_messages") in page
    client.force_login(w.lead)
    assert reverse("agent:manage_mail") not in client.get(reverse("agent:manage")).content.decode()


# --- mailboxes -----------------------------------------------------------------------------------


def test_the_overview_counts_messages_per_status(client, w):
    client.force_login(w.manager)
    page = client.get(reverse("agent:manage_mail")).content.decode()
    assert "support@desk.example" in page
    assert 'data-status="quarantined">Quarantined (could not be processed): <strong>1' in page
    assert 'data-status="processed">Processed: <strong>1' in page
    assert f"?status=quarantined&amp;mailbox={w.mailbox.pk}" in page


def test_create_a_mailbox_writes_the_audit_row(client, w):
    client.force_login(w.admin)
    response = client.post(reverse("agent:manage_mailbox_new"), mailbox_data(
        team=str(w.l2.pk), monitoring_senders=" Icinga@Mon.example \n\n"))
    mailbox = Mailbox.objects.get(address="sales@desk.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("agent:manage_mailbox", args=[mailbox.pk])
    assert (mailbox.imap_port, mailbox.team, mailbox.password_env) == (
        993, w.l2, "OPORA_MAILBOX_SALES_PASSWORD")
    assert mailbox.monitoring_senders == "icinga@mon.example"
    assert [r.action_flag for r in log_rows(mailbox)] == [ADDITION]
    assert log_rows(mailbox)[0].user == w.admin


@pytest.mark.parametrize(("data", "field"), [
    ({"name": ""}, "name"),
    ({"address": "not an address"}, "address"),
    ({"address": "SUPPORT@desk.example"}, "address"),
    ({"password_env": "hunter2 with spaces!"}, "password_env"),
    ({"password_env": ""}, "password_env"),
    ({"imap_user": ""}, "imap_user"),
    ({"monitoring_senders": "icinga"}, "monitoring_senders"),
    ({"imap_port": "70000"}, "imap_port"),
])
def test_bad_mailbox_input_is_refused_and_kept(client, w, data, field):
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_mailbox_new"), mailbox_data(**data))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Mailbox.objects.filter(name="Sales").exists()
    assert response.context["form"]["imap_host"].value() == "imap.desk.example"


def test_editing_the_server_forgets_the_imap_position(client, w):
    Mailbox.objects.filter(pk=w.mailbox.pk).update(
        imap_host="imap.desk.example", imap_user="support", password_env="X", uid_validity=7,
        last_uid=42)
    client.force_login(w.manager)
    data = mailbox_data(name="Support", address="support@desk.example", imap_user="support",
                        password_env="X", unknown_senders="refuse")
    assert client.post(reverse("agent:manage_mailbox", args=[w.mailbox.pk]),
                       data).status_code == 302
    w.mailbox.refresh_from_db()
    assert (w.mailbox.unknown_senders, w.mailbox.last_uid) == ("refuse", 42)
    client.post(reverse("agent:manage_mailbox", args=[w.mailbox.pk]),
                {**data, "imap_folder": "Support"})
    w.mailbox.refresh_from_db()
    assert (w.mailbox.imap_folder, w.mailbox.uid_validity, w.mailbox.last_uid) == (
        "Support", None, 0)
    assert [r.action_flag for r in log_rows(w.mailbox)] == [CHANGE, CHANGE]


def test_test_connection_reports_the_error(client, w, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Mailbox.objects.filter(pk=w.mailbox.pk).update(
        imap_host="127.0.0.1", imap_port=port, imap_security="none", imap_user="support",
        password_env="OPORA_TEST_NOT_SET")
    monkeypatch.delenv("OPORA_TEST_NOT_SET", raising=False)
    client.force_login(w.manager)
    response = client.post(reverse("agent:manage_mailbox_test", args=[w.mailbox.pk]),
                           follow=True)
    assert "OPORA_TEST_NOT_SET" in response.content.decode()
    monkeypatch.setenv("OPORA_TEST_NOT_SET", "x")
    response = client.post(reverse("agent:manage_mailbox_test", args=[w.mailbox.pk]),
                           follow=True)
    assert "Cannot connect" in response.content.decode()


def test_check_now_queues_a_poll_of_an_imap_mailbox(client, w):
    from django_tasks_db.models import DBTaskResult

    client.force_login(w.manager)
    url = reverse("agent:manage_mailbox_poll", args=[w.mailbox.pk])
    assert client.post(url).status_code == 404  # a pipe-only mailbox has nothing to poll
    Mailbox.objects.filter(pk=w.mailbox.pk).update(imap_host="imap.desk.example")
    before = DBTaskResult.objects.count()
    response = client.post(url)
    assert response.status_code == 302
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert DBTaskResult.objects.count() == before + 1 and task is not None
    assert task.task_path == "opora.mail.tasks.poll_mailbox"


# --- the quarantine ------------------------------------------------------------------------------


def test_the_list_shows_the_quarantine_first_with_the_error(client, w):
    client.force_login(w.manager)
    page = client.get(reverse("agent:manage_mail_messages")).content.decode()
    assert f'data-message="{w.quarantined.pk}"' in page
    assert f'data-message="{w.message.pk}"' not in page
    assert "RuntimeError: boom" in page
    every = client.get(reverse("agent:manage_mail_messages") + "?status=all").content.decode()
    assert f'data-message="{w.message.pk}"' in every


def test_the_list_filters_by_mailbox_sorts_and_the_htmx_request_gets_the_results(client, w):
    other = make_mailbox(name="Other")
    elsewhere = ingest.receive(make_mail(sender="x@elsewhere.example", subject="Другой ящик"),
                               mailbox=other, process_now=False)
    client.force_login(w.manager)
    url = reverse("agent:manage_mail_messages")
    page = client.get(f"{url}?status=all&mailbox={other.pk}").content.decode()
    assert f'data-message="{elsewhere.pk}"' in page
    assert f'data-message="{w.message.pk}"' not in page
    response = client.get(f"{url}?status=all&ordering=subject", **HX)
    body = response.content.decode()
    assert "<html" not in body and "messages-table" in body
    assert body.index("Другой ящик") < body.index("Не печатает принтер")
    assert "HX-Request" in response["Vary"]


def test_the_list_pages(client, w):
    for i in range(55):
        InboundMessage.objects.create(mailbox=w.mailbox, raw=b"x", sha256=f"{i:064d}", size=1,
                                      status=InboundStatus.QUARANTINED, subject=f"S{i}")
    client.force_login(w.manager)
    url = reverse("agent:manage_mail_messages")
    first = client.get(url).content.decode()
    second = client.get(f"{url}?page=2").content.decode()
    assert first.count("data-message=") == 50 and second.count("data-message=") == 6


def test_reprocess_one_message_after_the_fix(client, w):
    client.force_login(w.manager)
    tickets = Ticket.objects.count()
    response = client.post(reverse("agent:manage_mail_reprocess", args=[w.quarantined.pk]),
                           follow=True)
    w.quarantined.refresh_from_db()
    assert w.quarantined.status == InboundStatus.PROCESSED
    assert Ticket.objects.count() == tickets + 1
    assert "Re-processed" in response.content.decode()
    assert [r.user for r in log_rows(w.quarantined)] == [w.manager]


def test_reprocess_in_bulk_skips_what_is_not_reprocessable(client, w):
    second = ingest.receive(make_mail(sender=w.requester.email, subject="Второе"),
                            mailbox=w.mailbox, process_now=False)
    InboundMessage.objects.filter(pk=second.pk).update(status=InboundStatus.QUARANTINED)
    client.force_login(w.manager)
    url = reverse("agent:manage_mail_messages")
    response = client.post(reverse("agent:manage_mail_reprocess_bulk"), {
        "ids": [w.quarantined.pk, second.pk, w.message.pk], "next": f"{url}?status=all"})
    assert response.status_code == 302 and response["Location"] == f"{url}?status=all"
    statuses = dict(InboundMessage.objects.values_list("pk", "status"))
    assert statuses[w.quarantined.pk] == statuses[second.pk] == InboundStatus.PROCESSED
    # The processed one stayed as it was: one ticket change per message, ever.
    assert Ticket.objects.filter(inbound_messages__pk=w.message.pk).count() == 1
    bad = client.post(reverse("agent:manage_mail_reprocess_bulk"),
                      {"ids": [w.quarantined.pk], "next": "https://evil.example/"})
    assert bad["Location"] == url


def test_the_detail_shows_the_error_and_the_raw_is_a_text_download(client, w):
    html_mail = make_mail(sender=w.requester.email, subject="HTML",
                          html="<script>alert(1)</script><b>bold</b>")
    message = ingest.receive(html_mail, mailbox=w.mailbox, process_now=False)
    client.force_login(w.manager)
    detail = client.get(reverse("agent:manage_mail_message", args=[w.quarantined.pk]))
    assert "RuntimeError: boom" in detail.content.decode()
    raw = client.get(reverse("agent:manage_mail_raw", args=[message.pk]))
    assert raw.status_code == 200
    assert raw["Content-Type"].startswith("text/plain")
    assert raw["Content-Disposition"].startswith("attachment;")
    assert raw["X-Content-Type-Options"] == "nosniff"
    assert raw.content == html_mail


def test_the_original_of_a_timeline_entry_for_staff_who_see_the_ticket(client, w):
    from opora.agent.mail_admin import original_urls

    event_pk = w.message.event_id
    url = reverse("agent:mail_original", args=[event_pk])
    client.force_login(w.l1_agent)
    response = client.get(url)
    assert response.status_code == 200 and response.content == bytes(w.message.raw)
    client.force_login(w.loner)  # an agent of a team that does not see the ticket
    assert client.get(url).status_code == 404
    client.force_login(w.requester)
    assert client.get(url).status_code == 302
    client.force_login(w.manager)
    other_event = Ticket.objects.get(pk=w.ticket.pk).events.first()
    assert other_event is not None
    assert client.get(reverse("agent:mail_original", args=[other_event.pk])).status_code == 404
    assert original_urls([event_pk, other_event.pk]) == {event_pk: url}


# --- query counts --------------------------------------------------------------------------------


def _more_messages(w: Any, n: int) -> None:
    for i in range(n):
        mailbox = make_mailbox()
        InboundMessage.objects.create(mailbox=mailbox, raw=b"x", sha256=f"q{i:063d}", size=1,
                                      status=InboundStatus.QUARANTINED,
                                      ticket=f.TicketFactory.create(requester=w.requester))


@pytest.mark.parametrize(("name", "queries"), [("messages", 7), ("mail", 6)])
def test_list_query_counts_do_not_grow_with_rows(client, w, name, queries,
                                                 django_assert_num_queries):
    url = PAGES[name](w)
    client.force_login(w.manager)
    client.get(url)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    _more_messages(w, 5)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
