"""Knowledge-base articles, their versions and audit timeline, files, links to tickets and
readers' feedback. Fields and constraints only: every write goes through ``kb.actions``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import LANGUAGES, ArticleEventKind, ArticleStatus, ArticleType, Visibility

__all__ = [
    "Article", "ArticleAttachment", "ArticleEvent", "ArticleFeedback", "ArticleStatus",
    "ArticleType", "ArticleVersion", "Tag", "TicketArticle", "Visibility",
]


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """History rows are only ever added: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("This history is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("This history is append-only")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("This history is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("This history is append-only")


class Tag(models.Model):
    """A free keyword grouping articles ("vpn", "1c", "printer")."""

    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """One knowledge-base article in one language (Markdown ``body``).

    Language versions of the same article share ``translation_of`` (the original points at
    nothing, its translations at the original). ``version`` is the number of the current
    ``ArticleVersion``; ``revalidate_on`` is when the article is due to be checked again.
    """

    title = models.CharField(_("title"), max_length=255)
    summary = models.TextField(_("summary"), blank=True)
    body = models.TextField(_("text"), blank=True)
    language = models.CharField(_("language"), max_length=10, choices=LANGUAGES, default="ru")
    type = models.CharField(_("type"), max_length=20, choices=ArticleType.choices,
                            default=ArticleType.HOWTO)
    status = models.CharField(_("status"), max_length=20, choices=ArticleStatus.choices,
                              default=ArticleStatus.DRAFT, db_index=True)
    visibility = models.CharField(_("visibility"), max_length=20, choices=Visibility.choices,
                                  default=Visibility.INTERNAL)
    organisations = models.ManyToManyField(
        "accounts.Organisation", blank=True, related_name="kb_articles",
        verbose_name=_("organisations"),
    )
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="kb_articles",
                                        verbose_name=_("categories"))
    services = models.ManyToManyField("catalog.Service", blank=True, related_name="kb_articles",
                                      verbose_name=_("services"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="articles",
                                  verbose_name=_("tags"))
    translation_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="translations",
        verbose_name=_("translation of"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kb_written",
        verbose_name=_("author"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kb_owned",
        verbose_name=_("owner"), help_text=_("Keeps the article current; reminded to revalidate."),
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="kb_reviewing",
        verbose_name=_("reviewers"),
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    revalidate_on = models.DateField(_("revalidate on"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [models.Index(fields=["status", "visibility"], name="kb_article_status_vis")]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(AppendOnly):
    """The content of an article as saved once: numbered 1, 2, 3… per article, never changed."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions",
                                verbose_name=_("article"))
    number = models.PositiveIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=255)
    summary = models.TextField(_("summary"), blank=True)
    body = models.TextField(_("text"), blank=True)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("saved by"),
    )
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["article", "-number"]
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        constraints = [models.UniqueConstraint(fields=["article", "number"],
                                               name="kb_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.number}"


class ArticleEvent(AppendOnly):
    """The audit timeline of an article: who did what, when (``actor`` empty: the system)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="events",
                                verbose_name=_("article"))
    kind = models.CharField(_("kind"), max_length=30, choices=ArticleEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("actor"),
    )
    comment = models.TextField(_("comment"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("article event")
        verbose_name_plural = _("article events")
        indexes = [models.Index(fields=["actor", "kind"], name="kb_event_actor_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(instance: ArticleAttachment, filename: str) -> str:
    import uuid

    return f"kb/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class ArticleAttachment(models.Model):
    """A file or image of an article; shown to whoever may read the article."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments",
                                verbose_name=_("article"))
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=150)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("article file")
        verbose_name_plural = _("article files")

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        return self.content_type in ("image/png", "image/jpeg", "image/gif", "image/webp")


class TicketArticle(models.Model):
    """An article that helped with (or was written from) a ticket."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE,
                               related_name="kb_links", verbose_name=_("ticket"))
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ticket_links",
                                verbose_name=_("article"))
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("linked by"),
    )
    created_at = models.DateTimeField(_("linked"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket article")
        verbose_name_plural = _("ticket articles")
        constraints = [models.UniqueConstraint(fields=["ticket", "article"],
                                               name="kb_ticket_article_unique")]

    def __str__(self) -> str:
        return f"{self.ticket_id} ↔ {self.article_id}"


class ArticleFeedback(models.Model):
    """A reader's "was this helpful?" answer, with an optional comment."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback",
                                verbose_name=_("article"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             blank=True, related_name="+", verbose_name=_("reader"))
    helpful = models.BooleanField(_("helpful"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")

    def __str__(self) -> str:
        return f"{self.article_id}: {'+' if self.helpful else '-'}"
