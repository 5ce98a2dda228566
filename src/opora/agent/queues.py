"""Agent workspace: the queues an agent works from.

Each queue is a named filter over the tickets the person may see (``visible_to``), refined by the
shared ``TicketFilter``, sorted by the API's ordering names and paged. The same view answers the
full page and, for htmx, just the results (table, paging, bulk-action outcome). Bulk actions
call the ticket actions one ticket at a time, each in its own transaction, and report the
outcome per ticket. Saved filters keep a queue's query string under a name, per person.

Each row carries the countdown badge of the ticket's most urgent SLA clock (the clocks of the
whole page are read in one query), and the list sorts by the earliest due instant ("sla_due").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OrderBy, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import Promise, cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from opora.accounts.models import STAFF_ROLES, Organisation, Team, TeamMembership, User
from opora.catalog.models import Category
from opora.sla import selectors as sla
from opora.tickets import actions, selectors
from opora.tickets.choices import (
    OPEN_STATUSES,
    WORKING_STATUS_CHOICES,
    Channel,
    Priority,
    Status,
    TicketType,
)
from opora.tickets.errors import ActionError
from opora.tickets.filtersets import TicketFilter
from opora.tickets.models import Ticket
from opora.tickets.permissions import access_ticket

from .models import SavedFilter

WEB = Channel.WEB
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
DEFAULT_ORDERING = "-created_at"
RECENT_DAYS = 7
#: More rows than the largest page is not a selection made on a page.
BULK_MAX = 200


# --- access -------------------------------------------------------------------------------------


def is_staff_user(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_agent_side or user.is_superuser))


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The workspace is for the service desk: people outside it sign in, requesters go to the
    portal (a page) or are refused (anything else)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if request.headers.get("HX-Request"):
                # An htmx swap would put the login page into the table: send the browser there.
                response = HttpResponse(status=204)
                response["HX-Redirect"] = f"{reverse('web:login')}?next={request.path}"
                return response
            return redirect_to_login(request.get_full_path())
        if not is_staff_user(user):
            if request.method in ("GET", "HEAD") and not request.headers.get("HX-Request"):
                return redirect("portal:home")
            raise PermissionDenied(gettext("The workspace is for service desk staff."))
        return view(request, *args, **kwargs)

    return wrapper


# --- queues -------------------------------------------------------------------------------------


def _my_teams(user: User) -> Q:
    # A sub-select, like ``visible_to``: no join, no duplicate rows.
    return Q(team_id__in=TeamMembership.objects.filter(user_id=user.pk).values("team_id"))


_OPEN = Q(status__in=OPEN_STATUSES)


def _mine(user: User, now: datetime) -> Q:
    return _OPEN & Q(assignee_id=user.pk)


def _my_teams_open(user: User, now: datetime) -> Q:
    return _OPEN & _my_teams(user)


def _unassigned(user: User, now: datetime) -> Q:
    q = _OPEN & Q(assignee__isnull=True)
    # Managers and administrators dispatch for the whole desk; agents for their own teams.
    return q if user.sees_everything else q & _my_teams(user)


def _all_open(user: User, now: datetime) -> Q:
    return _OPEN


def _waiting(user: User, now: datetime) -> Q:
    return Q(status=Status.WAITING_REQUESTER)


def _breaching_soon(user: User, now: datetime) -> Q:
    return sla.breaching_soon_q(now)


def _recently_resolved(user: User, now: datetime) -> Q:
    since = now - timedelta(days=RECENT_DAYS)
    return Q(status__in=[Status.RESOLVED, Status.CLOSED]) & (
        Q(resolved_at__gte=since) | Q(closed_at__gte=since)
    )


@dataclass(frozen=True)
class Queue:
    """A named list of tickets: which of the visible tickets belong to it, for a person."""

    slug: str
    label: Promise
    condition: Callable[[User, datetime], Q]
    #: The order when the person has not chosen one.
    ordering: str = DEFAULT_ORDERING

    @property
    def key(self) -> str:
        """The slug as an identifier (aggregate aliases)."""
        return self.slug.replace("-", "_")


QUEUES: tuple[Queue, ...] = (
    Queue("mine", _("My tickets"), _mine),
    Queue("my-teams", _("My teams"), _my_teams_open),
    # A queue's name, not a ticket's state: Russian says "без исполнителя" here.
    Queue("unassigned", pgettext_lazy("queue", "Unassigned"), _unassigned),
    Queue("all-open", _("All open"), _all_open),
    # Overdue or due within the hour (or past 75 % of a target): the most urgent first.
    Queue("breaching-soon", _("Breaching soon"), _breaching_soon, ordering="sla_due"),
    Queue("waiting", _("Waiting for requester"), _waiting),
    Queue("recently-resolved", _("Recently resolved"), _recently_resolved),
)
QUEUES_BY_SLUG = {q.slug: q for q in QUEUES}
DEFAULT_QUEUE = "my-teams"


def get_queue(slug: str) -> Queue:
    try:
        return QUEUES_BY_SLUG[slug]
    except KeyError:
        raise Http404(gettext("No such queue.")) from None


def queue_tickets(queue: Queue, user: User, now: datetime | None = None) -> QuerySet[Ticket]:
    """The queue's tickets for ``user``, through the one visibility funnel, rows joined in."""
    return selectors.ticket_list(user).filter(queue.condition(user, now or timezone.now()))


