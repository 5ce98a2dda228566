"""The two engines behind one interface: PostgreSQL full-text search and SQLite FTS5.

Both receive the entries allowed to the person as a queryset (``SearchEntry`` rows whose object
is in the owner's permission funnel, as an ``IN`` sub-select) and apply the text match, ranking,
counting and paging to exactly that set in the database — so a page never loses rows to a later
filter and the total is what the person can open.

Matching has two modes: ``all`` — every word must occur (PostgreSQL ``websearch_to_tsquery``:
quotes for phrases, ``-word`` to exclude, ``or``), and ``any`` — at least one word, ranked by how
many and how well (for long texts such as a request's description). ``api`` starts with ``all``
and falls back to ``any`` when nothing matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db import connection
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils.safestring import SafeString

from . import text as t
from .models import Kind, SearchEntry

Mode = Literal["all", "any"]
#: ts_rank_cd normalisation: 1 divides by 1 + log(length). Measured on the Rutube FAQ (top-3):
#: 0 → 41.3 %, 1 → 50.0 %, 2 → 39.0 %, 4 → 35.2 %, 32 → 41.3 %.
PG_NORMALIZATION = 1


@dataclass(frozen=True)
class Query:
    """A search as the engines need it: the typed text and its stems."""

    text: str
    words: tuple[str, ...]
    stems: tuple[str, ...]
    #: Treat the last word as a prefix (suggestions while typing: "принт" finds "принтер").
    prefix_last: bool = False

    @classmethod
    def parse(cls, text: str, *, prefix_last: bool = False) -> Query:
        words = tuple(t.words(text)[:32])
        # Only a word still being typed is a prefix: "принт" but not "принтер " (space after).
        prefix = prefix_last and bool(words) and not text[-1:].isspace() and len(words[-1]) >= 3
        return cls(text=text, words=words, stems=tuple(t.stem(w) for w in words),
                   prefix_last=prefix)

    @property
    def empty(self) -> bool:
        return not self.words

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (self.stems[-1], self.words[-1]) if self.prefix_last else ()


@dataclass(frozen=True)
class Row:
    object_id: int
    rank: float
    snippet: SafeString


def config_for(language: str) -> str:
    """The PostgreSQL configuration of an entry: ``english`` for English articles, otherwise
    ``russian`` — which stems Cyrillic words as Russian and Latin ones with the English stemmer,
    the right guess for tickets (no language of their own) and mixed Russian/English text."""
    return "english" if language == "en" else "russian"


def _config_expression() -> Case:
    return Case(When(language="en", then=Value("english")), default=Value("russian"))


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- writing -----------------------------------------------------------------------------------


def store(ids: list[int]) -> None:
    """Bring the engine's index up to date for these (already saved) entries."""
    if not ids:
        return
    if is_postgres():
        config = _config_expression()
        public = (SearchVector("title", weight="A", config=config)
                  + SearchVector("body", weight="B", config=config))
        staff = public + SearchVector("notes", weight="C", config=config)
        SearchEntry.objects.filter(pk__in=ids, kind=Kind.ARTICLE).update(vector=public,
                                                                         vector_staff=None)
        SearchEntry.objects.filter(pk__in=ids, kind=Kind.TICKET).update(vector=public,
                                                                        vector_staff=staff)
        return
    if connection.vendor != "sqlite":
        return
    rows = SearchEntry.objects.filter(pk__in=ids).values_list("pk", "title", "body", "notes")
    with connection.cursor() as cursor:
        marks = ",".join(["%s"] * len(ids))
        cursor.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", ids)  # noqa: S608
        cursor.executemany(
            "INSERT INTO search_fts (rowid, title, body, notes) VALUES (%s, %s, %s, %s)",
            [(pk, t.index_text(title), t.index_text(body), t.index_text(notes))
             for pk, title, body, notes in rows],
        )


def forget(ids: list[int]) -> None:
    """Remove entries from the engine's own index (the caller deletes the rows)."""
    if ids and connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            marks = ",".join(["%s"] * len(ids))
            cursor.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", ids)  # noqa: S608


def clear() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_fts")


# --- searching ---------------------------------------------------------------------------------


