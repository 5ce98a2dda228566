"""Search quality on real data: the Rutube support FAQ and the requests it answered.

``load_faq`` imports ``knowledge_base.csv`` as public, published Russian articles (a bulk path
for measurement: the knowledge base's actions and review workflow are bypassed, the index is
built the normal way); ``measure`` asks ``search_articles`` for each request of ``cases.csv``
and reports how often the FAQ entry that answered it ("Вопрос из БЗ") is first, in the top 3 and
in the top 5.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from . import api, indexing

QUESTION = "Вопрос из БЗ"
ANSWER = "Ответ из БЗ"
TOPIC = "Тема"
REQUEST = "Вопрос пользователя"


def _clean(value: str) -> str:
    # The corpus keeps real-world noise such as runs of U+200C; it is not text.
    return " ".join(value.replace("\u200c", " ").split())


def load_faq(path: Path, *, author: Any) -> dict[str, set[int]]:
    """Import the FAQ; returns ``{question: article ids}`` (a few questions occur twice, with
    different answers: finding either counts)."""
    from opora.kb.choices import ArticleStatus, ArticleType, Visibility
    from opora.kb.models import Article

    now = timezone.now()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if _clean(row[QUESTION])]
    articles = Article.objects.bulk_create([
        Article(title=_clean(row[QUESTION])[:255], summary=_clean(row[TOPIC]),
                body=row[ANSWER].strip(), language="ru", type=ArticleType.FAQ,
                status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC, author=author,
                owner=author, published_at=now, created_at=now, updated_at=now)
        for row in rows
    ])
    indexing.index_articles([a.pk for a in articles])
    faq: dict[str, set[int]] = {}
    for article in articles:
        faq.setdefault(article.title, set()).add(article.pk)
    return faq


@dataclass(frozen=True)
class Quality:
    cases: int
    skipped: int
    top1: float
    top3: float
    top5: float

    def report(self, engine: str) -> str:
        return (f"search quality on {engine}: {self.cases} requests "
                f"({self.skipped} without a matching FAQ entry skipped): "
                f"top-1 {self.top1:.1%}, top-3 {self.top3:.1%}, top-5 {self.top5:.1%}")


def measure(path: Path, faq: dict[str, set[int]], *, user: Any) -> Quality:
    with path.open(encoding="utf-8", newline="") as handle:
        cases = list(csv.DictReader(handle))
    ranks: list[int | None] = []
    skipped = 0
    for case in cases:
        expected = faq.get(_clean(case[QUESTION])[:255])
        text = _clean(case[REQUEST])
        if expected is None or not text:
            skipped += 1
            continue
        hits = api.search_articles(user, text, limit=5)
        ids = [hit.obj.pk for hit in hits]
        found = [i for i, pk in enumerate(ids, start=1) if pk in expected]
        ranks.append(found[0] if found else None)
    n = len(ranks) or 1

    def rate(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    return Quality(cases=len(ranks), skipped=skipped, top1=rate(1), top3=rate(3), top5=rate(5))
