"""Articles for search tests, written straight to the model (signals index them as the real
actions' saves do): the knowledge base's own actions and workflow are K1's to test."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.utils import timezone

from opora.accounts.models import Organisation, User
from opora.kb.choices import ArticleStatus, ArticleType, Visibility
from opora.kb.models import Article


@pytest.fixture
def make_article(world: Any) -> Callable[..., Article]:
    def make(title: str, body: str = "", *, status: str = ArticleStatus.PUBLISHED,
             visibility: str = Visibility.PUBLIC, language: str = "ru", summary: str = "",
             organisations: Iterable[Organisation] = (), tags: Iterable[str] = (),
             author: User | None = None) -> Article:
        from opora.kb.models import Tag

        author = author or world.l1_agent
        article = Article.objects.create(
            title=title, body=body, summary=summary, language=language, type=ArticleType.FAQ,
            status=status, visibility=visibility, author=author, owner=author,
            published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None,
        )
        if organisations:
            article.organisations.set(list(organisations))
        if tags:
            article.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
        return article

    return make
