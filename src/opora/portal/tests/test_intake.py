"""The data behind the new-request form: category questions, default types, time zones."""

from __future__ import annotations

import datetime
import importlib
import zoneinfo

import pytest

from opora.catalog.models import Category
from opora.portal import intake
from opora.portal.preferences import COMMON_TIME_ZONES, is_valid_time_zone
from opora.tickets.choices import TicketType

DEFAULT_CODES = {code for code, _ru, _en in importlib.import_module(
    "opora.catalog.migrations.0002_default_categories").DEFAULTS}


def test_the_tables_name_real_default_categories():
    assert set(intake.CATEGORY_QUESTIONS) <= DEFAULT_CODES
    assert set(intake.CATEGORY_TYPES) <= DEFAULT_CODES
    assert intake.CATEGORY_TYPES == {"service-request": TicketType.REQUEST,
                                     "consulting": TicketType.QUESTION}


def test_question_names_are_unique_per_category():
    for questions in intake.CATEGORY_QUESTIONS.values():
        names = [q.name for q in questions]
        assert len(names) == len(set(names))


def test_compose_description_adds_labelled_lines():
    questions = intake.CATEGORY_QUESTIONS["service-request"]
    text = intake.compose_description("  A laptop, please.  ", [
        (questions[0], " Ivan "), (questions[1], datetime.date(2025, 6, 1))])
    assert text == "A laptop, please.\n\n**For whom?** Ivan\n**Needed by:** 2025-06-01"
    # Unanswered questions leave no line; no answers leave the text alone.
    assert intake.compose_description("Text", [(questions[1], None)]) == "Text"
    assert intake.compose_description("", [(questions[0], "Ivan")]) == "**For whom?** Ivan"


def test_lineage_survives_a_loop_in_the_data():
    a = Category(pk=1, code="x-a", parent_id=2)
    b = Category(pk=2, code="x-b", parent_id=1)
    assert intake.questions_for(a, {1: a, 2: b}) == ()
    assert intake.default_type(a, {1: a, 2: b}) == TicketType.INCIDENT
    assert intake.questions_for(None, {}) == ()


@pytest.mark.parametrize("zone", COMMON_TIME_ZONES)
def test_every_offered_zone_exists(zone):
    assert zoneinfo.ZoneInfo(zone)
    assert is_valid_time_zone(zone)


@pytest.mark.parametrize("zone", ["", "Nowhere/Atlantis", "../../etc/passwd", "x" * 65])
def test_bad_zones(zone):
    assert not is_valid_time_zone(zone)
