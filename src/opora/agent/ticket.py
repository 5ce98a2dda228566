"""Agent workspace: one ticket — header, requester, timeline, editors and every action on it.

A thin adapter like the API: parse the form → ``permissions.access_ticket`` (404 when the ticket
is not visible) → one ``tickets.actions`` function with ``channel=WEB`` and the version the page
was rendered with → redirect (PRG), or the updated fragment for htmx. An ``ActionError`` (a stale
version included) re-renders the page with the message next to the form and everything typed.

The side column's SLA card shows the agreement in force and why, each current clock with its
countdown badge, and the SLA timeline; team leads, desk managers and administrators may set the
agreement by hand (``update_fields`` with ``sla_agreement``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlparse

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.forms import ModelChoiceField, Textarea
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from opora.accounts.models import STAFF_ROLES, Team, TeamMembership, User
from opora.accounts.selectors import users_visible_to
from opora.catalog.models import Category, Service
from opora.kb.selectors import operator_scripts
from opora.sla import selectors as sla
from opora.sla.choices import AgreementKind
from opora.sla.models import Agreement
from opora.tickets import actions, selectors, workflow
from opora.tickets.attachments import ALLOWED_EXTENSIONS
from opora.tickets.choices import (
    OPEN_STATUSES,
    Channel,
    EventKind,
    Level,
    Priority,
    ResolutionCode,
    Status,
    TicketType,
)
from opora.tickets.errors import ActionError, StaleTicket
from opora.tickets.models import Attachment, Ticket, TicketEvent
from opora.tickets.permissions import Need, access_ticket

from . import forms as f
from . import queues
from .models import CannedResponse
from .queues import staff_required

if TYPE_CHECKING:
    from django.forms import Form

WEB = Channel.WEB
#: How often the page asks whether the ticket changed (seconds).
POLL_SECONDS = 12
#: How many of the requester's other open tickets the card lists.
OTHER_TICKETS = 10
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")
_QUEUE_PATH = re.compile(r"^/agent/queues?/(?P<slug>[-a-zA-Z0-9_]{1,50})/?$")


# --- access --------------------------------------------------------------------------------------


def is_htmx(request: HttpRequest) -> bool:
    """An htmx swap (not a history restore, which needs the whole page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def load_ticket(user: User, ref: str, need: Need = "view") -> Ticket:
    """The ticket with everything its header and requester card show, through the funnel."""
    queryset = Ticket.objects.for_list().select_related("requester__organisation", "created_by")
    return access_ticket(user, ref, need=need, queryset=queryset)


def ticket_url(ticket: Ticket, queue: str = "") -> str:
    url = reverse("agent:ticket", kwargs={"ref": ticket.number or ticket.pk})
    return f"{url}?{urlencode({'queue': queue})}" if queue else url


# --- the queue the agent came from ---------------------------------------------------------------


def queue_slug(request: HttpRequest) -> str:
    """``?queue=<slug>`` (carried by the queue's links and by this page's forms), else the
    queue page in the Referer, else nothing."""
    slug = request.GET.get("queue") or request.POST.get("queue") or ""
    if not slug:
        referer = urlparse(request.headers.get("Referer", ""))
        if referer.netloc in ("", request.get_host()):
            slug = (parse_qs(referer.query).get("queue") or [""])[0]
            match = _QUEUE_PATH.match(referer.path)
            if not slug and match:
                slug = match.group("slug")
            elif not slug and referer.path == reverse("agent:home"):
                slug = queues.DEFAULT_QUEUE
    return slug if _SLUG.fullmatch(slug) else ""


def my_team_ids(user: User) -> list[int]:
    return list(TeamMembership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))


def queue_tickets(user: User, slug: str) -> QuerySet[Ticket] | None:
    """The tickets of the queue ``slug`` in the queue's default order; ``None`` if unknown."""
    queue = queues.QUEUES_BY_SLUG.get(slug)
    if queue is None:
        return None
    return queues.order_tickets(queues.queue_tickets(queue, user),
                                queues.parse_ordering(None, queue.ordering))


