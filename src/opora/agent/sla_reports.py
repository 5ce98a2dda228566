"""Agent workspace: service-level reports at ``/agent/reports/sla/``.

A filter form (GET, so a report is a link) over four tabs — compliance (grouped as chosen),
percentiles of business time used, the breached clocks (sorted, paged, linked to their tickets)
and contract penalties — and "Export XLSX / CSV" links carrying the same filters.

Desk managers and administrators see everything; team leads the rows of their teams and no
penalties (contract money); agents are refused and requesters sent to the portal. The numbers come
from ``opora.sla.reports`` and the files from ``opora.sla.exports``, shared with the API.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from opora.sla import exports, reports
from opora.sla.reports import ReportFilterForm

from .queues import is_partial, staff_required

PAGE_SIZE = 50
TABS = {
    "compliance": _("Compliance"),
    "percentiles": _("Percentiles"),
    "breached": _("Breached tickets"),
    "penalties": _("Penalties"),
}
BREACHED_COLUMNS = {
    "ticket": _("Ticket"), "organisation": _("Organisation"), "team": _("Team"),
    "metric": _("Metric"), "priority": _("Priority"), "breached_at": _("Breached at"),
}
View = Callable[..., HttpResponseBase]


def reader_required(view: View) -> View:
    """Staff who may read reports (``reports.report_scope``); the scope travels with the request."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        scope = reports.report_scope(request.user)  # PermissionDenied for agents
        return view(request, scope, *args, **kwargs)

    # The exports answer with streamed responses, which staff_required passes through as is.
    return staff_required(cast(Callable[..., HttpResponse], wrapper))


def duration(seconds: float | None) -> str:
    """Business time for a table cell: "45 min", "2 h 05 min", "26 h"."""
    if seconds is None or seconds != seconds:  # NaN: nothing measured
        return "—"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return gettext("%(m)d min") % {"m": rest}
    if not rest:
        return gettext("%(h)d h") % {"h": hours}
    return gettext("%(h)d h %(m)02d min") % {"h": hours, "m": rest}


def _tabs(request: HttpRequest, active: str, penalties: bool) -> list[dict[str, Any]]:
    found = []
    for key, label in TABS.items():
        if key == "penalties" and not penalties:
            continue
        params = request.GET.copy()
        params["tab"] = key
        for transient in ("page", "ordering"):
            params.pop(transient, None)
        found.append({"key": key, "label": label, "active": key == active,
                      "url": f"?{params.urlencode()}"})
    return found


def _export_links(request: HttpRequest, tab: str) -> dict[str, str]:
    base = reverse("agent:sla_reports_export")
    params = request.GET.copy()
    params.pop("page", None)
    params["format"] = "xlsx"
    xlsx = f"{base}?{params.urlencode()}"
    params["format"] = "csv"
    params["tab"] = tab
    return {"xlsx": xlsx, "csv": f"{base}?{params.urlencode()}"}


def _breached_context(request: HttpRequest, filters: reports.ReportFilters) -> dict[str, Any]:
    raw = request.GET.get("ordering", "") or reports.DEFAULT_BREACHED_SORT
    key = raw.lstrip("-")
    if key not in reports.BREACHED_SORTS:
        raw, key = reports.DEFAULT_BREACHED_SORT, reports.DEFAULT_BREACHED_SORT.lstrip("-")
    descending = raw.startswith("-")
    columns = []
    for name, label in BREACHED_COLUMNS.items():
        current = name == key
        params = request.GET.copy()
        params["ordering"] = (name if descending else f"-{name}") if current else name
        params["tab"] = "breached"
        params.pop("page", None)
        columns.append({"label": label, "url": f"?{params.urlencode()}", "current": current,
                        "descending": descending,
                        "aria_sort": ("descending" if descending else "ascending")
                        if current else ""})
    page: Page[Any] = Paginator(reports.breached(filters, raw), PAGE_SIZE).get_page(
        request.GET.get("page"))
    now = timezone.now()
    rows = []
    for clock in page.object_list:
        late = reports.late_seconds(clock, now)
        rows.append({"clock": clock, "ticket": clock.ticket, "team": reports.report_team(clock),
                     "late": duration(late), "used": duration(late + clock.target_seconds),
                     "target": duration(clock.target_seconds)})
    return {
        "page": page, "rows": rows, "columns": columns,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2,
                                                           on_ends=1),
        "ellipsis": Paginator.ELLIPSIS, "base_url": reverse("agent:sla_reports"),
    }


