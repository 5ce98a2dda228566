"""The knowledge base in the agent workspace (``/agent/kb/``, namespace ``kb``).

Thin adapters: parse → the funnel (``articles_visible_to`` / ``access_article``) → ``actions`` →
render; an htmx request gets the fragment from the same view. Includes the ticket page's
knowledge panel (linked and suggested articles, loaded by htmx so the ticket page's own query
count does not change) and the link / unlink endpoints.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from opora.accounts.models import User
from opora.agent.queues import staff_required
from opora.catalog.models import Category
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket
from opora.tickets.permissions import access_ticket

from . import actions, rendering, selectors, workflow
from .choices import LANGUAGES, ArticleStatus, ArticleType, Visibility
from .filtersets import ArticleFilter, order
from .forms import ArticleForm, TransitionForm, UploadForm
from .models import Article, ArticleAttachment, ArticleVersion, TicketArticle
from .permissions import access_article, can_edit
from .querysets import articles_visible_to, is_moderator

PAGE_SIZE = 25
SORTS = [("-updated_at", gettext_lazy("Last changed")), ("title", gettext_lazy("Title")),
         ("-view_count", gettext_lazy("Most viewed")),
         ("-published_at", gettext_lazy("Last published"))]


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request")


def article_url(pk: int) -> str:
    return reverse("kb:article", args=[pk])


def attachment_url(pk: int) -> str:
    return reverse("kb:attachment", args=[pk])


# --- list ----------------------------------------------------------------------------------------


@require_GET
@staff_required
def article_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    params = request.GET.copy()
    text = params.pop("q", [""])[0].strip()[:200]
    filtered = ArticleFilter(params, queryset=articles_visible_to(user))
    qs = filtered.qs if filtered.is_valid() else articles_visible_to(user).none()
    ranked: list[int] = []
    if text:
        ranked = [h.obj.pk for h in selectors.search(user, text, limit=200)]
        qs = qs.filter(pk__in=ranked)
    sort = request.GET.get("sort", "")
    qs = selectors.for_list(order(qs, sort))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    if text and not sort:
        position = {pk: i for i, pk in enumerate(ranked)}
        rows.sort(key=lambda a: position.get(a.pk, 0))
    context = {
        "page": page, "rows": rows, "text": text, "sort": sort, "sorts": SORTS,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2,
                                                           on_ends=1),
        "ellipsis": Paginator.ELLIPSIS, "base_url": reverse("kb:list"), "target": "#kb-results",
        "types": ArticleType.choices, "statuses": ArticleStatus.choices,
        "languages": LANGUAGES, "visibilities": Visibility.choices,
        "categories": Category.objects.filter(is_active=True) if not _htmx(request) else [],
        "filters": request.GET,
    }
    if _htmx(request):
        return render(request, "kb/_list_results.html", context)
    return render(request, "kb/list.html", context)


# --- one article ---------------------------------------------------------------------------------


def _load(user: User, pk: int | str) -> Article:
    qs = Article.objects.select_related("author", "owner", "translation_of").prefetch_related(
        "tags", "categories", "services", "organisations", "reviewers", "attachments")
    return access_article(user, pk, queryset=qs)


def _rendered(article: Article, user: User, body: str | None = None) -> Any:
    ids = rendering.linked_ids(body if body is not None else article.body)
    readable = articles_visible_to(user).filter(pk__in=ids).only("id", "title") if ids else []
    return rendering.render(article, readable=readable, article_url=article_url,
                            attachment_url=attachment_url, body=body)


def _roles(article: Article, user: User) -> workflow.Roles:
    return workflow.Roles(
        staff=True, moderator=is_moderator(user), author=user.pk == article.author_id,
        owner=user.pk == article.owner_id,
        reviewer=any(r.pk == user.pk for r in article.reviewers.all()),
    )


@require_GET
@staff_required
def article_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = _load(user, pk)
    roles = _roles(article, user)
    linked = list(Ticket.objects.visible_to(user).filter(
        pk__in=TicketArticle.objects.filter(article=article).values("ticket_id"))
        .only("id", "number", "title", "status").order_by("-id")[:20])
    translations = [a for a in selectors.translations_of(article)
                    if articles_visible_to(user).filter(pk=a.pk).exists()]
    context = {
        "article": article, "html": _rendered(article, user),
        "transitions": workflow.allowed_transitions(article.status, roles),
        "can_edit": roles.moderator or roles.author or roles.owner or roles.reviewer,
        "linked_tickets": linked, "translations": translations,
        "missing_languages": [c for c, _n in LANGUAGES
                              if c != article.language
                              and c not in {t.language for t in translations}],
    }
    return render(request, "kb/article.html", context)


def _form_initial(article: Article) -> dict[str, Any]:
    return {
        "title": article.title, "summary": article.summary, "body": article.body,
        "type": article.type, "language": article.language, "visibility": article.visibility,
        "organisations": list(article.organisations.all()),
        "categories": list(article.categories.all()),
        "services": list(article.services.all()),
        "tags": ", ".join(t.name for t in article.tags.all()),
        "reviewers": list(article.reviewers.all()), "owner": article.owner_id,
        "version": article.version,
    }


def _from_ticket(user: User, ref: str) -> tuple[dict[str, Any], Ticket | None]:
    """The new article pre-filled from a ticket's resolution."""
    try:
        ticket = access_ticket(user, ref)
    except Http404:
        return {}, None
    parts = [ticket.description.strip()]
    if ticket.resolution.strip():
        parts += ["", f"## {_('Resolution')}", "", ticket.resolution.strip()]
    language = (ticket.requester.language or "ru")[:2]
    return {
        "title": ticket.title, "body": "\n".join(parts).strip(),
        "type": ArticleType.TROUBLESHOOTING, "language": language,
        "categories": [ticket.category] if ticket.category_id else [],
        "services": [ticket.service] if ticket.service_id else [],
        "visibility": Visibility.INTERNAL, "ticket": ticket.number or str(ticket.pk),
    }, ticket


