"""Cross-links, their rendering for each reader, broken-link detection, images and files."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opora.kb import actions
from opora.kb.choices import ArticleStatus, Visibility
from opora.kb.rendering import broken_links_of, linked_ids

from .conftest import make_article

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_linked_ids():
    assert linked_ids("see [[12]] and [[ 7 | the VPN guide]] and [[12|again]] [[x]]") == [12, 7]


def test_broken_links_missing_archived_unpublished_and_less_visible(world, client):
    m = world.manager
    public = make_article(world.l1_agent, title="Public", moderator=m)
    internal = make_article(world.l1_agent, title="Internal", visibility=Visibility.INTERNAL,
                            moderator=m)
    archived = make_article(world.l1_agent, title="Old", status=ArticleStatus.ARCHIVED,
                            moderator=m)
    draft = make_article(world.l1_agent, title="Draft", status=ArticleStatus.DRAFT)
    other = world.other_org
    limited = make_article(world.l1_agent, title="Limited", moderator=m,
                           visibility=Visibility.ORGANISATIONS, organisations=[other])
    source = make_article(
        world.l1_agent, moderator=m, title="Source",
        body=(f"[[{public.pk}]] [[{internal.pk}]] [[{archived.pk}]] [[{draft.pk}]] "
              f"[[{limited.pk}]] [[999999]]"))
    reasons = {b.target_id: b.reason for b in broken_links_of([source])}
    assert reasons == {internal.pk: "less_visible", archived.pk: "archived",
                       draft.pk: "unpublished", limited.pk: "less_visible", 999999: "missing"}
    # From an internal article, an internal or limited target is fine.
    inner = make_article(world.l1_agent, moderator=m, visibility=Visibility.INTERNAL,
                         body=f"[[{internal.pk}]] [[{limited.pk}]]")
    assert broken_links_of([inner]) == []

    client.force_login(world.l1_agent)
    edit = client.get(reverse("kb:edit", args=[source.pk])).content.decode()
    assert f'data-broken="{internal.pk}"' in edit and 'data-broken="999999"' in edit
    listing = client.get(reverse("kb:broken")).content.decode()
    assert f'data-source="{source.pk}" data-target="{archived.pk}"' in listing
    assert f'data-target="{public.pk}"' not in listing


def test_links_render_only_to_what_the_reader_may_read(world, client):
    m = world.manager
    public = make_article(world.l1_agent, title="Как сбросить пароль", moderator=m)
    internal = make_article(world.l1_agent, title="Секретная процедура",
                            visibility=Visibility.INTERNAL, moderator=m)
    source = make_article(world.l1_agent, moderator=m,
                          body=f"См. [[{public.pk}]] и [[{internal.pk}]].")
    client.force_login(world.requester)
    page = client.get(reverse("portal:article", args=[source.pk])).content.decode()
    assert f'href="{reverse("portal:article", args=[public.pk])}"' in page
    assert "Как сбросить пароль" in page
    assert "Секретная процедура" not in page and reverse("portal:article",
                                                         args=[internal.pk]) not in page
    client.force_login(world.l1_agent)
    page = client.get(reverse("kb:article", args=[source.pk])).content.decode()
    assert "Секретная процедура" in page


def test_images_only_from_the_articles_own_files(world, client):
    article = make_article(world.l1_agent, moderator=world.manager)
    image = actions.add_attachment(article, file=SimpleUploadedFile("shot.png", PNG),
                                   filename="shot.png", actor=world.manager)
    actions.update_article(article, actor=world.manager, changes={
        "body": f"![экран](attachment:{image.pk}) ![x](https://evil.example/x.png) "
                "<img src=x onerror=alert(1)> [[1|<b>bold</b>]]"})
    client.force_login(world.requester)
    page = client.get(reverse("portal:article", args=[article.pk])).content.decode()
    assert f'<img alt="экран" src="{reverse("portal:article-file", args=[image.pk])}">' in page
    assert "evil.example" not in page and "onerror" not in page
    file = client.get(reverse("portal:article-file", args=[image.pk]))
    assert file.status_code == 200 and file["Content-Type"] == "image/png"


def test_uploads_are_checked(world, client):
    article = make_article(world.l1_agent, status=ArticleStatus.DRAFT)
    client.force_login(world.l1_agent)
    response = client.post(reverse("kb:upload", args=[article.pk]),
                           {"file": SimpleUploadedFile("run.exe", b"MZ\x90\x00")}, follow=True)
    assert article.attachments.count() == 0
    assert "not accepted" in response.content.decode() or "не принимаются" in \
        response.content.decode()
    client.post(reverse("kb:upload", args=[article.pk]),
                {"file": SimpleUploadedFile("steps.txt", b"1. 2. 3.")})
    assert article.attachments.count() == 1
