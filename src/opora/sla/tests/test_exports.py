"""CSV and XLSX exports of the SLA reports read back with the csv module and openpyxl: the same
numbers as the reports, the formats (BOM, bold frozen header, number formats), instants in the
reader's time zone, formula-looking text kept as text, and the breached list streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from django.http import FileResponse, StreamingHttpResponse
from openpyxl import load_workbook

from opora.sla import exports, reports
from opora.sla.choices import ClockState, Metric, Outcome
from opora.sla.models import Clock

from .test_reports import JAN, MAR, MSK, NOW, build_story, flt

pytestmark = pytest.mark.django_db

EXPORT = "/agent/reports/sla/export/"
PERIOD = {"month_from": "2023-01", "month_to": "2023-03"}


@pytest.fixture
def story_world(world):
    return build_story(world)


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def read_csv(response: Any) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def read_xlsx(response: Any) -> Any:
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == exports.XLSX_TYPE
    return load_workbook(io.BytesIO(response.getvalue()))


def values(sheet: Any) -> list[list[Any]]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


# --- CSV ---------------------------------------------------------------------------------------


def test_compliance_csv(client, story_world, frozen):
    client.force_login(story_world.manager)
    response = client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "compliance",
                                   "group": ["month", "organisation"]})
    assert response["Content-Disposition"] == (
        'attachment; filename="sla-compliance-2023-01-2023-03.csv"')
    assert read_csv(response) == [
        ["Month", "Organisation", "Met", "Breached", "Counted", "Compliance, %"],
        ["2023-01", "Globex", "2", "0", "2", "100.00"],
        ["2023-01", "Северный ветер", "5", "4", "9", "55.56"],
        ["2023-02", "Globex", "5", "1", "6", "83.33"],
    ]


def test_percentiles_csv_in_hours(client, story_world, frozen):
    client.force_login(story_world.manager)
    rows = read_csv(client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "percentiles",
                                        "organisation": story_world.org.pk}))
    assert rows == [
        ["Metric", "Priority", "Finished clocks", "Within target", "Within target, %",
         "Target, h", "P50, h", "P90, h", "P95, h"],
        ["First response", "Medium", "4", "3", "75.00", "1.00", "0.42", "1.20", "1.35"],
        ["Resolution", "Medium", "3", "2", "66.67", "4.00", "3.00", "4.60", "4.80"],
    ]


def test_breached_csv_in_the_readers_time_zone(client, story_world, frozen):
    w = story_world
    w.manager.time_zone = "Asia/Yekaterinburg"  # Moscow + 2 h
    w.manager.save(update_fields=["time_zone"])
    client.force_login(w.manager)
    rows = read_csv(client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "breached",
                                        "ordering": "breached_at"}))
    assert rows[0] == ["Ticket", "Title", "Organisation", "Team", "Agreement", "Metric",
                       "Priority", "State", "Breached at", "Target, h", "Used, h", "Late, h"]
    assert rows[1] == [w.t2.number, "Story 11 Jan 10:00", "Северный ветер", "Service desk",
                       "Acme contract", "First response", "Medium", "Stopped",
                       "2023-01-11 13:00", "1.00", "1.50", "0.50"]
    # T4's first response is still open: late until now (10 March 12:00 Moscow).
    assert rows[3][7:] == ["Running", "2023-01-13 13:00", "1.00", "1346.00", "1345.00"]
    assert [r[0] for r in rows[1:]] == [w.t2.number, w.t3.number, w.t4.number, w.t4.number,
                                        w.g2.number]


def test_penalties_csv(client, story_world, frozen):
    client.force_login(story_world.manager)
    rows = read_csv(client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "penalties"}))
    assert rows[0][-3:] == ["Cap", "Penalty", "Capped"]
    assert rows[1] == ["Acme contract", "Северный ветер", "2023-01",
                       "A share of the monthly fee per breached ticket", "5", "3", "40.00",
                       "95.00", "55.00", "1000.00", "10.00", "250.00", "250.00", "yes"]
    assert rows[5][2:] == ["2023-02", "A share of the monthly fee per percentage point below "
                           "target", "3", "1", "66.67", "90.00", "23.33", "2000.00", "1.00",
                           "600.00", "466.67", "no"]
    assert rows[2][6] == ""  # no tickets: no compliance


def test_formula_looking_text_stays_text(story_world, frozen):
    w = story_world
    from opora.tickets.models import Ticket

    Ticket.objects.filter(pk=w.t2.pk).update(title='=HYPERLINK("http://evil","x")')
    tbl = exports.breached_table(flt(), ordering="breached_at", now=NOW)
    lines = list(exports.csv_lines(tbl, MSK))
    assert "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"" in lines[1]
    out = io.BytesIO()
    exports.write_xlsx(out, [exports.breached_table(flt(), ordering="breached_at", now=NOW)],
                       MSK)
    cell = load_workbook(io.BytesIO(out.getvalue()))["Breached"]["B2"]
    assert cell.value == '=HYPERLINK("http://evil","x")' and cell.data_type == "s"


# --- XLSX --------------------------------------------------------------------------------------


def test_xlsx_has_a_sheet_per_table_with_the_same_numbers(client, story_world, frozen):
    client.force_login(story_world.manager)
    response = client.get(EXPORT, {**PERIOD, "format": "xlsx"})
    assert response["Content-Disposition"] == (
        'attachment; filename="sla-report-2023-01-2023-03.xlsx"')
    book = read_xlsx(response)
    assert book.sheetnames == ["Compliance", "Percentiles", "Breached", "Penalties"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.b for cell in sheet[1])
    compliance = book["Compliance"]
    assert values(compliance) == [
        ["Metric", "Priority", "Met", "Breached", "Counted", "Compliance, %"],
        ["First response", "Medium", 6, 3, 9, pytest.approx(0.6667)],
        ["Resolution", "Medium", 6, 2, 8, pytest.approx(0.75)],
    ]
    assert compliance["F2"].number_format == "0.00%"
    report = reports.compliance(flt())
    assert [Decimal(str(round(r[5] * 100, 2))) for r in values(compliance)[1:]] == [
        r.compliance for r in report]
    percentiles = book["Percentiles"]
    assert percentiles["G2"].number_format == "0.00"
    assert percentiles["G2"].value == pytest.approx(reports.percentile_table(flt())[0].values[50]
                                                    / 3600)
    breached = book["Breached"]
    assert breached.max_row == 6
    assert breached["I2"].number_format == "yyyy-mm-dd hh:mm"
    assert breached["I2"].value == datetime(2023, 2, 3, 11, 0)  # G2, newest first, Moscow
    assert breached["L2"].value == pytest.approx(1.0)
    penalties = book["Penalties"]
    assert penalties["M2"].number_format == "#,##0.00" and penalties["M2"].value == 250
    assert penalties["C2"].number_format == "yyyy-mm"
    assert penalties["C2"].value == datetime(2023, 1, 1)
    assert [row[12] for row in values(penalties)[1:]] == [250, 0, 0, 0, pytest.approx(466.67), 0]


def test_single_table_exports(story_world, frozen):
    for key in exports.TABLES:
        tbl = exports.table(key, flt(), now=NOW)
        out = io.BytesIO()
        exports.write_xlsx(out, [tbl], MSK)
        sheet = load_workbook(io.BytesIO(out.getvalue())).worksheets[0]
        assert sheet.max_row >= 2, key
    with pytest.raises(ValueError):
        exports.table("nonsense", flt())


def test_csv_values():
    assert exports.csv_value(None, "money", MSK) == ""
    assert exports.csv_value(Decimal("1234.5"), "money", MSK) == "1234.50"
    assert exports.csv_value(1.0 / 3, "hours", MSK) == "0.33"
    assert exports.csv_value(datetime(2023, 1, 31, 21, 30, tzinfo=MSK) - timedelta(hours=3),
                             "datetime", MSK) == "2023-01-31 18:30"
    assert exports.csv_value("-1", "text", MSK) == "'-1"
    assert exports.csv_value(7, "int", MSK) == "7"


# --- a long breached list streams ---------------------------------------------------------------


def test_a_long_breached_list_is_streamed_in_chunks(client, story_world, frozen,
                                                    django_assert_max_num_queries):
    w = story_world
    template = Clock.objects.get(ticket=w.t2, metric=Metric.FIRST_RESPONSE)
    Clock.objects.bulk_create([
        Clock(ticket_id=w.t2.pk, agreement_id=template.agreement_id, kind=template.kind,
              metric=Metric.FIRST_RESPONSE, cycle=10 + n, priority=3, ticket_type="incident",
              team_id=w.l1.pk, target_seconds=3600, state=ClockState.STOPPED,
              outcome=Outcome.BREACHED, started_at=template.started_at,
              elapsed_us=2 * 3600 * 10**6, breached_at=template.breached_at,
              stopped_at=template.stopped_at)
        for n in range(4500)])
    client.force_login(w.manager)
    response = client.get(EXPORT, {**PERIOD, "format": "csv", "tab": "breached"})
    assert isinstance(response, StreamingHttpResponse)
    lines = 0
    with django_assert_max_num_queries(6):  # a chunk of 2000 clocks per query
        for chunk in cast(Iterator[bytes], response.streaming_content):
            lines += chunk.count(b"\n")
    assert lines == 1 + 4500 + 5
    workbook = read_xlsx(client.get(EXPORT, {**PERIOD, "format": "xlsx"}))
    assert workbook["Breached"].max_row == 1 + 4500 + 5


def test_the_month_range_is_in_the_file_name(story_world):
    assert exports.filename("breached", flt(month_from=JAN, month_to=MAR), "csv") == (
        "sla-breached-2023-01-2023-03.csv")
