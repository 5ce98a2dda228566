"""The outbox page in the workspace's administration: who may open it, filters, the message
page, sending again, and query counts that do not grow with the rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opora.mail import outbox
from opora.mail.models import Mailbox, OutboundMessage, OutboundStatus
from opora.tickets import actions
from opora.tickets.choices import Channel


@pytest.fixture(autouse=True)
def _english(settings):
    """These tests read the English texts: people without a language of their own get English."""
    settings.LANGUAGE_CODE = "en"



def failed(row: OutboundMessage, error: str = "SMTPRecipientsRefused: 550 No such user"
           ) -> OutboundMessage:
    OutboundMessage.objects.filter(pk=row.pk).update(status=OutboundStatus.FAILED, attempts=6,
                                                     last_error=error)
    row.refresh_from_db()
    return row


@pytest.fixture
def rows(world):
    Mailbox.objects.create(name="Support", address="support@desk.example")
    sent = outbox.queue(to="sent@example.com", subject="Доставлено", text="t",
                        ticket=world.ticket)
    OutboundMessage.objects.filter(pk=sent.pk).update(status=OutboundStatus.SENT, attempts=1)
    queued = outbox.queue(to="queued@example.com", subject="В очереди", text="t")
    gone = failed(outbox.queue(to="gone@example.com", subject="Не дошло", text="Текст письма",
                               ticket=world.ticket, sender=outbox.sender_for(world.ticket),
                               in_reply_to="a@b.example",
                               references=["a@b.example"],
                               headers={"Auto-Submitted": "auto-generated"}))
    return {"sent": sent, "queued": queued, "failed": gone}


@pytest.mark.parametrize("who, code", [
    ("manager", 200), ("admin", 200), ("lead", 403), ("l1_agent", 403),
])
def test_only_managers_and_administrators(client, world, rows, who, code):
    client.force_login(getattr(world, who))
    assert client.get(reverse("agent:mail_outbox")).status_code == code
    assert client.get(reverse("agent:mail_outbox_message",
                              args=[rows["failed"].pk])).status_code == code
    response = client.post(reverse("agent:mail_outbox_resend", args=[rows["failed"].pk]))
    assert response.status_code == (302 if code == 200 else 403)
    expected = OutboundStatus.QUEUED if code == 200 else OutboundStatus.FAILED
    assert OutboundMessage.objects.get(pk=rows["failed"].pk).status == expected


def test_people_outside_the_desk_are_sent_away(client, world, rows):
    url = reverse("agent:mail_outbox")
    assert client.get(url)["Location"].startswith(reverse("web:login"))
    client.force_login(world.requester)
    assert client.get(url)["Location"] == reverse("portal:home")
    assert client.post(reverse("agent:mail_outbox_resend_failed")).status_code == 403


def test_filters_and_search(client, world, rows):
    client.force_login(world.manager)
    url = reverse("agent:mail_outbox")
    page = client.get(url)
    body = page.content.decode()
    assert all(r.to in body for r in rows.values())
    assert "Send all failed messages again" in body

    def shown(**params: str) -> set[int]:
        response = client.get(url, params, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in response.content.decode()  # the results only, for htmx
        return {int(pk) for pk in response.context["page"].object_list.values_list("pk",
                                                                                    flat=True)}

    assert shown(status="failed") == {rows["failed"].pk}
    assert shown(status="queued") == {rows["queued"].pk}
    assert shown(q="gone@") == {rows["failed"].pk}
    assert shown(q=world.ticket.number.lower()) == {rows["sent"].pk, rows["failed"].pk}
    assert shown(q=f"<{rows['queued'].message_id}>") == {rows["queued"].pk}
    assert shown(q="В очереди") == {rows["queued"].pk}
    assert shown(status="nonsense") == {r.pk for r in rows.values()}


def test_the_message_page_shows_headers_text_and_error(client, world, rows):
    client.force_login(world.manager)
    row = rows["failed"]
    page = client.get(reverse("agent:mail_outbox_message", args=[row.pk]))
    body = page.content.decode()
    for text in (f"&lt;{row.message_id}&gt;", "In-Reply-To", "&lt;a@b.example&gt;",
                 "Auto-Submitted", "Текст письма", "550 No such user", "Send again",
                 "Support &lt;support@desk.example&gt;"):
        assert text in body, text
    queued = client.get(reverse("agent:mail_outbox_message", args=[rows["queued"].pk]))
    assert "Send again" not in queued.content.decode()
    assert client.get(reverse("agent:mail_outbox_message", args=[999999])).status_code == 404


def test_sending_again_one_or_all(client, world, rows):
    client.force_login(world.admin)
    response = client.post(reverse("agent:mail_outbox_resend", args=[rows["failed"].pk]),
                           follow=True)
    assert "will be sent again" in response.content.decode()
    row = OutboundMessage.objects.get(pk=rows["failed"].pk)
    assert (row.status, row.attempts) == (OutboundStatus.QUEUED, 0)
    # Already queued: said so, nothing changes.
    response = client.post(reverse("agent:mail_outbox_resend", args=[row.pk]), follow=True)
    assert "already waiting to be sent" in response.content.decode()

    more = [failed(outbox.queue(to=f"p{n}@example.com", subject="s", text="t"))
            for n in range(3)]
    response = client.post(reverse("agent:mail_outbox_resend_failed"), follow=True)
    assert "3 failed messages will be sent again." in response.content.decode()
    assert set(OutboundMessage.objects.filter(pk__in=[m.pk for m in more])
               .values_list("status", flat=True)) == {OutboundStatus.QUEUED}
    response = client.post(reverse("agent:mail_outbox_resend_failed"), follow=True)
    assert "No failed messages." in response.content.decode()
    assert client.get(reverse("agent:mail_outbox_resend_failed")).status_code == 405


#: session + user, the workspace sidebar (queue counts, saved filters), the counts by status,
#: the page's count, the rows (with their tickets).
LIST_QUERIES = 7
#: session + user, the sidebar, the message with its ticket, mailbox and recipient.
MESSAGE_QUERIES = 5


def test_query_counts_do_not_grow_with_rows(client, world, rows, django_assert_num_queries):
    client.force_login(world.manager)
    url = reverse("agent:mail_outbox")
    client.get(url)  # warm the caches
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(url).status_code == 200
    for n in range(30):
        ticket = actions.open_ticket(requester=world.requester, title=f"Заявка {n}",
                                     channel=Channel.PORTAL, actor=world.requester)
        failed(outbox.queue(to=f"p{n}@example.com", subject=f"s{n}", text="t", ticket=ticket))
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(url, {"status": "failed", "q": "p1"}).status_code == 200
    detail = reverse("agent:mail_outbox_message", args=[rows["failed"].pk])
    client.get(detail)
    with django_assert_num_queries(MESSAGE_QUERIES):
        assert client.get(detail).status_code == 200
