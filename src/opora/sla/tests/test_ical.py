"""Holidays from iCalendar files: Zammad's test calendars and small inline ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.utils import translation

from opora.sla.ical import holidays_from_ical

ICS_DIR = Path("sla") / "zammad-calendar-ics"


@pytest.fixture(autouse=True)
def _english():
    """Error messages are matched in English (the default language is Russian)."""
    with translation.override("en"):
        yield


ICS_FILES = ["calendar1.ics", "calendar2.ics", "calendar3.ics", "calendar_duplicate_check.ics"]


def ics(*events: str) -> bytes:
    """A calendar around the given VEVENT bodies (one property per line)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Opora//tests//EN"]
    for body in events:
        lines += ["BEGIN:VEVENT", *body.strip().splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(line.strip() for line in lines) + "\r\n").encode()


@pytest.mark.parametrize("name", ICS_FILES)
def test_zammad_calendars_parse(shared_corpora, name):
    result = holidays_from_ical((shared_corpora / ICS_DIR / name).read_bytes(), range(2010, 2031))
    assert result
    dates = [day for day, _name in result]
    assert dates == sorted(set(dates))


def test_yearly_all_day_event(shared_corpora):
    data = (shared_corpora / ICS_DIR / "calendar1.ics").read_bytes()
    # DTSTART;VALUE=DATE:20121224, DTEND 20121225, RRULE:FREQ=YEARLY;INTERVAL=1
    assert holidays_from_ical(data, [2017, 2018]) == [
        (date(2017, 12, 24), "Christmas1"),
        (date(2018, 12, 24), "Christmas1"),
    ]
    assert holidays_from_ical(data, [2011]) == []  # before the first occurrence


def test_all_day_event_whose_end_equals_its_start_is_one_day(shared_corpora):
    data = (shared_corpora / ICS_DIR / "calendar2.ics").read_bytes()
    # Christmas2: DTSTART;VALUE=DATE:20121225 and DTEND;VALUE=DATE:20121225
    assert holidays_from_ical(data, [2020]) == [
        (date(2020, 12, 24), "Christmas1"),
        (date(2020, 12, 25), "Christmas2"),
    ]


def test_monthly_counts_timed_events_and_ends_before_starts(shared_corpora):
    data = (shared_corpora / ICS_DIR / "calendar3.ics").read_bytes()
    by_name: dict[str, list[date]] = {}
    for day, name in holidays_from_ical(data, range(2012, 2019)):
        by_name.setdefault(name, []).append(day)
    # day4: 2012-12-28 09:00-10:00 Europe/Berlin, FREQ=MONTHLY;COUNT=10
    assert by_name["day4"] == [date(2012, 12, 28)] + [date(2013, m, 28) for m in range(1, 10)]
    # day3: all-day 2016-12-26 with DTEND in 2012 (before it), FREQ=MONTHLY;COUNT=5
    assert by_name["day3"] == [date(2016, 12, 26)] + [date(2017, m, 26) for m in range(1, 5)]
    assert by_name["day2"] == [date(2012, 12, 26)]
    assert by_name["day5"] == [date(2016, 12, 28)]
    assert by_name["Christmas1"] == [date(y, 12, 24) for y in range(2012, 2019)]
    all_day = holidays_from_ical(data, range(2012, 2019), all_day_only=True)
    assert {name for _day, name in all_day} == {"Christmas1", "day3", "day5"}


def test_duplicate_check_calendar_has_no_duplicate_dates(shared_corpora):
    data = (shared_corpora / ICS_DIR / "calendar_duplicate_check.ics").read_bytes()
    assert holidays_from_ical(data, [2019]) == [
        (date(2019, 1, 1), "Neujahrstag"),
        (date(2019, 4, 22), "Ostermontag"),
    ]
    assert holidays_from_ical(data, [2020]) == []


def test_yearly_rule_with_until_and_exdate():
    data = ics(
        """
        UID:1
        SUMMARY:Day of Knowledge
        DTSTART;VALUE=DATE:20200901
        RRULE:FREQ=YEARLY;UNTIL=20240901T000000Z
        EXDATE;VALUE=DATE:20220901
        """
    )
    assert [d for d, _ in holidays_from_ical(data, range(2019, 2027))] == [
        date(2020, 9, 1),
        date(2021, 9, 1),
        date(2023, 9, 1),
        date(2024, 9, 1),
    ]


