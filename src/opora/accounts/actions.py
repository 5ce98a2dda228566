"""Writes of a person's own account settings (language, time zone, notifications).

The pages (portal preferences, the language switcher) call these; the admin site edits the
same fields for administrators.
"""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from opora.accounts.models import Organisation, Role, User
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


def register_requester(
    *,
    full_name: str,
    email: str,
    actor: User,
    phone: str = "",
    organisation: Organisation | None = None,
) -> User:
    """Create a requester account for someone who called (no password: they may set one through
    the password reset, or never log in at all). The email is unique whatever its case."""
    if not (actor.is_agent_side or actor.is_superuser):
        raise ActionError(_("Only service desk staff may do this."), code="staff_only")
    full_name = " ".join(full_name.split())
    if not full_name:
        raise ActionError(_("This field is required."), code="required", field="full_name")
    if len(full_name) > 200:
        raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                          % {"max": 200}, code="too_long", field="full_name")
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ActionError(_("Enter a valid email address."), code="invalid",
                          field="email") from exc
    phone = " ".join(phone.split())
    if len(phone) > 50:
        raise ActionError(_("Ensure this field has no more than %(max)d characters.")
                          % {"max": 50}, code="too_long", field="phone")
    if organisation is not None and not organisation.is_active:
        raise ActionError(_("This organisation is not active."), code="inactive",
                          field="organisation")
    taken = _("Someone with this email is already registered: %(name)s.")
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        raise ActionError(taken % {"name": existing.full_name}, code="duplicate_email",
                          field="email")
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=None, full_name=full_name, phone=phone,
                organisation=organisation, role=Role.REQUESTER,
            )
    except IntegrityError as exc:  # registered by someone else a moment ago
        raise ActionError(taken % {"name": email}, code="duplicate_email", field="email") from exc
