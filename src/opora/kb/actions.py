"""Every write to the knowledge base. Each action runs in one transaction, checks permission and
the lifecycle table (``workflow``), writes an ``ArticleVersion`` when the content changes and an
``ArticleEvent`` (the audit) with its actor, and queues mail only through the outbox in the same
transaction — a rolled-back request sends nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opora.accounts.models import Organisation, User
from opora.catalog.models import Category, Service
from opora.tickets.attachments import check_upload
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket

from . import workflow
from .choices import LANGUAGES, ArticleEventKind, ArticleStatus, ArticleType, Visibility
from .models import (
    Article,
    ArticleAttachment,
    ArticleEvent,
    ArticleFeedback,
    ArticleVersion,
    Tag,
    TicketArticle,
)
from .querysets import is_moderator, is_staff
from .revalidation import due_date

logger = logging.getLogger(__name__)

TITLE_MAX = 255
BODY_MAX = 200_000
TAG_MAX = 50
COMMENT_MAX = 2000
CONTENT_FIELDS = ("title", "summary", "body")
SCALAR_FIELDS = ("title", "summary", "body", "language", "type", "visibility")
M2M_FIELDS = ("organisations", "categories", "services", "tags", "reviewers")


class StaleArticle(ActionError):
    """The article changed since the person opened the editor."""

    status = 409
    default_code = "stale"

    def __init__(self, current_version: int) -> None:
        super().__init__(_("The article was changed by someone else while you were editing it. "
                           "Reload it, check the changes and try again."))
        self.current_version = current_version


def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise ActionError(_("Only the service desk may change articles."), code="staff_only")


def _roles(article: Article, actor: User) -> workflow.Roles:
    return workflow.Roles(
        staff=is_staff(actor), moderator=is_moderator(actor),
        author=actor.pk == article.author_id, owner=actor.pk == article.owner_id,
        reviewer=article.reviewers.filter(pk=actor.pk).exists(),
    )


def roles_for(article: Article, actor: User) -> workflow.Roles:
    return _roles(article, actor)


def _event(article: Article, kind: str, actor: User | None, *, comment: str = "",
           data: Mapping[str, Any] | None = None, now: datetime | None = None) -> ArticleEvent:
    return ArticleEvent.objects.create(article=article, kind=kind, actor=actor, comment=comment,
                                       data=dict(data or {}), created_at=now or timezone.now())


def _snapshot(article: Article, actor: User | None, comment: str = "") -> ArticleVersion:
    return ArticleVersion.objects.create(
        article=article, number=article.version, title=article.title, summary=article.summary,
        body=article.body, comment=comment[:500], created_by=actor,
    )


def _clean_scalars(values: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name == "title":
            value = " ".join(str(value or "").split())
            if not value:
                raise ActionError(_("This field is required."), code="required", field="title")
            if len(value) > TITLE_MAX:
                raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                                  % {"max": TITLE_MAX}, code="too_long", field="title")
        elif name in ("summary", "body"):
            value = str(value or "").replace("\x00", "").strip()
            if len(value) > BODY_MAX:
                raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                                  % {"max": BODY_MAX}, code="too_long", field=name)
        elif name == "language":
            if value not in dict(LANGUAGES):
                raise ActionError(_("Choose one of the offered languages."),
                                  code="invalid_choice", field="language")
        elif name == "type":
            if value not in ArticleType.values:
                raise ActionError(_("Choose one of the offered types."), code="invalid_choice",
                                  field="type")
        elif name == "visibility" and value not in Visibility.values:
            raise ActionError(_("Choose one of the offered visibilities."),
                              code="invalid_choice", field="visibility")
        cleaned[name] = value
    return cleaned


def _tags(names: Iterable[str]) -> list[Tag]:
    found = []
    for raw in names:
        name = " ".join(str(raw).split()).lower()[:TAG_MAX]
        if name:
            found.append(Tag.objects.get_or_create(name=name)[0])
    return found


def _clean_relations(values: Mapping[str, Any]) -> dict[str, list[Any]]:
    cleaned: dict[str, list[Any]] = {}
    for name in M2M_FIELDS:
        if name not in values:
            continue
        items = list(values[name] or [])
        if name == "tags":
            cleaned[name] = _tags(items)
            continue
        model = {"organisations": Organisation, "categories": Category, "services": Service,
                 "reviewers": User}[name]
        if not all(isinstance(item, model) for item in items):
            raise ActionError(_("Choose one of the offered values."), code="invalid_choice",
                              field=name)
        if name == "reviewers" and not all(is_staff(u) for u in items):
            raise ActionError(_("Reviewers must be members of the service desk."),
                              code="invalid_choice", field="reviewers")
        cleaned[name] = items
    return cleaned


def _check_visibility(visibility: str, organisations: list[Organisation] | None,
                      article: Article | None) -> None:
    if visibility != Visibility.ORGANISATIONS:
        return
    if organisations is None and article is not None:
        has_any = article.organisations.exists()
    else:
        has_any = bool(organisations)
    if not has_any:
        raise ActionError(_("Choose at least one organisation for this visibility."),
                          code="required", field="organisations")


def create_article(
    *,
    title: str,
    actor: User,
    summary: str = "",
    body: str = "",
    language: str = "ru",
    type: str = ArticleType.HOWTO,
    visibility: str = Visibility.INTERNAL,
    organisations: Iterable[Organisation] = (),
    categories: Iterable[Category] = (),
    services: Iterable[Service] = (),
    tags: Iterable[str] = (),
    reviewers: Iterable[User] = (),
    owner: User | None = None,
    translation_of: Article | None = None,
    source_ticket: Ticket | None = None,
) -> Article:
    """A new draft (version 1), written by ``actor``; from a ticket it is linked to it."""
    _require_staff(actor)
    scalars = _clean_scalars({"title": title, "summary": summary, "body": body,
                              "language": language, "type": type, "visibility": visibility})
    relations = _clean_relations({"organisations": organisations, "categories": categories,
                                  "services": services, "tags": tags, "reviewers": reviewers})
    _check_visibility(scalars["visibility"], relations["organisations"], None)
    if owner is not None and not is_staff(owner):
        raise ActionError(_("The owner must be a member of the service desk."),
                          code="invalid_choice", field="owner")
    if translation_of is not None:
        # Translations group around the original: a translation of a translation joins its group.
        translation_of = translation_of.translation_of or translation_of
    now = timezone.now()
    with transaction.atomic():
        article = Article.objects.create(
            **scalars, author=actor, owner=owner or actor, translation_of=translation_of,
            created_at=now, updated_at=now,
        )
        for name, items in relations.items():
            getattr(article, name).set(items)
        _snapshot(article, actor, _("Created"))
        data: dict[str, Any] = {}
        if source_ticket is not None:
            TicketArticle.objects.create(ticket=source_ticket, article=article, linked_by=actor)
            data["ticket"] = source_ticket.number
        _event(article, ArticleEventKind.CREATED, actor, data=data, now=now)
    return article


def update_article(article: Article, *, changes: Mapping[str, Any], actor: User,
                   expected_version: int | None = None, comment: str = "") -> Article:
    """Change fields; a change of title, summary or text makes a new version."""
    _require_staff(actor)
    unknown = set(changes) - set(SCALAR_FIELDS) - set(M2M_FIELDS) - {"owner"}
    if unknown:
        raise ActionError(_("Unknown field."), code="invalid", field=sorted(unknown)[0])
    scalars = _clean_scalars({k: v for k, v in changes.items() if k in SCALAR_FIELDS})
    relations = _clean_relations(changes)
    owner = changes.get("owner")
    if "owner" in changes and (owner is None or not is_staff(owner)):
        raise ActionError(_("The owner must be a member of the service desk."),
                          code="invalid_choice", field="owner")
    with transaction.atomic():
        current = Article.objects.select_for_update().get(pk=article.pk)
        from .permissions import can_edit

        if not can_edit(actor, current):
            raise ActionError(_("You may not edit this article."), code="staff_only")
        if expected_version is not None and expected_version != current.version:
            raise StaleArticle(current.version)
        _check_visibility(scalars.get("visibility", current.visibility),
                          relations.get("organisations"), current)
        changed = [name for name, value in scalars.items() if getattr(current, name) != value]
        for name in changed:
            setattr(current, name, scalars[name])
        if owner is not None and owner.pk != current.owner_id:
            current.owner = owner
            changed.append("owner")
        for name, items in relations.items():
            manager = getattr(current, name)
            before = {o.pk for o in manager.all()}
            if before != {o.pk for o in items}:
                manager.set(items)
                changed.append(name)
        if not changed:
            return current
        content = any(name in CONTENT_FIELDS for name in changed)
        if content:
            current.version += 1
        current.updated_at = timezone.now()
        current.save()
        if content:
            _snapshot(current, actor, comment)
        _event(current, ArticleEventKind.UPDATED, actor, comment=comment[:COMMENT_MAX],
               data={"fields": changed, "version": current.version})
    return current


_KIND_OF_ACTION = {
    "submit": ArticleEventKind.SUBMITTED, "approve": ArticleEventKind.APPROVED,
    "send_back": ArticleEventKind.SENT_BACK, "publish": ArticleEventKind.PUBLISHED,
    "revalidate": ArticleEventKind.REVALIDATED, "withdraw": ArticleEventKind.WITHDRAWN,
    "archive": ArticleEventKind.ARCHIVED, "unarchive": ArticleEventKind.UNARCHIVED,
}


def transition(article: Article, *, action: str, actor: User, comment: str = "",
               now: datetime | None = None) -> Article:
    """Move an article through its lifecycle (``workflow.TRANSITIONS``)."""
    _require_staff(actor)
    move = workflow.BY_ACTION.get(action)
    if move is None:
        raise ActionError(_("Unknown action."), code="invalid", field="action")
    comment = str(comment or "").strip()[:COMMENT_MAX]
    if move.needs_comment and not comment:
        raise ActionError(_("Say what needs to change."), code="required", field="comment")
    now = now or timezone.now()
    with transaction.atomic():
        current = Article.objects.select_for_update().get(pk=article.pk)
        if current.status not in move.sources:
            raise ActionError(_("This is not possible in the article's current state."),
                              code="invalid_transition")
        if not workflow.permitted(action, _roles(current, actor)):
            raise ActionError(_("You are not allowed to do this with this article."),
                              code="staff_only")
        old = current.status
        current.status = move.target
        if move.target == ArticleStatus.PUBLISHED:
            if current.published_at is None or old != ArticleStatus.PUBLISHED:
                current.published_at = current.published_at or now
            current.revalidate_on = due_date(current.type, timezone.localdate(now))
        current.updated_at = now
        current.save(update_fields=["status", "published_at", "revalidate_on", "updated_at"])
        _event(current, _KIND_OF_ACTION[action], actor, comment=comment, now=now,
               data={"status": [old, current.status]})
    return current


def restore_version(article: Article, *, number: int, actor: User) -> Article:
    """Bring back the content of an earlier version, as a new version (history stays)."""
    version = ArticleVersion.objects.filter(article_id=article.pk, number=number).first()
    if version is None:
        raise ActionError(_("There is no such version."), code="not_found", field="version")
    with transaction.atomic():
        updated = update_article(
            article, actor=actor,
            changes={"title": version.title, "summary": version.summary, "body": version.body},
            comment=_("Restored version %(number)d") % {"number": number},
        )
        _event(updated, ArticleEventKind.RESTORED, actor,
               data={"from": number, "version": updated.version})
    return updated


def add_attachment(article: Article, *, file: IO[bytes], filename: str, actor: User,
                   size: int | None = None) -> ArticleAttachment:
    """A file or image for the article, checked like ticket attachments."""
    from django.core.files import File

    from .permissions import can_edit

    if not can_edit(actor, article):
        raise ActionError(_("You may not edit this article."), code="staff_only")
    checked = check_upload(file, filename, size)
    with transaction.atomic():
        attachment = ArticleAttachment(
            article=article, filename=checked.filename, content_type=checked.content_type,
            size=checked.size, uploaded_by=actor,
        )
        attachment.file.save(checked.filename, File(checked.file), save=False)
        attachment.save()
        _event(article, ArticleEventKind.ATTACHMENT_ADDED, actor,
               data={"file": checked.filename, "id": attachment.pk})
    return attachment


def remove_attachment(attachment: ArticleAttachment, *, actor: User) -> None:
    from .permissions import can_edit

    article = attachment.article
    if not can_edit(actor, article):
        raise ActionError(_("You may not edit this article."), code="staff_only")
    with transaction.atomic():
        _event(article, ArticleEventKind.ATTACHMENT_REMOVED, actor,
               data={"file": attachment.filename, "id": attachment.pk})
        attachment.delete()


def link_ticket(ticket: Ticket, article: Article, *, actor: User) -> TicketArticle:
    """Record that ``article`` helps with ``ticket`` (idempotent). Not ticket state: the audit
    entry is the article's."""
    _require_staff(actor)
    with transaction.atomic():
        link, created = TicketArticle.objects.get_or_create(
            ticket=ticket, article=article, defaults={"linked_by": actor})
        if created:
            _event(article, ArticleEventKind.TICKET_LINKED, actor,
                   data={"ticket": ticket.number, "ticket_id": ticket.pk})
    return link


