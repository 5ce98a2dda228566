"""The SLA report tables as CSV and XLSX files (the same rows as the page and the API).

CSV
    One table per file, UTF-8 with a byte-order mark (so Excel detects the encoding and shows
    Cyrillic), comma-separated with ``"`` quoting (RFC 4180), numbers with a decimal point and
    no thousands separator, so any program reads them the same way whatever its locale. (Excel
    set to a Russian locale expects ``;`` on double-click; use Data → From Text/CSV there, or
    the XLSX export.) Percentages are numbers of per cent (``95.24``), durations hours with two
    decimals, money with two decimals, months ``YYYY-MM``, instants ``YYYY-MM-DD HH:MM`` in the
    reader's time zone. The breached list is streamed row by row.

XLSX
    One workbook, one sheet per table (compliance, percentiles, breached, penalties — the last
    for desk managers and administrators only). The header row is bold and frozen; percentages
    are stored as fractions with a ``0.00%`` format, durations as hours with ``0.00``, money with
    ``#,##0.00``, instants as the reader's local time. Written with openpyxl's write-only
    workbook, which keeps only the current row in memory, into a temporary file that is then
    streamed.

Text that starts like a formula (``=``, ``+``, ``-``, ``@``) stays text: a CSV cell gets a
leading apostrophe, an XLSX cell is stored as a string.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Literal

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from opora.tickets.choices import Priority

from . import reports
from .choices import ClockState, Metric, PenaltyKind
from .models import Clock
from .reports import ReportFilters

Kind = Literal["text", "int", "number", "percent", "hours", "money", "month", "datetime"]
TABLES = ("compliance", "percentiles", "breached", "penalties")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS: dict[str, str] = {
    "int": "0", "number": "0.00", "percent": "0.00%", "hours": "0.00", "money": "#,##0.00",
    "month": "yyyy-mm", "datetime": "yyyy-mm-dd hh:mm",
}
WIDTHS: dict[str, int] = {"text": 28, "int": 12, "number": 14, "percent": 14, "hours": 14,
                          "money": 16, "month": 12, "datetime": 18}


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"


@dataclass
class Table:
    """A table to write: its sheet name, its columns and its rows (possibly a generator)."""

    key: str
    title: str
    columns: list[Column]
    rows: Iterable[Sequence[Any]]


# --- the tables -----------------------------------------------------------------------------------


def _group_columns(filters: ReportFilters) -> list[tuple[Column, Callable[[Any], Any]]]:
    found: list[tuple[Column, Callable[[Any], Any]]] = []
    for group in filters.group_by:
        if group == "month":
            found.append((Column(_("Month"), "month"), lambda r: r.month))
        elif group == "metric":
            found.append((Column(_("Metric")), lambda r: r.metric_label))
        elif group == "priority":
            found.append((Column(_("Priority")), lambda r: r.priority_label))
        elif group == "team":
            found.append((Column(_("Team")), lambda r: r.team.name if r.team else ""))
        elif group == "organisation":
            found.append((Column(_("Organisation")),
                          lambda r: r.organisation.name if r.organisation else ""))
    return found


def compliance_table(filters: ReportFilters) -> Table:
    groups = _group_columns(filters)
    columns = [c for c, _get in groups] + [
        Column(_("Met"), "int"), Column(_("Breached"), "int"), Column(_("Counted"), "int"),
        Column(_("Compliance, %"), "percent")]
    rows = [[get(r) for _c, get in groups] + [r.met, r.breached, r.total, r.compliance]
            for r in reports.compliance(filters)]
    return Table("compliance", _("Compliance"), columns, rows)


def _target_hours(row: reports.PercentileRow) -> Any:
    if row.target_min == row.target_max:
        return reports.hours(row.target_min)
    return f"{row.target_min / 3600:.2f}–{row.target_max / 3600:.2f}"


def percentile_table(filters: ReportFilters,
                     q: Sequence[int] = reports.DEFAULT_QUANTILES) -> Table:
    columns = [Column(_("Metric")), Column(_("Priority")), Column(_("Finished clocks"), "int"),
               Column(_("Within target"), "int"), Column(_("Within target, %"), "percent"),
               Column(_("Target, h"), "hours")]
    columns += [Column(_("P%(q)d, h") % {"q": x}, "hours") for x in q]
    rows = [[r.metric_label, r.priority_label, r.count, r.within_target, r.within_percent,
             _target_hours(r)] + [reports.hours(r.values.get(x)) for x in q]
            for r in reports.percentile_table(filters, q)]
    return Table("percentiles", _("Percentiles"), columns, rows)


def breached_columns() -> list[Column]:
    return [Column(_("Ticket")), Column(_("Title")), Column(_("Organisation")),
            Column(_("Team")), Column(_("Agreement")), Column(_("Metric")),
            Column(_("Priority")), Column(_("State")), Column(_("Breached at"), "datetime"),
            Column(_("Target, h"), "hours"), Column(_("Used, h"), "hours"),
            Column(_("Late, h"), "hours")]


def _labels() -> dict[Any, str]:
    """The labels of the breached list's choices, translated once per file, not once per row."""
    return {choice: str(choice.label) for enum in (Metric, Priority, ClockState)
            for choice in enum}


