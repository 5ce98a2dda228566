"""Template helpers of the agent workspace's queues: the sidebar shown on every workspace page,
sortable column headers, SLA countdown badges and links to tickets."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from opora.agent import queues
from opora.agent.models import SavedFilter
from opora.sla.selectors import Badge

register = template.Library()

#: Columns whose first click sorts newest first.
DESCENDING_FIRST = frozenset({"created_at", "updated_at"})


@register.inclusion_tag("agent/queues/_sidebar.html", takes_context=True)
def queue_sidebar(context: template.Context, oob: bool = False) -> dict[str, Any]:
    """Every queue with its count for the signed-in person (one query), and their saved filters
    (one query). ``oob`` marks it for an htmx out-of-band swap after a bulk action."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not queues.is_staff_user(user):
        return {"show": False}
    counts = queues.queue_counts(user)
    active = context.get("active_queue")
    items = [
        {"slug": q.slug, "label": q.label, "count": counts[q.slug],
         "url": reverse("agent:queue", args=[q.slug]), "active": q.slug == active}
        for q in queues.QUEUES
    ]
    current_query = queues.saved_query(request.GET) if active else None
    saved = [
        {"pk": s.pk, "name": s.name, "url": queues.saved_filter_url(s),
         "active": active == s.queue and current_query == s.query}
        for s in SavedFilter.objects.filter(user=user).order_by("position", "name")
    ]
    return {
        "show": True,
        "oob": oob,
        "queues": items,
        "saved": saved,
        "next": context.get("page_url") or request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("agent/queues/_sort_header.html", takes_context=True)
def sort_header(context: template.Context, field: str, label: str) -> dict[str, Any]:
    """A column header that sorts by ``field`` (an API ordering name) and shows the direction."""
    assert field in queues.SORTS, field
    request = context["request"]
    first = next(iter(context.get("ordering") or [queues.DEFAULT_ORDERING]))
    current = first.lstrip("-") == field
    descending = first.startswith("-")
    if current:
        term = field if descending else f"-{field}"
    else:
        term = f"-{field}" if field in DESCENDING_FIRST else field
    params = request.GET.copy()
    params["ordering"] = term
    params.pop("page", None)
    return {
        "label": label,
        "url": f"{context['queue_url']}?{params.urlencode()}",
        "current": current,
        "descending": descending,
        "aria_sort": ("descending" if descending else "ascending") if current else "",
    }


#: Badge colour → Tabler colour class.
SLA_COLOURS = {"green": "green", "amber": "orange", "red": "red"}


@register.inclusion_tag("agent/queues/_sla_badge.html")
def sla_badge(badge: Badge | None, subject: bool = True) -> dict[str, Any]:
    """A countdown badge: solid while the clock runs, pale when paused or stopped; the tooltip
    says what it counts. ``subject`` adds the metric for screen readers (a list cell)."""
    return {"badge": badge, "subject": subject,
            "css": SLA_COLOURS.get(badge.colour, "secondary") if badge else "secondary"}


@register.filter
def ticket_url(number: str | None) -> str:
    return queues.ticket_url(number)
