"""The knowledge base on the ticket page: linked and suggested articles, link / unlink,
"create an article from this resolution", operator scripts in the reply picker, and linked
public articles on the requester's request page."""

from __future__ import annotations

from django.urls import reverse

from opora.kb import actions
from opora.kb.choices import ArticleEventKind, ArticleStatus, ArticleType, Visibility
from opora.kb.models import Article, TicketArticle
from opora.testing import factories as f
from opora.tickets import actions as ticket_actions
from opora.tickets.choices import Channel, ResolutionCode

from .conftest import make_article


def test_panel_links_and_unlinks_with_an_audit_entry(world, client):
    article = make_article(world.l1_agent, title="Printer 1 does not print: restart the spooler",
                           moderator=world.manager)
    ticket = world.ticket
    client.force_login(world.l1_agent)
    page = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert reverse("kb:ticket-panel", args=[ticket.number]) in page
    response = client.post(reverse("kb:ticket-link", args=[ticket.number]),
                           {"article": article.pk}, HTTP_HX_REQUEST="true")
    assert f'data-linked="{article.pk}"' in response.content.decode()
    assert TicketArticle.objects.get().linked_by == world.l1_agent
    event = article.events.get(kind=ArticleEventKind.TICKET_LINKED)
    assert event.actor == world.l1_agent and event.data["ticket"] == ticket.number
    shown = client.get(reverse("kb:article", args=[article.pk])).content.decode()
    assert ticket.number in shown
    client.post(reverse("kb:ticket-unlink", args=[ticket.number, article.pk]))
    assert not TicketArticle.objects.exists()
    assert article.events.filter(kind=ArticleEventKind.TICKET_UNLINKED).count() == 1


def test_panel_suggests_readable_articles_only(world, client):
    ticket = f.TicketFactory.create(requester=world.requester, title="VPN не подключается")
    shown = make_article(world.l1_agent, title="VPN не подключается: проверьте токен",
                         moderator=world.manager)
    draft = make_article(world.l1_agent, title="VPN не подключается (черновик)",
                         status=ArticleStatus.DRAFT)
    client.force_login(world.l1_agent2)
    panel = client.get(reverse("kb:ticket-panel", args=[ticket.number])).content.decode()
    assert f'data-suggested="{shown.pk}"' in panel
    assert f'data-suggested="{draft.pk}"' not in panel


def test_nobody_links_what_they_may_not_see(world, client):
    other_ticket = f.TicketFactory.create(requester=world.outsider, team=world.l2)
    article = make_article(world.l1_agent, moderator=world.manager)
    client.force_login(world.l1_agent)  # not in the ticket's team
    response = client.post(reverse("kb:ticket-link", args=[other_ticket.number]),
                           {"article": article.pk})
    assert response.status_code == 404
    client.force_login(world.requester)
    response = client.post(reverse("kb:ticket-link", args=[world.ticket.number]),
                           {"article": article.pk})
    assert response.status_code in (302, 403)
    assert not TicketArticle.objects.exists()


def test_create_an_article_from_the_resolution(world, client):
    world.requester.language = "en"
    world.requester.save()
    category = f.CategoryFactory.create()
    service = f.ServiceFactory.create()
    ticket = f.TicketFactory.create(requester=world.requester, category=category,
                                    service=service, title="Outlook asks for the password")
    ticket_actions.resolve(ticket, code=ResolutionCode.FIXED,
                           resolution="Removed the stale credentials.", actor=world.l1_agent,
                           channel=Channel.WEB)
    client.force_login(world.l1_agent)
    panel = client.get(reverse("kb:ticket-panel", args=[ticket.number])).content.decode()
    assert 'id="kb-from-resolution"' in panel
    form = client.get(reverse("kb:new"), {"ticket": ticket.number}).context["form"]
    assert form.initial["title"] == "Outlook asks for the password"
    assert "Removed the stale credentials." in form.initial["body"]
    assert ticket.description in form.initial["body"]
    assert form.initial["type"] == ArticleType.TROUBLESHOOTING
    assert form.initial["language"] == "en"
    assert form.initial["categories"] == [category] and form.initial["services"] == [service]
    response = client.post(reverse("kb:new"), {
        "title": form.initial["title"], "body": form.initial["body"], "type": "troubleshooting",
        "language": "en", "visibility": "internal", "categories": [category.pk],
        "services": [service.pk], "ticket": ticket.number})
    assert response.status_code == 302
    article = Article.objects.get()
    assert TicketArticle.objects.get().article == article
    assert article.events.get().data["ticket"] == ticket.number


def test_operator_scripts_in_the_reply_picker(world, client):
    script = make_article(world.l1_agent, title="Приветствие", body="Здравствуйте! Меня зовут…",
                          type=ArticleType.SCRIPT, visibility=Visibility.INTERNAL,
                          moderator=world.manager)
    make_article(world.l1_agent, title="English greeting", language="en",
                 type=ArticleType.SCRIPT, moderator=world.manager)
    make_article(world.l1_agent, title="Черновик скрипта", type=ArticleType.SCRIPT,
                 status=ArticleStatus.DRAFT)
    client.force_login(world.l1_agent)
    page = client.get(reverse("agent:ticket", args=[world.ticket.number])).content.decode()
    assert f'data-script="{script.pk}"' in page and "Здравствуйте! Меня зовут…" in page
    assert "English greeting" not in page  # the requester reads Russian
    assert "Черновик скрипта" not in page


def test_requesters_see_linked_public_articles_on_their_request(world, client):
    public = make_article(world.l1_agent, title="Public help", moderator=world.manager)
    internal = make_article(world.l1_agent, title="Internal steps",
                            visibility=Visibility.INTERNAL, moderator=world.manager)
    for article in (public, internal):
        actions.link_ticket(world.ticket, article, actor=world.l1_agent)
    client.force_login(world.requester)
    fragment = client.get(reverse("portal:request-articles", args=[world.ticket.number]))
    assert "Public help" in fragment.content.decode()
    assert "Internal steps" not in fragment.content.decode()
    client.force_login(world.outsider)
    assert client.get(reverse("portal:request-articles",
                              args=[world.ticket.number])).status_code == 404
