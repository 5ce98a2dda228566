"""Reads shared by the pages, the API and the ticket page: lists, the article page's pieces,
search with a fallback, operator scripts, statistics."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .choices import READABLE_STATUSES, ArticleEventKind, ArticleStatus, ArticleType
from .models import Article, ArticleEvent, ArticleVersion, TicketArticle
from .querysets import articles_visible_to, readable_by_requesters

if TYPE_CHECKING:
    from opora.accounts.models import User
    from opora.tickets.models import Ticket


def for_list(qs: QuerySet[Article]) -> QuerySet[Article]:
    """What a list row shows, in a constant number of queries."""
    return qs.select_related("author", "owner").prefetch_related("tags", "categories")


@dataclass
class Hit:
    """A search result as the KB pages show it (the same shape as ``opora.search.api.Hit``)."""

    obj: Article
    rank: float = 0.0
    snippet: SafeString | str = ""


def search(user: User | Any, text: str, *, limit: int = 10,
           language: str | None = None) -> list[Any]:
    """Full-text search when ``opora.search`` provides it, else a plain title/summary match —
    both through the funnel. Each hit has ``obj``, ``rank`` and ``snippet``."""
    text = (text or "").replace("\x00", "").strip()[:200]
    if not text:
        return []
    try:
        from opora.search.api import search_articles
    except ImportError:  # the search app is not there yet: a plain match through the funnel
        pass
    else:
        return list(search_articles(user, text, limit=limit, language=language))
    qs = articles_visible_to(user).filter(Q(title__icontains=text) | Q(summary__icontains=text))
    if language:
        qs = qs.filter(language=language)
    return [Hit(obj=a) for a in qs.order_by("-view_count", "-id")[:limit]]


def suggested_for_ticket(user: User, ticket: Ticket, *, limit: int = 5) -> list[Any]:
    """Articles that may answer the ticket, from its title (staff see internal ones too)."""
    return [h for h in search(user, ticket.title, limit=limit)
            if h.obj.status in READABLE_STATUSES]


def linked_articles(ticket: Ticket, user: User | Any) -> list[Article]:
    """The ticket's linked articles ``user`` may read (requesters: public ones only)."""
    return list(articles_visible_to(user).filter(
        pk__in=TicketArticle.objects.filter(ticket=ticket).values("article_id"))
        .order_by("title"))


def public_linked_articles(ticket: Ticket, user: User | Any) -> list[Article]:
    """For the requester's request page: linked articles readable on the public side."""
    return list(articles_visible_to(user).filter(readable_by_requesters()).filter(
        pk__in=TicketArticle.objects.filter(ticket=ticket).values("article_id"))
        .order_by("title"))


def operator_scripts(user: User, language: str) -> list[Article]:
    """Published operator scripts in the requester's language, for the reply picker."""
    return list(articles_visible_to(user).filter(
        type=ArticleType.SCRIPT, status__in=READABLE_STATUSES, language=language)
        .only("id", "title", "body", "language").order_by("title"))


def translations_of(article: Article) -> list[Article]:
    """The other language versions of ``article`` (any status; the caller filters)."""
    root = article.translation_of_id or article.pk
    return list(Article.objects.filter(Q(pk=root) | Q(translation_of_id=root))
                .exclude(pk=article.pk).only("id", "title", "language", "status"))


def history(article: Article) -> list[ArticleVersion]:
    return list(article.versions.select_related("created_by").order_by("-number"))


def timeline(article: Article) -> list[ArticleEvent]:
    return list(article.events.select_related("actor").order_by("-created_at", "-id"))


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "skip"
    text: str


def diff(old: ArticleVersion, new: ArticleVersion) -> dict[str, list[DiffLine]]:
    """Line diffs of title, summary and text between two versions (escaped in the template)."""
    result = {}
    for name in ("title", "summary", "body"):
        a = (getattr(old, name) or "").splitlines()
        b = (getattr(new, name) or "").splitlines()
        lines = []
        for line in difflib.unified_diff(a, b, lineterm="", n=3):
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("@@"):
                lines.append(DiffLine("skip", line))
            elif line.startswith("+"):
                lines.append(DiffLine("added", line[1:]))
            elif line.startswith("-"):
                lines.append(DiffLine("removed", line[1:]))
            else:
                lines.append(DiffLine("same", line[1:]))
        result[name] = lines
    return result


def diff_html(lines: list[DiffLine]) -> SafeString:
    """For callers outside templates: escaped, one ``<div>`` per line."""
    parts = [f'<div class="kb-diff-{d.kind}">{escape(d.text)}</div>' for d in lines]
    return mark_safe("".join(parts))  # noqa: S308 - every text escaped above


# --- statistics ----------------------------------------------------------------------------------


@dataclass
class Contribution:
    user_id: int
    name: str
    written: int = 0
    updated: int = 0
    reviewed: int = 0


def contributions(since: Any = None) -> list[Contribution]:
    """Per agent: articles written, edits made, reviews done (approve or send back)."""
    events = ArticleEvent.objects.filter(actor__isnull=False, kind__in=[
        ArticleEventKind.CREATED, ArticleEventKind.UPDATED, ArticleEventKind.APPROVED,
        ArticleEventKind.SENT_BACK])
    if since is not None:
        events = events.filter(created_at__gte=since)
    rows = events.values("actor_id", "actor__full_name", "kind").annotate(n=Count("id"))
    table: dict[int, Contribution] = {}
    for row in rows:
        c = table.setdefault(row["actor_id"], Contribution(row["actor_id"],
                                                           row["actor__full_name"]))
        if row["kind"] == ArticleEventKind.CREATED:
            c.written += row["n"]
        elif row["kind"] == ArticleEventKind.UPDATED:
            c.updated += row["n"]
        else:
            c.reviewed += row["n"]
    return sorted(table.values(), key=lambda c: (-(c.written + c.updated + c.reviewed), c.name))


def most_viewed(user: User, limit: int = 10) -> list[Article]:
    return list(articles_visible_to(user).filter(view_count__gt=0)
                .order_by("-view_count", "id")[:limit])


def most_linked(user: User, limit: int = 10) -> list[Article]:
    return list(articles_visible_to(user).annotate(links=Count("ticket_links"))
                .filter(links__gt=0).order_by("-links", "id")[:limit])


def stale(user: User, months: int = 12) -> list[Article]:
    cutoff = timezone.now() - timedelta(days=30 * months)
    return list(for_list(articles_visible_to(user).filter(
        Q(status=ArticleStatus.NEEDS_REVALIDATION)
        | Q(status=ArticleStatus.PUBLISHED, updated_at__lt=cutoff))).order_by("updated_at"))


def deflection_rate(days: int = 30) -> float | None:
    """Share of portal searches that ended without a ticket, from ``opora.search`` if present:
    deflections ÷ (deflections + portal tickets) over the last ``days``; ``None`` if unknown."""
    try:
        from opora.search.models import Deflection
    except ImportError:
        return None
    from opora.tickets.choices import Channel
    from opora.tickets.models import Ticket

    since = timezone.now() - timedelta(days=days)
    deflected = Deflection.objects.filter(created_at__gte=since).count()
    tickets = Ticket.objects.filter(channel=Channel.PORTAL, created_at__gte=since).count()
    total = deflected + tickets
    return deflected / total if total else None


def prefetch_versions() -> Prefetch[Any]:
    return Prefetch("versions", queryset=ArticleVersion.objects.only("id", "article_id",
                                                                       "number"))
