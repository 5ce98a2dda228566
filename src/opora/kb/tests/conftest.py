"""Fixtures of the knowledge-base tests."""

from __future__ import annotations

from typing import Any

import pytest

from opora.kb import actions
from opora.kb.choices import ArticleStatus, ArticleType, Visibility
from opora.kb.models import Article


def make_article(author: Any, *, status: str = ArticleStatus.PUBLISHED,
                 visibility: str = Visibility.PUBLIC, organisations: Any = (),
                 title: str = "Принтер перестал печатать", body: str = "Перезапустите принтер.",
                 language: str = "ru", type: str = ArticleType.FAQ,
                 reviewers: Any = (), moderator: Any = None) -> Article:
    """An article brought to ``status`` through the actions (a moderator publishes)."""
    article = actions.create_article(title=title, body=body, language=language, type=type,
                                     visibility=visibility, organisations=organisations,
                                     reviewers=reviewers, actor=author)
    if status == ArticleStatus.DRAFT:
        return article
    if status == ArticleStatus.IN_REVIEW:
        return actions.transition(article, action="submit", actor=author)
    article = actions.transition(article, action="publish", actor=moderator)
    if status == ArticleStatus.NEEDS_REVALIDATION:
        Article.objects.filter(pk=article.pk).update(status=ArticleStatus.NEEDS_REVALIDATION)
        article.refresh_from_db()
    elif status == ArticleStatus.ARCHIVED:
        article = actions.transition(article, action="archive", actor=moderator)
    return article


@pytest.fixture
def article_for(world: Any) -> Any:
    """``article_for(status=..., visibility=...)``: written by ``l1_agent2``, limited to
    ``world.org`` when the visibility is "organisations"."""

    def make(**kwargs: Any) -> Article:
        if kwargs.get("visibility") == Visibility.ORGANISATIONS:
            kwargs.setdefault("organisations", [world.org])
        kwargs.setdefault("moderator", world.manager)
        return make_article(world.l1_agent2, **kwargs)

    return make
