"""SLA reports over the REST API: ``/api/v1/sla/reports/{compliance,percentiles,breached,
penalties}/``.

Read-only and thin: the query string goes through the same ``ReportFilterForm`` as the page, the
numbers come from ``opora.sla.reports`` and the files from ``opora.sla.exports``. Every endpoint
answers JSON, or the same table as a file with ``?format=csv`` or ``?format=xlsx`` (an unknown
format is a 400). Desk managers and administrators read everything, team leads their teams' rows
(no penalties); everyone else gets a 403.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.http import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from opora.core.api import Pagination
from opora.tickets.choices import Priority

from . import exports, reports
from .api import EnumField
from .choices import AgreementKind, ClockState, Metric, PenaltyKind

# --- formats --------------------------------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    """``?format=csv``: the view answers with the streamed file itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> Any:
        return data


class XLSXRenderer(BaseRenderer):
    """``?format=xlsx``: the view answers with the workbook itself."""

    media_type = exports.XLSX_TYPE
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> Any:
        return data


class FormatNegotiation(DefaultContentNegotiation):
    """An unknown ``?format=`` is a client error (400), not DRF's 404."""

    def filter_renderers(self, renderers: Iterable[BaseRenderer], format: str
                         ) -> list[BaseRenderer]:
        found = [r for r in renderers if r.format == format]
        if not found:
            raise exceptions.ValidationError(
                {"format": [_("Choose one of: json, csv, xlsx.")]})
        return found


# --- output shapes (also the OpenAPI schema) ------------------------------------------------------


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ComplianceRowSerializer(serializers.Serializer):
    month = serializers.CharField(allow_null=True, help_text="YYYY-MM when grouped by month.")
    metric = EnumField(Metric.choices, component="SlaMetricEnum", allow_null=True)
    priority = EnumField(Priority.choices, component="SlaPriorityEnum", allow_null=True)
    team = RefSerializer(allow_null=True)
    organisation = RefSerializer(allow_null=True)
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    total = serializers.IntegerField()
    compliance = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True,
                                          help_text="met / (met + breached), per cent.")


class ComplianceSerializer(serializers.Serializer):
    month_from = serializers.CharField()
    month_to = serializers.CharField()
    group_by = serializers.ListField(child=EnumField(list(reports.GROUPS),
                                                     component="SlaReportGroupEnum"))
    results = ComplianceRowSerializer(many=True)
    total = ComplianceRowSerializer()


class QuantileSerializer(serializers.Serializer):
    q = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)


class PercentileRowSerializer(serializers.Serializer):
    metric = EnumField(Metric.choices, component="SlaMetricEnum")
    priority = EnumField(Priority.choices, component="SlaPriorityEnum")
    count = serializers.IntegerField(help_text="Finished clocks (met or breached).")
    within_target = serializers.IntegerField()
    within_target_percent = serializers.DecimalField(max_digits=5, decimal_places=2,
                                                     allow_null=True)
    target_seconds_min = serializers.IntegerField()
    target_seconds_max = serializers.IntegerField()
    percentiles = QuantileSerializer(many=True)


class PercentilesSerializer(serializers.Serializer):
    month_from = serializers.CharField()
    month_to = serializers.CharField()
    results = PercentileRowSerializer(many=True)


class TicketRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()


class AgreementRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = EnumField(AgreementKind.choices, component="SlaAgreementKindEnum")


class BreachedSerializer(serializers.Serializer):
    clock = serializers.IntegerField()
    ticket = TicketRefSerializer()
    organisation = RefSerializer(allow_null=True)
    team = RefSerializer(allow_null=True)
    agreement = AgreementRefSerializer()
    metric = EnumField(Metric.choices, component="SlaMetricEnum")
    priority = EnumField(Priority.choices, component="SlaPriorityEnum")
    state = EnumField(ClockState.choices, component="SlaClockStateEnum")
    started_at = serializers.DateTimeField()
    breached_at = serializers.DateTimeField()
    target_seconds = serializers.IntegerField()
    used_seconds = serializers.FloatField(help_text="Business time used (live while open).")
    late_seconds = serializers.FloatField(help_text="Business time over the target.")


class PenaltyRowSerializer(serializers.Serializer):
    agreement = RefSerializer()
    organisation = RefSerializer(allow_null=True)
    month = serializers.CharField()
    penalty_kind = EnumField(PenaltyKind.choices, component="SlaPenaltyKindEnum")
    tickets = serializers.IntegerField()
    breaches = serializers.IntegerField(help_text="Tickets with a breached clock.")
    compliance = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    compliance_target = serializers.DecimalField(max_digits=5, decimal_places=2)
    points_below = serializers.DecimalField(max_digits=5, decimal_places=2)
    monthly_fee = serializers.DecimalField(max_digits=14, decimal_places=2)
    penalty_percent = serializers.DecimalField(max_digits=6, decimal_places=2)
    penalty_cap_percent = serializers.DecimalField(max_digits=6, decimal_places=2)
    cap = serializers.DecimalField(max_digits=16, decimal_places=2)
    uncapped = serializers.DecimalField(max_digits=16, decimal_places=2)
    penalty = serializers.DecimalField(max_digits=16, decimal_places=2)
    capped = serializers.BooleanField()


