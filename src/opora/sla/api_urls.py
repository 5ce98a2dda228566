"""REST API routes of the service-level domain, under ``/api/v1/sla/``: the configuration
(calendars and agreements, ``sla/api.py``) and the reports (``sla/report_api.py``)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from .api import AgreementViewSet, CalendarViewSet
from .report_api import BreachedView, ComplianceView, PenaltiesView, PercentilesView

_config = SimpleRouter()
_config.register("calendars", CalendarViewSet, basename="sla-calendar")
_config.register("agreements", AgreementViewSet, basename="sla-agreement")

urlpatterns: list[URLPattern | URLResolver] = [
    *_config.urls,
    path("reports/compliance/", ComplianceView.as_view(), name="sla-report-compliance"),
    path("reports/percentiles/", PercentilesView.as_view(), name="sla-report-percentiles"),
    path("reports/breached/", BreachedView.as_view(), name="sla-report-breached"),
    path("reports/penalties/", PenaltiesView.as_view(), name="sla-report-penalties"),
]
