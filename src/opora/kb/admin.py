"""The admin site shows the knowledge base read-only: changes go through the pages and the API,
which write the versions and the audit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Article, ArticleEvent, ArticleVersion, Tag


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(ReadOnly):
    list_display = ["id", "title", "type", "status", "visibility", "language", "updated_at"]
    list_filter = ["type", "status", "visibility", "language"]
    search_fields = ["title"]


admin.site.register(ArticleVersion, ReadOnly)
admin.site.register(ArticleEvent, ReadOnly)
admin.site.register(Tag, ReadOnly)