def queue_counts(user: User, now: datetime | None = None) -> dict[str, int]:
    """How many tickets each queue holds for ``user``: one query (conditional aggregation)."""
    now = now or timezone.now()
    totals = Ticket.objects.visible_to(user).aggregate(
        **{q.key: Count("pk", filter=q.condition(user, now)) for q in QUEUES}
    )
    return {q.slug: totals[q.key] or 0 for q in QUEUES}


# --- ordering -----------------------------------------------------------------------------------

#: Column → database ordering; the names are the API's ``ORDERING_FIELDS`` where it has them.
SORTS: dict[str, str] = {
    "number": "number",
    "title": "title",
    "priority": "priority",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "team": "team__name",
    "assignee": "assignee__full_name",
    # The earliest due instant of the ticket's running SLA clocks (annotated when sorted by).
    "sla_due": "sla_due",
}


def parse_ordering(raw: str | None, default: str = DEFAULT_ORDERING) -> list[str]:
    """``-priority,created_at`` → the known terms in order; unknown ones are dropped."""
    terms: list[str] = []
    for term in (raw or "").split(","):
        term = term.strip()
        if term.lstrip("-") in SORTS and term.lstrip("-") not in {t.lstrip("-") for t in terms}:
            terms.append(term)
    return terms or [default]


def order_tickets(qs: QuerySet[Ticket], terms: Sequence[str]) -> QuerySet[Ticket]:
    if any(term.lstrip("-") == "sla_due" for term in terms):
        # A sub-select per row of the page, by the ticket's clocks; only when sorted by it.
        qs = qs.annotate(sla_due=sla.due_subquery())
    expressions: list[OrderBy] = []
    for term in terms:
        column = F(SORTS[term.lstrip("-")])
        # Empty columns (no assignee) go last either way, on SQLite as on PostgreSQL.
        expressions.append(column.desc(nulls_last=True) if term.startswith("-")
                           else column.asc(nulls_last=True))
    # Ties (same priority, same minute) would come back in any order and pages would overlap.
    expressions.append(F("pk").desc() if terms[0].startswith("-") else F("pk").asc())
    return qs.order_by(*expressions)


# --- filters ------------------------------------------------------------------------------------

#: The filters the queue page shows as checklists, in order.
CHECKLIST_FILTERS = ("status", "priority", "type", "category", "team", "assignee",
                     "organisation", "channel", "sla")
#: Query parameters a queue page understands (a saved filter keeps only these).
QUERY_KEYS = frozenset(TicketFilter.base_filters) | {"ordering", "page_size"}