def _preview(request: HttpRequest, article: Article | None, form: ArticleForm) -> HttpResponse:
    body = form.data.get("body", "")
    user = _user(request)
    target = article or Article(body=body)
    html = _rendered(target, user, body=body) if article else _rendered(target, user, body)
    return render(request, "kb/_preview.html", {"preview": html, "has_text": bool(body.strip())})


@staff_required
def article_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if request.POST.get("_preview"):
            return _preview(request, None, form)
        if form.is_valid():
            data = form.cleaned_data
            original = ticket = None
            if data.get("translation_of"):
                original = access_article(user, data["translation_of"])
            if data.get("ticket"):
                ticket = access_ticket(user, data["ticket"])
            try:
                article = actions.create_article(
                    title=data["title"], summary=data["summary"], body=data["body"],
                    language=data["language"], type=data["type"],
                    visibility=data["visibility"], organisations=data["organisations"],
                    categories=data["categories"], services=data["services"],
                    tags=form.tag_names(), reviewers=data["reviewers"],
                    owner=data["owner"], translation_of=original, source_ticket=ticket,
                    actor=user,
                )
            except ActionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("The draft is saved."))
                return redirect("kb:article", pk=article.pk)
        return render(request, "kb/edit.html", {"form": form, "article": None}, status=400)
    initial: dict[str, Any] = {"language": (user.language or "ru")[:2],
                               "type": ArticleType.HOWTO, "visibility": Visibility.INTERNAL}
    source = None
    if request.GET.get("ticket"):
        prefill, source = _from_ticket(user, request.GET["ticket"])
        initial.update(prefill)
    original_pk = request.GET.get("translation_of", "")
    if original_pk:
        original = access_article(user, original_pk)
        initial.update({"translation_of": original.pk, "type": original.type,
                        "visibility": original.visibility,
                        "language": "en" if original.language == "ru" else "ru",
                        "categories": list(original.categories.all()),
                        "services": list(original.services.all())})
    form = ArticleForm(initial=initial)
    return render(request, "kb/edit.html", {"form": form, "article": None, "source": source})


@staff_required
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = _load(user, pk)
    if not can_edit(user, article):
        raise Http404
    status = 200
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if request.POST.get("_preview"):
            return _preview(request, article, form)
        if form.is_valid():
            data = form.cleaned_data
            changes = {k: data[k] for k in ("title", "summary", "body", "language", "type",
                                            "visibility", "organisations", "categories",
                                            "services", "reviewers")}
            changes["tags"] = form.tag_names()
            if data.get("owner"):
                changes["owner"] = data["owner"]
            try:
                actions.update_article(article, changes=changes, actor=user,
                                       expected_version=data.get("version"),
                                       comment=data.get("comment", ""))
            except ActionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("Changes saved."))
                return redirect("kb:article", pk=article.pk)
        status = max(status, 400)
    else:
        form = ArticleForm(initial=_form_initial(article))
    context = {"form": form, "article": article,
               "broken": rendering.broken_links_of([article]),
               "upload": UploadForm()}
    return render(request, "kb/edit.html", context, status=status)


