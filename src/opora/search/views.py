"""Search pages: the workspace's search (articles / tickets), the "nothing found" report, and
the portal's suggestions while a requester types a new request, with deflection recording.

Deflection — what is counted (``DeflectionMethod``):

- ``confirmed``: the requester opened a suggested article from the new-request page and pressed
  "This solved my problem" beside it;
- ``left``: the requester opened a suggested article and then left the new-request page without
  sending it (a ``navigator.sendBeacon`` when the page is hidden for good). This is a guess: the
  person may have closed the tab for another reason, or come back and opened a request later
  (we do not undo the row then). Reports should show both numbers separately.

One new-request visit counts at most once; only articles this session opened through the
suggestion links count, and only articles the person may read.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opora.accounts.models import Role, User
from opora.agent.queues import staff_required

from . import api
from .models import Deflection, DeflectionMethod, SearchLog, Source

PAGE_SIZE = 20
REPORT_PAGE_SIZE = 50
QUERY_MAX = 200
#: Session keys: suggestions opened on the new-request page, and the suggestion log row.
OPENED_KEY = "search_opened"
LOG_KEY = "search_suggest_log"
#: A suggestion read longer ago than this no longer counts when the page is left.
OPENED_TTL = datetime.timedelta(hours=2)
#: Typing pauses this close together belong to one search in the log.
TYPING_SESSION = datetime.timedelta(minutes=5)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _article_url(namespace: str, pk: int) -> str:
    try:
        return reverse(f"{namespace}:article", args=[pk])
    except NoReverseMatch:  # the knowledge base pages are not wired in yet
        return "#"


# --- the workspace search ------------------------------------------------------------------------


@staff_required
@require_GET
def agent_search(request: HttpRequest) -> HttpResponse:
    """``/agent/search/?q=…&tab=articles|tickets&page=N``: both counts in the tabs, one list."""
    user = _user(request)
    q = request.GET.get("q", "").strip()[:QUERY_MAX]
    tab = request.GET.get("tab", "")
    tab = tab if tab in ("articles", "tickets") else ""
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    offset = (page_number - 1) * PAGE_SIZE
    articles = api.search_articles_page(user, q, limit=PAGE_SIZE,
                                        offset=offset if tab != "tickets" else 0)
    tickets = api.search_tickets_page(user, q, limit=PAGE_SIZE,
                                      offset=offset if tab == "tickets" else 0)
    if not tab:
        # The first look opens the tab that found something.
        tab = "tickets" if articles.total == 0 and tickets.total > 0 else "articles"
        if q and page_number == 1:
            api.log_search(user, q, source=Source.AGENT,
                           results=articles.total + tickets.total)
    current = articles if tab == "articles" else tickets
    pages = max(1, -(-max(current.total, 0) // PAGE_SIZE))
    article_rows = [(hit, _article_url("kb", hit.obj.pk)) for hit in articles.hits]

    def link(**params: Any) -> str:
        return f"{reverse('search:agent')}?{urlencode({'q': q, 'tab': tab, **params})}"

    context = {
        "q": q,
        "tab": tab,
        "articles": articles,
        "article_rows": article_rows,
        "tickets": tickets,
        "current": current,
        "page_number": page_number,
        "pages": pages,
        "previous_url": link(page=page_number - 1) if page_number > 1 else "",
        "next_url": link(page=page_number + 1) if page_number < pages else "",
        "tab_urls": {name: f"{reverse('search:agent')}?{urlencode({'q': q, 'tab': name})}"
                     for name in ("articles", "tickets")},
        "search_q": q,
    }
    return render(request, "search/agent_search.html", context)


# --- the "nothing found" report -------------------------------------------------------------------

REPORT_ROLES = frozenset({Role.TEAM_LEAD, Role.DESK_MANAGER, Role.ADMIN})


def _parse_date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


def zero_results_rows(*, since: datetime.date | None, until: datetime.date | None
                      ) -> QuerySet[SearchLog, dict[str, Any]]:
    """Searches that found nothing, grouped by normalised query, most frequent first."""
    logs = SearchLog.objects.filter(results=0)
    tz = timezone.get_current_timezone()
    if since is not None:
        logs = logs.filter(created_at__gte=datetime.datetime.combine(since, datetime.time(), tz))
    if until is not None:
        end = datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time(), tz)
        logs = logs.filter(created_at__lt=end)
    return (logs.order_by().values("normalised")
            .annotate(times=Count("id"), people=Count("user", distinct=True),
                      last=Max("created_at"), example=Max("query"))
            .order_by("-times", "-last", "normalised"))


@staff_required
@require_GET
def zero_results(request: HttpRequest) -> HttpResponse:
    """Managers' report: what people looked for and did not find (a list of articles to write)."""
    user = _user(request)
    if user.role not in REPORT_ROLES and not user.is_superuser:
        raise PermissionDenied(_("Only team leads and desk managers see search reports."))
    since = _parse_date(request.GET.get("from", ""))
    until = _parse_date(request.GET.get("to", ""))
    rows = zero_results_rows(since=since, until=until)
    page = Paginator(rows, REPORT_PAGE_SIZE).get_page(request.GET.get("page"))
    filters = urlencode({k: v.isoformat() for k, v in (("from", since), ("to", until)) if v})
    return render(request, "search/zero_results.html", {
        "page": page, "since": since, "until": until, "filters": filters,
    })