def search(kind: str, object_ids: QuerySet[Any, Any] | None, query: Query, *, mode: Mode,
           staff_text: bool, languages: tuple[str, ...] | None, limit: int, offset: int,
           count: bool = True) -> tuple[list[Row], int]:
    """Ranked rows ``offset … offset+limit`` of the entries of ``kind`` whose object is in
    ``object_ids`` (a ``values("pk")`` sub-select of a permission funnel; ``None``: all) and
    that match ``query``, and the total (``-1`` when ``count`` is false). ``staff_text`` also
    searches tickets' internal notes."""
    if query.empty or limit <= 0:
        return [], 0
    if is_postgres():
        return _pg_search(kind, object_ids, query, mode=mode, staff_text=staff_text,
                          languages=languages, limit=limit, offset=offset, count=count)
    entries = allowed(kind, object_ids, Q(language__in=languages) if languages else None)
    return _sqlite_search(entries, query, mode=mode, staff_text=staff_text, limit=limit,
                          offset=offset, count=count)


def _pg_tsquery(query: Query, mode: Mode, configs: tuple[str, ...]) -> SearchQuery:
    combined: SearchQuery | None = None
    for config in configs:
        if mode == "all" and not query.prefix_last:
            part = SearchQuery(query.text, search_type="websearch", config=config)
        else:
            # Words are \w+ runs, so nothing in them is tsquery syntax.
            terms = list(query.words)
            if query.prefix_last:
                terms[-1] = f"{terms[-1]}:*"
            joiner = " & " if mode == "all" else " | "
            part = SearchQuery(joiner.join(terms), search_type="raw", config=config)
        combined = part if combined is None else combined | part
    assert combined is not None
    return combined


def _pg_search(kind: str, object_ids: QuerySet[Any, Any] | None, query: Query, *, mode: Mode,
               staff_text: bool, languages: tuple[str, ...] | None, limit: int, offset: int,
               count: bool) -> tuple[list[Row], int]:
    if languages is None:
        configs: tuple[str, ...] = ("russian", "english")
    else:
        configs = tuple(dict.fromkeys(config_for(lang) for lang in languages))
    tsquery = _pg_tsquery(query, mode, configs)
    column = "vector_staff" if staff_text else "vector"
    matched = SearchEntry.objects.filter(kind=kind, **{column: tsquery})
    if languages:
        matched = matched.filter(language__in=languages)
    # Length normalisation 1 (divide by 1 + log length) so a long article mentioning a word once
    # does not outrank a short one about exactly that.
    ranked = matched.annotate(
        rank=SearchRank(F(column), tsquery, cover_density=True,
                        normalization=Value(PG_NORMALIZATION)),
    ).values_list("pk", "object_id", "rank")
    inner_sql, inner_params = ranked.query.sql_with_params()
    where, where_params = "", ()
    if object_ids is not None:
        # Without the model's default ordering: a sorted sub-select is sorted for nothing.
        funnel_sql, where_params = object_ids.order_by().query.sql_with_params()
        where = f"WHERE m.object_id IN ({funnel_sql})"
    # The matches first, from the partial GIN index, then the permission funnel over them. As
    # one join the planner walks the (kind, object_id) index instead and reads every vector of
    # the kind (400 ms at 100k articles); MATERIALIZED keeps the two steps apart.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH m (id, object_id, rank) AS MATERIALIZED ({inner_sql}) "  # noqa: S608 — compiled by the ORM
            f"SELECT m.id, m.object_id, m.rank, count(*) OVER () FROM m {where} "
            "ORDER BY m.rank DESC, m.id LIMIT %s OFFSET %s",
            [*inner_params, *where_params, limit, offset],
        )
        fetched = cursor.fetchall()
        if fetched:
            total = int(fetched[0][3]) if count else -1
        elif count and offset > 0:
            cursor.execute(
                f"WITH m (id, object_id, rank) AS MATERIALIZED ({inner_sql}) "  # noqa: S608 — compiled by the ORM
                f"SELECT count(*) FROM m {where}", [*inner_params, *where_params])
            total = int(cursor.fetchone()[0])
        else:
            total = 0
    page = [(int(pk), int(object_id), float(rank)) for pk, object_id, rank, _n in fetched]
    if not page:
        return [], total
    # Headlines only for the rows shown: ts_headline re-parses the text and is expensive.
    config = _config_expression()
    headlines = SearchEntry.objects.filter(pk__in=[pk for pk, _o, _r in page]).annotate(
        body_html=_headline("body", tsquery, config),
    )
    if staff_text:
        headlines = headlines.annotate(
            notes_html=_headline(Coalesce("notes", Value("")), tsquery, config))
    texts: dict[int, str] = {}
    for entry in headlines:
        body_html: str = getattr(entry, "body_html", "") or ""
        notes_html: str = getattr(entry, "notes_html", "") or ""
        if t.START_SEL not in body_html and t.START_SEL in notes_html:
            body_html = notes_html
        texts[entry.pk] = body_html
    return [Row(object_id, float(rank), t.headline_html(texts.get(pk, "")))
            for pk, object_id, rank in page], total


