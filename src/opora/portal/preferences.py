"""A person's own preferences: interface language, time zone and email notifications.

The choices offered on the preferences page; the writes are ``accounts.actions``.
"""

from __future__ import annotations

#: The zones offered in the select: Russia's eleven, then neighbours and common elsewhere.
COMMON_TIME_ZONES = (
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Magadan",
    "Asia/Kamchatka",
    "Europe/Minsk",
    "Asia/Almaty",
    "Asia/Tashkent",
    "Asia/Bishkek",
    "Asia/Yerevan",
    "Asia/Tbilisi",
    "Asia/Baku",
    "Europe/Istanbul",
    "Asia/Dubai",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "UTC",
)


# The writes live in accounts.actions; re-exported for the portal's callers.
from opora.accounts.actions import (  # noqa: E402
    is_valid_time_zone,
    language_codes,
    update_preferences,
)

__all__ = ["COMMON_TIME_ZONES", "is_valid_time_zone", "language_codes", "update_preferences"]