def test_multi_day_event_expands_to_each_date_with_exclusive_end():
    data = ics(
        """
        UID:2
        SUMMARY:New Year Holidays
        DTSTART;VALUE=DATE:20241230
        DTEND;VALUE=DATE:20250103
        """,
        """
        UID:3
        SUMMARY:Long weekend
        DTSTART;VALUE=DATE:20250501
        DURATION:P3D
        """,
    )
    assert holidays_from_ical(data, [2024, 2025]) == [
        (date(2024, 12, 30), "New Year Holidays"),
        (date(2024, 12, 31), "New Year Holidays"),
        (date(2025, 1, 1), "New Year Holidays"),
        (date(2025, 1, 2), "New Year Holidays"),
        (date(2025, 5, 1), "Long weekend"),
        (date(2025, 5, 2), "Long weekend"),
        (date(2025, 5, 3), "Long weekend"),
    ]
    only_2025 = [d for d, _ in holidays_from_ical(data, [2025])]
    assert only_2025[:2] == [date(2025, 1, 1), date(2025, 1, 2)]


def test_yearly_multi_day_event_reaching_into_the_year():
    data = ics(
        """
        UID:4
        SUMMARY:Winter break
        DTSTART;VALUE=DATE:20201231
        DTEND;VALUE=DATE:20210103
        RRULE:FREQ=YEARLY
        """
    )
    assert [d for d, _ in holidays_from_ical(data, [2023])] == [
        date(2023, 1, 1),
        date(2023, 1, 2),
        date(2023, 12, 31),
    ]


def test_timed_event_over_midnight_covers_both_dates_and_midnight_end_does_not():
    data = ics(
        """
        UID:5
        SUMMARY:Night works
        DTSTART;TZID=Europe/Moscow:20240607T220000
        DTEND;TZID=Europe/Moscow:20240608T020000
        """,
        """
        UID:6
        SUMMARY:Evening
        DTSTART:20240610T200000Z
        DTEND:20240611T000000Z
        """,
    )
    assert holidays_from_ical(data, [2024]) == [
        (date(2024, 6, 7), "Night works"),
        (date(2024, 6, 8), "Night works"),
        (date(2024, 6, 10), "Evening"),
    ]


def test_same_date_from_two_events_appears_once_and_cancelled_events_are_skipped():
    data = ics(
        """
        UID:7
        SUMMARY:Russia Day
        DTSTART;VALUE=DATE:20240612
        """,
        """
        UID:8
        SUMMARY:Russia Day
        DTSTART;VALUE=DATE:20240612
        """,
        """
        UID:9
        SUMMARY:Company day
        DTSTART;VALUE=DATE:20240612
        """,
        """
        UID:10
        SUMMARY:Called off
        STATUS:CANCELLED
        DTSTART;VALUE=DATE:20240613
        """,
    )
    assert holidays_from_ical(data, [2024]) == [(date(2024, 6, 12), "Russia Day; Company day")]


def test_rdate_adds_dates():
    data = ics(
        """
        UID:11
        SUMMARY:Extra
        DTSTART;VALUE=DATE:20240101
        RDATE;VALUE=DATE:20240315,20240316
        """
    )
    assert [d for d, _ in holidays_from_ical(data, [2024])] == [
        date(2024, 1, 1),
        date(2024, 3, 15),
        date(2024, 3, 16),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a calendar", "not a valid iCalendar"),
        (b"", "not a valid iCalendar"),
        (b"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20240101\r\nEND:VEVENT\r\n", "no VCALENDAR"),
        (ics("UID:1\nSUMMARY:No start"), "no start"),
        (ics("UID:1\nSUMMARY:Bad date\nDTSTART;VALUE=DATE:2024XX01"), "Bad date"),
        (ics("UID:1\nSUMMARY:Bad rule\nDTSTART;VALUE=DATE:20240101\nRRULE:FREQ=FOO"), "Bad rule"),
        (
            ics("UID:1\nSUMMARY:Often\nDTSTART:20240101T000000Z\nRRULE:FREQ=SECONDLY"),
            "more often than daily",
        ),
        (
            ics("UID:1\nSUMMARY:Mixed\nDTSTART;VALUE=DATE:20240101\nDTEND:20240102T000000Z"),
            "both dates",
        ),
    ],
    ids=[
        "garbage",
        "empty",
        "no-vcalendar",
        "no-dtstart",
        "bad-date",
        "bad-rrule",
        "secondly",
        "date-and-datetime",
    ],
)
def test_broken_input_raises_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        holidays_from_ical(data, [2024])


def test_daily_rule_is_capped():
    data = ics("UID:1\nSUMMARY:Every day\nDTSTART;VALUE=DATE:20000101\nRRULE:FREQ=DAILY")
    assert len(holidays_from_ical(data, [2024])) == 366
    with pytest.raises(ValueError, match="more than"):
        holidays_from_ical(data, range(2000, 2030))
