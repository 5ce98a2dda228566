"""One article filter, used by the agent list page, the portal list and the API list."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .choices import LANGUAGES, ArticleStatus, ArticleType, Visibility
from .models import Article

#: Accepted ``ordering`` values (a leading ``-`` reverses).
ORDERING_FIELDS = ("title", "updated_at", "published_at", "view_count", "created_at")


def _key(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


class ArticleFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=ArticleType.choices, label=_("Type"))
    status = django_filters.ChoiceFilter(choices=ArticleStatus.choices, label=_("Status"))
    language = django_filters.ChoiceFilter(choices=LANGUAGES, label=_("Language"))
    visibility = django_filters.ChoiceFilter(choices=Visibility.choices, label=_("Visibility"))
    category = django_filters.CharFilter(method="filter_category", label=_("Category"))
    service = django_filters.CharFilter(method="filter_service", label=_("Service"))
    tag = django_filters.CharFilter(method="filter_tag", label=_("Tag"))
    author = django_filters.CharFilter(method="filter_author", label=_("Author"))
    q = django_filters.CharFilter(method="filter_text", label=_("Text"))

    class Meta:
        model = Article
        fields: list[str] = []

    def _through(self, qs: QuerySet[Article], name: str, column: str,
                 value: Any) -> QuerySet[Article]:
        key = _key(value)
        if key is None:
            return qs.none()
        through = getattr(Article, name).through.objects.filter(**{column: key})
        return qs.filter(pk__in=through.values("article_id"))

    def filter_category(self, qs: QuerySet[Article], name: str, value: Any) -> QuerySet[Article]:
        return self._through(qs, "categories", "category_id", value)

    def filter_service(self, qs: QuerySet[Article], name: str, value: Any) -> QuerySet[Article]:
        return self._through(qs, "services", "service_id", value)

    def filter_tag(self, qs: QuerySet[Article], name: str, value: Any) -> QuerySet[Article]:
        through = Article.tags.through.objects.filter(tag__name=str(value).strip().lower())
        return qs.filter(pk__in=through.values("article_id"))

    def filter_author(self, qs: QuerySet[Article], name: str, value: Any) -> QuerySet[Article]:
        key = _key(value)
        return qs.none() if key is None else qs.filter(author_id=key)

    def filter_text(self, qs: QuerySet[Article], name: str, value: Any) -> QuerySet[Article]:
        text = str(value).replace("\x00", "").strip()[:200]
        if not text:
            return qs
        return qs.filter(Q(title__icontains=text) | Q(summary__icontains=text))


def order(qs: QuerySet[Article], ordering: str | None) -> QuerySet[Article]:
    """Sort by one accepted field (default: latest change first), ties broken by id."""
    value = (ordering or "").strip()
    field = value.lstrip("-")
    if field not in ORDERING_FIELDS:
        return qs.order_by("-updated_at", "-id")
    desc = value.startswith("-")
    return qs.order_by(value, "-id" if desc else "id")