def next_ticket(user: User, current: Ticket, slug: str) -> Ticket | None:
    """The ticket after ``current`` in the queue the agent came from; if that is unknown, the
    next open ticket of the agent's teams by creation time (wrapping round to the first)."""
    queue = queue_tickets(user, slug) if slug else None
    if queue is not None:
        keys = list(queue.values_list("pk", flat=True)[:2000])
        following = keys[keys.index(current.pk) + 1:] if current.pk in keys else keys
        return Ticket.objects.filter(pk=following[0]).first() if following else None
    pool = Ticket.objects.visible_to(user).open().exclude(pk=current.pk)
    if not user.sees_everything:
        pool = pool.filter(team_id__in=my_team_ids(user))
    pool = pool.order_by("created_at", "pk")
    after = pool.filter(Q(created_at__gt=current.created_at)
                        | Q(created_at=current.created_at, pk__gt=current.pk)).first()
    return after or pool.first()


# --- the timeline as people read it --------------------------------------------------------------


@dataclass
class Entry:
    """One timeline row ready for the template."""

    event: TicketEvent
    actor: str
    style: str  # "reply", "note", "internal", "message" or "change"
    label: str
    lines: list[SafeString] = field(default_factory=list)
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    #: "warning" / "danger" for SLA warnings and breaches (a coloured marker), else "".
    tone: str = ""

    @property
    def is_internal(self) -> bool:
        return not self.event.is_public


def _say(template: str, **values: Any) -> SafeString:
    """A translated sentence with its values escaped (the sentence is trusted, values are not)."""
    escaped = {k: conditional_escape(v) for k, v in values.items()}
    return mark_safe(conditional_escape(template) % escaped)  # noqa: S308 - escaped above


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _named(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or "—")
    return "—" if value in (None, "") else str(value)


_FIELD_VALUES: dict[str, Any] = {
    "type": TicketType, "impact": Level, "urgency": Level, "priority": Priority,
}