def unlink_ticket(ticket: Ticket, article: Article, *, actor: User) -> bool:
    _require_staff(actor)
    with transaction.atomic():
        deleted, _rows = TicketArticle.objects.filter(ticket=ticket, article=article).delete()
        if deleted:
            _event(article, ArticleEventKind.TICKET_UNLINKED, actor,
                   data={"ticket": ticket.number, "ticket_id": ticket.pk})
    return bool(deleted)


def record_view(article: Article) -> None:
    """One more reader (the page counts once per session)."""
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


def leave_feedback(article: Article, *, helpful: bool, comment: str = "",
                   user: User | None = None) -> ArticleFeedback:
    """A reader's "was this helpful?" answer."""
    comment = str(comment or "").replace("\x00", "").strip()[:COMMENT_MAX]
    return ArticleFeedback.objects.create(article=article, helpful=bool(helpful),
                                          comment=comment, user=user)


def mark_due(now: datetime | None = None) -> list[Article]:
    """The daily job: published articles whose date has come need revalidation; their owners
    are told by mail (queued in the outbox in the same transaction)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    moved = []
    with transaction.atomic():
        due = list(Article.objects.select_for_update().select_related("owner").filter(
            status=ArticleStatus.PUBLISHED, revalidate_on__lte=today))
        for article in due:
            article.status = ArticleStatus.NEEDS_REVALIDATION
            article.save(update_fields=["status"])
            _event(article, ArticleEventKind.DUE, None, now=now,
                   data={"status": [ArticleStatus.PUBLISHED, article.status],
                         "revalidate_on": article.revalidate_on.isoformat()
                         if article.revalidate_on else None})
            _notify_owner(article, now)
            moved.append(article)
    return moved


def _notify_owner(article: Article, now: datetime) -> None:
    owner = article.owner
    if not owner.is_active or not owner.email or not owner.email_notifications:
        return
    from opora.mail.outbox import absolute, queue

    with translation.override(owner.language or settings.LANGUAGE_CODE):
        subject = _("Article to revalidate: %(title)s") % {"title": article.title}
        text = _("Hello, %(name)s.\n\nThe article “%(title)s” is due for revalidation. Check "
                 "that it is still correct, edit it if needed and confirm it:\n%(url)s\n") % {
            "name": owner.get_short_name(), "title": article.title,
            "url": absolute(reverse("kb:article", args=[article.pk])),
        }
    try:
        queue(to=owner.email, subject=subject, text=text, recipient=owner, now=now)
    except ValidationError:  # an unusable address must not stop the others' reminders
        logger.warning("revalidation reminder for article %s not queued", article.pk,
                       exc_info=True)
