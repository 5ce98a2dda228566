"""Article Markdown → safe HTML, cross-links between articles and broken-link detection.

The renderer is the project's (``opora.web`` ``markdown``: Markdown, then nh3), extended with
images — only the article's own files (``attachment:ID``), never a foreign address — and with
cross-links written ``[[123]]`` or ``[[123|text]]``. A link to an article the reader may not
see is shown as plain text, so a title never leaks through a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import markdown as md
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from opora.web.templatetags.opora import ALLOWED_TAGS

from .choices import VISIBILITY_RANK, ArticleStatus, Visibility
from .models import Article

#: ``[[123]]`` or ``[[123|the text shown]]``.
CROSS_LINK = re.compile(r"\[\[\s*(\d{1,9})\s*(?:\|([^\]\n]{0,200}))?\]\]")
#: ``![alt](attachment:12)`` or ``[file](attachment:12)``.
ATTACHMENT_REF = re.compile(r"\(attachment:(\d{1,9})\)")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>])")


def linked_ids(body: str) -> list[int]:
    """The articles ``body`` links to, in order of first appearance."""
    seen: dict[int, None] = {}
    for match in CROSS_LINK.finditer(body or ""):
        seen.setdefault(int(match.group(1)), None)
    return list(seen)


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def render(article: Article, *, readable: Iterable[Article],
           article_url: Callable[[int], str], attachment_url: Callable[[int], str],
           body: str | None = None) -> SafeString:
    """The article's body as HTML for a reader who may see the articles in ``readable``."""
    titles = {a.pk: a.title for a in readable}
    own_files = {a.pk for a in article.attachments.all()} if article.pk else set()

    def cross(match: re.Match[str]) -> str:
        pk = int(match.group(1))
        text = (match.group(2) or "").strip() or titles.get(pk) or f"#{pk}"
        if pk in titles:
            return f"[{_md_text(text)}]({article_url(pk)})"
        return f"{_md_text(text)} ({_md_text(_('article unavailable'))})"

    def attach(match: re.Match[str]) -> str:
        pk = int(match.group(1))
        return f"({attachment_url(pk)})" if pk in own_files else "(#)"

    source = body if body is not None else article.body
    text = ATTACHMENT_REF.sub(attach, CROSS_LINK.sub(cross, source or ""))
    html = md.markdown(text, extensions=["fenced_code", "tables", "sane_lists", "nl2br"])
    allowed_prefixes = tuple(attachment_url(pk).rsplit("/", 2)[0] for pk in own_files)

    def only_own_images(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            return value if allowed_prefixes and value.startswith(allowed_prefixes) else None
        return value

    clean = nh3.clean(
        html, tags=ALLOWED_TAGS | {"img"},
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
        attribute_filter=only_own_images,
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


@dataclass(frozen=True)
class BrokenLink:
    """A cross-link that does not work for some reader of the source article."""

    source_id: int
    target_id: int
    reason: str  # "missing", "archived", "unpublished", "less_visible"
    target: Article | None = None

    @property
    def message(self) -> str:
        return str({
            "missing": _("the article does not exist"),
            "archived": _("the article is archived"),
            "unpublished": _("the article is not published"),
            "less_visible": _("fewer people may read the article than this one"),
        }[self.reason])


def _less_visible(source: Article, target: Article, orgs: dict[int, set[int]]) -> bool:
    s_rank = VISIBILITY_RANK[Visibility(source.visibility)]
    t_rank = VISIBILITY_RANK[Visibility(target.visibility)]
    if t_rank < s_rank:
        return True
    if source.visibility == target.visibility == Visibility.ORGANISATIONS:
        return not orgs.get(source.pk, set()) <= orgs.get(target.pk, set())
    return False


def broken_links_of(sources: list[Article]) -> list[BrokenLink]:
    """The broken cross-links of ``sources`` (three queries whatever their number)."""
    wanted = {s.pk: linked_ids(s.body) for s in sources}
    ids = {pk for targets in wanted.values() for pk in targets}
    if not ids:
        return []
    targets = {a.pk: a for a in Article.objects.filter(pk__in=ids)}
    through = Article.organisations.through.objects.filter(
        article_id__in={*targets, *wanted}).values_list("article_id", "organisation_id")
    orgs: dict[int, set[int]] = {}
    for article_id, org_id in through:
        orgs.setdefault(article_id, set()).add(org_id)
    readable = (ArticleStatus.PUBLISHED, ArticleStatus.NEEDS_REVALIDATION)
    found = []
    for source in sources:
        for pk in wanted[source.pk]:
            target = targets.get(pk)
            reason = ""
            if target is None:
                reason = "missing"
            elif target.status == ArticleStatus.ARCHIVED:
                reason = "archived"
            elif source.status in readable and target.status not in readable:
                reason = "unpublished"
            elif _less_visible(source, target, orgs):
                reason = "less_visible"
            if reason:
                found.append(BrokenLink(source.pk, pk, reason, target))
    return found


def escape_text(value: Any) -> str:
    return str(escape(value))