def breached_row(clock: Clock, now: datetime, labels: dict[Any, str] | None = None
                 ) -> list[Any]:
    labels = labels if labels is not None else _labels()
    team = reports.report_team(clock)
    ticket = clock.ticket
    late = reports.late_seconds(clock, now)
    return [ticket.number or "", ticket.title,
            ticket.organisation.name if ticket.organisation else "", team.name if team else "",
            clock.agreement.name, labels[Metric(clock.metric)],
            labels[Priority(clock.priority)], labels[ClockState(clock.state)],
            clock.breached_at, reports.hours(clock.target_seconds),
            reports.hours(late + clock.target_seconds), reports.hours(late)]


def breached_table(filters: ReportFilters, *, ordering: str = reports.DEFAULT_BREACHED_SORT,
                   now: datetime | None = None) -> Table:
    """Rows are produced lazily, a chunk of clocks at a time."""
    moment = now or timezone.now()
    clocks = reports.breached(filters, ordering).iterator(chunk_size=2000)

    def rows() -> Iterator[list[Any]]:
        labels = _labels()  # in the language active when the rows are produced
        for clock in clocks:
            yield breached_row(clock, moment, labels)

    return Table("breached", _("Breached"), breached_columns(), rows())


def penalty_table(filters: ReportFilters) -> Table:
    columns = [Column(_("Agreement")), Column(_("Organisation")), Column(_("Month"), "month"),
               Column(_("Rule")), Column(_("Tickets"), "int"),
               Column(_("Breached tickets"), "int"), Column(_("Compliance, %"), "percent"),
               Column(_("Target, %"), "percent"), Column(_("Points below target"), "number"),
               Column(_("Monthly fee"), "money"), Column(_("Penalty rate, % of the fee"),
                                                         "percent"),
               Column(_("Cap"), "money"), Column(_("Penalty"), "money"),
               Column(_("Capped"))]
    rows = [[r.agreement.name,
             r.agreement.organisation.name if r.agreement.organisation else "", r.month,
             str(PenaltyKind(r.agreement.penalty_kind).label), r.tickets, r.breaches,
             r.compliance, r.target, r.points_below, r.fee, r.agreement.penalty_percent, r.cap,
             r.penalty, _("yes") if r.capped else _("no")]
            for r in reports.penalties(filters.month_from, filters.month_to, filters=filters)]
    return Table("penalties", _("Penalties"), columns, rows)


def tables(filters: ReportFilters, *, penalties: bool, now: datetime | None = None
           ) -> list[Table]:
    """Every table of the report, in sheet order (penalties only when the reader may see them)."""
    found = [compliance_table(filters), percentile_table(filters),
             breached_table(filters, now=now)]
    if penalties:
        found.append(penalty_table(filters))
    return found