def _compliance_context(filters: reports.ReportFilters) -> dict[str, Any]:
    rows = reports.compliance(filters)
    return {"rows": rows, "total": reports.compliance_total(rows),
            "groups": [(g, reports.GROUP_LABELS[g]) for g in filters.group_by]}


def _percentile_context(filters: reports.ReportFilters) -> dict[str, Any]:
    rows = []
    for row in reports.percentile_table(filters):
        rows.append({"row": row, "target": duration(row.target_min) if
                     row.target_min == row.target_max else
                     f"{duration(row.target_min)} – {duration(row.target_max)}",
                     "values": [duration(row.values.get(q)) for q in reports.DEFAULT_QUANTILES]})
    return {"rows": rows, "quantiles": reports.DEFAULT_QUANTILES}


def _penalty_context(filters: reports.ReportFilters) -> dict[str, Any]:
    rows = reports.penalties(filters.month_from, filters.month_to, filters=filters)
    return {"rows": rows, "penalty_total": reports.penalty_total(rows)}


@reader_required
@require_http_methods(["GET", "HEAD"])
def report(request: HttpRequest, scope: frozenset[int] | None) -> HttpResponse:
    """``/agent/reports/sla/``: the filter form and the chosen tab."""
    penalties = reports.can_see_penalties(request.user)
    tab = request.GET.get("tab", "compliance")
    if tab not in TABS or (tab == "penalties" and not penalties):
        tab = "compliance"
    form = ReportFilterForm(request.GET, scope=scope)
    context: dict[str, Any] = {
        "form": form, "tab": tab, "tabs": _tabs(request, tab, penalties),
        "scoped": scope is not None, "groups": reports.GROUPS,
    }
    status = 200
    if form.is_valid():
        filters = form.filters()
        context["filters"] = filters
        context["exports"] = _export_links(request, tab)
        if tab == "breached":
            context.update(_breached_context(request, filters))
            if is_partial(request):
                response = render(request, "agent/sla/report_breached.html", context)
                patch_vary_headers(response, ["HX-Request"])
                return response
        elif tab == "percentiles":
            context.update(_percentile_context(filters))
        elif tab == "penalties":
            context.update(_penalty_context(filters))
        else:
            context.update(_compliance_context(filters))
    else:
        status = 400
    response = render(request, "agent/sla/report_page.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@reader_required
@require_http_methods(["GET", "HEAD"])
def export(request: HttpRequest, scope: frozenset[int] | None) -> HttpResponseBase:
    """The report as a file: ``format=xlsx`` (every tab, a sheet each) or ``format=csv`` with
    ``tab=`` one of the tables."""
    penalties = reports.can_see_penalties(request.user)
    kind = request.GET.get("format", "xlsx")
    tab = request.GET.get("tab", "compliance")
    if kind not in ("xlsx", "csv") or tab not in TABS:
        return HttpResponseBadRequest(gettext("Unknown export format or table."))
    if kind == "csv" and tab == "penalties" and not penalties:
        raise PermissionDenied(gettext(
            "Only service desk managers and administrators may see contract penalties."))
    form = ReportFilterForm(request.GET, scope=scope)
    if not form.is_valid():
        return HttpResponseBadRequest(gettext("Check the report filters."))
    filters = form.filters()
    if kind == "csv":
        ordering = request.GET.get("ordering", "") or reports.DEFAULT_BREACHED_SORT
        return exports.csv_response(exports.table(tab, filters, ordering=ordering), filters)
    return exports.xlsx_response(exports.tables(filters, penalties=penalties), filters)


urlpatterns: list[URLPattern] = [
    path("reports/sla/", report, name="sla_reports"),
    path("reports/sla/export/", export, name="sla_reports_export"),
]
