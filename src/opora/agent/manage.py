"""Agent workspace: administration of what managers change often.

``/agent/manage/`` holds the support teams and their members, the category tree, the service
catalog, the impact × urgency → priority matrix and the canned responses. Service desk managers
and administrators manage all of it; a team lead manages the members and the canned responses of
the teams they lead; everyone else is refused (requesters are sent to the portal).

The pages are thin adapters: a form parses the input, the view checks who may open the page, and
every write goes through an action (``accounts.team_actions``, ``catalog.actions``,
``tickets.matrix``, ``agent.canned``) which checks the rules again, writes in one transaction and
records the audit row. An ``ActionError`` is shown next to the field it names, with everything the
person typed kept. Lists sort and page; an htmx request gets just the results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from opora.accounts import team_actions
from opora.accounts.models import STAFF_ROLES, Line, Team, TeamMembership, User
from opora.catalog import actions as catalog_actions
from opora.catalog.models import Category, Service
from opora.tickets import matrix
from opora.tickets.choices import Level, Priority
from opora.tickets.errors import ActionError

from . import canned
from .models import CannedResponse
from .queues import is_partial, staff_required

PAGE_SIZE = 50
T = TypeVar("T")
M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


# --- access --------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def manager_required(view: View) -> View:
    """Service desk managers and administrators only (after the workspace's own staff check)."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not team_actions.is_desk_manager(request.user):
            raise PermissionDenied(gettext(
                "Only service desk managers and administrators may open this page."))
        return view(request, *args, **kwargs)

    return wrapper


def lead_required(view: View) -> View:
    """Managers, administrators and team leads (who then see only the teams they lead)."""

    @staff_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (team_actions.is_desk_manager(user) or team_actions.is_team_lead(user)):
            raise PermissionDenied(gettext(
                "Only service desk managers, administrators and team leads may open this page."))
        return view(request, *args, **kwargs)

    return wrapper


def _refuse(exc: ActionError) -> None:
    """An action refused the actor's role: the page answers 403, never a form error."""
    if isinstance(exc, team_actions.NotAllowed):
        raise PermissionDenied(exc.message) from exc


def _teams_of(user: User) -> QuerySet[Team]:
    """The teams ``user`` manages: all for a manager, the ones they lead for a team lead."""
    if team_actions.is_desk_manager(user):
        return Team.objects.all()
    return Team.objects.filter(pk__in=team_actions.led_team_ids(user))


def _object(qs: QuerySet[M], pk: int) -> M:
    """One row of what the person may manage; anything else is "not found"."""
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise Http404(gettext("Not found."))
    return obj


# --- lists: sorting and paging -------------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    label: Promise
    terms: tuple[str, ...]


def _ordering(request: HttpRequest, sorts: dict[str, Sort], default: str) -> tuple[str, bool]:
    raw = request.GET.get("ordering", "") or default
    key = raw.lstrip("-")
    if key not in sorts:
        return default.lstrip("-"), default.startswith("-")
    return key, raw.startswith("-")


def _columns(request: HttpRequest, base_url: str, sorts: dict[str, Sort], key: str,
             descending: bool) -> list[dict[str, Any]]:
    columns = []
    for name, sort in sorts.items():
        current = name == key
        params = request.GET.copy()
        params["ordering"] = (name if descending else f"-{name}") if current else name
        params.pop("page", None)
        columns.append({
            "label": sort.label, "url": f"{base_url}?{params.urlencode()}", "current": current,
            "descending": descending,
            "aria_sort": ("descending" if descending else "ascending") if current else "",
        })
    return columns


def _order(qs: QuerySet[M], sort: Sort, descending: bool) -> QuerySet[M]:
    terms = [t[1:] if t.startswith("-") else f"-{t}" for t in sort.terms] if descending else list(
        sort.terms)
    return qs.order_by(*terms, "pk")


def _page(request: HttpRequest, rows: Sequence[Any] | QuerySet[Any]) -> dict[str, Any]:
    page: Page[Any] = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "ellipsis": Paginator.ELLIPSIS,
    }