class PenaltiesSerializer(serializers.Serializer):
    month_from = serializers.CharField()
    month_to = serializers.CharField()
    results = PenaltyRowSerializer(many=True)
    total = serializers.DecimalField(max_digits=18, decimal_places=2)


# --- parameters -----------------------------------------------------------------------------------

FILTER_PARAMETERS = [
    OpenApiParameter("month_from", str, description="First month, YYYY-MM (default: two months "
                     "before month_to)."),
    OpenApiParameter("month_to", str, description="Last month, YYYY-MM (default: this month)."),
    OpenApiParameter("organisation", int, description="The ticket's organisation."),
    OpenApiParameter("team", int, description="The team rows are reported under: the ticket's "
                     "team for an SLA, the agreement's team for an OLA or contract."),
    OpenApiParameter("priority", int, enum=Priority.values),
    OpenApiParameter("metric", str, enum=Metric.values),
    OpenApiParameter("kind", str, enum=["all", *AgreementKind.values],
                     description="Default: sla (or the kind of the chosen agreement)."),
    OpenApiParameter("agreement", int),
    OpenApiParameter("format", str, enum=["json", "csv", "xlsx"],
                     description="csv: UTF-8 with BOM, comma-separated; xlsx: one sheet."),
]
GROUP_PARAMETER = OpenApiParameter("group", str, many=True, enum=list(reports.GROUPS),
                                   description="Group by (repeat); default metric and priority.")
QUANTILE_PARAMETER = OpenApiParameter("q", int, many=True,
                                      description="Percentiles 1–99 (repeat); default 50, 90, 95.")
ORDERING_PARAMETER = OpenApiParameter(
    "ordering", str,
    enum=[*reports.BREACHED_SORTS, *(f"-{k}" for k in reports.BREACHED_SORTS)],
    description="Default -breached_at.")
FILES = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The table as CSV."),
    (200, exports.XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY,
                                              description="The table as an XLSX sheet."),
}


def _month(value: date | None) -> str | None:
    return f"{value:%Y-%m}" if value is not None else None


def _ref(obj: Any) -> dict[str, Any] | None:
    return {"id": obj.id if hasattr(obj, "id") else obj.pk, "name": obj.name} if obj else None


class ReportView(GenericAPIView):
    """Shared plumbing: the filters, the scope, errors as JSON whatever the format asked for."""

    renderer_classes = [JSONRenderer, CSVRenderer, XLSXRenderer]
    content_negotiation_class = FormatNegotiation
    filter_backends: list[Any] = []
    pagination_class: type[Pagination] | None = None
    table = ""

    def filters(self, request: Request) -> reports.ReportFilters:
        form = reports.filters_from(request.query_params, request.user)
        if not form.is_valid():
            raise exceptions.ValidationError({
                "non_field_errors" if name == "__all__" else name: [str(e) for e in errors]
                for name, errors in form.errors.items()})
        return form.filters()

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def file(self, request: Request, filters: reports.ReportFilters, *,
             ordering: str = reports.DEFAULT_BREACHED_SORT) -> HttpResponseBase | None:
        """The table as a file when ``?format=csv|xlsx`` asked for one."""
        kind = getattr(request.accepted_renderer, "format", "json")
        if kind == "csv":
            return exports.csv_response(exports.table(self.table, filters, ordering=ordering),
                                        filters)
        if kind == "xlsx":
            return exports.xlsx_response([exports.table(self.table, filters, ordering=ordering)],
                                         filters, stem=self.table)
        return None


def _compliance_row(row: reports.ComplianceRow) -> dict[str, Any]:
    return {"month": _month(row.month), "metric": row.metric, "priority": row.priority,
            "team": _ref(row.team), "organisation": _ref(row.organisation), "met": row.met,
            "breached": row.breached, "total": row.total, "compliance": row.compliance}


class ComplianceView(ReportView):
    serializer_class = ComplianceSerializer
    table = "compliance"

    @extend_schema(operation_id="sla_reports_compliance", tags=["sla"],
                   parameters=[*FILTER_PARAMETERS, GROUP_PARAMETER],
                   responses={(200, "application/json"): ComplianceSerializer, **FILES},
                   summary="SLA compliance grouped by month, metric, priority, team, "
                           "organisation")
    def get(self, request: Request) -> Any:
        filters = self.filters(request)
        found = self.file(request, filters)
        if found is not None:
            return found
        rows = reports.compliance(filters)
        data = {"month_from": _month(filters.month_from), "month_to": _month(filters.month_to),
                "group_by": list(filters.group_by),
                "results": [_compliance_row(r) for r in rows],
                "total": _compliance_row(reports.compliance_total(rows))}
        return Response(ComplianceSerializer(data).data)


