"""Self-service portal: the requester's requests, a new request, one request, preferences.

Thin adapters like the API: parse input → the funnel (``selectors.ticket_list``,
``permissions.access_ticket``) → ``tickets.actions`` with ``channel=PORTAL`` and the version the
person saw → render. An ``ActionError`` is shown beside the form with everything typed kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opora.accounts.models import Role, User
from opora.catalog.models import Category
from opora.sla import selectors as sla
from opora.tickets import actions, selectors, workflow
from opora.tickets.choices import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    PUBLIC_EVENT_KINDS,
    Channel,
    Level,
    Status,
)
from opora.tickets.errors import ActionError, StaleTicket
from opora.tickets.filtersets import TicketFilter
from opora.tickets.models import Ticket, TicketEvent
from opora.tickets.permissions import Need, access_ticket, can

from . import intake
from .forms import (
    CancelForm,
    ConfirmForm,
    NewRequestForm,
    PreferencesForm,
    ReopenForm,
    ReplyForm,
    VersionedForm,
)
from .preferences import update_preferences
from .templatetags.portal_tags import actor_name, staff_names_shown

PORTAL = Channel.PORTAL
PAGE_SIZE = 20


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_staff(user: User) -> bool:
    return bool(user.is_agent_side or user.is_superuser)


def _is_partial(request: HttpRequest) -> bool:
    """An htmx swap (not a boosted navigation) gets the fragment, not the whole page."""
    return request.headers.get("HX-Request") == "true" and "HX-Boosted" not in request.headers


# --- my requests --------------------------------------------------------------------------------

#: "Open" on the portal includes "solved — waiting for confirmation": it still needs the person.
STATES: dict[str, tuple[Promise, frozenset[str] | None]] = {
    "open": (gettext_lazy("Open requests"), frozenset({*OPEN_STATUSES, Status.RESOLVED})),
    "closed": (gettext_lazy("Closed requests"), frozenset({Status.CLOSED, Status.CANCELLED})),
    "all": (gettext_lazy("All requests"), None),
}

#: Statuses that need the requester first, then the working ones, then the finished ones.
STATUS_ORDER = [Status.WAITING_REQUESTER, Status.RESOLVED, Status.NEW, Status.ASSIGNED,
                Status.IN_PROGRESS, Status.WAITING_VENDOR, Status.CLOSED, Status.CANCELLED]

SORTS: dict[str, tuple[Promise, tuple[str, ...]]] = {
    "-created": (gettext_lazy("Newest first"), ("-created_at", "-pk")),
    "created": (gettext_lazy("Oldest first"), ("created_at", "pk")),
    "-updated": (gettext_lazy("Recently updated"), ("-updated_at", "-pk")),
    "status": (gettext_lazy("Status: needing you first"), ("status_rank", "-created_at", "-pk")),
}


def _status_rank() -> Case:
    return Case(*(When(status=s, then=Value(i)) for i, s in enumerate(STATUS_ORDER)),
                default=Value(len(STATUS_ORDER)), output_field=IntegerField())


def _mine(user: User) -> Q:
    """Requested by the person, or watched by them (a colleague added them)."""
    watched = Ticket.watchers.through.objects.filter(user_id=user.pk).values("ticket_id")
    return Q(requester_id=user.pk) | Q(pk__in=watched)


def _sees_organisation(user: User) -> bool:
    return user.role == Role.ORG_MANAGER and user.organisation_id is not None


def _requests(user: User, *, scope: str, state: str, sort: str, text: str) -> QuerySet[Ticket]:
    tickets = selectors.ticket_list(user)
    if scope == "org" and user.organisation_id is not None:
        tickets = tickets.filter(organisation_id=user.organisation_id)
    else:
        tickets = tickets.filter(_mine(user))
    statuses = STATES[state][1]
    if statuses is not None:
        tickets = tickets.filter(status__in=sorted(statuses))
    if text:
        # The same text search as the API list and the workspace queues.
        tickets = TicketFilter({"q": text}, queryset=tickets).qs
    if sort == "status":
        tickets = tickets.annotate(status_rank=_status_rank())
    return tickets.order_by(*SORTS[sort][1])


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My requests (and, for an organisation manager, the organisation's), filtered and paged."""
    user = _user(request)
    org_tab = _sees_organisation(user)
    scope = "org" if org_tab and request.GET.get("scope") == "org" else "mine"
    state = request.GET.get("state", "open")
    state = state if state in STATES else "open"
    sort = request.GET.get("sort", "-created")
    sort = sort if sort in SORTS else "-created"
    text = request.GET.get("q", "").strip()[:200]
    tickets = _requests(user, scope=scope, state=state, sort=sort, text=text)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "nav": "home",
        "page": page,
        "scope": scope,
        "org_tab": org_tab,
        "state": state,
        "sort": sort,
        "q": text,
        "states": [(key, label) for key, (label, _s) in STATES.items()],
        "sorts": [(key, label) for key, (label, _o) in SORTS.items()],
        "filtered": bool(text) or state != "open",
    }
    template = "portal/_request_list.html" if _is_partial(request) else "portal/home.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- new request --------------------------------------------------------------------------------


