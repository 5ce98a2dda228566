"""Who reads which article — through the funnel, the pages (workspace and portal), the API,
search and the portal's lists — for every role × visibility × status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from opora.kb.choices import ArticleStatus, Visibility
from opora.kb.querysets import articles_visible_to, readable_by_requesters

STATUSES = list(ArticleStatus.values)
VISIBILITIES = list(Visibility.values)
ROLES = ["requester", "org_manager", "outsider", "other_manager", "l1_agent", "lead",
         "manager", "admin"]
STAFF = {"l1_agent", "lead", "manager", "admin"}
READABLE = {ArticleStatus.PUBLISHED, ArticleStatus.NEEDS_REVALIDATION}


def expected(role: str, status: str, visibility: str) -> bool:
    """The rule, written out independently of the code under test."""
    if role in ("manager", "admin"):
        return True
    if role in STAFF:  # not author, owner or reviewer of the article
        return status in READABLE or status == ArticleStatus.ARCHIVED
    if status not in READABLE:
        return False
    if visibility == Visibility.PUBLIC:
        return True
    # Limited to world.org: its requester and manager read it, the other organisation does not.
    return visibility == Visibility.ORGANISATIONS and role in ("requester", "org_manager")


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("status", STATUSES)
def test_matrix_through_funnel_pages_and_api(world, client, api, article_for, status,
                                             visibility):
    article = article_for(status=status, visibility=visibility)
    for role in ROLES:
        user = getattr(world, role)
        want = expected(role, status, visibility)
        assert articles_visible_to(user).filter(pk=article.pk).exists() is want, role
        client.force_login(user)
        if role in STAFF:
            page = client.get(reverse("kb:article", args=[article.pk]))
            assert page.status_code == (200 if want else 404), role
            listed = client.get(reverse("kb:list"))
            assert (f'data-article="{article.pk}"' in listed.content.decode()) is want, role
        else:
            # The workspace is not theirs at all; the portal shows what the funnel allows.
            assert client.get(reverse("kb:article", args=[article.pk])).status_code in (302, 403)
            page = client.get(reverse("portal:article", args=[article.pk]))
            assert page.status_code == (200 if want else 404), role
            listed = client.get(reverse("portal:articles")).content.decode()
            assert (f'data-article="{article.pk}"' in listed) is want, role
            found = client.get(reverse("portal:articles"), {"q": "принтер"}).content.decode()
            assert (f'data-article="{article.pk}"' in found) is want, role
        response = api.as_user(user).get(f"/api/v1/kb/articles/{article.pk}/")
        assert response.status_code == (200 if want else 404), role
        ids = [row["id"] for row in api.get("/api/v1/kb/articles/").json()["results"]]
        assert (article.pk in ids) is want, role


@pytest.mark.parametrize("status", STATUSES)
def test_anonymous_readers_get_the_public_part_only(world, client, article_for, status):
    public = article_for(status=status, visibility=Visibility.PUBLIC)
    internal = article_for(status=status, visibility=Visibility.INTERNAL)
    want = status in READABLE
    assert client.get(reverse("portal:article", args=[public.pk])).status_code == (
        200 if want else 404)
    assert client.get(reverse("portal:article", args=[internal.pk])).status_code == 404
    assert client.get(f"/api/v1/kb/articles/{public.pk}/").status_code in (401, 403)


def test_readable_by_requesters_is_the_public_published_part(world, article_for):
    from opora.kb.models import Article

    shown = article_for(status=ArticleStatus.NEEDS_REVALIDATION)
    article_for(status=ArticleStatus.PUBLISHED, visibility=Visibility.ORGANISATIONS)
    article_for(status=ArticleStatus.DRAFT)
    assert list(Article.objects.filter(readable_by_requesters())) == [shown]


def test_staff_see_drafts_they_write_own_or_review(world, article_for):
    from opora.kb import actions

    draft = article_for(status=ArticleStatus.DRAFT, visibility=Visibility.INTERNAL)
    assert articles_visible_to(world.l1_agent2).filter(pk=draft.pk).exists()  # the author
    assert not articles_visible_to(world.l1_agent).filter(pk=draft.pk).exists()
    actions.update_article(draft, changes={"reviewers": [world.l1_agent]}, actor=world.l1_agent2)
    assert articles_visible_to(world.l1_agent).filter(pk=draft.pk).exists()


def test_requesters_never_see_staff_details_in_the_api(world, api, article_for):
    article = article_for(visibility=Visibility.PUBLIC)
    body = api.as_user(world.requester).get(f"/api/v1/kb/articles/{article.pk}/").json()
    assert "status" not in body and "author" not in body and "organisations" not in body
    assert body["url"] == reverse("portal:article", args=[article.pk])
    staff = api.as_user(world.l1_agent).get(f"/api/v1/kb/articles/{article.pk}/").json()
    assert staff["status"] == "published" and staff["author"]["id"] == world.l1_agent2.pk


def test_files_follow_their_article(world, client, article_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from opora.kb import actions

    article = article_for(status=ArticleStatus.PUBLISHED, visibility=Visibility.INTERNAL)
    upload = SimpleUploadedFile("notes.txt", b"internal steps")
    attachment = actions.add_attachment(article, file=upload, filename="notes.txt",
                                        actor=world.manager)
    client.force_login(world.requester)
    assert client.get(reverse("portal:article-file", args=[attachment.pk])).status_code == 404
    client.force_login(world.l1_agent)
    response = client.get(reverse("kb:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"internal steps"