def _headline(expression: Any, tsquery: SearchQuery, config: Case) -> SearchHeadline:
    return SearchHeadline(expression, tsquery, config=config, start_sel=t.START_SEL,
                          stop_sel=t.STOP_SEL, max_words=35, min_words=15, max_fragments=2,
                          fragment_delimiter=" … ")


def _fts_expression(query: Query, mode: Mode, staff_text: bool) -> str:
    terms = [f'"{s}"' for s in query.stems]
    if query.prefix_last:
        # A half-typed word: its stem or the letters typed so far may begin an indexed stem.
        terms[-1] = f'("{query.stems[-1]}"* OR "{query.words[-1]}"*)'
    expression = (" AND " if mode == "all" else " OR ").join(terms)
    if not staff_text:
        expression = f"{{title body}} : ({expression})"
    return expression


def _sqlite_search(entries: QuerySet[SearchEntry], query: Query, *, mode: Mode,
                   staff_text: bool, limit: int, offset: int,
                   count: bool) -> tuple[list[Row], int]:
    match = _fts_expression(query, mode, staff_text)
    allowed_sql, allowed_params = entries.values("pk").query.sql_with_params()
    # "+rowid": the IN list must filter the matches, not drive one FTS lookup per allowed row
    # (SQLite would otherwise hand it to FTS5 as a rowid constraint — 40 s at 100k articles).
    where = f"search_fts MATCH %s AND +search_fts.rowid IN ({allowed_sql})"
    params = [match, *allowed_params]
    with connection.cursor() as cursor:
        total = -1
        if count:
            # ``where`` holds placeholders and the ORM's compiled sub-select only.
            cursor.execute(f"SELECT count(*) FROM search_fts WHERE {where}", params)  # noqa: S608
            total = int(cursor.fetchone()[0])
            if total == 0:
                return [], 0
        # Column weights: a word in the title counts most, then the text, then notes.
        sql = (f"SELECT search_fts.rowid, bm25(search_fts, 10.0, 3.0, 1.0) AS score "  # noqa: S608
               f"FROM search_fts WHERE {where} ORDER BY score, search_fts.rowid LIMIT %s OFFSET %s")
        cursor.execute(sql, [*params, limit, offset])
        page = [(int(pk), float(score)) for pk, score in cursor.fetchall()]
    if not page:
        return [], max(total, 0)
    entries_by_pk = SearchEntry.objects.in_bulk([pk for pk, _s in page])
    rows = []
    for pk, score in page:
        entry = entries_by_pk[pk]
        html = t.snippet(entry.body, query.stems, prefixes=query.prefixes)
        if staff_text and entry.notes and "<mark>" not in html:
            notes_html = t.snippet(entry.notes, query.stems, prefixes=query.prefixes)
            if "<mark>" in notes_html:
                html = notes_html
        rows.append(Row(entry.object_id, -score, html))
    return rows, total


def allowed(kind: str, object_ids: QuerySet[Any, Any] | None, extra: Q | None = None
            ) -> QuerySet[SearchEntry]:
    """Entries of ``kind`` whose object is in ``object_ids`` (a ``values("pk")`` sub-select of a
    permission funnel; ``None`` means every object of that kind)."""
    entries = SearchEntry.objects.filter(kind=kind)
    if object_ids is not None:
        entries = entries.filter(object_id__in=object_ids)
    if extra is not None:
        entries = entries.filter(extra)
    return entries
