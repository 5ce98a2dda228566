"""Sign-in, sign-out and the front door: staff go to the workspace, everyone else to the portal."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if getattr(user, "is_agent_side", False) or user.is_superuser:
        return redirect("agent:home")
    return redirect("portal:home")
