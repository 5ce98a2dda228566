"""Keeping the index current: what text an article or a ticket contributes, the signal receivers
and the full rebuild (``opora search_reindex``).

Signals are the one place STYLE.md allows them: the index is derived data that a rebuild
restores. Receivers run in the writer's transaction, so an action that rolls back leaves the
index as it was. They read the models and never write them.

What is indexed:

- an article: title (weight A); summary, Markdown text without markup and tag names (weight B);
- a ticket: number and title (A); description, resolution and the text of every event the
  requester sees — public replies, reasons for reopening or cancelling (B); internal notes and
  other internal events go to ``notes`` (C), searched only when staff search. A requester's
  ticket search (the API allows it) matches only the public text of tickets they can see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from . import backends
from . import text as t
from .models import Kind, SearchEntry

#: Article fields whose change alters the indexed text (a view count does not).
ARTICLE_TEXT_FIELDS = frozenset({"title", "summary", "body", "language"})
TICKET_TEXT_FIELDS = frozenset({"title", "description", "resolution", "number"})


def _article_model() -> type[Model]:
    return apps.get_model("kb", "Article")


def article_entry(article: Any, tag_names: Iterable[str]) -> SearchEntry:
    body = "\n".join(part for part in (
        t.plain_text(article.summary), t.plain_text(article.body), " ".join(tag_names),
    ) if part)
    return SearchEntry(kind=Kind.ARTICLE, object_id=article.pk, language=article.language or "",
                       title=t.plain_text(article.title), body=body)


def ticket_entry(ticket: Any, events: Iterable[Any]) -> SearchEntry:
    from opora.tickets.choices import PUBLIC_EVENT_KINDS

    public = [t.plain_text(ticket.description), t.plain_text(ticket.resolution)]
    internal: list[str] = []
    for event in events:
        if not event.body:
            continue
        visible = event.is_public and event.kind in PUBLIC_EVENT_KINDS
        (public if visible else internal).append(t.plain_text(event.body))
    return SearchEntry(
        kind=Kind.TICKET, object_id=ticket.pk, language="",
        title=t.plain_text(f"{ticket.number or ''} {ticket.title}"),
        body="\n".join(p for p in public if p)[:t.MAX_FIELD_CHARS],
        notes="\n".join(p for p in internal if p)[:t.MAX_FIELD_CHARS],
    )


def _save(entries: list[SearchEntry]) -> None:
    """Replace the entries of these objects (one kind at a time is not required)."""
    if not entries:
        return
    now = timezone.now()
    with transaction.atomic():
        for kind in {e.kind for e in entries}:
            ids = [e.object_id for e in entries if e.kind == kind]
            old = list(SearchEntry.objects.filter(kind=kind, object_id__in=ids)
                       .values_list("pk", flat=True))
            backends.forget(old)
            SearchEntry.objects.filter(pk__in=old).delete()
        for entry in entries:
            entry.updated_at = now
        created = SearchEntry.objects.bulk_create(entries)
        backends.store([e.pk for e in created])


def remove(kind: str, object_ids: list[int]) -> None:
    old = list(SearchEntry.objects.filter(kind=kind, object_id__in=object_ids)
               .values_list("pk", flat=True))
    backends.forget(old)
    SearchEntry.objects.filter(pk__in=old).delete()


def index_articles(pks: list[int]) -> None:
    article_model = _article_model()
    articles: list[Any] = list(article_model._default_manager.filter(pk__in=pks)
                               .prefetch_related("tags"))
    _save([article_entry(a, [tag.name for tag in a.tags.all()]) for a in articles])
    gone = set(pks) - {a.pk for a in articles}
    if gone:
        remove(Kind.ARTICLE, sorted(gone))


def index_tickets(pks: list[int]) -> None:
    from opora.tickets.models import Ticket, TicketEvent

    tickets = list(Ticket.objects.filter(pk__in=pks))
    events: dict[int, list[TicketEvent]] = {}
    for event in (TicketEvent.objects.filter(ticket_id__in=pks).exclude(body="")
                  .only("ticket_id", "kind", "is_public", "body").order_by("created_at", "id")):
        events.setdefault(event.ticket_id, []).append(event)
    _save([ticket_entry(ticket, events.get(ticket.pk, [])) for ticket in tickets])


# --- rebuild -----------------------------------------------------------------------------------


def reindex(*, kinds: Iterable[str] = (Kind.ARTICLE, Kind.TICKET), batch_size: int = 500,
            progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Rebuild the index of these kinds from the models, in batches of ``batch_size`` objects
    (one transaction each). ``progress(kind, done, total)`` is called after every batch."""
    from opora.tickets.models import Ticket

    sources: dict[str, tuple[Any, Callable[[list[int]], None]]] = {
        Kind.ARTICLE: (_article_model()._default_manager, index_articles),
        Kind.TICKET: (Ticket.objects, index_tickets),
    }
    done: dict[str, int] = {}
    for kind in kinds:
        manager, index = sources[kind]
        pks = list(manager.order_by("pk").values_list("pk", flat=True))
        # Entries of objects that no longer exist go first.
        stale = (SearchEntry.objects.filter(kind=kind).exclude(object_id__in=manager.values("pk"))
                 .values_list("object_id", flat=True))
        remove(kind, list(stale))
        for start in range(0, len(pks), batch_size):
            index(pks[start:start + batch_size])
            if progress is not None:
                progress(kind, min(start + batch_size, len(pks)), len(pks))
        if progress is not None and not pks:
            progress(kind, 0, 0)
        done[kind] = len(pks)
    return done


