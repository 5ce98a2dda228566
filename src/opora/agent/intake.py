"""Agent workspace: phone intake — find the caller, register their ticket in under a minute.

``/agent/new/`` is the operator's screen during a call: type-ahead search of the caller by phone
number, name or email (``people-search``), their organisation and open tickets, then the ticket
form (``actions.open_ticket`` with the operator as ``created_by`` and the channel of the call).
``/agent/new/?phone=…`` (or ``?email=``) opens it with the matching person already chosen, which
is what a telephony "screen pop" calls. An unknown caller is registered on the spot
(``register_requester``).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Replace
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from opora.accounts.actions import register_requester
from opora.accounts.models import Organisation, Team, User
from opora.accounts.selectors import users_visible_to
from opora.tickets import actions, selectors
from opora.tickets.attachments import ALLOWED_EXTENSIONS
from opora.tickets.choices import Channel, Level, Priority, TicketType
from opora.tickets.errors import ActionError
from opora.tickets.models import Ticket
from opora.web.templatetags.opora import PRIORITY_COLOURS

from . import forms as f
from .ticket import catalog_choices, is_htmx, staff_required, ticket_url

#: Fewer digits than this are not a phone number worth searching by.
PHONE_MIN_DIGITS = 5
#: The significant tail of a number: Russian numbers are 10 digits after +7 / 8.
PHONE_TAIL = 10
#: What people write between the digits of a phone number.
_PHONE_PUNCTUATION = (" ", "-", "(", ")", "+", ".", "/", "\u00a0")
_PHONE_LIKE = re.compile(r"^[\d\s()+\-./\u00a0]+$")
RESULTS = 10


# --- finding people ------------------------------------------------------------------------------


def phone_digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


def phone_tail(text: str) -> str:
    """The part of a number that identifies a line whatever the prefix: "+7 (495) 100-00-01",
    "84951000001" and "4951000001" all give "4951000001"; a shorter number is kept whole."""
    return phone_digits(text)[-PHONE_TAIL:]


def _digits_of_phone() -> Any:
    """The stored phone number without its punctuation, computed by the database."""
    expr: Any = F("phone")
    for ch in _PHONE_PUNCTUATION:
        expr = Replace(expr, Value(ch), Value(""))
    return expr


def searchable(text: str) -> bool:
    """Whether the text is enough to search by: five digits of a number, or two characters."""
    text = text.replace("\x00", "").strip()
    if _PHONE_LIKE.match(text):
        return len(phone_tail(text)) >= PHONE_MIN_DIGITS
    return len(text) >= 2


def people_matching(viewer: User, text: str) -> QuerySet[User]:
    """Active people ``viewer`` may see whose phone number ends with the digits typed, or whose
    name or email contains the text. Disabled accounts are never offered."""
    text = text.replace("\x00", "").strip()
    people = users_visible_to(viewer).filter(is_active=True)
    if not searchable(text):
        return people.none()
    if _PHONE_LIKE.match(text):
        return (people.exclude(phone="").annotate(phone_digits=_digits_of_phone())
                .filter(phone_digits__endswith=phone_tail(text)).order_by("full_name"))
    return people.filter(Q(full_name__icontains=text) | Q(email__icontains=text)).order_by(
        "full_name")


def open_tickets_of(viewer: User, person: User) -> list[Ticket]:
    return list(
        Ticket.objects.visible_to(viewer).open().filter(requester_id=person.pk)
        .only("id", "number", "title", "status", "priority", "created_at")
        .order_by("-created_at")[:RESULTS]
    )


# --- registering a caller the desk does not know -------------------------------------------------


# --- pages ---------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _person(viewer: User, key: Any) -> User | None:
    text = str(key or "")
    if not (text.isascii() and text.isdigit()):
        return None
    return users_visible_to(viewer).filter(is_active=True, pk=int(text)).first()


def _register_prefill(text: str) -> dict[str, str]:
    """What the operator typed into the search, put where it belongs in the new-person form."""
    text = text.strip()
    if not text:
        return {}
    if "@" in text:
        return {"email": text}
    if _PHONE_LIKE.match(text):
        return {"phone": text}
    return {"full_name": text}


def _priority_context(impact: Any, urgency: Any) -> dict[str, Any]:
    try:
        i, u = int(impact), int(urgency)
    except (TypeError, ValueError):
        i, u = Level.MEDIUM, Level.MEDIUM
    if i not in Level.values or u not in Level.values:
        i, u = Level.MEDIUM, Level.MEDIUM
    value = selectors.priority_for(i, u)
    return {"priority": value, "priority_label": Priority(value).label,
            "priority_colour": PRIORITY_COLOURS.get(value, "secondary")}


def _page(request: HttpRequest, *, form: f.IntakeForm | None = None,
          requester_form: f.RequesterForm | None = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    params = request.GET
    caller: User | None = None
    matches: list[User] = []
    searched = ""
    open_register = requester_form is not None
    if form is not None and form.is_bound:
        caller = _person(user, form.data.get("requester"))
    elif params.get("person"):
        caller = _person(user, params["person"])
    else:
        phone = params.get("phone", "")
        if phone.startswith(" ") and phone[1:2].isdigit():
            # "?phone=+7..." sent unencoded (telephony systems do): the "+" arrived as a space.
            phone = "+" + phone[1:]
        searched = (phone or params.get("email") or params.get("q") or "").strip()
        if searched:
            if params.get("email") and not params.get("phone"):
                exact = users_visible_to(user).filter(is_active=True,
                                                      email__iexact=params["email"].strip())
                matches = list(exact[:2]) or list(people_matching(user, searched)[:RESULTS])
            else:
                matches = list(people_matching(user, searched)[:RESULTS])
            if len(matches) == 1 and (params.get("phone") or params.get("email")):
                caller, matches = matches[0], []
            elif not matches:
                open_register = True
    if form is None:
        team = actions.default_intake_team()
        form = f.IntakeForm(initial={
            "requester": caller.pk if caller else None, "team": team.pk if team else None,
            "channel": Channel.EMAIL if params.get("email") and not params.get("phone")
            else Channel.PHONE,
            "type": TicketType.INCIDENT, "impact": Level.MEDIUM, "urgency": Level.MEDIUM,
        })
    if requester_form is None:
        requester_form = f.RequesterForm(initial=_register_prefill(searched))
    categories, services = catalog_choices()
    context = {
        "form": form,
        "requester_form": requester_form,
        "open_register": open_register or params.get("register") == "1",
        "caller": caller,
        "caller_tickets": open_tickets_of(user, caller) if caller else [],
        "matches": matches,
        "searched": searched,
        "nobody": caller is None and not matches and searchable(searched),
        "categories": categories,
        "services": services,
        "teams": list(Team.objects.filter(is_active=True)),
        "organisations": list(Organisation.objects.filter(is_active=True)),
        "types": TicketType.choices,
        "levels": Level.choices,
        "channels": f.AGENT_INTAKE_CHANNELS,
        "allowed_extensions": " ".join(sorted(ALLOWED_EXTENSIONS)),
        **_priority_context(form["impact"].value(), form["urgency"].value()),
    }
    context["max_upload_bytes"] = settings.OPORA_MAX_ATTACHMENT_BYTES
    return render(request, "agent/intake/page.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    """The intake screen (GET) and the registration of the ticket (POST → the ticket's page)."""
    if request.method == "GET":
        return _page(request)
    user = _user(request)
    form = f.IntakeForm(request.POST, request.FILES,
                        people=users_visible_to(user).filter(is_active=True))
    if not form.is_valid():
        return _page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        ticket = actions.open_ticket(
            requester=data["requester"], title=data["title"], description=data["description"],
            ticket_type=data["type"], channel=data["channel"], actor=user,
            category=data["category"], service=data["service"], impact=data["impact"],
            urgency=data["urgency"], team=data["team"], is_major=data["is_major"],
            attachments=data["attachments"],
        )
    except ActionError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _page(request, form=form, status=400)
    return redirect(ticket_url(ticket))


@require_GET
@staff_required
def people_search(request: HttpRequest) -> HttpResponse:
    """Type-ahead: the people matching a phone number, a name or an email (htmx fragment)."""
    user = _user(request)
    text = request.GET.get("q", "")
    people = list(people_matching(user, text)[:RESULTS])
    return render(request, "agent/intake/_people.html", {
        "matches": people, "searched": text.strip(), "nobody": not people and searchable(text)})


@require_GET
@staff_required
def caller_card(request: HttpRequest) -> HttpResponse:
    """The chosen caller: organisation, open tickets and the hidden input of the ticket form."""
    user = _user(request)
    caller = _person(user, request.GET.get("person"))
    return render(request, "agent/intake/_caller.html", {
        "caller": caller, "caller_tickets": open_tickets_of(user, caller) if caller else [],
        "clear_results": True,
    })


@require_GET
@login_required
def priority_preview(request: HttpRequest) -> HttpResponse:
    """The priority the matrix gives to an impact and an urgency (htmx fragment)."""
    context = _priority_context(request.GET.get("impact"), request.GET.get("urgency"))
    return render(request, "agent/intake/_priority.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def new_requester(request: HttpRequest) -> HttpResponse:
    """Register an unknown caller; for htmx the caller card is swapped in place (what was typed
    into the ticket form stays), otherwise the intake page reopens with the person chosen."""
    user = _user(request)
    if request.method == "GET":
        form = f.RequesterForm(initial=_register_prefill(request.GET.get("q", "")))
        return render(request, "agent/intake/_register.html", {
            "requester_form": form, "open_register": True,
            "organisations": list(Organisation.objects.filter(is_active=True))})
    form = f.RequesterForm(request.POST)
    person: User | None = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            person = register_requester(full_name=data["full_name"], email=data["email"],
                                        phone=data["phone"], organisation=data["organisation"],
                                        actor=user)
        except ActionError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    if person is None:
        if is_htmx(request):
            return render(request, "agent/intake/_register.html", {
                "requester_form": form, "open_register": True,
                "organisations": list(Organisation.objects.filter(is_active=True))})
        return _page(request, requester_form=form, status=400)
    if is_htmx(request):
        return render(request, "agent/intake/_registered.html", {
            "caller": person, "caller_tickets": [], "clear_results": True,
            "requester_form": f.RequesterForm(), "open_register": False,
            "organisations": list(Organisation.objects.filter(is_active=True)),
        })
    return redirect(f"{reverse('agent:new')}?person={person.pk}")


urlpatterns: list[URLPattern] = [
    path("new/", new_ticket, name="new"),
    path("new/caller/", caller_card, name="new-caller"),
    path("new/requester/", new_requester, name="new-requester"),
    path("new/priority/", priority_preview, name="priority-preview"),
    path("people/", people_search, name="people-search"),
]
