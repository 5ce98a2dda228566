"""The search index (one row per article or ticket), the search log and deflections.

``SearchEntry`` is derived data: signal receivers keep it current and ``opora search_reindex``
rebuilds it from scratch; nothing else reads it but ``opora.search``. Who may see an entry is
not stored here: every query joins the owners' permission funnels (``kb.querysets`` and
``tickets.querysets``), so a change of visibility needs no re-indexing.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    ARTICLE = "article", _("Article")
    TICKET = "ticket", _("Ticket")


class SearchEntry(models.Model):
    """The searchable text of one article or ticket.

    ``title`` and ``body`` are plain text (Markdown removed) that everyone allowed to see the
    object may search; ``notes`` (tickets only) holds internal notes, searched by staff only.
    On PostgreSQL ``vector`` (title weight A, body B) and ``vector_staff`` (plus notes, weight C;
    tickets only) are filled by the indexer with the ``russian`` or ``english`` configuration
    and carry partial GIN indexes created in the migration. On SQLite the stemmed text lives in
    the FTS5 table ``search_fts`` (rowid = this row's id) and these columns stay empty.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    object_id = models.BigIntegerField(_("object id"))
    language = models.CharField(_("language"), max_length=10, blank=True)
    title = models.TextField(_("title"))
    body = models.TextField(_("text"), blank=True)
    notes = models.TextField(_("internal notes"), blank=True)
    vector = SearchVectorField(null=True, editable=False)
    vector_staff = SearchVectorField(null=True, editable=False)
    updated_at = models.DateTimeField(_("indexed"), default=timezone.now)

    class Meta:
        verbose_name = _("search index entry")
        verbose_name_plural = _("search index entries")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_entry_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.title[:60]}"


class Source(models.TextChoices):
    """Where a search was typed."""

    AGENT = "agent", _("Workspace search")
    PORTAL = "portal", _("Portal suggestions")
    KB = "kb", _("Knowledge base list")


class SearchLog(models.Model):
    """One search someone ran, with how many results it found (the "nothing found" report)."""

    query = models.CharField(_("query"), max_length=300)
    normalised = models.CharField(_("normalised query"), max_length=300)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("user"),
    )
    results = models.PositiveIntegerField(_("results"))
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("search log entry")
        verbose_name_plural = _("search log")
        indexes = [
            models.Index(fields=["results", "created_at"], name="search_log_results_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.query} ({self.results})"


class DeflectionMethod(models.TextChoices):
    """How we learnt that an article solved the problem."""

    #: The requester pressed "This solved my problem" beside the suggestion.
    CONFIRMED = "confirmed", _("Confirmed by the requester")
    #: The requester read a suggestion and left the new-request page without sending it.
    LEFT = "left", _("Left after reading")


class Deflection(models.Model):
    """A request that was not opened because a suggested article answered it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("requester"),
    )
    article = models.ForeignKey(
        "kb.Article", on_delete=models.CASCADE, related_name="deflections",
        verbose_name=_("article"),
    )
    query = models.CharField(_("what they typed"), max_length=300, blank=True)
    method = models.CharField(
        _("how it was counted"), max_length=10, choices=DeflectionMethod.choices,
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deflection")
        verbose_name_plural = _("deflections")
        indexes = [models.Index(fields=["created_at"], name="search_deflection_time_idx")]

    def __str__(self) -> str:
        return f"{self.article_id} · {self.created_at:%Y-%m-%d}"
