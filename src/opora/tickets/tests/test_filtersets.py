"""The shared ticket filter adds no DISTINCT: every filter is a column of the ticket row."""

from __future__ import annotations

import pytest

from opora.tickets.filtersets import TicketFilter
from opora.tickets.models import Ticket


@pytest.mark.django_db
def test_filters_do_not_make_the_query_distinct(world):
    data = {"status": ["new", "assigned"], "priority": ["1", "3"], "type": ["incident"],
            "channel": ["portal"], "team": [str(world.l1.pk)], "assignee": [str(world.l1_agent.pk)],
            "organisation": [str(world.org.pk)], "q": "printer"}
    filtered = TicketFilter(data, queryset=Ticket.objects.all())
    assert filtered.is_valid(), filtered.errors
    sql = str(filtered.qs.query).upper()
    assert "DISTINCT" not in sql
    assert list(TicketFilter({"status": ["new"]}, queryset=Ticket.objects.all()).qs) == [
        world.ticket]
