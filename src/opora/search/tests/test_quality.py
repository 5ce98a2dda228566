"""Search quality on real Russian support requests (../shared/corpora, skipped without it).

The FAQ of the Rutube support desk is imported as public articles; for each of the 600 real
requests we check whether the FAQ entry the agent answered with is among the first results of
``search_articles`` for the request's text. The floors are what was measured (see
docs/performance.md) minus a small margin, per engine: a change that makes search worse fails.
"""

from __future__ import annotations

import pytest
from django.db import connection

from opora.search import quality

pytestmark = pytest.mark.django_db

#: Measured top-3 rates — SQLite 51.3 % (FTS5 + Snowball stems, bm25), PostgreSQL 50.0 %
#: (russian configuration, ts_rank_cd) — minus a margin of about two points.
TOP3_FLOOR = {"sqlite": 0.49, "postgresql": 0.48}


def test_faq_entry_is_found_for_real_requests(world, shared_corpora, capsys):
    corpus = shared_corpora / "tickets" / "rutube-support-ru"
    faq = quality.load_faq(corpus / "knowledge_base.csv", author=world.l1_agent)
    assert len(faq) > 250
    result = quality.measure(corpus / "cases.csv", faq, user=world.requester)
    with capsys.disabled():
        print("\n" + result.report(connection.vendor))
    assert result.cases > 500
    assert result.top3 >= TOP3_FLOOR[connection.vendor]
    assert result.top1 <= result.top3 <= result.top5
