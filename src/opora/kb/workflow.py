"""The article lifecycle as data plus one function — pure, no database.

    draft → in review → published → needs revalidation → archived

``allowed_transitions(article, user, roles)`` tells pages and the API what to offer; the
actions check the same table before writing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .choices import ArticleStatus as S


@dataclass(frozen=True)
class Roles:
    """What the person is for this article (computed by the caller)."""

    staff: bool
    moderator: bool
    author: bool
    owner: bool
    reviewer: bool


@dataclass(frozen=True)
class Transition:
    action: str
    label: Promise
    sources: frozenset[str]
    target: str
    needs_comment: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit", _("Send for review"), frozenset({S.DRAFT}), S.IN_REVIEW),
    Transition("approve", _("Approve and publish"), frozenset({S.IN_REVIEW}), S.PUBLISHED),
    Transition("send_back", _("Send back"), frozenset({S.IN_REVIEW}), S.DRAFT, True),
    Transition("publish", _("Publish now"), frozenset({S.DRAFT}), S.PUBLISHED),
    Transition("revalidate", _("Confirm as still valid"),
               frozenset({S.PUBLISHED, S.NEEDS_REVALIDATION}), S.PUBLISHED),
    Transition("withdraw", _("Back to draft"),
               frozenset({S.IN_REVIEW, S.PUBLISHED, S.NEEDS_REVALIDATION}), S.DRAFT),
    Transition("archive", _("Archive"),
               frozenset({S.DRAFT, S.IN_REVIEW, S.PUBLISHED, S.NEEDS_REVALIDATION}), S.ARCHIVED),
    Transition("unarchive", _("Return to drafts"), frozenset({S.ARCHIVED}), S.DRAFT),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}


def permitted(action: str, roles: Roles) -> bool:
    """Who may do what:

    - the author, owner (or a moderator) submits a draft and takes it back to draft;
    - a reviewer of the article or a moderator approves or sends back — never the author
      alone approving their own text, unless they moderate;
    - moderators publish without review, archive and bring articles back;
    - the owner, a reviewer or a moderator confirms an article is still valid.
    """
    if not roles.staff:
        return False
    if roles.moderator:
        return True
    editor = roles.author or roles.owner
    if action in ("submit", "withdraw"):
        return editor
    if action in ("approve", "send_back"):
        return roles.reviewer and not roles.author
    if action == "revalidate":
        return roles.owner or roles.reviewer
    if action == "archive":
        return roles.owner
    return False


def allowed_transitions(status: str, roles: Roles) -> list[Transition]:
    return [t for t in TRANSITIONS if status in t.sources and permitted(t.action, roles)]