def _list_response(request: HttpRequest, template: str, results: str,
                   context: dict[str, Any]) -> HttpResponse:
    response = render(request, results if is_partial(request) else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- forms ---------------------------------------------------------------------------------------


class ManageForm(forms.Form):
    """Bootstrap classes on the inputs, and an invalid input marked for people and screen
    readers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        names: Iterable[str] = [field] if field else []
        if isinstance(error, dict):
            names = error.keys()
        for name in names:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"id_{name}_error"

    def action_error(self, exc: ActionError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


class TeamForm(ManageForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    line = forms.TypedChoiceField(label=_("Line"), choices=Line.choices, coerce=int)
    speciality = forms.CharField(label=_("Speciality"), max_length=200, required=False,
                                 help_text=_("For example: network, 1C, servers, security."))
    email = forms.EmailField(label=_("Email"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.full_name} · {obj.get_role_display()}"


class MemberForm(ManageForm):
    user = StaffChoiceField(label=_("Person"), queryset=User.objects.none(),
                            empty_label=_("— choose —"))
    is_lead = forms.BooleanField(label=_("Team lead"), required=False)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["user"])
        field.queryset = (
            User.objects.filter(role__in=STAFF_ROLES, is_active=True)
            .exclude(pk__in=TeamMembership.objects.filter(team=team).values("user_id"))
            .order_by("full_name")
        )


class CategoryForm(ManageForm):
    code = forms.SlugField(label=_("Code"), max_length=100,
                           help_text=_("Latin letters, digits, hyphens; used by rules and the API."))
    name = forms.CharField(label=_("Name in Russian"), max_length=200)
    name_en = forms.CharField(label=_("Name in English"), max_length=200, required=False)
    parent = forms.ModelChoiceField(label=_("Parent category"), queryset=Category.objects.none(),
                                    required=False, empty_label=_("— top level —"))
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0,
                                  help_text=_("Smaller numbers come first among siblings."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, category: Category | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tree = category_tree(Category.objects.all())
        excluded = set() if category is None else descendant_ids(self.tree, category.pk)
        field = cast(forms.ModelChoiceField, self.fields["parent"])
        field.queryset = Category.objects.all()
        # The tree order, indented, without the category itself and its subcategories.
        field.choices = [("", field.empty_label or "")] + [
            (row.category.pk, "\u00a0\u00a0" * row.depth + row.category.display_name())
            for row in self.tree if row.category.pk not in excluded
        ]


class ServiceForm(ManageForm):
    code = forms.SlugField(label=_("Code"), max_length=100,
                           help_text=_("Latin letters, digits, hyphens; used by rules and the API."))
    name = forms.CharField(label=_("Name in Russian"), max_length=200)
    name_en = forms.CharField(label=_("Name in English"), max_length=200, required=False)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    owner_team = forms.ModelChoiceField(label=_("Owner team"), queryset=Team.objects.none(),
                                        required=False, empty_label=_("— none —"))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, service: Service | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = Q(is_active=True)
        if service is not None and service.owner_team_id:
            teams |= Q(pk=service.owner_team_id)
        cast(forms.ModelChoiceField, self.fields["owner_team"]).queryset = Team.objects.filter(
            teams)


LANGUAGE_CHOICES = [("", _("Any language")), ("ru", "Русский"), ("en", "English")]


class CannedForm(ManageForm):
    title = forms.CharField(label=_("Title"), max_length=canned.TITLE_MAX)
    body = forms.CharField(label=_("Text (Markdown)"), max_length=canned.BODY_MAX,
                           widget=forms.Textarea(attrs={"rows": 10}), strip=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False,
                                  empty_label=_("All teams"))
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)

    def __init__(self, *args: Any, user: User, response: CannedResponse | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["team"])
        field.queryset = _teams_of(user)
        if not team_actions.is_desk_manager(user):
            # A lead writes for one of their teams; "all teams" is the manager's call.
            field.required = True
            field.empty_label = _("— choose —")


# --- index ---------------------------------------------------------------------------------------


@lead_required
@require_http_methods(["GET", "HEAD"])
def index(request: HttpRequest) -> HttpResponse:
    """``/agent/manage/``: what this person may administer."""
    manager = team_actions.is_desk_manager(request.user)
    links = [
        (reverse("agent:manage_teams"), _("Teams and members"),
         _("Support groups by line and speciality, their members and leads.")),
    ]
    if manager:
        links += [
            (reverse("agent:manage_categories"), _("Categories"),
             _("The category tree used to classify tickets.")),
            (reverse("agent:manage_services"), _("Services"),
             _("The service catalog and the team that owns each service.")),
            (reverse("agent:manage_matrix"), _("Priority matrix"),
             _("Which priority each combination of impact and urgency gets.")),
        ]
    links.append((reverse("agent:manage_canned"), _("Canned responses"),
                  _("Ready answers agents insert into their replies.")))
    return render(request, "agent/manage/index.html", {
        "links": [{"url": u, "title": t, "text": x} for u, t, x in links],
        "is_manager": manager,
    })


# --- teams ---------------------------------------------------------------------------------------

TEAM_SORTS = {
    "name": Sort(_("Name"), ("name",)),
    "line": Sort(_("Line"), ("line", "name")),
    "speciality": Sort(_("Speciality"), ("speciality", "name")),
    "members": Sort(_("Members"), ("member_count", "name")),
    "active": Sort(_("Active"), ("-is_active", "name")),
}


@lead_required
@require_http_methods(["GET", "HEAD"])
def teams(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    key, desc = _ordering(request, TEAM_SORTS, "line")
    qs = _order(_teams_of(user).annotate(member_count=Count("memberships")), TEAM_SORTS[key], desc)
    base = reverse("agent:manage_teams")
    return _list_response(request, "agent/manage/teams.html", "agent/manage/_teams_results.html", {
        "base_url": base, "columns": _columns(request, base, TEAM_SORTS, key, desc),
        "is_manager": team_actions.is_desk_manager(user), **_page(request, qs),
    })


def _team_values(form: TeamForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {"name": d["name"], "line": d["line"], "speciality": d["speciality"],
            "email": d["email"], "is_active": d["is_active"]}


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            team = team_actions.create_team(**_team_values(form), actor=_user(request))
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Team “%(name)s” created.") % {"name": team.name})
            return redirect("agent:manage_team", pk=team.pk)
    return render(request, "agent/manage/team_form.html", {"form": form, "team": None},
                  status=400 if form.errors else 200)


def _team_page(request: HttpRequest, team: Team, *, form: TeamForm | None = None,
               member_form: MemberForm | None = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    manager = team_actions.is_desk_manager(user)
    if form is None and manager:
        form = TeamForm(initial={"name": team.name, "line": team.line,
                                 "speciality": team.speciality, "email": team.email,
                                 "is_active": team.is_active})
    members = list(team.memberships.select_related("user").order_by("-is_lead", "user__full_name"))
    return render(request, "agent/manage/team.html", {
        "team": team, "form": form, "is_manager": manager,
        "members": members, "member_form": member_form or MemberForm(team=team),
        "open_tickets": team_actions.open_ticket_count(team),
    }, status=status)


@lead_required
@require_http_methods(["GET", "HEAD", "POST"])
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A team: its settings (managers edit them) and its members."""
    user = _user(request)
    team = _object(_teams_of(user), pk)
    if request.method != "POST":
        return _team_page(request, team)
    if not team_actions.is_desk_manager(user):
        raise PermissionDenied(gettext(
            "Only service desk managers and administrators may do this."))
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team_actions.update_team(team, **_team_values(form), actor=user)
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("Team “%(name)s” saved.") % {"name": team.name})
            return redirect("agent:manage_team", pk=team.pk)
    team.refresh_from_db()
    return _team_page(request, team, form=form, status=400)


