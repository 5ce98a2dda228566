"""When an article is due to be checked again: published + N months, N per type."""

from __future__ import annotations

import calendar
from datetime import date

from django.conf import settings

#: Months between checks when neither the type nor the settings say otherwise.
DEFAULT_MONTHS = 12


def months_for(article_type: str) -> int:
    """``OPORA_KB_REVALIDATION_MONTHS`` (``{"script": 6, ...}``) per type, else 12."""
    table = getattr(settings, "OPORA_KB_REVALIDATION_MONTHS", {}) or {}
    months = table.get(article_type, table.get("default", DEFAULT_MONTHS))
    return max(1, int(months))


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(article_type: str, start: date) -> date:
    return add_months(start, months_for(article_type))