def table(key: str, filters: ReportFilters, *, ordering: str = reports.DEFAULT_BREACHED_SORT,
          now: datetime | None = None) -> Table:
    if key == "compliance":
        return compliance_table(filters)
    if key == "percentiles":
        return percentile_table(filters)
    if key == "breached":
        return breached_table(filters, ordering=ordering, now=now)
    if key == "penalties":
        return penalty_table(filters)
    raise ValueError(key)


# --- CSV ------------------------------------------------------------------------------------------


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_value(value: Any, kind: Kind, zone: tzinfo) -> str:
    """One cell as text: numbers with a decimal point, instants in ``zone``."""
    if value is None:
        return ""
    if kind == "month" and isinstance(value, date):
        return f"{value:%Y-%m}"
    if kind == "datetime" and isinstance(value, datetime):
        return f"{timezone.localtime(value, zone):%Y-%m-%d %H:%M}"
    if kind in ("number", "percent", "hours", "money") and isinstance(value, (int, float, Decimal)):
        return f"{value:.2f}"
    if isinstance(value, str):
        return _text(value)
    return str(value)


class _Echo:
    """A file-like object that hands back what is written (for csv.writer in a generator)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(tbl: Table, zone: tzinfo) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([_text(c.label) for c in tbl.columns])
    kinds = [c.kind for c in tbl.columns]
    for row in tbl.rows:
        yield writer.writerow([csv_value(v, k, zone) for v, k in zip(row, kinds, strict=True)])


def _in_language(lines: Iterator[str], language: str) -> Iterator[bytes]:
    """Labels of lazily produced rows in the reader's language, after the view has returned."""
    with translation.override(language):
        for line in lines:
            yield line.encode("utf-8")


def filename(stem: str, filters: ReportFilters, extension: str) -> str:
    return f"sla-{stem}-{filters.month_from:%Y-%m}-{filters.month_to:%Y-%m}.{extension}"


def csv_response(tbl: Table, filters: ReportFilters) -> StreamingHttpResponse:
    """The table as a streamed CSV download, in the active language and time zone."""
    zone = timezone.get_current_timezone()
    response = StreamingHttpResponse(
        _in_language(csv_lines(tbl, zone), translation.get_language() or "en"),
        content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{filename(tbl.key, filters, "csv")}"')
    return response


# --- XLSX -----------------------------------------------------------------------------------------


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, kind: Kind, zone: tzinfo) -> Any:
    if value is None:
        return None
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        value = Decimal(value) / 100 if not isinstance(value, float) else value / 100
    elif kind == "datetime" and isinstance(value, datetime):
        value = timezone.localtime(value, zone).replace(tzinfo=None)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula
    elif kind in NUMBER_FORMATS:
        cell.number_format = NUMBER_FORMATS[kind]
    return cell


def write_sheet(book: Workbook, tbl: Table, zone: tzinfo) -> None:
    sheet = book.create_sheet(tbl.title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(tbl.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS[column.kind]
    bold = Font(bold=True)
    header = []
    for column in tbl.columns:
        cell = WriteOnlyCell(sheet, value=column.label)
        cell.data_type = "s"
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    kinds = [c.kind for c in tbl.columns]
    for row in tbl.rows:
        sheet.append([_xlsx_cell(sheet, v, k, zone) for v, k in zip(row, kinds, strict=True)])


def write_xlsx(target: Any, sheets: Iterable[Table], zone: tzinfo | None = None) -> None:
    """Write the tables into ``target`` (a path or a binary file), one sheet each."""
    zone = zone or timezone.get_current_timezone()
    book = Workbook(write_only=True)
    for tbl in sheets:
        write_sheet(book, tbl, zone)
    book.save(target)


def xlsx_response(sheets: Iterable[Table], filters: ReportFilters, *, stem: str = "report"
                  ) -> FileResponse:
    """The workbook, built in a temporary file (memory stays flat for long lists) and streamed."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    write_xlsx(spool, sheets)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename(stem, filters, "xlsx"),
                        content_type=XLSX_TYPE)