@require_POST
@staff_required
def article_move(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = _user(request)
    article = access_article(user, pk)
    if action not in workflow.BY_ACTION:
        raise Http404
    form = TransitionForm(request.POST)
    comment = form.data.get("comment", "") if form.is_valid() else ""
    try:
        actions.transition(article, action=action, actor=user, comment=comment)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, str(workflow.BY_ACTION[action].label) + " ✓")
    try:
        access_article(user, pk)
    except Http404:
        return redirect("kb:list")
    return redirect("kb:article", pk=pk)


# --- history -------------------------------------------------------------------------------------


@require_GET
@staff_required
def article_history(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = access_article(user, pk)
    return render(request, "kb/history.html", {
        "article": article, "versions": selectors.history(article),
        "events": selectors.timeline(article), "can_edit": can_edit(user, article),
    })


def _number(value: str | None, default: int) -> int:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else default


@require_GET
@staff_required
def article_diff(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = access_article(user, pk)
    new_n = _number(request.GET.get("b"), article.version)
    old_n = _number(request.GET.get("a"), max(1, new_n - 1))
    versions = {v.number: v for v in ArticleVersion.objects.filter(
        article=article, number__in=[old_n, new_n]).select_related("created_by")}
    if old_n not in versions or new_n not in versions:
        raise Http404
    return render(request, "kb/diff.html", {
        "article": article, "old": versions[old_n], "new": versions[new_n],
        "diff": selectors.diff(versions[old_n], versions[new_n]),
        "numbers": list(article.versions.values_list("number", flat=True)),
    })


@require_POST
@staff_required
def article_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    user = _user(request)
    article = access_article(user, pk)
    try:
        actions.restore_version(article, number=number, actor=user)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Version %(number)d restored as a new version.")
                         % {"number": number})
    return redirect("kb:history", pk=pk)


# --- files ---------------------------------------------------------------------------------------


@require_POST
@staff_required
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    article = access_article(user, pk)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file."))
        return redirect("kb:edit", pk=pk)
    upload = form.cleaned_data["file"]
    try:
        attachment = actions.add_attachment(article, file=upload, filename=upload.name,
                                            size=upload.size, actor=user)
    except ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("File attached; insert it with %(ref)s.")
                         % {"ref": f"(attachment:{attachment.pk})"})
    return redirect("kb:edit", pk=pk)


