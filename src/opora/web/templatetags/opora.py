"""Template helpers shared by the agent workspace and the portal."""

from __future__ import annotations

from typing import Any

import markdown as md
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

#: HTML that Markdown may produce and that is safe to show to anyone.
ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del",
}


@register.filter(name="markdown")
def render_markdown(text: str | None) -> SafeString:
    """Markdown → HTML, then sanitised: no scripts, no event handlers, no raw HTML tricks."""
    html = md.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists", "nl2br"])
    clean = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


PRIORITY_COLOURS = {1: "red", 2: "orange", 3: "yellow", 4: "azure", 5: "secondary"}
STATUS_COLOURS = {
    "new": "blue", "assigned": "indigo", "in_progress": "purple",
    "waiting_requester": "yellow", "waiting_vendor": "orange", "resolved": "green",
    "closed": "secondary", "cancelled": "secondary",
}


@register.inclusion_tag("web/_badge.html")
def priority_badge(ticket: Any) -> dict[str, Any]:
    return {"colour": PRIORITY_COLOURS.get(ticket.priority, "secondary"),
            "label": ticket.get_priority_display()}


@register.inclusion_tag("web/_badge.html")
def status_badge(ticket: Any) -> dict[str, Any]:
    return {"colour": STATUS_COLOURS.get(ticket.status, "secondary"),
            "label": ticket.get_status_display()}


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (sorting, paging links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"