@lead_required
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    team = _object(_teams_of(user), pk)
    form = MemberForm(request.POST, team=team)
    if form.is_valid():
        try:
            member = team_actions.add_member(team, user=form.cleaned_data["user"],
                                             is_lead=form.cleaned_data["is_lead"], actor=user)
        except ActionError as exc:
            _refuse(exc)
            form.action_error(exc)
        else:
            messages.success(request, gettext("%(name)s added to the team.")
                             % {"name": member.user.full_name})
            return redirect("agent:manage_team", pk=team.pk)
    return _team_page(request, team, member_form=form, status=400)


def _membership(request: HttpRequest, pk: int, member_pk: int) -> TeamMembership:
    team = _object(_teams_of(_user(request)), pk)
    membership = _object(team.memberships.select_related("user", "team"), member_pk)
    return membership


@lead_required
@require_POST
def member_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    membership = _membership(request, pk, member_pk)
    try:
        team_actions.remove_member(membership, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("%(name)s removed from the team.")
                         % {"name": membership.user.full_name})
    return redirect("agent:manage_team", pk=pk)


@lead_required
@require_POST
def member_lead(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    membership = _membership(request, pk, member_pk)
    is_lead = request.POST.get("is_lead") == "1"
    try:
        team_actions.set_member_lead(membership, is_lead=is_lead, actor=_user(request))
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        text = (gettext("%(name)s is now a lead of the team.") if is_lead
                else gettext("%(name)s is no longer a lead of the team."))
        messages.success(request, text % {"name": membership.user.full_name})
    return redirect("agent:manage_team", pk=pk)


# --- categories ----------------------------------------------------------------------------------


@dataclass
class TreeRow:
    category: Category
    depth: int
    path: str


def category_tree(categories: Iterable[Category]) -> list[TreeRow]:
    """Depth-first in tree order (position, then name), each row with its depth and full path.
    A category whose parent is missing from ``categories`` is shown at the top level."""
    nodes = list(categories)
    known = {c.pk for c in nodes}
    children: dict[int | None, list[Category]] = {}
    for c in nodes:
        parent = c.parent_id if c.parent_id in known else None
        children.setdefault(parent, []).append(c)
    for siblings in children.values():
        siblings.sort(key=lambda c: (c.position, c.name.lower(), c.pk))
    rows: list[TreeRow] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int, prefix: str) -> None:
        for c in children.get(parent, []):
            if c.pk in seen:  # a cycle made outside these pages: show each node once
                continue
            seen.add(c.pk)
            path_ = f"{prefix} › {c.display_name()}" if prefix else c.display_name()
            rows.append(TreeRow(c, depth, path_))
            walk(c.pk, depth + 1, path_)

    walk(None, 0, "")
    return rows