# --- portal suggestions and deflection ---------------------------------------------------------


def _opened(request: HttpRequest) -> dict[str, dict[str, str]]:
    """Suggestions opened in this session: ``{article id: {"q": query, "at": iso time}}``,
    those older than ``OPENED_TTL`` dropped."""
    raw = request.session.get(OPENED_KEY, {})
    now = timezone.now()
    fresh = {}
    for pk, item in raw.items() if isinstance(raw, dict) else ():
        try:
            at = datetime.datetime.fromisoformat(item["at"])
        except (KeyError, TypeError, ValueError):
            continue
        if now - at <= OPENED_TTL:
            fresh[pk] = item
    return fresh


def _suggestion_log(request: HttpRequest) -> SearchLog | None:
    """The log row of the current typing session, if there is one."""
    entry = request.session.get(LOG_KEY)
    if not isinstance(entry, dict):
        return None
    try:
        at = datetime.datetime.fromisoformat(entry["at"])
        pk = int(entry["id"])
    except (KeyError, TypeError, ValueError):
        return None
    if timezone.now() - at > TYPING_SESSION:
        return None
    return SearchLog.objects.filter(pk=pk, user=_user(request)).first()


@login_required
@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """The panel beside the new-request form: up to five articles this requester may read."""
    user = _user(request)
    title = request.GET.get("title", "")[:300]
    description = request.GET.get("description", "")[:1000]
    text = f"{title} {description}".strip() if description.strip() else title
    hits = api.suggest_articles(user, text) if len(text.strip()) >= 3 else []
    if len(text.strip()) >= 3:
        row = api.log_search(user, text, source=Source.PORTAL, results=len(hits),
                             replace=_suggestion_log(request))
        if row is not None:
            request.session[LOG_KEY] = {"id": row.pk, "at": timezone.now().isoformat()}
    opened = _opened(request)
    rows = [(hit, reverse("search:suggestion_open", args=[hit.obj.pk]) + "?"
             + urlencode({"q": text[:300]}), str(hit.obj.pk) in opened) for hit in hits]
    response = render(request, "search/_suggestions.html",
                      {"rows": rows, "typed": bool(text.strip())})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _suggestible(user: User, pk: int) -> Any:
    """The article if this person could have been suggested it, else 404 (not allowed and not
    found answer the same)."""
    from opora.kb.models import Article

    ids = api._article_ids(user, requesters_view=True)
    articles = Article.objects.filter(pk=pk)
    if ids is not None:
        articles = articles.filter(pk__in=ids)
    article = articles.first()
    if article is None:
        raise Http404
    return article


@login_required
@require_GET
def suggestion_open(request: HttpRequest, pk: int) -> HttpResponse:
    """A click on a suggestion: remember it for deflection, then show the article (the article
    page counts the view)."""
    article = _suggestible(_user(request), pk)
    opened = _opened(request)
    opened[str(article.pk)] = {"q": request.GET.get("q", "")[:300],
                               "at": timezone.now().isoformat()}
    request.session[OPENED_KEY] = opened
    return redirect(_article_url("portal", article.pk))


def _record(request: HttpRequest, pk: int, method: str) -> Deflection | None:
    user = _user(request)
    opened = _opened(request)
    item = opened.get(str(pk))
    if item is None:
        return None
    article = _suggestible(user, pk)
    # One visit of the new-request page counts once, whichever way it ends.
    request.session[OPENED_KEY] = {}
    return Deflection.objects.create(user=user, article=article, query=item.get("q", ""),
                                     method=DeflectionMethod(method))


@login_required
@require_POST
def suggestion_solved(request: HttpRequest, pk: int) -> HttpResponse:
    """"This solved my problem": the request is not sent; thank them and go home."""
    deflection = _record(request, pk, DeflectionMethod.CONFIRMED)
    if deflection is None:
        _suggestible(_user(request), pk)  # 404 for an article they may not read
        # Solved by an article they did not open here: nothing to count, same thanks.
    messages.success(request, _("Glad the article helped. No request was sent."))
    return redirect("portal:home")


@login_required
@require_POST
def suggestion_left(request: HttpRequest) -> HttpResponse:
    """The beacon sent when the new-request page is left unsent after reading suggestions."""
    candidates = request.POST.getlist("article")
    opened = _opened(request)
    # The most recently opened of the articles the page says were read.
    read = sorted((opened[c]["at"], c) for c in candidates if c in opened)
    if read:
        _record(request, int(read[-1][1]), DeflectionMethod.LEFT)
    return HttpResponse(status=204)
