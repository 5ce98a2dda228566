"""What the agent workspace keeps for people: saved queue filters and canned responses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SavedFilter(models.Model):
    """A person's named queue filter: the query string of a queue page, kept for one click."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    queue = models.SlugField(_("queue"), max_length=50, default="all-open")
    query = models.CharField(_("filter"), max_length=2000, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_filter_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class CannedResponse(models.Model):
    """A ready answer an agent inserts into a reply (Markdown); for everyone or for one team."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True,
        related_name="canned_responses", verbose_name=_("team"),
        help_text=_("Empty: available to every team."),
    )
    language = models.CharField(
        _("language"), max_length=10, blank=True,
        choices=[("", _("Any")), ("ru", "Русский"), ("en", "English")],
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")

    def __str__(self) -> str:
        return self.title