def descendant_ids(tree: list[TreeRow], pk: int) -> set[int]:
    """``pk`` and everything under it, from a tree already read."""
    out = {pk}
    for row in tree:
        if row.category.parent_id in out:
            out.add(row.category.pk)
    return out


CATEGORY_SORTS = {
    "tree": Sort(_("Name"), ()),
    "code": Sort(_("Code"), ()),
    "position": Sort(_("Position"), ()),
    "active": Sort(_("Active"), ()),
}
_CATEGORY_KEYS: dict[str, Callable[[TreeRow], Any]] = {
    "code": lambda r: r.category.code,
    "position": lambda r: (r.category.position, r.path.lower()),
    "active": lambda r: (not r.category.is_active, r.path.lower()),
}


@manager_required
@require_http_methods(["GET", "HEAD"])
def categories(request: HttpRequest) -> HttpResponse:
    """The category tree, indented; other orders show each category with its full path."""
    key, desc = _ordering(request, CATEGORY_SORTS, "tree")
    rows = category_tree(Category.objects.all())
    if key in _CATEGORY_KEYS:
        rows.sort(key=_CATEGORY_KEYS[key], reverse=desc)
    elif desc:
        rows.reverse()
    base = reverse("agent:manage_categories")
    return _list_response(
        request, "agent/manage/categories.html", "agent/manage/_categories_results.html", {
            "base_url": base, "columns": _columns(request, base, CATEGORY_SORTS, key, desc),
            "as_tree": key == "tree" and not desc, **_page(request, rows),
        })