def serve_attachment(user: Any, pk: int) -> FileResponse:
    """The file, if its article is readable by ``user`` (else 404)."""
    attachment = ArticleAttachment.objects.filter(pk=pk).first()
    if attachment is None:
        raise Http404
    access_article(user, attachment.article_id)
    response = FileResponse(attachment.file.open("rb"), as_attachment=not attachment.is_image,
                            filename=attachment.filename, content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@staff_required
def attachment_download(request: HttpRequest, pk: int) -> Any:
    return serve_attachment(request.user, pk)


@require_POST
@staff_required
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    attachment = ArticleAttachment.objects.select_related("article").filter(pk=pk).first()
    if attachment is None:
        raise Http404
    access_article(user, attachment.article_id)
    try:
        actions.remove_attachment(attachment, actor=user)
    except ActionError as exc:
        messages.error(request, exc.message)
    return redirect("kb:edit", pk=attachment.article_id)


# --- queues and reports --------------------------------------------------------------------------


@require_GET
@staff_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Waiting for my review (a moderator: every article in review), and my articles due for
    revalidation."""
    user = _user(request)
    waiting = articles_visible_to(user).filter(status=ArticleStatus.IN_REVIEW)
    if not is_moderator(user):
        waiting = waiting.filter(pk__in=Article.reviewers.through.objects.filter(
            user_id=user.pk).values("article_id")).exclude(author=user)
    due = articles_visible_to(user).filter(status=ArticleStatus.NEEDS_REVALIDATION)
    if not is_moderator(user):
        due = due.filter(owner=user)
    return render(request, "kb/review.html", {
        "waiting": list(selectors.for_list(waiting).order_by("updated_at")),
        "due": list(selectors.for_list(due).order_by("revalidate_on")),
        "mine": list(selectors.for_list(articles_visible_to(user).filter(
            author=user, status__in=[ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW]))),
    })


@require_GET
@staff_required
def broken_links(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    sources = list(articles_visible_to(user).exclude(status=ArticleStatus.ARCHIVED)
                   .filter(body__contains="[[").only("id", "title", "body", "status",
                                                     "visibility"))
    found = rendering.broken_links_of(sources)
    by_id = {a.pk: a for a in sources}
    rows = [(by_id[b.source_id], b) for b in found]
    return render(request, "kb/broken.html", {"rows": rows})


@require_GET
@staff_required
def statistics(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    months = _number(request.GET.get("months"), 12) or 12
    rate = selectors.deflection_rate()
    return render(request, "kb/stats.html", {
        "contributions": selectors.contributions(),
        "most_viewed": selectors.most_viewed(user),
        "most_linked": selectors.most_linked(user),
        "stale": selectors.stale(user, months=months), "months": months,
        "deflection": None if rate is None else round(rate * 100, 1),
    })


# --- the ticket page's knowledge panel -----------------------------------------------------------


def _panel(request: HttpRequest, ticket: Ticket, *, notice: str = "") -> HttpResponse:
    user = _user(request)
    linked = selectors.linked_articles(ticket, user)
    linked_ids = {a.pk for a in linked}
    suggested = [h for h in selectors.suggested_for_ticket(user, ticket)
                 if h.obj.pk not in linked_ids]
    return render(request, "kb/_ticket_panel.html", {
        "ticket": ticket, "ref": ticket.number or ticket.pk, "linked": linked,
        "suggested": suggested, "notice": notice,
        "can_create": ticket.status in ("resolved", "closed") or bool(ticket.resolution),
    })


@require_GET
@staff_required
def ticket_panel(request: HttpRequest, ref: str) -> HttpResponse:
    return _panel(request, access_ticket(_user(request), ref))


@require_POST
@staff_required
def ticket_link(request: HttpRequest, ref: str) -> HttpResponse:
    user = _user(request)
    ticket = access_ticket(user, ref, need="work")
    article = access_article(user, request.POST.get("article", ""))
    actions.link_ticket(ticket, article, actor=user)
    if _htmx(request):
        return _panel(request, ticket, notice=_("Article linked."))
    messages.success(request, _("Article linked."))
    return redirect("agent:ticket", ref=ref)


@require_POST
@staff_required
def ticket_unlink(request: HttpRequest, ref: str, pk: int) -> HttpResponse:
    user = _user(request)
    ticket = access_ticket(user, ref, need="work")
    article = access_article(user, pk)
    actions.unlink_ticket(ticket, article, actor=user)
    if _htmx(request):
        return _panel(request, ticket, notice=_("Article unlinked."))
    messages.success(request, _("Article unlinked."))
    return redirect("agent:ticket", ref=ref)


@require_GET
@staff_required
def article_picker(request: HttpRequest, ref: str) -> HttpResponse:
    """Articles to link, by title (htmx search box of the panel)."""
    user = _user(request)
    ticket = access_ticket(user, ref)
    text = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    hits = selectors.search(user, text, limit=10) if len(text) >= 2 else []
    return render(request, "kb/_picker_results.html",
                  {"hits": hits, "ticket": ticket, "ref": ticket.number or ticket.pk,
                   "text": text})


app_name = "kb"

urlpatterns = [
    path("", article_list, name="list"),
    path("new/", article_new, name="new"),
    path("review/", review_queue, name="review"),
    path("broken-links/", broken_links, name="broken"),
    path("statistics/", statistics, name="stats"),
    path("<int:pk>/", article_page, name="article"),
    path("<int:pk>/edit/", article_edit, name="edit"),
    path("<int:pk>/history/", article_history, name="history"),
    path("<int:pk>/diff/", article_diff, name="diff"),
    path("<int:pk>/restore/<int:number>/", article_restore, name="restore"),
    path("<int:pk>/files/", attachment_upload, name="upload"),
    path("<int:pk>/move/<slug:action>/", article_move, name="move"),
    path("files/<int:pk>/", attachment_download, name="attachment"),
    path("files/<int:pk>/delete/", attachment_delete, name="attachment-delete"),
    path("tickets/<str:ref>/panel/", ticket_panel, name="ticket-panel"),
    path("tickets/<str:ref>/link/", ticket_link, name="ticket-link"),
    path("tickets/<str:ref>/unlink/<int:pk>/", ticket_unlink, name="ticket-unlink"),
    path("tickets/<str:ref>/articles/", article_picker, name="ticket-picker"),
]
