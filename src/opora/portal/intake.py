"""What the portal asks when someone opens a request, by category.

A small table, not code: each category code lists the questions that help the desk act without
asking back ("what was lost, where, when" for data recovery; "for whom, by when" for a service
request). The answers are added to the description as labelled lines, so every channel, the API
and the agent workspace see them as ordinary text. A sub-category without its own entry asks what
its nearest ancestor asks.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.utils.translation import gettext_lazy as _

from opora.tickets.choices import TicketType

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from opora.catalog.models import Category


@dataclass(frozen=True)
class Question:
    """One extra field of the new-request form."""

    name: str
    label: _StrPromise
    help_text: _StrPromise | str = ""
    required: bool = False
    kind: Literal["text", "date"] = "text"


#: Category code → the questions its requests need.
CATEGORY_QUESTIONS: dict[str, tuple[Question, ...]] = {
    "hardware": (
        Question("device", _("Which device?"),
                 _("For example: the printer in room 214, my laptop (the number on its sticker).")),
        Question("symptom", _("What does it show or do?"),
                 _("An error message, a noise, blinking lights, nothing at all…")),
    ),
    "software": (
        Question("program", _("Which program?"), _("For example: 1C:Accounting, Outlook, Excel."),
                 required=True),
        Question("error_message", _("Error message, if any")),
    ),
    "network": (
        Question("location", _("Where are you working from?"),
                 _("Office, floor and room — or from home over VPN.")),
    ),
    "security": (
        Question("noticed", _("What did you notice?"),
                 _("A strange email, a pop-up, a password that no longer works…"), required=True),
        Question("clicked", _("Did you open an attachment, follow a link or enter a password?")),
    ),
    "user-support": (
        Question("system", _("Which account or program?"),
                 _("For example: Windows sign-in, email, 1C.")),
    ),
    "service-request": (
        Question("for_whom", _("For whom?"), _("Your name, or the colleague who needs it."),
                 required=True),
        Question("by_when", _("Needed by"), kind="date"),
    ),
    "data-recovery": (
        Question("what_lost", _("What was lost?"), _("A file, a folder, emails, a whole disk…"),
                 required=True),
        Question("where", _("Where was it stored?"),
                 _("The folder, network drive, mailbox or program.")),
        Question("when", _("When did you last see it?")),
    ),
    "performance": (
        Question("what_slow", _("What is slow?"), _("A program, a website, the whole computer…")),
        Question("since", _("Since when?")),
    ),
}

#: Category code → the type a request in it usually is (an incident otherwise).
CATEGORY_TYPES: dict[str, TicketType] = {
    "service-request": TicketType.REQUEST,
    "consulting": TicketType.QUESTION,
}


def _lineage(category: Category, by_id: Mapping[int, Category]) -> Iterable[Category]:
    """The category, then its parents up to the root (guarding against a loop in the data)."""
    seen: set[int] = set()
    node: Category | None = category
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        yield node
        node = by_id.get(node.parent_id) if node.parent_id else None


def questions_for(category: Category | None, by_id: Mapping[int, Category]) -> tuple[Question, ...]:
    if category is None:
        return ()
    for node in _lineage(category, by_id):
        if node.code in CATEGORY_QUESTIONS:
            return CATEGORY_QUESTIONS[node.code]
    return ()


def default_type(category: Category | None, by_id: Mapping[int, Category]) -> TicketType:
    if category is not None:
        for node in _lineage(category, by_id):
            if node.code in CATEGORY_TYPES:
                return CATEGORY_TYPES[node.code]
    return TicketType.INCIDENT


def compose_description(description: str, answers: Iterable[tuple[Question, object]]) -> str:
    """The requester's text followed by one labelled line per answered question."""
    lines = []
    for question, value in answers:
        if value in (None, ""):
            continue
        shown = value.isoformat() if isinstance(value, datetime.date) else str(value).strip()
        label = str(question.label)
        # "For whom?" reads as a label already; "Needed by" needs its colon.
        colon = "" if label.endswith(("?", ":")) else ":"
        lines.append(f"**{label}{colon}** {shown}")
    text = description.strip()
    if lines:
        text = f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
    return text
