"""The one funnel for reading articles: ``articles_visible_to(user)``.

- anonymous people, requesters and organisation managers: published articles (including those
  due for revalidation — still correct until someone says otherwise) that are public, or limited
  to organisations that include the person's organisation;
- service desk staff: every published or archived article, internal ones included; drafts and
  articles in review only if they wrote, own or review them;
- desk managers and administrators (the moderators): everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from .choices import READABLE_STATUSES, ArticleStatus, Visibility
from .models import Article

if TYPE_CHECKING:
    from opora.accounts.models import User


def readable_by_requesters() -> Q:
    """The public part: safe to show anyone, signed in or not."""
    return Q(status__in=READABLE_STATUSES, visibility=Visibility.PUBLIC)


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_agent_side or user.is_superuser))


def is_moderator(user: Any) -> bool:
    """Desk managers and administrators moderate the knowledge base."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and user.sees_everything)


def visibility_q(user: User | Any) -> Q | None:
    """The rule as one filter; ``None`` means everything."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return readable_by_requesters()
    if is_moderator(user):
        return None
    if is_staff(user):
        reviewing = Article.reviewers.through.objects.filter(user_id=user.pk).values("article_id")
        return (Q(status__in=[*READABLE_STATUSES, ArticleStatus.ARCHIVED])
                | Q(author_id=user.pk) | Q(owner_id=user.pk) | Q(pk__in=reviewing))
    q = readable_by_requesters()
    if user.organisation_id:
        listed = Article.organisations.through.objects.filter(
            organisation_id=user.organisation_id).values("article_id")
        q |= Q(status__in=READABLE_STATUSES, visibility=Visibility.ORGANISATIONS, pk__in=listed)
    return q


def articles_visible_to(user: User | Any) -> QuerySet[Article]:
    """Every list of articles starts here."""
    q = visibility_q(user)
    qs = Article.objects.all()
    return qs if q is None else qs.filter(q)


def readable_by(article: Article, user: User | Any) -> bool:
    """Whether ``user`` would find ``article`` through the funnel (one query)."""
    return articles_visible_to(user).filter(pk=article.pk).exists()