class PercentilesView(ReportView):
    serializer_class = PercentilesSerializer
    table = "percentiles"

    @extend_schema(operation_id="sla_reports_percentiles", tags=["sla"],
                   parameters=[*FILTER_PARAMETERS, QUANTILE_PARAMETER],
                   responses={(200, "application/json"): PercentilesSerializer, **FILES},
                   summary="Business time used at percentiles, per metric and priority")
    def get(self, request: Request) -> Any:
        filters = self.filters(request)
        raw = request.query_params.getlist("q")
        try:
            quantiles = reports.check_quantiles(int(x) for x in raw) if raw else \
                reports.DEFAULT_QUANTILES
        except (ValueError, OverflowError) as exc:
            raise exceptions.ValidationError(
                {"q": [_("Percentiles are whole numbers from 1 to 99.")]}) from exc
        kind = getattr(request.accepted_renderer, "format", "json")
        if kind in ("csv", "xlsx"):
            table = exports.percentile_table(filters, quantiles)
            if kind == "csv":
                return exports.csv_response(table, filters)
            return exports.xlsx_response([table], filters, stem=self.table)
        results = [{
            "metric": r.metric, "priority": r.priority, "count": r.count,
            "within_target": r.within_target, "within_target_percent": r.within_percent,
            "target_seconds_min": r.target_min, "target_seconds_max": r.target_max,
            "percentiles": [{"q": q, "seconds": r.values.get(q)} for q in quantiles],
        } for r in reports.percentile_table(filters, quantiles)]
        return Response(PercentilesSerializer({
            "month_from": _month(filters.month_from), "month_to": _month(filters.month_to),
            "results": results}).data)


class BreachedView(ReportView):
    serializer_class = BreachedSerializer
    pagination_class = Pagination
    table = "breached"

    def ordering(self) -> str:
        raw = self.request.query_params.get("ordering", "") or reports.DEFAULT_BREACHED_SORT
        if raw.lstrip("-") not in reports.BREACHED_SORTS:
            raise exceptions.ValidationError({"ordering": [_("Unknown ordering.")]})
        return raw

    @extend_schema(operation_id="sla_reports_breached", tags=["sla"],
                   parameters=[*FILTER_PARAMETERS, ORDERING_PARAMETER],
                   responses={(200, "application/json"): BreachedSerializer(many=True), **FILES},
                   summary="Breached clocks with their tickets and how late they are")
    def get(self, request: Request) -> Any:
        filters = self.filters(request)
        ordering = self.ordering()
        found = self.file(request, filters, ordering=ordering)
        if found is not None:
            return found
        page = self.paginate_queryset(reports.breached(filters, ordering))
        now = timezone.now()
        data = []
        for clock in page or []:
            late = reports.late_seconds(clock, now)
            ticket = clock.ticket
            data.append({
                "clock": clock.pk,
                "ticket": {"id": ticket.pk, "number": ticket.number or "", "title": ticket.title},
                "organisation": _ref(ticket.organisation), "team": _ref(reports.report_team(clock)),
                "agreement": {"id": clock.agreement.pk, "name": clock.agreement.name,
                              "kind": clock.agreement.kind},
                "metric": clock.metric, "priority": clock.priority, "state": clock.state,
                "started_at": clock.started_at, "breached_at": clock.breached_at,
                "target_seconds": clock.target_seconds,
                "used_seconds": late + clock.target_seconds, "late_seconds": late,
            })
        return self.get_paginated_response(BreachedSerializer(data, many=True).data)


class PenaltiesView(ReportView):
    serializer_class = PenaltiesSerializer
    table = "penalties"

    @extend_schema(operation_id="sla_reports_penalties", tags=["sla"],
                   parameters=FILTER_PARAMETERS,
                   responses={(200, "application/json"): PenaltiesSerializer, **FILES},
                   summary="Contract penalties per SLA agreement and month (managers only)",
                   description="Per breached ticket: fee × rate/100 × breached tickets; per "
                   "percentage point: fee × rate/100 × max(0, target − compliance); capped at "
                   "fee × cap/100; exact, rounded once to 0.01 half up. Only the agreement and "
                   "organisation filters apply.")
    def get(self, request: Request) -> Any:
        reports.report_scope(request.user)  # refuses agents and the client side first
        if not reports.can_see_penalties(request.user):
            raise exceptions.PermissionDenied(
                _("Only service desk managers and administrators may see contract penalties."))
        filters = self.filters(request)
        found = self.file(request, filters)
        if found is not None:
            return found
        rows = reports.penalties(filters.month_from, filters.month_to, filters=filters)
        results = [{
            "agreement": _ref(r.agreement), "organisation": _ref(r.agreement.organisation),
            "month": _month(r.month), "penalty_kind": r.agreement.penalty_kind,
            "tickets": r.tickets, "breaches": r.breaches, "compliance": r.compliance,
            "compliance_target": r.target, "points_below": r.points_below,
            "monthly_fee": r.fee, "penalty_percent": r.agreement.penalty_percent,
            "penalty_cap_percent": r.agreement.penalty_cap_percent, "cap": r.cap,
            "uncapped": r.uncapped, "penalty": r.penalty, "capped": r.capped,
        } for r in rows]
        return Response(PenaltiesSerializer({
            "month_from": _month(filters.month_from), "month_to": _month(filters.month_to),
            "results": results, "total": reports.penalty_total(rows)}).data)
