"""Classification: the category tree and the service catalog."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A node of the category tree (hardware failure › printer ...).

    ``name`` is shown in Russian interfaces, ``name_en`` in English ones; ``code`` is stable for
    rules, imports and the API.
    """

    code = models.SlugField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("parent"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = language or get_language() or "ru"
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        node = self.parent
        while node is not None:
            if node.pk == self.pk:
                raise ValidationError({"parent": _("A category cannot be its own ancestor.")})
            node = node.parent


class Service(models.Model):
    """An IT service from the catalog (email, 1C:Accounting, VPN, workplace ...)."""

    code = models.SlugField(_("code"), max_length=100, unique=True)
    name = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    owner_team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="services", verbose_name=_("owner team"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.display_name()

    def display_name(self, language: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = language or get_language() or "ru"
        if lang.startswith("en") and self.name_en:
            return self.name_en
        return self.name
