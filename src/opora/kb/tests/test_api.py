"""The /api/v1/kb/ API: reads through the funnel, writes through the actions, errors in the
project's shape, query counts, and schema-driven fuzzing of every operation (never a 500)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from opora.kb import actions
from opora.kb.choices import ArticleEventKind, ArticleStatus, Visibility
from opora.kb.models import Article
from opora.sla.tests.test_api_config import _body, _never_500, _values, openapi

from .conftest import make_article

ARTICLES = "/api/v1/kb/articles/"


def test_staff_create_edit_and_move_articles(world, api):
    api.as_user(world.l1_agent)
    response = api.post(ARTICLES, {"title": "Сброс пароля", "body": "Откройте…",
                                   "type": "faq", "visibility": "public", "language": "ru",
                                   "tags": ["Пароль"], "reviewers": [world.l2_agent.pk]},
                        format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["tags"] == ["пароль"] and body["version"] == 1
    pk = body["id"]
    response = api.patch(f"{ARTICLES}{pk}/", {"body": "Новый текст", "version": 1},
                         format="json")
    assert response.status_code == 200 and response.json()["version"] == 2
    stale = api.patch(f"{ARTICLES}{pk}/", {"body": "x", "version": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale"
    assert api.post(f"{ARTICLES}{pk}/transition/", {"action": "submit"},
                    format="json").json()["status"] == "in_review"
    refused = api.post(f"{ARTICLES}{pk}/transition/", {"action": "approve"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "staff_only"
    api.as_user(world.l2_agent)
    assert api.post(f"{ARTICLES}{pk}/transition/", {"action": "approve"},
                    format="json").json()["status"] == "published"
    kinds = list(Article.objects.get(pk=pk).events.values_list("kind", flat=True))
    assert kinds == [ArticleEventKind.CREATED, ArticleEventKind.UPDATED,
                     ArticleEventKind.SUBMITTED, ArticleEventKind.APPROVED]


def test_requesters_cannot_write(world, api):
    article = make_article(world.l1_agent, moderator=world.manager)
    api.as_user(world.requester)
    assert api.post(ARTICLES, {"title": "x"}, format="json").status_code == 403
    assert api.patch(f"{ARTICLES}{article.pk}/", {"title": "x"},
                     format="json").status_code == 403
    assert api.post(f"{ARTICLES}{article.pk}/transition/", {"action": "archive"},
                    format="json").status_code == 403
    assert Article.objects.get(pk=article.pk).title == article.title


def test_filters_ordering_and_paging(world, api):
    m = world.manager
    a = make_article(world.l1_agent, title="B", language="en", moderator=m)
    b = make_article(world.l1_agent, title="A", moderator=m)
    make_article(world.l1_agent, title="C", visibility=Visibility.INTERNAL, moderator=m)
    api.as_user(world.l1_agent)

    def ids(**params: Any) -> list[int]:
        return [r["id"] for r in api.get(ARTICLES, params).json()["results"]]

    assert ids(language="en") == [a.pk]
    assert ids(visibility="public", ordering="title") == [b.pk, a.pk]
    assert api.get(ARTICLES, {"page_size": 1}).json()["count"] == 3
    assert api.get(ARTICLES, {"type": "nonsense"}).status_code == 400
    api.as_user(world.requester)
    assert sorted(ids()) == sorted([a.pk, b.pk])


def test_list_query_count_does_not_grow(world, api, django_assert_num_queries):
    for i in range(8):
        article = make_article(world.l1_agent, title=f"A{i}", moderator=world.manager)
        actions.update_article(article, changes={"tags": [f"t{i}"]}, actor=world.manager)
    api.as_user(world.l1_agent)
    api.get(ARTICLES)
    # token, count, rows, tags, categories, services, organisations, reviewers
    with django_assert_num_queries(8):
        assert len(api.get(ARTICLES).json()["results"]) == 8
    api.as_user(world.requester)
    api.get(ARTICLES)
    # token, count, rows, tags, categories, services
    with django_assert_num_queries(6):
        assert len(api.get(ARTICLES).json()["results"]) == 8


# --- schema-driven fuzzing -------------------------------------------------------------------------

FUZZ_EXAMPLES = int(os.environ.get("OPORA_FUZZ_EXAMPLES", "15"))
FUZZ = hypothesis_settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None,
                           database=None,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])


def _operations(kind: str) -> list[tuple[str, str]]:
    return sorted((method, path) for path, ops in openapi()["paths"].items()
                  if path.startswith("/api/v1/kb/") for method in ops
                  if (method == "get") == (kind == "read"))


def test_the_fuzzer_covers_the_kb_api():
    assert _operations("write") == [("patch", "/api/v1/kb/articles/{id}/"),
                                    ("post", "/api/v1/kb/articles/"),
                                    ("post", "/api/v1/kb/articles/{id}/transition/")]
    assert len(_operations("read")) == 2


@pytest.fixture
def fuzz_world(world):
    world.article = make_article(world.l1_agent, moderator=world.manager)
    world.draft = make_article(world.l1_agent, status=ArticleStatus.DRAFT,
                               visibility=Visibility.INTERNAL)
    return world


@pytest.mark.parametrize(("method", "path"), _operations("write"),
                         ids=[f"{m} {p}" for m, p in _operations("write")])
@FUZZ
@given(data=st.data())
def test_fuzz_every_write(fuzz_world, api, method, path, data):
    w = fuzz_world
    api.raise_request_exception = False
    api.as_user(getattr(w, data.draw(st.sampled_from(["admin", "l1_agent", "requester"]))))
    target = path.replace("{id}", str(data.draw(st.sampled_from(
        [w.article.pk, w.draft.pk, 999999]), label="id")))
    body = data.draw(_body(method, path), label="body")
    response = getattr(api, method)(target, json.dumps(body), content_type="application/json")
    _never_500(response, (method, target, body))


@pytest.mark.parametrize("path", [p for _m, p in _operations("read")])
@FUZZ
@given(data=st.data())
def test_fuzz_every_read(fuzz_world, api, path, data):
    w = fuzz_world
    api.raise_request_exception = False
    api.as_user(getattr(w, data.draw(st.sampled_from(["admin", "l1_agent", "requester"]))))
    params = [p for p in openapi()["paths"][path]["get"].get("parameters", [])
              if p["in"] == "query"]
    query = {p["name"]: data.draw(_values(p["schema"]).map(
        lambda v: json.dumps(v) if isinstance(v, dict | list) else str(v)), label=p["name"])
        for p in params if data.draw(st.booleans())}
    target = path.replace("{id}", str(data.draw(st.sampled_from(
        [w.article.pk, w.draft.pk, 0, "x", 10**30]))))
    _never_500(api.get(target, query), (target, query))