def _category_values(form: CategoryForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {k: d[k] for k in ("code", "name", "name_en", "parent", "position", "is_active")}


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def category_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    category = None if pk is None else _object(Category.objects.all(), pk)
    if request.method == "POST":
        form = CategoryForm(request.POST, category=category)
        if form.is_valid():
            try:
                if category is None:
                    category = catalog_actions.create_category(**_category_values(form),
                                                               actor=_user(request))
                else:
                    catalog_actions.update_category(category, **_category_values(form),
                                                    actor=_user(request))
            except ActionError as exc:
                _refuse(exc)
                form.action_error(exc)
            else:
                messages.success(request, gettext("Category “%(name)s” saved.")
                                 % {"name": category.display_name()})
                return redirect("agent:manage_categories")
    elif category is None:
        form = CategoryForm()
    else:
        form = CategoryForm(category=category, initial={
            "code": category.code, "name": category.name, "name_en": category.name_en,
            "parent": category.parent_id, "position": category.position,
            "is_active": category.is_active})
    if category is not None and form.errors:
        category.refresh_from_db()
    return render(request, "agent/manage/category_form.html",
                  {"form": form, "category": category}, status=400 if form.errors else 200)


# --- services ------------------------------------------------------------------------------------

SERVICE_SORTS = {
    "code": Sort(_("Code"), ("code",)),
    "name": Sort(_("Name"), ("name",)),
    "owner": Sort(_("Owner team"), ("owner_team__name", "name")),
    "active": Sort(_("Active"), ("-is_active", "name")),
}


@manager_required
@require_http_methods(["GET", "HEAD"])
def services(request: HttpRequest) -> HttpResponse:
    key, desc = _ordering(request, SERVICE_SORTS, "name")
    qs = _order(Service.objects.select_related("owner_team"), SERVICE_SORTS[key], desc)
    base = reverse("agent:manage_services")
    return _list_response(
        request, "agent/manage/services.html", "agent/manage/_services_results.html", {
            "base_url": base, "columns": _columns(request, base, SERVICE_SORTS, key, desc),
            **_page(request, qs),
        })


def _service_values(form: ServiceForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {k: d[k] for k in ("code", "name", "name_en", "description", "owner_team",
                              "is_active")}


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def service_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    service = None if pk is None else _object(Service.objects.all(), pk)
    if request.method == "POST":
        form = ServiceForm(request.POST, service=service)
        if form.is_valid():
            try:
                if service is None:
                    service = catalog_actions.create_service(**_service_values(form),
                                                             actor=_user(request))
                else:
                    catalog_actions.update_service(service, **_service_values(form),
                                                   actor=_user(request))
            except ActionError as exc:
                _refuse(exc)
                form.action_error(exc)
            else:
                messages.success(request, gettext("Service “%(name)s” saved.")
                                 % {"name": service.display_name()})
                return redirect("agent:manage_services")
    elif service is None:
        form = ServiceForm()
    else:
        form = ServiceForm(service=service, initial={
            "code": service.code, "name": service.name, "name_en": service.name_en,
            "description": service.description, "owner_team": service.owner_team_id,
            "is_active": service.is_active})
    return render(request, "agent/manage/service_form.html",
                  {"form": form, "service": service}, status=400 if form.errors else 200)


# --- priority matrix -----------------------------------------------------------------------------


def _cell_name(impact: int, urgency: int) -> str:
    return f"cell_{impact}_{urgency}"


@manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def priority_matrix(request: HttpRequest) -> HttpResponse:
    """The 3 × 3 grid, saved in one POST: all nine cells or nothing."""
    current = matrix.current_matrix()
    values: dict[tuple[int, int], Any] = dict(current)
    bad: set[tuple[int, int]] = set()
    error = ""
    status = 200
    if request.method == "POST":
        values = {cell: request.POST.get(_cell_name(*cell)) for cell in matrix.CELLS}
        try:
            changed = matrix.save_priority_matrix(cells=values, actor=_user(request))
        except matrix.MatrixError as exc:
            error, bad, status = exc.message, set(exc.cells), 400
        except ActionError as exc:
            _refuse(exc)
            error, status = exc.message, 400
        else:
            if changed:
                messages.success(request, gettext("Priority matrix saved."))
            else:
                messages.info(request, gettext("Nothing changed in the priority matrix."))
            return redirect("agent:manage_matrix")
    rows = [
        {"impact": impact_label, "cells": [
            {"name": _cell_name(impact, urgency), "value": str(values.get((impact, urgency)) or ""),
             "current": str(current[(impact, urgency)]),
             "current_label": Priority(current[(impact, urgency)]).label,
             "invalid": (impact, urgency) in bad,
             "impact_label": impact_label, "urgency_label": urgency_label}
            for urgency, urgency_label in Level.choices
        ]}
        for impact, impact_label in Level.choices
    ]
    return render(request, "agent/manage/matrix.html", {
        "rows": rows, "urgencies": [label for _v, label in Level.choices],
        "priorities": [(str(v), label) for v, label in Priority.choices], "error": error,
    }, status=status)


# --- canned responses ----------------------------------------------------------------------------

CANNED_SORTS = {
    "title": Sort(_("Title"), ("title",)),
    "team": Sort(_("Team"), ("team__name", "title")),
    "language": Sort(_("Language"), ("language", "title")),
    "active": Sort(_("Active"), ("-is_active", "title")),
}


@lead_required
@require_http_methods(["GET", "HEAD"])
def canned_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    team = request.GET.get("team", "")
    language = request.GET.get("language", "")
    key, desc = _ordering(request, CANNED_SORTS, "title")
    qs = canned.filter_canned(canned.canned_visible_to(user).select_related("team"),
                              team=team, language=language)
    base = reverse("agent:manage_canned")
    partial = is_partial(request)
    return _list_response(
        request, "agent/manage/canned.html", "agent/manage/_canned_results.html", {
            "base_url": base, "columns": _columns(request, base, CANNED_SORTS, key, desc),
            "team": team, "language": language,
            "teams": [] if partial else list(_teams_of(user).only("id", "name", "line")),
            "is_manager": team_actions.is_desk_manager(user),
            **_page(request, _order(qs, CANNED_SORTS[key], desc)),
        })


def _canned_values(form: CannedForm) -> dict[str, Any]:
    d = form.cleaned_data
    return {"title": d["title"], "body": d["body"], "team": d["team"],
            "language": d["language"] or ""}


@lead_required
@require_http_methods(["GET", "HEAD", "POST"])
def canned_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or edit a canned response; "Preview" shows the Markdown as agents will see it,
    saving nothing."""
    user = _user(request)
    response = None if pk is None else _object(canned.canned_visible_to(user), pk)
    preview = None
    if request.method == "POST":
        form = CannedForm(request.POST, user=user, response=response)
        if "_preview" in request.POST:
            preview = request.POST.get("body", "")
            if request.headers.get("HX-Request"):
                return render(request, "agent/manage/_canned_preview.html", {"preview": preview})
        elif form.is_valid():
            try:
                if response is None:
                    response = canned.create_canned_response(**_canned_values(form), actor=user)
                else:
                    canned.update_canned_response(response, **_canned_values(form), actor=user)
            except ActionError as exc:
                _refuse(exc)
                form.action_error(exc)
            else:
                messages.success(request, gettext("Canned response “%(title)s” saved.")
                                 % {"title": response.title})
                return redirect("agent:manage_canned")
    elif response is None:
        form = CannedForm(user=user)
    else:
        form = CannedForm(user=user, response=response, initial={
            "title": response.title, "body": response.body, "team": response.team_id,
            "language": response.language})
        preview = response.body
    if response is not None and form.errors:
        response.refresh_from_db()
    return render(request, "agent/manage/canned_form.html", {
        "form": form, "response": response, "preview": preview,
        "is_manager": team_actions.is_desk_manager(user),
    }, status=400 if form.errors else 200)


@lead_required
@require_POST
def canned_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate a canned response (agents stop seeing it) or bring it back."""
    user = _user(request)
    response = _object(canned.canned_visible_to(user), pk)
    is_active = request.POST.get("is_active") == "1"
    try:
        canned.set_canned_response_active(response, is_active=is_active, actor=user)
    except ActionError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        text = (gettext("Canned response “%(title)s” is active again.") if is_active
                else gettext("Canned response “%(title)s” deactivated."))
        messages.success(request, text % {"title": response.title})
    return redirect("agent:manage_canned")


urlpatterns: list[URLPattern] = [
    path("manage/", index, name="manage"),
    path("manage/teams/", teams, name="manage_teams"),
    path("manage/teams/new/", team_create, name="manage_team_new"),
    path("manage/teams/<int:pk>/", team_detail, name="manage_team"),
    path("manage/teams/<int:pk>/members/", member_add, name="manage_member_add"),
    path("manage/teams/<int:pk>/members/<int:member_pk>/remove/", member_remove,
         name="manage_member_remove"),
    path("manage/teams/<int:pk>/members/<int:member_pk>/lead/", member_lead,
         name="manage_member_lead"),
    path("manage/categories/", categories, name="manage_categories"),
    path("manage/categories/new/", category_edit, name="manage_category_new"),
    path("manage/categories/<int:pk>/", category_edit, name="manage_category"),
    path("manage/services/", services, name="manage_services"),
    path("manage/services/new/", service_edit, name="manage_service_new"),
    path("manage/services/<int:pk>/", service_edit, name="manage_service"),
    path("manage/priority-matrix/", priority_matrix, name="manage_matrix"),
    path("manage/canned/", canned_list, name="manage_canned"),
    path("manage/canned/new/", canned_edit, name="manage_canned_new"),
    path("manage/canned/<int:pk>/", canned_edit, name="manage_canned_edit"),
    path("manage/canned/<int:pk>/active/", canned_active, name="manage_canned_active"),
]