class QueueFilter(TicketFilter):
    """The shared ticket filter; only staff can be an assignee here (the API accepts anyone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["assignee"].queryset = User.objects.filter(role__in=STAFF_ROLES)


@dataclass
class Option:
    value: str
    label: str
    checked: bool


@dataclass
class FilterGroup:
    name: str
    label: str
    options: list[Option]
    errors: list[str]

    @property
    def summary(self) -> str:
        return ", ".join(o.label for o in self.options if o.checked)


class Lookups:
    """Choices the page offers, each read at most once per request and shared by the filters
    and the bulk form (a partial response reads only what it shows)."""

    @cached_property
    def teams(self) -> list[Team]:
        return list(Team.objects.order_by("line", "name"))

    @cached_property
    def staff(self) -> list[User]:
        return list(User.objects.filter(role__in=STAFF_ROLES).order_by("full_name"))

    @cached_property
    def categories(self) -> list[Category]:
        return list(Category.objects.order_by("position", "name"))

    @cached_property
    def organisations(self) -> list[Organisation]:
        return list(Organisation.objects.order_by("name"))

    @property
    def active_teams(self) -> list[Team]:
        return [t for t in self.teams if t.is_active]

    @property
    def active_staff(self) -> list[User]:
        return [u for u in self.staff if u.is_active]


def _choices(name: str, lookups: Lookups) -> list[tuple[str, str]]:
    enumerations: dict[str, list[tuple[Any, Any]]] = {
        "status": Status.choices, "priority": Priority.choices, "type": TicketType.choices,
        "channel": Channel.choices, "sla": sla.SlaFilter.choices,
    }
    if name in enumerations:
        return [(str(v), str(label)) for v, label in enumerations[name]]
    attribute = {"category": "categories", "team": "teams", "assignee": "staff",
                 "organisation": "organisations"}[name]
    objects: list[Any] = getattr(lookups, attribute)
    return [(str(o.pk), o.full_name if isinstance(o, User) else str(o)) for o in objects]


def filter_groups(filterset: TicketFilter, params: QueryDict, lookups: Lookups) -> list[FilterGroup]:
    errors = filterset.form.errors if filterset.is_bound else {}
    groups = []
    for name in CHECKLIST_FILTERS:
        chosen = set(params.getlist(name))
        groups.append(FilterGroup(
            name=name,
            label=str(filterset.filters[name].label),
            options=[Option(v, label, v in chosen) for v, label in _choices(name, lookups)],
            errors=[str(e) for e in errors.get(name, [])],
        ))
    return groups


def _date_value(raw: str | None) -> str:
    """What a date input can show: ``YYYY-MM-DD`` (a full timestamp shows its date)."""
    raw = (raw or "").strip()
    return raw[:10] if len(raw) >= 10 and raw[4:5] == "-" and raw[7:8] == "-" else ""


def saved_query(params: QueryDict) -> str:
    """The part of a query string worth keeping: known parameters, no page, no blanks."""
    kept = QueryDict(mutable=True)
    for key in sorted(params):
        if key not in QUERY_KEYS:
            continue
        values = [v for v in params.getlist(key) if v.strip()]
        if values:
            kept.setlist(key, values)
    return kept.urlencode()


# --- the list -----------------------------------------------------------------------------------


def ticket_url(number: str | None) -> str:
    """The ticket page; the ticket view lives in another module and may not be routed yet."""
    if not number:
        return ""
    try:
        return reverse("agent:ticket", args=[number])
    except NoReverseMatch:
        return f"/agent/tickets/{number}/"


@dataclass
class BulkOutcome:
    label: str
    ok: bool
    message: str


def _page_size(params: QueryDict) -> int:
    raw = params.get("page_size", "")
    return int(raw) if raw in {str(n) for n in PAGE_SIZES} else DEFAULT_PAGE_SIZE


def is_partial(request: HttpRequest) -> bool:
    """An htmx swap gets the results only; a history restore (reload of a pushed URL) the page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get(
        "HX-History-Restore-Request")


def _queue_context(request: HttpRequest, queue: Queue, **extra: Any) -> dict[str, Any]:
    user = cast(User, request.user)
    params = request.GET
    partial = is_partial(request)
    lookups = Lookups()
    filterset = QueueFilter(params, queryset=queue_tickets(queue, user))
    # An invalid filter shows its error and no rows, rather than silently more rows.
    tickets = filterset.qs if filterset.is_valid() else Ticket.objects.none()
    ordering = parse_ordering(params.get("ordering"), queue.ordering)
    size = _page_size(params)
    page: Page[Ticket] = Paginator(order_tickets(tickets, ordering), size).get_page(
        params.get("page"))
    now = timezone.now()
    # One query for the clocks of the whole page, whatever its size.
    clocks = sla.clocks_for_tickets(t.pk for t in page.object_list)
    queue_url = reverse("agent:queue", args=[queue.slug])
    query = params.urlencode()
    selected = extra.pop("selected", set())
    rows = [{"ticket": t, "url": ticket_url(t.number), "checked": t.pk in selected,
             "sla": sla.ticket_badge(clocks[t.pk], now)}
            for t in page.object_list]
    return {
        "queue": queue,
        "active_queue": queue.slug,
        "queue_url": queue_url,
        "bulk_url": reverse("agent:queue_bulk", args=[queue.slug]),
        "save_url": reverse("agent:saved_filter_create", args=[queue.slug]),
        "page_url": f"{queue_url}?{query}" if query else queue_url,
        "query": query,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "ellipsis": Paginator.ELLIPSIS,
        "rows": rows,
        "selected_count": sum(1 for r in rows if r["checked"]),
        "ordering_set": bool(params.get("ordering")),
        "page_size_set": "page_size" in params,
        "ordering": ordering,
        "ordering_param": ",".join(ordering),
        "page_size": size,
        "page_sizes": PAGE_SIZES,
        "partial": partial,
        # The filter form is not part of a partial response: its choices are not read then.
        "filter_groups": [] if partial else filter_groups(filterset, params, lookups),
        "filter_errors": filterset.form.errors,
        "q": params.get("q", ""),
        "created_after": _date_value(params.get("created_after")),
        "created_before": _date_value(params.get("created_before")),
        "lookups": lookups,
        "working_statuses": WORKING_STATUS_CHOICES,
        "bulk_form": extra.pop("bulk_form", None) or BulkForm(),
        "save_form": extra.pop("save_form", None) or SaveFilterForm(),
        **extra,
    }


