"""Writes of a person's own account settings (language, time zone, notifications).

The pages (portal preferences, the language switcher) call these; the admin site edits the
same fields for administrators.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils.translation import gettext as _

from opora.accounts.models import User
from opora.tickets.errors import ActionError


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def is_valid_time_zone(name: str) -> bool:
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def update_preferences(
    user: User, *, language: str, time_zone: str, email_notifications: bool
) -> User:
    """Save the person's own interface language, time zone and email-notification choice.

    Raises ``ActionError`` (with the field) for an unknown language or time zone; writes nothing
    then. The middleware applies language and time zone from the next request on.
    """
    if language not in language_codes():
        raise ActionError(_("Choose one of the offered languages."), code="invalid_choice",
                          field="language")
    if not is_valid_time_zone(time_zone):
        raise ActionError(_("Unknown time zone."), code="invalid_choice", field="time_zone")
    user.language = language
    user.time_zone = time_zone
    user.email_notifications = bool(email_notifications)
    user.save(update_fields=["language", "time_zone", "email_notifications"])
    return user


def set_language(user: User, *, language: str) -> User:
    """Remember the interface language a person switched to (it wins over the browser's)."""
    if language not in language_codes():
        raise ActionError(_("Choose one of the offered languages."), code="invalid_choice",
                          field="language")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
