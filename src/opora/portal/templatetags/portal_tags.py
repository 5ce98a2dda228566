"""How the portal talks about a request: statuses in plain words, and who did what."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opora.tickets.choices import Status
from opora.web.templatetags.opora import STATUS_COLOURS

register = template.Library()

#: Status → what a requester calls it. Waiting for the requester reads "your" to the requester.
_PLAIN = {
    Status.NEW: gettext_lazy("Received"),
    Status.ASSIGNED: gettext_lazy("In the queue"),
    Status.IN_PROGRESS: gettext_lazy("Being worked on"),
    Status.WAITING_VENDOR: gettext_lazy("Waiting for a supplier"),
    Status.RESOLVED: gettext_lazy("Solved — waiting for confirmation"),
    Status.CLOSED: gettext_lazy("Closed"),
    Status.CANCELLED: gettext_lazy("Cancelled"),
}

_HINTS = {
    Status.NEW: gettext_lazy("We have your request; the service desk will look at it shortly."),
    Status.ASSIGNED: gettext_lazy("A specialist will pick it up soon."),
    Status.IN_PROGRESS: gettext_lazy("A specialist is working on it."),
    Status.WAITING_VENDOR: gettext_lazy(
        "The service desk is waiting for an external supplier and will tell you when it moves."),
    Status.RESOLVED: gettext_lazy(
        "The service desk thinks this is solved. Please confirm, or tell us that it is not."),
    Status.CLOSED: gettext_lazy(
        "This request is closed. If the problem comes back, open a new request."),
    Status.CANCELLED: gettext_lazy("This request was cancelled."),
}


def _is_requester(ticket: Any, user: Any) -> bool:
    return bool(user is not None and getattr(user, "pk", None) == ticket.requester_id)


def plain_status_text(status: str, *, yours: bool) -> str:
    if status == Status.WAITING_REQUESTER:
        return _("Waiting for your reply") if yours else _("Waiting for the requester's reply")
    text = _PLAIN.get(Status(status)) if status in Status.values else None
    return str(text) if text is not None else status


@register.simple_tag
def plain_status(ticket: Any, user: Any = None) -> str:
    return plain_status_text(ticket.status, yours=_is_requester(ticket, user))


@register.simple_tag
def status_hint(ticket: Any, user: Any = None) -> str:
    if ticket.status == Status.WAITING_REQUESTER:
        if _is_requester(ticket, user):
            return _("The service desk asked you something: please answer below.")
        return _("The service desk is waiting for an answer from the requester.")
    hint = _HINTS.get(Status(ticket.status))
    return str(hint) if hint is not None else ""


@register.inclusion_tag("web/_badge.html")
def plain_status_badge(ticket: Any, user: Any = None) -> dict[str, Any]:
    return {"colour": STATUS_COLOURS.get(ticket.status, "secondary"),
            "label": plain_status(ticket, user)}


@register.simple_tag
def status_words(status: str, user_is_requester: bool = False) -> str:
    """A status code from an event's data (``["in_progress", "resolved"]``) in plain words."""
    return plain_status_text(status, yours=user_is_requester)


def staff_names_shown() -> bool:
    """``OPORA_PORTAL_STAFF_NAMES``: "none" (default) shows every staff member as "Service
    desk"; "all" shows their names."""
    return str(getattr(settings, "OPORA_PORTAL_STAFF_NAMES", "none")).lower() == "all"


def actor_name(actor: Any, viewer: Any, *, show_staff: bool) -> str:
    """Who did it, as the portal says it: "You", a colleague's name, or "Service desk"."""
    if actor is None:
        return _("Service desk")
    if viewer is not None and actor.pk == viewer.pk:
        return _("You")
    if actor.is_agent_side or actor.is_superuser:
        return actor.full_name if show_staff and actor.full_name else _("Service desk")
    return str(actor.full_name or _("Requester"))


@register.filter
def control(field: Any) -> str:
    """Render a form field's widget with its state for assistive technology: invalid fields are
    marked, and the help text and errors are tied to the input by ``aria-describedby``."""
    css = str(field.field.widget.attrs.get("class", ""))
    attrs: dict[str, str] = {}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        css = f"{css} is-invalid".strip()
        attrs["aria-invalid"] = "true"
        described.append(f"{field.auto_id}_errors")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if css:
        attrs["class"] = css
    return str(field.as_widget(attrs=attrs))
