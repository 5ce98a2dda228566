"""Full-text search over articles and tickets — the one Python API for pages, K1's knowledge base
pages and the portal's suggestions.

Permission is applied inside the query through the owners' funnels
(``kb.querysets.articles_visible_to`` and ``Ticket.objects.visible_to``), as an ``IN``
sub-select: ranks, pages and totals are computed over exactly what the person may open.

Matching: every word of the query first (phrases in quotes, ``-word`` excludes, on PostgreSQL);
when nothing has them all and the query has several words, any of them, best first — the
result says which (``SearchResult.mode``) so a page can tell the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from django.utils.safestring import SafeString

from . import backends
from .backends import Query
from .models import Kind, SearchLog, Source
from .text import normalise_query

if TYPE_CHECKING:
    from opora.kb.models import Article
    from opora.tickets.models import Ticket

T = TypeVar("T")
Mode = Literal["auto", "all", "any"]
#: The portal shows at most this many suggestions.
SUGGESTIONS = 5


@dataclass(frozen=True)
class Hit(Generic[T]):
    """One result: the object, its rank (higher is better; comparable within one search only)
    and an HTML-safe snippet with the matched words in ``<mark>``."""

    obj: T
    rank: float
    snippet: SafeString


@dataclass(frozen=True)
class SearchResult(Generic[T]):
    hits: list[Hit[T]] = field(default_factory=list)
    #: Every match the person may see (``-1`` when not counted).
    total: int = 0
    #: "all": the hits contain every word; "any": none had them all, these have some.
    mode: Literal["all", "any"] = "all"


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_agent_side or user.is_superuser))


# --- the funnels as sub-selects -----------------------------------------------------------------


def _article_ids(user: Any, *, requesters_view: bool) -> Any:
    from opora.kb.querysets import articles_visible_to, readable_by_requesters, visibility_q

    if visibility_q(user) is None and not requesters_view:
        return None
    articles = articles_visible_to(user)
    if requesters_view and is_staff(user):
        # Staff looking at the portal see what requesters see, not the internal articles.
        articles = articles.filter(readable_by_requesters())
    return articles.values("pk")


def _ticket_ids(user: Any) -> Any:
    from opora.tickets.models import Ticket
    from opora.tickets.querysets import visibility_q

    if visibility_q(user) is None:
        return None
    return Ticket.objects.visible_to(user).values("pk")


def _run(kind: str, ids: Any, query: Query, *, mode: Mode, staff_text: bool,
         languages: tuple[str, ...] | None, limit: int, offset: int,
         count: bool) -> tuple[list[backends.Row], int, Literal["all", "any"]]:
    first: Literal["all", "any"] = "any" if mode == "any" else "all"
    # Without a total we still need to know whether "all" matched nothing before falling back.
    need_count = count or (mode == "auto" and offset > 0)
    rows, total = backends.search(kind, ids, query, mode=first, staff_text=staff_text,
                                  languages=languages, limit=limit, offset=offset,
                                  count=need_count)
    nothing = total == 0 if need_count else not rows
    if mode == "auto" and nothing and len(query.words) > 1:
        rows, total = backends.search(kind, ids, query, mode="any", staff_text=staff_text,
                                      languages=languages, limit=limit, offset=offset,
                                      count=count)
        return rows, total, "any"
    return rows, (total if count else -1), first


# --- articles ----------------------------------------------------------------------------------


def search_articles_page(user: Any, text: str, *, limit: int = 10, offset: int = 0,
                         language: str | None = None, mode: Mode = "auto",
                         requesters_view: bool = False, prefix_last: bool = False,
                         count: bool = True) -> SearchResult[Article]:
    """Articles ``user`` may read matching ``text``, best first, with the total.

    ``language`` limits to articles in that language; ``requesters_view`` limits staff to what
    requesters may read (the portal); ``prefix_last`` treats the last word as still being typed.
    """
    from opora.kb.models import Article

    query = Query.parse(text, prefix_last=prefix_last)
    if query.empty:
        return SearchResult()
    rows, total, used = _run(
        Kind.ARTICLE, _article_ids(user, requesters_view=requesters_view), query, mode=mode,
        staff_text=False, languages=(language,) if language else None, limit=limit,
        offset=offset, count=count,
    )
    articles = Article.objects.in_bulk([r.object_id for r in rows])
    hits = [Hit(articles[r.object_id], r.rank, r.snippet) for r in rows if r.object_id in articles]
    return SearchResult(hits, total, used)


def search_articles(user: Any, text: str, *, limit: int = 10, offset: int = 0,
                    language: str | None = None) -> list[Hit[Article]]:
    """The contract K1 calls: the best ``limit`` articles for ``text`` that ``user`` may read."""
    return search_articles_page(user, text, limit=limit, offset=offset, language=language,
                                count=False).hits


def suggest_articles(user: Any, text: str, *, limit: int = SUGGESTIONS) -> list[Hit[Article]]:
    """What the portal suggests while someone types a request: articles requesters may read
    (for staff too), any of the words counting, the last one possibly half-typed."""
    return search_articles_page(user, text, limit=min(limit, SUGGESTIONS), mode="any",
                                requesters_view=True, prefix_last=True, count=False).hits


# --- tickets -----------------------------------------------------------------------------------


def search_tickets_page(user: Any, text: str, *, limit: int = 25, offset: int = 0,
                        mode: Mode = "auto") -> SearchResult[Ticket]:
    """Tickets ``user`` may see matching ``text``. Staff search internal notes as well;
    anyone else only the text the requester side sees."""
    from opora.tickets.models import Ticket

    query = Query.parse(text)
    if query.empty:
        return SearchResult()
    rows, total, used = _run(Kind.TICKET, _ticket_ids(user), query, mode=mode,
                             staff_text=is_staff(user), languages=None, limit=limit,
                             offset=offset, count=True)
    tickets = Ticket.objects.select_related("requester", "team", "assignee").in_bulk(
        [r.object_id for r in rows])
    hits = [Hit(tickets[r.object_id], r.rank, r.snippet) for r in rows if r.object_id in tickets]
    return SearchResult(hits, total, used)


def search_tickets(user: Any, text: str, *, limit: int = 25,
                   offset: int = 0) -> tuple[list[Hit[Ticket]], int]:
    """The contract: a page of tickets ``user`` may see matching ``text``, and the total."""
    result = search_tickets_page(user, text, limit=limit, offset=offset)
    return result.hits, result.total


# --- the log ------------------------------------------------------------------------------------


def log_search(user: Any, text: str, *, source: str, results: int,
               replace: SearchLog | None = None) -> SearchLog | None:
    """Record a search for the "nothing found" report. ``replace`` is the same person's
    previous row of one typing session (suggestions): it is updated instead of adding a row
    per pause in typing."""
    query = " ".join(text.split())[:300]
    normalised = normalise_query(query)
    if not normalised:
        return None
    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    if replace is not None and replace.user_id == user_id and replace.source == source:
        replace.query, replace.normalised, replace.results = query, normalised, results
        replace.save(update_fields=["query", "normalised", "results"])
        return replace
    return SearchLog.objects.create(query=query, normalised=normalised, source=Source(source),
                                    user_id=user_id, results=results)
