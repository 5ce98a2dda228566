"""Health and version endpoints for load balancers and monitoring."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

import opora

from .models import WorkerHeartbeat


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and a worker was seen recently; 503 otherwise."""
    checks: dict[str, dict[str, object]] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any database failure makes the node unhealthy
        healthy = False
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}
    if checks["database"]["ok"]:
        cutoff = timezone.now() - timedelta(seconds=settings.OPORA_WORKER_STALE_SECONDS)
        last = WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True)
        latest = last.first()
        alive = WorkerHeartbeat.objects.filter(last_seen__gte=cutoff).count()
        worker_ok = alive > 0
        healthy = healthy and worker_ok
        checks["worker"] = {
            "ok": worker_ok,
            "alive": alive,
            "last_heartbeat": latest.isoformat() if latest else None,
        }
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )


@require_GET
def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"name": "opora", "version": opora.__version__, "api": "v1"})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A URL that matches no route: API clients get the API's JSON error shape, people a page."""
    if _is_api(request):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Last resort: a crash is still answered in the API's JSON error shape (and logged)."""
    if _is_api(request):
        return JsonResponse({"detail": _("Server error."), "code": "server_error"}, status=500)
    return defaults.server_error(request)