def _category_tree(categories: list[Category]) -> list[tuple[Category, int]]:
    """Active categories in tree order with their depth. A child of an inactive parent is left
    out (it is not reachable from a root), and so is any loop in the data."""
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    tree: list[tuple[Category, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for node in children.get(parent, []):
            tree.append((node, depth))
            walk(node.pk, depth + 1)

    walk(None, 0)
    return tree


@login_required
def new_request(request: HttpRequest) -> HttpResponse:
    """Category first, then the form that category needs; opens the ticket through the action."""
    user = _user(request)
    categories = list(Category.objects.filter(is_active=True).order_by("position", "name", "pk"))
    tree = _category_tree(categories)
    by_id = {category.pk: category for category, _depth in tree}
    source = request.POST if request.method == "POST" else request.GET
    code = source.get("category", "")
    category = next((c for c, _depth in tree if c.code == code), None)
    if category is None and tree:
        return render(
            request, "portal/new_category.html",
            {"nav": "new", "tree": tree, "unknown": bool(code)},
            status=400 if code else 200,
        )
    questions = intake.questions_for(category, by_id)
    default_type = intake.default_type(category, by_id)
    status = 200
    if request.method == "POST":
        form = NewRequestForm(request.POST, request.FILES, questions=questions,
                              default_type=default_type)
        if form.is_valid():
            data = form.cleaned_data
            try:
                ticket = actions.open_ticket(
                    requester=user,
                    title=data["title"],
                    description=intake.compose_description(data["description"], form.answers()),
                    ticket_type=data["type"],
                    channel=PORTAL,
                    actor=user,
                    category=category,
                    service=data["service"],
                    impact=Level.HIGH if data["many_affected"] else Level.MEDIUM,
                    urgency=data["urgency"],
                    attachments=data["attachments"],
                )
            except ActionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _(
                    "Thank you! Your request %(number)s is registered. "
                    "We will let you know when something changes."
                ) % {"number": ticket.number})
                return redirect("portal:request", ref=ticket.number)
        status = 400
    else:
        form = NewRequestForm(questions=questions, default_type=default_type)
    files_lost = request.method == "POST" and bool(request.FILES) and bool(form.errors)
    return render(request, "portal/new.html", {
        "nav": "new", "form": form, "category": category, "has_categories": bool(tree),
        "files_lost": files_lost,
        "field_errors": any(name != "__all__" for name in form.errors),
    }, status=status)


# --- one request --------------------------------------------------------------------------------


def _access(request: HttpRequest, ref: str, need: Need = "view") -> Ticket:
    return access_ticket(
        _user(request), ref, need=need,
        queryset=Ticket.objects.select_related("category", "service", "requester"),
    )


#: The moves the portal offers; the workspace has the others.
PORTAL_MOVES = frozenset({"close", "reopen", "cancel"})


def _public_timeline(ticket: Ticket, user: User) -> list[TicketEvent]:
    """The timeline as the requester sees it. ``selectors.timeline`` already hides internal
    events from requesters; the portal filters again so that staff looking at the portal see
    exactly what their requester sees, and no internal kind or file can ever slip through."""
    show_staff = staff_names_shown()
    events = list(
        selectors.timeline(ticket, user).filter(is_public=True, kind__in=sorted(PUBLIC_EVENT_KINDS))
    )
    for event in events:
        event.who = actor_name(event.actor, user, show_staff=show_staff)  # type: ignore[attr-defined]
        event.files = [a for a in event.attachments.all() if a.is_public]  # type: ignore[attr-defined]
        event.by_requester_side = bool(  # type: ignore[attr-defined]
            event.actor is not None and not (event.actor.is_agent_side or event.actor.is_superuser))
    return events


def _render_request(request: HttpRequest, ticket: Ticket, *,
                    bound: dict[str, VersionedForm] | None = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    bound = bound or {}
    acts = _acts_here(user, ticket)
    moves = {t.action for t in workflow.allowed_transitions(ticket, user)} & PORTAL_MOVES
    if not acts or not can(user, ticket, "confirm"):
        # The same check the move's view makes: a button is shown only if it would work.
        moves = set()
    forms: dict[str, VersionedForm] = {
        "reply": ReplyForm(version=ticket.version, prefix="reply"),
        "confirm": ConfirmForm(version=ticket.version, prefix="confirm"),
        "reopen": ReopenForm(version=ticket.version, prefix="reopen"),
        "cancel": CancelForm(version=ticket.version, prefix="cancel"),
    }
    forms.update(bound)
    failed = next(iter(bound), "")
    can_reply = acts and ticket.status not in FINAL_STATUSES
    shown = {"reply": can_reply, "confirm": "close" in moves or "reopen" in moves,
             "reopen": "reopen" in moves, "cancel": "cancel" in moves}
    context = {
        "nav": "home",
        "ticket": ticket,
        "events": _public_timeline(ticket, user),
        "is_requester": ticket.requester_id == user.pk,
        "is_staff": _is_staff(user),
        "can_reply": can_reply,
        "moves": moves,
        "forms": forms,
        "failed": failed,
        # The request moved on and the form that failed is no longer offered: its error and the
        # text the person typed are shown at the top instead, so nothing is lost.
        "failed_form": forms[failed] if failed and not shown[failed] else None,
        # Only the promise of a first answer: the desk's clocks stay internal.
        "answer_by": sla.expected_answer_by(ticket, timezone.now()),
    }
    return render(request, "portal/request.html", context, status=status)


def _acts_here(user: User, ticket: Ticket) -> bool:
    """The portal's moves are the requester side's. Staff look at someone else's request here
    as its requester sees it, and work on it in the workspace (with its own channel and tools);
    their own requests they handle here like anyone else."""
    return not _is_staff(user) or ticket.requester_id == user.pk


@login_required
def request_page(request: HttpRequest, ref: str) -> HttpResponse:
    """One request: its state, the public conversation, and what the person may do now."""
    return _render_request(request, _access(request, ref))


@dataclass(frozen=True)
class _Op:
    form: type[VersionedForm]
    need: Need
    run: Callable[[Ticket, User, dict[str, Any]], object]
    done: Promise
    focus: str | None


def _reply(ticket: Ticket, user: User, data: dict[str, Any]) -> object:
    return actions.reply(ticket, body=data["body"], attachments=data["attachments"], actor=user,
                         channel=PORTAL, expected_version=data["version"])


def _confirm(ticket: Ticket, user: User, data: dict[str, Any]) -> object:
    return actions.close(ticket, actor=user, channel=PORTAL, expected_version=data["version"])


def _reopen(ticket: Ticket, user: User, data: dict[str, Any]) -> object:
    return actions.reopen(ticket, reason=data["reason"], actor=user, channel=PORTAL,
                          expected_version=data["version"])


def _cancel(ticket: Ticket, user: User, data: dict[str, Any]) -> object:
    return actions.cancel(ticket, reason=data["reason"], actor=user, channel=PORTAL,
                          expected_version=data["version"])


OPS: dict[str, _Op] = {
    "reply": _Op(ReplyForm, "reply", _reply, gettext_lazy("Your message has been sent."), "body"),
    "confirm": _Op(ConfirmForm, "confirm", _confirm,
                   gettext_lazy("Thank you for confirming. The request is closed."), None),
    "reopen": _Op(ReopenForm, "confirm", _reopen,
                  gettext_lazy("The request is back with the service desk."), "reason"),
    "cancel": _Op(CancelForm, "confirm", _cancel,
                  gettext_lazy("Your request has been withdrawn."), "reason"),
}


def _request_op(request: HttpRequest, ref: str, name: str) -> HttpResponse:
    op = OPS[name]
    ticket = _access(request, ref, op.need)
    if request.method != "POST":
        return redirect("portal:request", ref=ticket.number or ticket.pk)
    user = _user(request)
    if not _acts_here(user, ticket):
        raise PermissionDenied(_("Service desk staff work on this request in the workspace."))
    form = op.form(request.POST, request.FILES, prefix=name)
    if op.focus:
        form.fields[op.focus].widget.attrs["autofocus"] = True
    if not form.is_valid():
        return _render_request(request, ticket, bound={name: form}, status=400)
    try:
        op.run(ticket, user, form.cleaned_data)
    except ActionError as exc:
        # Show the request as it is now, with the typed text kept beside the error.
        ticket = _access(request, ref)
        if isinstance(exc, StaleTicket):
            form = op.form.refreshed(request.POST, request.FILES, version=ticket.version,
                                     prefix=name)
            if op.focus:
                form.fields[op.focus].widget.attrs["autofocus"] = True
            form.add_error(None, _(
                "Someone else changed this request while you were writing (for example, the "
                "service desk answered). Above is how it looks now; your text is kept below — "
                "check it and send again."))
        else:
            field = exc.field if exc.field in form.fields else None
            form.add_error(field, exc.message)
        return _render_request(request, ticket, bound={name: form}, status=exc.status)
    messages.success(request, str(op.done))
    return redirect("portal:request", ref=ticket.number or ticket.pk)


@login_required
def reply(request: HttpRequest, ref: str) -> HttpResponse:
    return _request_op(request, ref, "reply")


@login_required
def confirm(request: HttpRequest, ref: str) -> HttpResponse:
    return _request_op(request, ref, "confirm")


@login_required
def reopen(request: HttpRequest, ref: str) -> HttpResponse:
    return _request_op(request, ref, "reopen")


@login_required
def cancel(request: HttpRequest, ref: str) -> HttpResponse:
    return _request_op(request, ref, "cancel")


# --- preferences --------------------------------------------------------------------------------


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """Language, time zone and email notifications of the signed-in person (staff too)."""
    user = _user(request)
    status = 200
    if request.method == "POST":
        form = PreferencesForm(request.POST, current_time_zone=user.time_zone)
        if form.is_valid():
            try:
                update_preferences(user, **form.cleaned_data)
            except ActionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                # Confirm in the language just chosen; the middleware applies it from now on.
                translation.activate(user.language)
                messages.success(request, _("Your preferences are saved."))
                response = redirect("portal:preferences")
                # Also for the sign-in page after signing out.
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME, user.language,
                    max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
                    domain=settings.LANGUAGE_COOKIE_DOMAIN, secure=settings.LANGUAGE_COOKIE_SECURE,
                    httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                    samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                )
                return response
        status = 400
    else:
        language = user.language or (translation.get_language() or settings.LANGUAGE_CODE)[:2]
        form = PreferencesForm(
            initial={
                "language": language,
                "time_zone": user.time_zone or settings.TIME_ZONE,
                "email_notifications": user.email_notifications,
            },
            current_time_zone=user.time_zone,
        )
    return render(request, "portal/preferences.html", {"nav": "preferences", "form": form},
                  status=status)