def _render(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The full page, or for an htmx swap just the results."""
    template = "agent/queues/_results.html" if context["partial"] else "agent/queues/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest) -> HttpResponse:
    """``/agent/``: the default queue."""
    return _render(request, _queue_context(request, get_queue(DEFAULT_QUEUE)))


@staff_required
@require_http_methods(["GET", "HEAD"])
def queue_view(request: HttpRequest, slug: str) -> HttpResponse:
    return _render(request, _queue_context(request, get_queue(slug)))


# --- bulk actions -------------------------------------------------------------------------------


class BulkForm(forms.Form):
    """What to do with the selected rows; each ticket then goes through its action."""

    ACTIONS = (("assign", _("Assign")), ("status", _("Change status")),
               ("escalate", _("Escalate")))

    action = forms.ChoiceField(choices=ACTIONS, label=_("Action"), error_messages={
        "required": _("Choose what to do with the selected tickets."),
        "invalid_choice": _("Choose what to do with the selected tickets."),
    })
    assignee = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                      label=_("Agent"))
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, label=_("Team"))
    status = forms.ChoiceField(choices=[("", "—"), *WORKING_STATUS_CHOICES], required=False,
                               label=_("New status"))
    to_team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False,
                                     label=_("Escalate to"))
    summary = forms.CharField(required=False, strip=True, label=_("What was done and found"),
                              widget=forms.Textarea)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(role__in=STAFF_ROLES, is_active=True)
        teams = Team.objects.filter(is_active=True)
        cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = staff
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = teams
        cast(forms.ModelChoiceField, self.fields["to_team"]).queryset = teams
        self.selection: list[tuple[int, int]] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            self.selection = self._selection()
        except forms.ValidationError as exc:
            self.add_error(None, exc)
        action = data.get("action")
        if action == "assign" and not (data.get("assignee") or data.get("team")):
            self.add_error("assignee", gettext("Choose an agent or a team."))
        if action == "status" and not data.get("status"):
            self.add_error("status", gettext("Choose the new status."))
        if action == "escalate":
            if not data.get("to_team"):
                self.add_error("to_team", gettext("Choose the team to escalate to."))
            if not data.get("summary"):
                self.add_error("summary", gettext("Describe what was done and found."))
        return data

    def _selection(self) -> list[tuple[int, int]]:
        """``ticket`` values are ``<id>:<version>``: the version the row showed."""
        pairs: list[tuple[int, int]] = []
        for raw in self.data.getlist("ticket") if hasattr(self.data, "getlist") else []:
            pk, sep, version = str(raw).partition(":")
            if not (sep and pk.isascii() and pk.isdigit() and version.isascii()
                    and version.isdigit() and len(pk) <= 18 and len(version) <= 18):
                raise forms.ValidationError(gettext("The selection is not valid; reload the page."))
            if int(pk) not in {p for p, _v in pairs}:
                pairs.append((int(pk), int(version)))
        # Kept before the count checks: a form sent back for another reason keeps its ticks.
        self.selection = pairs
        if not pairs:
            raise forms.ValidationError(gettext("Select at least one ticket."))
        if len(pairs) > BULK_MAX:
            raise forms.ValidationError(
                gettext("Select at most %(n)d tickets at a time.") % {"n": BULK_MAX})
        return pairs


def _apply(form: BulkForm, ticket: Ticket, version: int, user: User) -> Ticket:
    data = form.cleaned_data
    common: dict[str, Any] = {"actor": user, "channel": WEB, "expected_version": version}
    if data["action"] == "assign":
        kwargs: dict[str, Any] = {}
        if data.get("assignee"):
            kwargs["assignee"] = data["assignee"]
        if data.get("team"):
            kwargs["team"] = data["team"]
        return actions.assign(ticket, **kwargs, **common)
    if data["action"] == "status":
        return actions.change_status(ticket, status=data["status"], **common)
    return actions.escalate(ticket, to_team=data["to_team"], summary=data["summary"], **common)


def run_bulk(form: BulkForm, user: User) -> list[BulkOutcome]:
    """Each ticket on its own: through the funnel, then its action in its own transaction, so
    one refusal leaves the others done."""
    outcomes = []
    for pk, version in form.selection:
        try:
            ticket = access_ticket(user, pk, need="work")
        except Http404:
            outcomes.append(BulkOutcome(f"#{pk}", False, gettext("Ticket not found.")))
            continue
        except PermissionDenied as exc:
            outcomes.append(BulkOutcome(f"#{pk}", False, str(exc)))
            continue
        label = ticket.number or f"#{pk}"
        try:
            _apply(form, ticket, version, user)
        except ActionError as exc:
            outcomes.append(BulkOutcome(label, False, exc.message))
        else:
            outcomes.append(BulkOutcome(label, True, gettext("Done")))
    return outcomes


@staff_required
@require_POST
def bulk(request: HttpRequest, slug: str) -> HttpResponse:
    queue = get_queue(slug)
    user = cast(User, request.user)
    form = BulkForm(request.POST)
    if not form.is_valid():
        # Everything typed and ticked stays as it was; nothing was changed.
        return _render(request, _queue_context(
            request, queue, bulk_form=form, selected={pk for pk, _v in form.selection},
            bulk_open=True))
    outcomes = run_bulk(form, user)
    done = sum(1 for o in outcomes if o.ok)
    return _render(request, _queue_context(
        request, queue, bulk_outcomes=outcomes, bulk_done=done,
        bulk_failed=len(outcomes) - done, refresh_sidebar=True,
        selected={pk for (pk, _v), o in zip(form.selection, outcomes, strict=True) if not o.ok}))


# --- saved filters ------------------------------------------------------------------------------


class SaveFilterForm(forms.Form):
    name = forms.CharField(label=_("Name of the filter"), max_length=100, strip=True)

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"])
        if self.user is not None and SavedFilter.objects.filter(
                user=self.user, name__iexact=name).exists():
            raise forms.ValidationError(
                gettext("You already have a saved filter named “%(name)s”; choose another name.")
                % {"name": name})
        return name


@staff_required
@require_POST
def save_filter(request: HttpRequest, slug: str) -> HttpResponse:
    """Keep the current queue query under a name (the page posts to its own query string)."""
    queue = get_queue(slug)
    user = cast(User, request.user)
    form = SaveFilterForm(request.POST, user=user)
    query = saved_query(request.GET)
    if form.is_valid():
        last = SavedFilter.objects.filter(user=user).order_by("-position").first()
        try:
            with transaction.atomic():
                SavedFilter.objects.create(
                    user=user, name=form.cleaned_data["name"], queue=queue.slug, query=query,
                    position=(last.position + 1) if last else 0)
        except IntegrityError:
            # Someone (another tab) saved the same name a moment ago.
            form.add_error("name", gettext(
                "You already have a saved filter named “%(name)s”; choose another name.")
                % {"name": form.cleaned_data["name"]})
        else:
            messages.success(request, gettext("Filter “%(name)s” saved.")
                             % {"name": form.cleaned_data["name"]})
            url = reverse("agent:queue", args=[queue.slug])
            return HttpResponseRedirect(f"{url}?{query}" if query else url)
    return _render(request, _queue_context(request, queue, save_form=form, save_open=True))


def saved_filter_url(saved: SavedFilter) -> str:
    slug = saved.queue if saved.queue in QUEUES_BY_SLUG else "all-open"
    url = reverse("agent:queue", args=[slug])
    return f"{url}?{saved.query}" if saved.query else url


@staff_required
@require_POST
def delete_filter(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the owner may delete (anyone else gets 404: another person's filters do not exist)."""
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    name = saved.name
    saved.delete()
    messages.success(request, gettext("Filter “%(name)s” deleted.") % {"name": name})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("agent:home")
    return HttpResponseRedirect(target)


urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
    path("queues/<slug:slug>/", queue_view, name="queue"),
    path("queues/<slug:slug>/bulk/", bulk, name="queue_bulk"),
    path("queues/<slug:slug>/save-filter/", save_filter, name="saved_filter_create"),
    path("saved-filters/<int:pk>/delete/", delete_filter, name="saved_filter_delete"),
]
