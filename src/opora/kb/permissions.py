"""Single articles: ``access_article`` (invisible = 404, like a missing one) and ``can_*``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from .choices import ArticleStatus
from .models import Article
from .querysets import is_moderator, is_staff, visibility_q

if TYPE_CHECKING:
    from opora.accounts.models import User


class ArticleNotFound(Http404):
    pass


def access_article(user: User | Any, pk: int | str,
                   queryset: QuerySet[Article] | None = None) -> Article:
    text = str(pk)
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise ArticleNotFound(_("Article not found."))
    q = visibility_q(user)
    base = queryset if queryset is not None else Article.objects.all()
    if q is not None:
        base = base.filter(q)
    try:
        return base.get(pk=int(text))
    except Article.DoesNotExist as exc:
        raise ArticleNotFound(_("Article not found.")) from exc


def is_reviewer(user: User | Any, article: Article) -> bool:
    return bool(user.is_authenticated) and article.reviewers.filter(pk=user.pk).exists()


def can_edit(user: User | Any, article: Article) -> bool:
    """Moderators, the author, the owner and the reviewers edit; archived articles are frozen."""
    if not is_staff(user) or article.status == ArticleStatus.ARCHIVED:
        return False
    return (is_moderator(user) or user.pk in (article.author_id, article.owner_id)
            or is_reviewer(user, article))


def can_write(user: User | Any) -> bool:
    """Any member of the service desk may write a new article."""
    return is_staff(user)
