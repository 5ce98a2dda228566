"""The lifecycle (workflow + actions), versions, diff and restore, and the audit timeline."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opora.kb import actions, workflow
from opora.kb.choices import ArticleEventKind, ArticleStatus, ArticleType, Visibility
from opora.kb.models import Article, ArticleEvent, ArticleVersion
from opora.tickets.errors import ActionError


def _kinds(article: Article) -> list[str]:
    return list(article.events.order_by("id").values_list("kind", flat=True))


def test_draft_review_publish_with_a_chosen_reviewer(world):
    article = actions.create_article(title="VPN не подключается", body="Шаг 1", actor=world.l1_agent,
                                      type=ArticleType.TROUBLESHOOTING,
                                      reviewers=[world.l2_agent])
    assert article.status == ArticleStatus.DRAFT and article.version == 1
    actions.transition(article, action="submit", actor=world.l1_agent)
    with pytest.raises(ActionError) as refused:  # the author may not approve their own text
        actions.transition(article, action="approve", actor=world.l1_agent)
    assert refused.value.code == "staff_only"
    with pytest.raises(ActionError):  # a colleague who is not a reviewer may not either
        actions.transition(article, action="approve", actor=world.l1_agent2)
    with pytest.raises(ActionError) as no_comment:
        actions.transition(article, action="send_back", actor=world.l2_agent)
    assert no_comment.value.code == "required"
    back = actions.transition(article, action="send_back", actor=world.l2_agent,
                              comment="Добавьте скриншот")
    assert back.status == ArticleStatus.DRAFT
    actions.transition(article, action="submit", actor=world.l1_agent)
    published = actions.transition(article, action="approve", actor=world.l2_agent)
    assert published.status == ArticleStatus.PUBLISHED and published.published_at is not None
    assert published.revalidate_on is not None
    assert _kinds(article) == [ArticleEventKind.CREATED, ArticleEventKind.SUBMITTED,
                               ArticleEventKind.SENT_BACK, ArticleEventKind.SUBMITTED,
                               ArticleEventKind.APPROVED]
    sent_back = article.events.get(kind=ArticleEventKind.SENT_BACK)
    assert sent_back.actor == world.l2_agent and sent_back.comment == "Добавьте скриншот"


def test_requesters_and_wrong_states_are_refused(world):
    article = actions.create_article(title="T", actor=world.l1_agent)
    with pytest.raises(ActionError):
        actions.create_article(title="T", actor=world.requester)
    with pytest.raises(ActionError) as wrong:
        actions.transition(article, action="approve", actor=world.manager)
    assert wrong.value.code == "invalid_transition"
    with pytest.raises(ActionError):
        actions.transition(article, action="archive", actor=world.l1_agent2)
    actions.transition(article, action="archive", actor=world.manager)
    archived = Article.objects.get(pk=article.pk)
    assert archived.status == ArticleStatus.ARCHIVED
    with pytest.raises(ActionError):  # archived articles are frozen
        actions.update_article(archived, changes={"title": "X"}, actor=world.manager)
    actions.transition(archived, action="unarchive", actor=world.manager)
    assert Article.objects.get(pk=article.pk).status == ArticleStatus.DRAFT


def test_allowed_transitions_is_pure_and_role_aware():
    roles = workflow.Roles(staff=True, moderator=False, author=True, owner=True, reviewer=False)
    assert [t.action for t in workflow.allowed_transitions("draft", roles)] == [
        "submit", "archive"]
    reviewer = workflow.Roles(staff=True, moderator=False, author=False, owner=False,
                              reviewer=True)
    assert [t.action for t in workflow.allowed_transitions("in_review", reviewer)] == [
        "approve", "send_back"]
    requester = workflow.Roles(staff=False, moderator=False, author=False, owner=False,
                               reviewer=False)
    assert workflow.allowed_transitions("published", requester) == []


def test_organisations_visibility_needs_an_organisation(world):
    with pytest.raises(ActionError) as refused:
        actions.create_article(title="T", visibility=Visibility.ORGANISATIONS,
                               actor=world.l1_agent)
    assert refused.value.field == "organisations"


def test_versions_diff_and_restore(world, client):
    article = actions.create_article(title="Пароль", body="старый <b>текст</b>",
                                      actor=world.l1_agent)
    actions.update_article(article, changes={"body": "новый <script>x</script> текст"},
                           actor=world.l1_agent, comment="уточнил")
    actions.update_article(article, changes={"tags": ["пароль"]}, actor=world.l1_agent)
    article.refresh_from_db()
    assert article.version == 2  # tags are not content: no new version
    assert list(article.versions.values_list("number", flat=True)) == [2, 1]
    client.force_login(world.l1_agent)
    page = client.get(reverse("kb:diff", args=[article.pk]), {"a": 1, "b": 2}).content.decode()
    assert "&lt;script&gt;" in page and "<script>x" not in page
    assert 'kb-diff-removed' in page and 'kb-diff-added' in page
    response = client.post(reverse("kb:restore", args=[article.pk, 1]))
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.version == 3 and article.body == "старый <b>текст</b>"
    assert ArticleVersion.objects.filter(article=article).count() == 3
    assert article.events.filter(kind=ArticleEventKind.RESTORED).get().data["from"] == 1
    history = client.get(reverse("kb:history", args=[article.pk])).content.decode()
    assert 'data-version="3"' in history and "уточнил" in history
    assert client.get(reverse("kb:diff", args=[article.pk]), {"a": 9}).status_code == 404


def test_history_is_append_only(world):
    article = actions.create_article(title="T", actor=world.l1_agent)
    version = article.versions.get()
    with pytest.raises(PermissionError):
        version.save()
    with pytest.raises(PermissionError):
        ArticleEvent.objects.filter(article=article).delete()
    with pytest.raises(PermissionError):
        ArticleVersion.objects.filter(article=article).update(body="x")


def test_stale_edit_is_refused_and_the_text_kept(world, client):
    article = actions.create_article(title="T", body="v1", actor=world.l1_agent)
    actions.update_article(article, changes={"body": "v2"}, actor=world.manager)
    client.force_login(world.l1_agent)
    response = client.post(reverse("kb:edit", args=[article.pk]), {
        "title": "T", "body": "my typed text", "type": "howto", "language": "ru",
        "visibility": "internal", "version": 1})
    assert response.status_code == 409
    assert "my typed text" in response.content.decode()
    assert Article.objects.get(pk=article.pk).body == "v2"


def test_pages_walk_the_lifecycle(world, client):
    client.force_login(world.l1_agent)
    response = client.post(reverse("kb:new"), {
        "title": "Как настроить почту на телефоне", "body": "1. Откройте настройки",
        "type": "howto", "language": "ru", "visibility": "public", "tags": "почта, Телефон",
        "reviewers": [world.l2_agent.pk]})
    assert response.status_code == 302
    article = Article.objects.get()
    assert sorted(article.tags.values_list("name", flat=True)) == ["почта", "телефон"]
    assert client.post(reverse("kb:move", args=[article.pk, "submit"])).status_code == 302
    client.force_login(world.l2_agent)
    review = client.get(reverse("kb:review")).content.decode()
    assert f'data-article="{article.pk}"' in review
    page = client.get(reverse("kb:article", args=[article.pk])).content.decode()
    assert 'data-move="approve"' in page and 'data-move="send_back"' in page
    client.post(reverse("kb:move", args=[article.pk, "approve"]))
    assert Article.objects.get(pk=article.pk).status == ArticleStatus.PUBLISHED


def test_language_versions_are_grouped(world, client):
    ru = actions.create_article(title="Сброс пароля", language="ru", actor=world.l1_agent)
    en = actions.create_article(title="Password reset", language="en", translation_of=ru,
                                actor=world.l1_agent)
    again = actions.create_article(title="Сброс", language="ru", translation_of=en,
                                   actor=world.l1_agent)
    assert en.translation_of == ru and again.translation_of == ru
    client.force_login(world.l1_agent)
    page = client.get(reverse("kb:article", args=[en.pk])).content.decode()
    assert reverse("kb:article", args=[ru.pk]) in page
    new = client.get(reverse("kb:new"), {"translation_of": ru.pk}).content.decode()
    assert f'value="{ru.pk}"' in new