# --- signal receivers ----------------------------------------------------------------------------


def _text_changed(update_fields: Iterable[str] | None, fields: frozenset[str]) -> bool:
    return update_fields is None or bool(fields & set(update_fields))


def _article_saved(sender: Any, instance: Any, update_fields: Any = None, raw: bool = False,
                   **kwargs: Any) -> None:
    if not raw and _text_changed(update_fields, ARTICLE_TEXT_FIELDS):
        index_articles([instance.pk])


def _article_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    remove(Kind.ARTICLE, [instance.pk])


def _article_tags_changed(sender: Any, instance: Any, action: str, reverse: bool,
                          pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        index_articles([instance.pk])
    elif pk_set:
        # tag.articles.add(...): the articles are in pk_set.
        index_articles(sorted(pk_set))
    elif action == "post_clear":
        # A tag's articles were cleared; which ones is no longer known: rebuild all articles
        # (rare; the tag admin does this, never the article pages).
        reindex(kinds=[Kind.ARTICLE])


def _ticket_saved(sender: Any, instance: Any, update_fields: Any = None, raw: bool = False,
                  **kwargs: Any) -> None:
    if not raw and _text_changed(update_fields, TICKET_TEXT_FIELDS):
        index_tickets([instance.pk])


def _ticket_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    remove(Kind.TICKET, [instance.pk])


def _event_saved(sender: Any, instance: Any, created: bool = False, raw: bool = False,
                 **kwargs: Any) -> None:
    if created and not raw and instance.body:
        index_tickets([instance.ticket_id])


def connect() -> None:
    """Called from ``SearchConfig.ready``."""
    from opora.tickets.models import Ticket, TicketEvent

    article = _article_model()
    post_save.connect(_article_saved, sender=article, dispatch_uid="search_article_saved")
    post_delete.connect(_article_deleted, sender=article, dispatch_uid="search_article_deleted")
    m2m_changed.connect(_article_tags_changed, sender=article.tags.through,  # type: ignore[attr-defined]
                        dispatch_uid="search_article_tags")
    post_save.connect(_ticket_saved, sender=Ticket, dispatch_uid="search_ticket_saved")
    post_save.connect(_event_saved, sender=TicketEvent, dispatch_uid="search_event_saved")
    post_delete.connect(_ticket_deleted, sender=Ticket, dispatch_uid="search_ticket_deleted")
