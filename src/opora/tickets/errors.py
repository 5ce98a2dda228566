"""Errors the ticket actions raise. Every adapter (API, pages, email, CLI) maps them the same way.

Each carries a stable machine ``code`` and a translated human message; ``status`` is the HTTP
status the API answers with.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ActionError(Exception):
    """A domain rule refused the change; nothing was written."""

    status = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.code = code or self.default_code
        self.field = field


class StaleTicket(ActionError):
    """The ticket changed since the person loaded it (lost-update guard)."""

    status = 409
    default_code = "stale"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            str(
                _(
                    "The ticket was changed by someone else while you were editing it. "
                    "Reload it, check the changes and try again."
                )
            )
        )
        self.current_version = current_version


class InvalidTransition(ActionError):
    """The workflow table does not allow this move from the current status."""

    status = 409
    default_code = "transition_not_allowed"
