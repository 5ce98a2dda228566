"""Help articles in the self-service portal (``/portal/help/``, names ``portal:articles``,
``portal:article`` …).

Everything reads through ``articles_visible_to``: a requester finds published public articles
and those of their organisation, never an internal one or another organisation's — on the list,
the article page, its files, search and the linked articles of their requests. Anyone may read
public articles without signing in.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opora.catalog.models import Category
from opora.tickets.permissions import access_ticket

from . import actions, rendering, selectors
from .forms import FeedbackForm
from .models import Article
from .permissions import access_article
from .querysets import articles_visible_to, is_staff
from .views import serve_attachment

#: The session key holding the ids of articles this session has already been counted for.
SEEN_KEY = "kb_seen"
LIST_LIMIT = 200


def portal_article_url(pk: int) -> str:
    return reverse("portal:article", args=[pk])


def portal_attachment_url(pk: int) -> str:
    return reverse("portal:article-file", args=[pk])


def _language() -> str:
    return (get_language() or "ru")[:2]


def _readable(user: Any) -> Any:
    """What the portal lists: the funnel, and for staff too only what requesters could read,
    so the portal shows the desk what its requesters see."""
    qs = articles_visible_to(user)
    if is_staff(user):
        from .querysets import readable_by_requesters

        qs = qs.filter(readable_by_requesters())
    return qs


@require_GET
def help_list(request: HttpRequest) -> HttpResponse:
    """Articles by category, in the reader's language first; with a search box."""
    user = request.user
    text = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    hits: list[selectors.Hit] = []
    groups: list[tuple[Category | None, list[Article]]] = []
    if text:
        readable_ids = set(_readable(user).values_list("pk", flat=True)[:5000])
        hits = [h for h in selectors.search(user, text, limit=20) if h.obj.pk in readable_ids]
    else:
        articles = list(_readable(user).filter(language=_language())
                        .prefetch_related("categories").order_by("title")[:LIST_LIMIT])
        by_category: dict[int | None, list[Article]] = {}
        categories: dict[int, Category] = {}
        for article in articles:
            cats = list(article.categories.all())
            for cat in cats or [None]:
                key = cat.pk if cat else None
                if cat:
                    categories[cat.pk] = cat
                by_category.setdefault(key, []).append(article)
        ordered = sorted(categories.values(), key=lambda c: (c.position, c.display_name()))
        groups = [(c, by_category[c.pk]) for c in ordered]
        if None in by_category:
            groups.append((None, by_category[None]))
    return render(request, "kb/portal_list.html",
                  {"nav": "help", "text": text, "hits": hits, "groups": groups})


@require_GET
def help_article(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    article = access_article(user, pk, queryset=_readable(user).prefetch_related(
        "attachments", "categories"))
    seen = list(request.session.get(SEEN_KEY, []))
    if article.pk not in seen:
        actions.record_view(article)
        request.session[SEEN_KEY] = [*seen[-499:], article.pk]
    ids = rendering.linked_ids(article.body)
    readable = _readable(user).filter(pk__in=ids).only("id", "title") if ids else []
    html = rendering.render(article, readable=readable, article_url=portal_article_url,
                            attachment_url=portal_attachment_url)
    translations = [a for a in selectors.translations_of(article)
                    if _readable(user).filter(pk=a.pk).exists()]
    return render(request, "kb/portal_article.html", {
        "nav": "help", "article": article, "html": html, "translations": translations,
        "form": FeedbackForm(), "thanks": request.GET.get("thanks") == "1",
    })


@require_POST
def help_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    article = access_article(user, pk, queryset=_readable(user))
    form = FeedbackForm(request.POST)
    if form.is_valid():
        actions.leave_feedback(article, helpful=form.cleaned_data["helpful"],
                               comment=form.cleaned_data["comment"],
                               user=user if user.is_authenticated else None)
        messages.success(request, _("Thank you for your answer."))
    return redirect(f"{reverse('portal:article', args=[pk])}?thanks=1")


@require_GET
def help_file(request: HttpRequest, pk: int) -> FileResponse:
    return serve_attachment(request.user, pk)


@require_GET
def request_articles(request: HttpRequest, ref: str) -> HttpResponse:
    """The public articles linked to one of the person's requests (htmx fragment)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    ticket = access_ticket(request.user, ref)
    articles = selectors.public_linked_articles(ticket, request.user)
    return render(request, "kb/_portal_request_articles.html", {"articles": articles})


urlpatterns = [
    path("help/", help_list, name="articles"),
    path("help/<int:pk>/", help_article, name="article"),
    path("help/<int:pk>/feedback/", help_feedback, name="article-feedback"),
    path("help/files/<int:pk>/", help_file, name="article-file"),
    path("help/requests/<str:ref>/", request_articles, name="request-articles"),
]
