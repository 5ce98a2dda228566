"""Sign-in, sign-out and the front door: staff go to the workspace, everyone else to the portal."""

from __future__ import annotations

import contextlib

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from opora.accounts import actions as account_actions
from opora.tickets.errors import ActionError


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "is_agent_side", False) or user.is_superuser:
        return redirect("agent:home")
    return redirect("portal:home")


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """The header's language switcher: Django's ``set_language`` (cookie, redirect back), and for
    a signed-in person also their profile — whose language otherwise wins on the next page."""
    if request.user.is_authenticated:
        # An unknown code is ignored, as set_language below ignores it too.
        with contextlib.suppress(ActionError):
            account_actions.set_language(request.user, language=request.POST.get("language", ""))
    return set_language(request)