def _field_line(name: str, old: Any, new: Any) -> SafeString:
    if name == "is_major":
        return _say(_("flagged the ticket as a major incident") if new
                    else _("removed the major-incident flag"))
    if name == "description":
        return _say(_("edited the description"))
    try:
        label = str(getattr(Ticket._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:  # a field of older data still shows its name
        label = name
    choices = _FIELD_VALUES.get(name)
    old_shown = _label(choices, old) if choices and old is not None else _named(old)
    new_shown = _label(choices, new) if choices and new is not None else _named(new)
    return _say(_("changed %(field)s: %(old)s → %(new)s"),
                field=label, old=old_shown, new=new_shown)


def _assignment_line(event: TicketEvent) -> SafeString:
    data = event.data or {}
    old_team, new_team = (data.get("team") or [None, None])[:2]
    old_agent, new_agent = (data.get("assignee") or [None, None])[:2]
    if new_agent:
        if event.actor_id and new_agent.get("id") == event.actor_id and old_team == new_team:
            return _say(_("took the ticket"))
        target = _named(new_agent)
        if new_team and new_team != old_team:
            target = f"{target} ({_named(new_team)})"
        return _say(_("assigned to %(target)s"), target=target)
    if new_team and new_team != old_team:
        return _say(_("assigned to %(target)s"), target=_named(new_team))
    return _say(_("removed the assignee %(name)s"), name=_named(old_agent))


def _status_pair(data: dict[str, Any]) -> tuple[str, str]:
    old, new = (data.get("status") or [None, None])[:2]
    return _label(Status, old), _label(Status, new)


def present(events: QuerySet[TicketEvent] | list[TicketEvent]) -> list[Entry]:
    """Turn timeline events into readable rows: messages with their bodies and files, changes as
    one-liners ("Ольга Первова assigned to Network", "changed the status: New → Assigned")."""
    system = _("Opora (automatic)")
    entries = []
    for event in events:
        data = event.data or {}
        actor = event.actor.full_name if event.actor else system
        kind = event.kind
        entry = Entry(event=event, actor=actor, style="change", label=event.get_kind_display(),
                      body=event.body, attachments=list(event.attachments.all()))
        if kind == EventKind.CREATED:
            entry.style = "message"
            entry.lines = [_say(_("registered the ticket (%(channel)s)"),
                                channel=_label(Channel, event.channel))]
        elif kind == EventKind.REPLY:
            entry.style = "reply"
        elif kind == EventKind.NOTE:
            entry.style = "note"
        elif kind == EventKind.STATUS_CHANGED:
            old, new = _status_pair(data)
            entry.lines = [_say(_("changed the status: %(old)s → %(new)s"), old=old, new=new)]
        elif kind == EventKind.ASSIGNED:
            entry.lines = [_assignment_line(event)]
        elif kind == EventKind.ESCALATED:
            new_team = (data.get("team") or [None, None])[1]
            line = (data.get("line") or [None, None])[1]
            entry.lines = [_say(_("escalated to %(team)s (line %(line)s)"),
                                team=_named(new_team), line=_named(line))]
            if data.get("vendor_reference"):
                entry.lines.append(_say(_("vendor reference: %(ref)s"),
                                        ref=data["vendor_reference"]))
        elif kind == EventKind.FIELDS_CHANGED:
            entry.lines = [
                _field_line(name, *[*pair, None, None][:2])
                for name, pair in data.items() if isinstance(pair, list)
            ]
        elif kind == EventKind.RESOLVED:
            entry.lines = [_say(_("resolved the ticket: %(code)s"),
                                code=_label(ResolutionCode, data.get("code")))]
        elif kind == EventKind.CLOSED:
            entry.lines = [_say(_("confirmed the resolution and closed the ticket")
                                if data.get("confirmed_by_requester")
                                else _("closed the ticket"))]
        elif kind == EventKind.REOPENED:
            entry.lines = [_say(_("reopened the ticket"))]
        elif kind == EventKind.CANCELLED:
            entry.lines = [_say(_("cancelled the ticket"))]
        elif kind in (EventKind.WATCHER_ADDED, EventKind.WATCHER_REMOVED):
            watcher = data.get("watcher") or {}
            self_ = event.actor_id is not None and watcher.get("id") == event.actor_id
            if kind == EventKind.WATCHER_ADDED:
                line = _say(_("started watching")) if self_ else _say(
                    _("added %(name)s as a watcher"), name=_named(watcher))
            else:
                line = _say(_("stopped watching")) if self_ else _say(
                    _("removed the watcher %(name)s"), name=_named(watcher))
            entry.lines = [line]
        elif kind == EventKind.ATTACHMENT_ADDED:
            entry.lines = [_say(_("attached files"))]
        elif kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
            # Recorded by the worker's scan: an internal line, no body.
            entry.lines = [_say("%(text)s", text=sla.ticket_event_text(kind, data))]
            entry.tone = "danger" if kind == EventKind.SLA_BREACHED else "warning"
        if entry.style == "change" and not event.is_public and entry.body:
            entry.style = "internal"  # an escalation summary: internal text, set apart
        entries.append(entry)
    return entries


# --- the page ------------------------------------------------------------------------------------


@dataclass
class Choice:
    value: Any
    label: str


def _category_choices(categories: list[Category]) -> list[Choice]:
    by_id = {c.pk: c for c in categories}

    def path_of(c: Category) -> str:
        names: list[str] = []
        seen: set[int] = set()
        node: Category | None = c
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            names.append(node.display_name())
            node = by_id.get(node.parent_id) if node.parent_id else None
        return " › ".join(reversed(names))

    return sorted((Choice(c.pk, path_of(c)) for c in categories), key=lambda ch: ch.label)


def catalog_choices(category_id: int | None = None, service_id: int | None = None
                    ) -> tuple[list[Choice], list[Choice]]:
    """Active categories (as paths) and services, plus the ticket's own if retired since."""
    categories = list(Category.objects.filter(Q(is_active=True) | Q(pk=category_id)))
    services = sorted(
        (Choice(s.pk, s.display_name())
         for s in Service.objects.filter(Q(is_active=True) | Q(pk=service_id))),
        key=lambda ch: ch.label,
    )
    return _category_choices(categories), services


def team_members(team_id: int | str | None) -> list[User]:
    if not team_id:
        return []
    return list(f.staff_users().filter(memberships__team_id=team_id).order_by("full_name"))


def canned_responses(user: User, ticket: Ticket, team_ids: list[int]) -> list[CannedResponse]:
    """Active answers for every team or one of the agent's, in any language or the requester's."""
    language = (ticket.requester.language or settings.LANGUAGE_CODE or "")[:2]
    return list(
        CannedResponse.objects.filter(is_active=True, language__in=["", language])
        .filter(Q(team__isnull=True) | Q(team_id__in=team_ids))
        .only("id", "title", "body", "language")
    )


class AgreementForm(f.TicketForm):
    """The customer agreement set by hand; empty: the rules decide ("automatic")."""

    sla_agreement = ModelChoiceField(
        label=gettext_lazy("Agreement"), required=False,
        queryset=Agreement.objects.filter(is_active=True, kind=AgreementKind.SLA),
        empty_label=gettext_lazy("Automatic (by the rules)"),
    )

    def changes(self) -> dict[str, Any]:
        return {"sla_agreement": self.cleaned_data["sla_agreement"]}


#: The forms of the page: action name → (form class, the initial values it starts from).
FORM_CLASSES: dict[str, type[f.TicketForm]] = {
    "reply": f.MessageForm,
    "note": f.MessageForm,
    "status": f.StatusForm,
    "resolve": f.ResolveForm,
    "close": f.CloseForm,
    "reopen": f.ReasonForm,
    "cancel": f.ReasonForm,
    "assign": f.AssignForm,
    "take": f.TicketForm,
    "escalate": f.EscalateForm,
    "fields": f.FieldsForm,
    "watch": f.WatcherForm,
    "unwatch": f.RemoveWatcherForm,
    "sla": AgreementForm,
}


def _initial(name: str, ticket: Ticket) -> dict[str, Any]:
    if name == "assign":
        return {"team": ticket.team_id, "assignee": ticket.assignee_id}
    if name == "fields":
        return {"title": ticket.title, "type": ticket.type, "category": ticket.category_id,
                "service": ticket.service_id, "impact": ticket.impact,
                "urgency": ticket.urgency, "priority": "", "is_major": ticket.is_major}
    if name == "resolve":
        return {"code": ResolutionCode.FIXED}
    if name == "sla":
        return {"sla_agreement": ticket.sla_agreement_id}
    return {}


def sla_context(ticket: Ticket, user: User) -> dict[str, Any]:
    """The SLA card: the agreement in force and why, the current clocks' badges, the SLA
    timeline and the choices of the explicit-agreement control (three queries)."""
    now = timezone.now()
    agreements = sla.active_agreement_rows()
    clocks = sla.clocks_for_tickets([ticket.pk])[ticket.pk]
    return {
        "sla_applied": sla.applied_agreement(ticket, agreements),
        "sla_badges": [sla.badge(clock, now) for clock in clocks],
        "sla_timeline": sla.sla_timeline(ticket),
        "sla_choices": [a for a in agreements if a.kind == AgreementKind.SLA],
        "sla_hint": sla.duration_hint(True),
        "can_choose_agreement": sla.can_choose_agreement(user),
    }


def page_context(request: HttpRequest, ticket: Ticket, *, failed: tuple[str, Form] | None = None,
                 stale: str = "", notice: str = "") -> dict[str, Any]:
    user = _user(request)
    queue = queue_slug(request)
    forms: dict[str, Form] = {
        name: cls(initial=_initial(name, ticket), ticket=ticket, user=user,
                  auto_id=f"{name}-%s")
        for name, cls in FORM_CLASSES.items()
    }
    failed_name = ""
    if failed is not None:
        failed_name, forms[failed_name] = failed
    transitions = workflow.allowed_transitions(ticket, user)
    team_ids = my_team_ids(user)
    teams = list(Team.objects.filter(is_active=True))
    assign_team = forms["assign"]["team"].value()
    categories, services = catalog_choices(ticket.category_id, ticket.service_id)
    others = list(
        Ticket.objects.visible_to(user).open()
        .filter(requester_id=ticket.requester_id).exclude(pk=ticket.pk)
        .only("id", "number", "title", "status", "priority", "created_at")
        .order_by("-created_at")[: OTHER_TICKETS + 1]
    )
    is_open = ticket.status in OPEN_STATUSES
    can_take = is_open and ticket.assignee_id != user.pk and (
        ticket.team_id is None or ticket.team_id in team_ids)
    escalate_teams = [t for t in teams if t.line > ticket.current_line]
    shown: dict[str, bool] = {
        "status": any(t.action == "change_status" for t in transitions),
        **{t.action: True for t in transitions if t.action != "change_status"},
        "assign": is_open, "take": can_take, "escalate": is_open and bool(escalate_teams),
        "fields": ticket.status not in (Status.CLOSED, Status.CANCELLED),
        "reply": True, "note": True, "watch": True, "unwatch": True,
        "sla": sla.can_choose_agreement(user)
               and ticket.status not in (Status.CLOSED, Status.CANCELLED),
    }
    orphan = bool(failed_name) and not shown.get(failed_name, False)
    return {
        "ticket": ticket,
        "ref": ticket.number or ticket.pk,
        "queue": queue,
        "active_queue": queue,  # the sidebar marks the queue the agent came from
        "forms": forms,
        "failed": failed_name,
        "stale": stale,
        "notice": notice,
        "entries": present(selectors.timeline(ticket, user)),
        "watchers": list(ticket.watchers.order_by("full_name")),
        "other_tickets": others[:OTHER_TICKETS],
        "more_other_tickets": len(others) > OTHER_TICKETS,
        "canned": canned_responses(user, ticket, team_ids),
        # Operator scripts from the knowledge base join the canned responses in the picker.
        "kb_scripts": operator_scripts(
            user, (ticket.requester.language or settings.LANGUAGE_CODE or "ru")[:2]),
        "status_moves": [t for t in transitions if t.action == "change_status"],
        "transitions": {t.action: t for t in transitions if t.action != "change_status"},
        "is_open": is_open,
        "can_take": can_take,
        "teams": teams,
        "escalate_teams": escalate_teams,
        # The form that failed is gone from the page (the ticket moved on meanwhile): its
        # messages and its text are shown at the top instead, so nothing typed is lost.
        "orphan": orphan,
        "orphan_errors": _all_errors(forms[failed_name]) if orphan else [],
        "orphan_text": _typed_text(forms[failed_name]) if orphan else [],
        "members": team_members(assign_team),
        "categories": categories,
        "services": services,
        "levels": Level.choices,
        "priorities": Priority.choices,
        "types": TicketType.choices,
        "resolution_codes": ResolutionCode.choices,
        "waiting_line": ticket.current_line if ticket.current_line > 1
                        and ticket.assignee_id is None and is_open else None,
        "poll_seconds": POLL_SECONDS,
        "allowed_extensions": " ".join(sorted(ALLOWED_EXTENSIONS)),
        "max_upload_bytes": settings.OPORA_MAX_ATTACHMENT_BYTES,
        "next_url": reverse("agent:ticket-next", kwargs={"ref": ticket.number or ticket.pk})
                    + (f"?{urlencode({'queue': queue})}" if queue else ""),
        "page_url": ticket_url(ticket, queue),
        **sla_context(ticket, user),
    }


def _all_errors(form: Form) -> list[str]:
    return [str(message) for messages_ in form.errors.values() for message in messages_]


def _typed_text(form: Form) -> list[tuple[str, str]]:
    """The free text a person typed into a form (comments, reasons, resolutions)."""
    typed = []
    for name, field_ in form.fields.items():
        value = form.data.get(name, "") if form.is_bound else ""
        if isinstance(field_.widget, Textarea) and isinstance(value, str) and value.strip():
            typed.append((str(field_.label or name), value))
    return typed


def render_page(request: HttpRequest, ticket: Ticket, *, status: int = 200,
                **kwargs: Any) -> HttpResponse:
    context = page_context(request, ticket, **kwargs)
    if is_htmx(request):
        # htmx swaps only 2xx answers: errors come back as 200 with the messages in the fragment.
        return render(request, "agent/ticket/_main.html", context)
    return render(request, "agent/ticket/page.html", context, status=status)


@require_GET
def ticket_page(request: HttpRequest, ref: str) -> HttpResponse:
    user = request.user
    if user.is_authenticated and not queues.is_staff_user(user) and not is_htmx(request):
        # A requester who followed a workspace link: their own view of the request, where the
        # portal decides what they may see (another organisation's ticket is "not found").
        try:
            return redirect("portal:request", ref=ref)
        except NoReverseMatch:
            return redirect("portal:home")
    return _ticket_page(request, ref)


@staff_required
def _ticket_page(request: HttpRequest, ref: str) -> HttpResponse:
    ticket = load_ticket(_user(request), ref)
    return render_page(request, ticket)


# --- the actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    need: Need
    run: Callable[[User, Ticket, Any], str]
    #: A further check of the person's role, beyond what ``need`` asks of the ticket.
    allowed: Callable[[User], bool] | None = None


def _version(form: Any) -> int:
    return int(form.cleaned_data["version"])


def _reply(user: User, ticket: Ticket, form: Any) -> str:
    data = form.cleaned_data
    actions.reply(ticket, body=data["body"], attachments=data["attachments"], actor=user,
                  channel=WEB, expected_version=_version(form))
    return _("Reply sent.")


def _note(user: User, ticket: Ticket, form: Any) -> str:
    data = form.cleaned_data
    actions.add_note(ticket, body=data["body"], attachments=data["attachments"], actor=user,
                     channel=WEB, expected_version=_version(form))
    return _("Internal note added.")


def _status(user: User, ticket: Ticket, form: Any) -> str:
    actions.change_status(ticket, status=form.cleaned_data["status"],
                          comment=form.cleaned_data["comment"], actor=user, channel=WEB,
                          expected_version=_version(form))
    return _("Status changed.")


def _resolve(user: User, ticket: Ticket, form: Any) -> str:
    actions.resolve(ticket, code=form.cleaned_data["code"],
                    resolution=form.cleaned_data["resolution"], actor=user, channel=WEB,
                    expected_version=_version(form))
    return _("The ticket is resolved.")


def _close(user: User, ticket: Ticket, form: Any) -> str:
    actions.close(ticket, comment=form.cleaned_data["comment"], actor=user, channel=WEB,
                  expected_version=_version(form))
    return _("The ticket is closed.")


def _reopen(user: User, ticket: Ticket, form: Any) -> str:
    actions.reopen(ticket, reason=form.cleaned_data["reason"], actor=user, channel=WEB,
                   expected_version=_version(form))
    return _("The ticket is reopened.")


def _cancel(user: User, ticket: Ticket, form: Any) -> str:
    actions.cancel(ticket, reason=form.cleaned_data["reason"], actor=user, channel=WEB,
                   expected_version=_version(form))
    return _("The ticket is cancelled.")


def _assign(user: User, ticket: Ticket, form: Any) -> str:
    actions.assign(ticket, team=form.cleaned_data["team"], assignee=form.cleaned_data["assignee"],
                   actor=user, channel=WEB, expected_version=_version(form))
    return _("The ticket is assigned.")


def _take(user: User, ticket: Ticket, form: Any) -> str:
    actions.assign(ticket, assignee=user, actor=user, channel=WEB,
                   expected_version=_version(form))
    return _("The ticket is yours now.")


def _escalate(user: User, ticket: Ticket, form: Any) -> str:
    data = form.cleaned_data
    actions.escalate(ticket, to_team=data["to_team"], summary=data["summary"],
                     vendor_reference=data["vendor_reference"], actor=user, channel=WEB,
                     expected_version=_version(form))
    return _("The ticket is escalated.")


def _fields(user: User, ticket: Ticket, form: Any) -> str:
    actions.update_fields(ticket, changes=form.changes(), actor=user, channel=WEB,
                          expected_version=_version(form))
    return _("Changes saved.")


def _set_agreement(user: User, ticket: Ticket, form: Any) -> str:
    actions.update_fields(ticket, changes=form.changes(), actor=user, channel=WEB,
                          expected_version=_version(form))
    return _("The agreement of the ticket is changed.")


def _watch(user: User, ticket: Ticket, form: Any) -> str:
    # Watchers are a set: adding or removing one cannot overwrite anyone's work, so the action
    # takes no version (the form carries it all the same).
    actions.add_watcher(ticket, user=form.cleaned_data["user"], actor=user, channel=WEB)
    return _("Watcher added.")


def _unwatch(user: User, ticket: Ticket, form: Any) -> str:
    actions.remove_watcher(ticket, user=form.cleaned_data["user"], actor=user, channel=WEB)
    return _("Watcher removed.")


STEPS: dict[str, Step] = {
    "reply": Step("reply", _reply),
    "note": Step("note", _note),
    "status": Step("work", _status),
    "resolve": Step("work", _resolve),
    "close": Step("work", _close),
    "reopen": Step("work", _reopen),
    "cancel": Step("work", _cancel),
    "assign": Step("work", _assign),
    "take": Step("work", _take),
    "escalate": Step("work", _escalate),
    "fields": Step("work", _fields),
    "watch": Step("work", _watch),
    "unwatch": Step("work", _unwatch),
    "sla": Step("work", _set_agreement, allowed=sla.can_choose_agreement),
}


def _bound_form(name: str, request: HttpRequest, ticket: Ticket, user: User) -> Any:
    form = FORM_CLASSES[name](request.POST, request.FILES, ticket=ticket, user=user,
                              auto_id=f"{name}-%s")
    if name == "watch":
        field_ = form.fields["user"]
        assert isinstance(field_, ModelChoiceField)
        field_.queryset = users_visible_to(user).filter(is_active=True)
    return form


@require_POST
@staff_required
def ticket_action(request: HttpRequest, ref: str, name: str) -> HttpResponse:
    step = STEPS.get(name)
    if step is None:
        raise Http404
    user = _user(request)
    ticket = load_ticket(user, ref, need=step.need)
    if step.allowed is not None and not step.allowed(user):
        raise PermissionDenied(_("You are not allowed to do this on this ticket."))
    form = _bound_form(name, request, ticket, user)
    if not form.is_valid():
        return render_page(request, ticket, failed=(name, form), status=400)
    try:
        message = step.run(user, ticket, form)
    except StaleTicket as exc:
        # Someone else changed the ticket: show its current state and keep what was typed.
        return render_page(request, load_ticket(user, ref), failed=(name, form),
                           stale=exc.message, status=409)
    except ActionError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return render_page(request, load_ticket(user, ref), failed=(name, form), status=400)
    queue = queue_slug(request)
    try:
        ticket = load_ticket(user, ref)
    except Http404:
        # Handed over to a team the agent is not in: the ticket has left their sight, so they
        # go back to the queue they came from.
        messages.success(request, message)
        return _leave(request, queue)
    if is_htmx(request):
        return render_page(request, ticket, notice=message)
    messages.success(request, message)
    return redirect(ticket_url(ticket, queue))


def _leave(request: HttpRequest, queue: str) -> HttpResponse:
    target = (reverse("agent:queue", args=[queue]) if queue in queues.QUEUES_BY_SLUG
              else reverse("agent:home"))
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


# --- small endpoints -----------------------------------------------------------------------------


@require_GET
@staff_required
def version_poll(request: HttpRequest, ref: str) -> HttpResponse:
    """Has the ticket changed since the page was drawn? 204 if not; else a banner naming who
    changed it last (status 286 tells htmx to stop polling). One query besides the session."""
    last_actor = TicketEvent.objects.filter(ticket_id=OuterRef("pk")).order_by("-created_at", "-id")
    ticket = access_ticket(
        _user(request), ref,
        queryset=Ticket.objects.only("pk", "number", "version").annotate(
            last_actor=Subquery(last_actor.values("actor__full_name")[:1]),
            last_actor_id=Subquery(last_actor.values("actor_id")[:1]),
        ),
    )
    seen = request.GET.get("v", "")
    if not seen.isascii() or not seen.isdigit() or int(seen) == ticket.version:
        return HttpResponse(status=204)
    context = {"ticket": ticket, "by_me": ticket.last_actor_id == request.user.pk,  # type: ignore[attr-defined]
               "page_url": ticket_url(ticket, queue_slug(request))}
    return render(request, "agent/ticket/_changed.html", context, status=286)


@require_GET
@staff_required
def go_next(request: HttpRequest, ref: str) -> HttpResponse:
    """The ``J`` / ``]`` shortcut: open the next ticket of the queue the agent came from."""
    user = _user(request)
    current = access_ticket(user, ref, queryset=Ticket.objects.only("pk", "created_at", "number"))
    queue = queue_slug(request)
    following = next_ticket(user, current, queue)
    if following is None:
        messages.info(request, _("No more tickets in this queue."))
        return redirect(ticket_url(current, queue))
    return redirect(ticket_url(following, queue))


@require_GET
@staff_required
def team_members_options(request: HttpRequest) -> HttpResponse:
    """The agent ``<option>``s of one team, for the assign dialog (htmx)."""
    team = request.GET.get("team", "")
    members = team_members(team) if team.isascii() and team.isdigit() else []
    return render(request, "agent/ticket/_member_options.html",
                  {"members": members, "selected": request.GET.get("assignee", "")})


@require_GET
@staff_required
def watcher_search(request: HttpRequest, ref: str) -> HttpResponse:
    """People who may watch the ticket (the service desk, the requester's organisation),
    among those the agent may see, by name or email."""
    user = _user(request)
    ticket = access_ticket(user, ref, need="work")
    text = request.GET.get("q", "").replace("\x00", "").strip()
    people: list[User] = []
    if len(text) >= 2:
        people = list(
            users_visible_to(user)
            .filter(is_active=True)
            .filter(Q(role__in=STAFF_ROLES) | Q(organisation_id=ticket.organisation_id)
                    if ticket.organisation_id else Q(role__in=STAFF_ROLES))
            .filter(Q(full_name__icontains=text) | Q(email__icontains=text))
            .exclude(pk__in=ticket.watchers.values("pk"))
            .order_by("full_name")[:10]
        )
    return render(request, "agent/ticket/_watcher_results.html",
                  {"people": people, "ticket": ticket, "text": text,
                   "queue": queue_slug(request)})


REF = "<str:ref>"

urlpatterns: list[URLPattern] = [
    path(f"tickets/{REF}/", ticket_page, name="ticket"),
    path(f"tickets/{REF}/version/", version_poll, name="ticket-version"),
    path(f"tickets/{REF}/next/", go_next, name="ticket-next"),
    path(f"tickets/{REF}/watchers/search/", watcher_search, name="ticket-watcher-search"),
    path(f"tickets/{REF}/<slug:name>/", ticket_action, name="ticket-action"),
    path("team-members/", team_members_options, name="team-members"),
]
