"""Bulk-seed a benchmark database with N tickets and realistic timelines — fast.

    OPORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/opora_bench \\
        .venv/bin/python bench/seed.py --tickets 100000

(Without ``OPORA_DATABASE_URL`` it seeds the SQLite database under ``OPORA_VAR_DIR``.)

This is a benchmark fixture, not a data import: it deliberately BYPASSES ``tickets.actions``.
The actions open one transaction per change, lock the ticket row, check the workflow and queue a
notification after commit — right for real use and far too slow for a million tickets. Here
rows are built in memory and written with ``bulk_create`` in batches, one transaction per batch.
The timelines imitate what the actions write (the same event kinds, the same ``data`` shapes,
an ``assigned`` followed by ``status_changed`` and so on) and the tickets' denormalised fields
(status, team, assignee, line, first response, resolved/closed times, version) agree with their
timelines, but no workflow rule is checked and no notification is queued. Attachments are not
seeded (they would need files).

Primary keys are allocated here (after the current maximum), so ``number`` is set in the same
INSERT exactly as ``Ticket.make_number`` does (``INC-000123``); the sequences are reset at the
end so the application keeps numbering after the seeded rows.

The database is migrated first; the accounts the load test logs in with are created (password
``opora-bench``) and printed. Running it again adds N more tickets.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opora.settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:  # run as a script; under pytest Django is already set up
    django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from opora.accounts.models import Line, Organisation, Role, Team, TeamMembership, User  # noqa: E402
from opora.catalog.models import Category, Service  # noqa: E402
from opora.tickets.choices import (  # noqa: E402
    DEFAULT_PRIORITY_MATRIX,
    Channel,
    EventKind,
    ResolutionCode,
    Status,
    TicketType,
)
from opora.tickets.models import Ticket, TicketEvent  # noqa: E402

PASSWORD = "opora-bench"
AGENT_EMAIL = "agent@bench.local"
MANAGER_EMAIL = "manager@bench.local"
REQUESTER_EMAIL = "requester@bench.local"

# (name, line, agents); the first agent of the first team is AGENT_EMAIL.
TEAMS = [
    ("Bench service desk", Line.L1, 6),
    ("Bench network", Line.L2, 2),
    ("Bench workplaces", Line.L2, 2),
    ("Bench business apps", Line.L2, 2),
    ("Bench infrastructure", Line.L3, 2),
    ("Bench vendor", Line.L4, 1),
]
# (code, name, name_en, owner team index)
SERVICES = [
    ("bench-email", "Электронная почта", "Email", 1),
    ("bench-vpn", "Удалённый доступ (VPN)", "Remote access (VPN)", 1),
    ("bench-workplace", "Рабочее место", "Workplace", 2),
    ("bench-printing", "Печать", "Printing", 2),
    ("bench-1c", "1С:Бухгалтерия", "1C:Accounting", 3),
    ("bench-crm", "CRM", "CRM", 3),
    ("bench-storage", "Файловое хранилище", "File storage", 4),
    ("bench-erp-vendor", "ERP (подрядчик)", "ERP (vendor)", 5),
]
# (category code from the default tree, service code, type, (ru title, ru text), (en title, en text))
SUBJECTS = [
    ("hardware", "bench-printing", TicketType.INCIDENT,
     ("Не печатает принтер", "Принтер выдаёт ошибку 49.4C02, очередь печати стоит."),
     ("Printer does not print", "The printer shows error 49.4C02 and the queue is stuck.")),
    ("network", "bench-vpn", TicketType.INCIDENT,
     ("Не подключается VPN", "При подключении к VPN ошибка 809, вчера всё работало."),
     ("VPN does not connect", "Connecting to the VPN fails with error 809; it worked yesterday.")),
    ("software", "bench-1c", TicketType.INCIDENT,
     ("1С зависает при проведении", "При проведении реализации 1С зависает на несколько минут."),
     ("1C hangs when posting", "Posting a sales document freezes 1C for several minutes.")),
    ("user-support", "bench-email", TicketType.REQUEST,
     ("Сбросить пароль почты", "Не могу войти в почту, прошу сбросить пароль."),
     ("Reset my mail password", "I cannot log into my mailbox, please reset the password.")),
    ("service-request", "bench-workplace", TicketType.REQUEST,
     ("Рабочее место для нового сотрудника", "С понедельника выходит новый сотрудник, нужен ПК."),
     ("Workplace for a new hire", "A new colleague starts on Monday and needs a PC.")),
    ("performance", "bench-storage", TicketType.INCIDENT,
     ("Медленно открываются файлы", "Файлы на общем диске открываются по минуте."),
     ("Shared drive is slow", "Files on the shared drive take a minute to open.")),
    ("consulting", "bench-crm", TicketType.QUESTION,
     ("Как выгрузить отчёт из CRM", "Подскажите, как выгрузить отчёт по сделкам в Excel."),
     ("How to export a CRM report", "How do I export the deals report to Excel?")),
    ("software", "bench-erp-vendor", TicketType.INCIDENT,
     ("Ошибка обмена с ERP", "Обмен с ERP падает с ошибкой таймаута каждую ночь."),
     ("ERP exchange fails", "The nightly ERP exchange fails with a timeout.")),
    ("security", "bench-email", TicketType.INCIDENT,
     ("Подозрительное письмо", "Пришло письмо со ссылкой на «обновление пароля»."),
     ("Suspicious email", "I received an email with a 'password update' link.")),
    ("other", None, TicketType.QUESTION,
     ("Вопрос по доступу", "Кому написать, чтобы получить доступ к папке отдела?"),
     ("Access question", "Whom do I ask for access to the department folder?")),
]
REPLIES = {
    "ru": ["Здравствуйте! Заявку приняли, уже смотрим.", "Перезагрузите, пожалуйста, компьютер и "
           "проверьте снова.", "Подключились удалённо, проверяем настройки."],
    "en": ["Hello! We have your request and are looking into it.", "Please restart the computer "
           "and try again.", "We connected remotely and are checking the settings."],
}
REQUESTER_REPLIES = {
    "ru": ["Есть новости?", "Спасибо, всё работает!", "Ошибка повторяется, скриншот приложил."],
    "en": ["Any news?", "Thank you, it works now!", "It happens again, see the screenshot."],
}
NOTES = ["Проверено на L1: перезагрузка не помогла, ошибка воспроизводится.",
         "Похоже на проблему с драйвером, нужна удалённая сессия.",
         "Checked the logs: the service restarted at 03:12."]
RESOLUTIONS = {"ru": "Проблема устранена, проверьте, пожалуйста.",
               "en": "The issue is fixed, please check."}
CHANNELS = [Channel.PORTAL] * 35 + [Channel.EMAIL] * 25 + [Channel.PHONE] * 15 + \
    [Channel.API] * 5 + [Channel.MONITORING] * 8 + [Channel.MESSENGER] * 7 + [Channel.CHAT] * 5
TYPES_BY_WEIGHT = [TicketType.INCIDENT] * 6 + [TicketType.REQUEST] * 3 + [TicketType.QUESTION]
# Final status of a ticket: recent tickets are still being worked, old ones are mostly closed.
RECENT_DAYS = 14
RECENT_STATUS = ([Status.NEW] * 12 + [Status.ASSIGNED] * 10 + [Status.IN_PROGRESS] * 18
                 + [Status.WAITING_REQUESTER] * 8 + [Status.WAITING_VENDOR] * 4
                 + [Status.RESOLVED] * 22 + [Status.CLOSED] * 20 + [Status.CANCELLED] * 6)
# Old tickets: a few are forgotten open ones (about 1.5 %), the rest finished.
OLD_STATUS = ([Status.CLOSED] * 880 + [Status.RESOLVED] * 15 + [Status.CANCELLED] * 90
              + [Status.NEW] * 1 + [Status.ASSIGNED] * 3 + [Status.IN_PROGRESS] * 6
              + [Status.WAITING_REQUESTER] * 3 + [Status.WAITING_VENDOR] * 2)
ESCALATION_RATE = 0.25
WATCHER_RATE = 0.05


@dataclass
class World:
    """Everything tickets refer to, as plain ids and names (no model instances in the loop)."""

    teams: list[dict[str, Any]]  # {"id", "name", "line", "agents": [{"id", "name"}]}
    requesters: list[tuple[int, int, str, str]]  # (id, organisation id, name, language)
    by_org: dict[int, list[int]]  # organisation id -> requester ids
    categories: dict[str, int]
    services: dict[str, tuple[int, int]]  # code -> (id, owner team index)


@dataclass
class SeedResult:
    tickets: int = 0
    events: int = 0
    watchers: int = 0
    seconds: float = 0.0
    first_id: int = 0
    last_id: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.tickets + self.events + self.watchers


def _bulk_users(rows: list[dict[str, Any]], password_hash: str) -> None:
    emails = [r["email"] for r in rows]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    User.objects.bulk_create(
        [User(password=password_hash, **r) for r in rows if r["email"] not in existing],
        batch_size=500,
    )


def ensure_world(requesters: int, organisations: int) -> World:
    """Create (or reuse) the teams, agents, organisations, requesters and services."""
    password_hash = make_password(PASSWORD)  # hashed once: PBKDF2 per user would take minutes
    with transaction.atomic():
        provider, _ = Organisation.objects.get_or_create(
            name="Bench provider", defaults={"short_name": "Provider", "email_domain": "bench.local"})
        orgs = []
        for i in range(organisations):
            org, _ = Organisation.objects.get_or_create(
                name=f"Bench client {i + 1:03d}",
                defaults={"short_name": f"Client {i + 1}", "email_domain": f"client{i + 1}.bench"})
            orgs.append(org)
        staff_rows = [{"email": MANAGER_EMAIL, "full_name": "Bench Manager",
                       "role": Role.DESK_MANAGER, "organisation_id": provider.pk}]
        team_specs: list[tuple[Team, list[str]]] = []
        for t, (name, line, agents) in enumerate(TEAMS):
            team, _ = Team.objects.get_or_create(name=name, defaults={"line": line})
            emails = []
            for a in range(agents):
                email = AGENT_EMAIL if (t, a) == (0, 0) else f"agent{t}.{a}@bench.local"
                emails.append(email)
                staff_rows.append({
                    "email": email, "full_name": f"Agent {t}.{a}",
                    "role": Role.TEAM_LEAD if a == 0 and t > 0 else Role.AGENT,
                    "organisation_id": provider.pk,
                })
            team_specs.append((team, emails))
        _bulk_users(staff_rows, password_hash)
        staff = {u.email: u for u in User.objects.filter(email__in=[r["email"] for r in staff_rows])}
        teams = []
        for team, emails in team_specs:
            for email in emails:
                TeamMembership.objects.get_or_create(team=team, user=staff[email])
            teams.append({"id": team.pk, "name": team.name, "line": team.line,
                          "agents": [{"id": staff[e].pk, "name": staff[e].full_name}
                                     for e in emails]})

        rows = [{"email": REQUESTER_EMAIL, "full_name": "Bench Requester", "role": Role.REQUESTER,
                 "organisation_id": orgs[0].pk}]
        for i in range(1, requesters):
            org = orgs[i % len(orgs)]
            rows.append({"email": f"user{i:05d}@{org.email_domain}",
                         "full_name": f"Requester {i:05d}", "role": Role.REQUESTER,
                         "organisation_id": org.pk, "language": "en" if i % 4 == 0 else "ru"})
        _bulk_users(rows, password_hash)
        people = list(User.objects.filter(email__in=[r["email"] for r in rows])
                      .order_by("id").values_list("id", "organisation_id", "full_name", "language"))
        by_org: dict[int, list[int]] = {}
        for pk, org_id, _name, _lang in people:
            by_org.setdefault(org_id, []).append(pk)

        services = {}
        for code, name, name_en, owner in SERVICES:
            service, _ = Service.objects.get_or_create(
                code=code, defaults={"name": name, "name_en": name_en,
                                     "owner_team_id": teams[owner]["id"]})
            services[code] = (service.pk, owner)
        categories = dict(Category.objects.values_list("code", "id"))
    return World(teams=teams, requesters=[(p, o, n, lang or "ru") for p, o, n, lang in people],
                 by_org=by_org, categories=categories, services=services)


def logins_text() -> str:
    return (f"Log in with (password {PASSWORD}):\n"
            f"  {AGENT_EMAIL:<24} agent, L1 team 'Bench service desk' (sees that team's tickets)\n"
            f"  {MANAGER_EMAIL:<24} service desk manager (sees every ticket)\n"
            f"  {REQUESTER_EMAIL:<24} requester (sees own tickets)")


def _person(p: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if p is None else {"id": p["id"], "name": p["name"]}


def _team(t: dict[str, Any]) -> dict[str, Any]:
    return {"id": t["id"], "name": t["name"]}


def build_ticket(rng: random.Random, world: World, pk: int, created: datetime, now: datetime,
                 event_id: int) -> tuple[Ticket, list[TicketEvent]]:
    """One ticket and its timeline, walked the way the actions would have written it."""
    req_id, org_id, _req_name, lang = rng.choice(world.requesters)
    cat, svc, ttype, ru, en = rng.choice(SUBJECTS)
    if ttype == TicketType.INCIDENT and rng.random() < 0.3:
        ttype = rng.choice(TYPES_BY_WEIGHT)
    title, text = en if lang == "en" else ru
    title = f"{title} (#{rng.randint(100, 999)})"
    channel = rng.choice(CHANNELS)
    impact, urgency = rng.choice([1, 2, 2, 2, 3, 3]), rng.choice([1, 2, 2, 3])
    recent = (now - created).days < RECENT_DAYS
    status = rng.choice(RECENT_STATUS if recent else OLD_STATUS)
    l1 = world.teams[0]
    agent = rng.choice(l1["agents"])
    if channel in (Channel.PORTAL, Channel.API, Channel.EMAIL):
        creator: int | None = req_id
    elif channel == Channel.MONITORING:
        creator = None
    else:
        creator = agent["id"]

    events: list[TicketEvent] = []
    t = created
    versions = 1

    def step(minutes_lo: float, minutes_hi: float) -> None:
        nonlocal t
        t = min(t + timedelta(minutes=rng.uniform(minutes_lo, minutes_hi)), now)

    def add(kind: str, actor: int | None, ch: str, *, public: bool = True, body: str = "",
            data: dict[str, Any] | None = None) -> None:
        events.append(TicketEvent(
            id=event_id + len(events), ticket_id=pk, kind=kind, actor_id=actor, channel=ch,
            is_public=public, body=body, data=data or {}, created_at=t))

    def move(old: str, new: str, actor: int | None, ch: str = Channel.WEB) -> str:
        add(EventKind.STATUS_CHANGED, actor, ch, data={"status": [old, new]})
        return new

    add(EventKind.CREATED, creator, channel, body=text, data={"title": title})
    ticket = Ticket(
        id=pk, number=Ticket.make_number(ttype, pk), type=ttype, title=title, description=text,
        requester_id=req_id, organisation_id=org_id, channel=channel,
        category_id=world.categories.get(cat),
        service_id=world.services[svc][0] if svc else None, impact=impact, urgency=urgency,
        priority=DEFAULT_PRIORITY_MATRIX[(impact, urgency)], status=Status.NEW,
        team_id=l1["id"], current_line=l1["line"],
        is_major=impact == 1 and urgency == 1 and rng.random() < 0.05,
        created_by_id=creator, created_at=created,
    )
    state = Status.NEW
    if status == Status.NEW:
        if rng.random() < 0.5:
            step(30, 600)
            add(EventKind.REPLY, req_id, Channel.PORTAL, body=rng.choice(REQUESTER_REPLIES[lang]))
            versions += 1
    else:
        # Triage: the L1 agent takes the ticket (assigned + new -> assigned, one action).
        step(2, 30)
        add(EventKind.ASSIGNED, agent["id"], Channel.WEB, public=False,
            data={"team": [_team(l1), _team(l1)], "assignee": [None, _person(agent)]})
        state = move(state, Status.ASSIGNED, agent["id"])
        ticket.assignee_id = agent["id"]
        versions += 1
    worker, team = agent, l1
    if status == Status.CANCELLED:
        step(10, 600)
        add(EventKind.CANCELLED, req_id, Channel.PORTAL, body="Уже не актуально.",
            data={"status": [state, Status.CANCELLED]})
        state = Status.CANCELLED
        ticket.closed_at = t
        versions += 1
    elif status == Status.ASSIGNED:
        if rng.random() < 0.5:
            step(5, 120)
            add(EventKind.NOTE, agent["id"], Channel.WEB, public=False, body=rng.choice(NOTES))
            versions += 1
    elif status != Status.NEW:
        # First response, then into work.
        step(1, 20)
        add(EventKind.REPLY, agent["id"], Channel.WEB, body=rng.choice(REPLIES[lang]))
        ticket.first_response_at = t
        state = move(state, Status.IN_PROGRESS, agent["id"])
        versions += 2
        owner = world.teams[world.services[svc][1]] if svc else l1
        vendor = owner["line"] == Line.L4
        if (vendor and status == Status.WAITING_VENDOR) or (
                owner["line"] > Line.L1 and rng.random() < ESCALATION_RATE):
            step(5, 60)
            add(EventKind.NOTE, agent["id"], Channel.WEB, public=False, body=rng.choice(NOTES))
            reference = f"VND-{rng.randint(10000, 99999)}" if vendor else ""
            add(EventKind.ESCALATED, agent["id"], Channel.WEB, public=False, body=NOTES[0],
                data={"team": [_team(l1), _team(owner)], "assignee": [_person(agent), None],
                      "line": [l1["line"], owner["line"]], "vendor_reference": reference})
            state = move(state, Status.WAITING_VENDOR if vendor else Status.ASSIGNED, agent["id"])
            team, worker = owner, None
            ticket.team_id, ticket.assignee_id = owner["id"], None
            ticket.current_line, ticket.escalated_at = owner["line"], t
            ticket.vendor_reference = reference
            versions += 2
            if not vendor:
                worker = rng.choice(owner["agents"])
                step(10, 240)
                add(EventKind.ASSIGNED, worker["id"], Channel.WEB, public=False,
                    data={"team": [_team(owner), _team(owner)],
                          "assignee": [None, _person(worker)]})
                state = move(state, Status.IN_PROGRESS, worker["id"])
                ticket.assignee_id = worker["id"]
                versions += 2
        if status == Status.WAITING_REQUESTER:
            step(5, 120)
            state = move(state, Status.WAITING_REQUESTER, worker["id"] if worker else None)
            versions += 1
        elif status == Status.WAITING_VENDOR and state != Status.WAITING_VENDOR:
            step(5, 120)
            state = move(state, Status.WAITING_VENDOR, worker["id"] if worker else None)
            versions += 1
        elif status in (Status.RESOLVED, Status.CLOSED):
            step(30, 30 * 60)
            code = {TicketType.QUESTION: ResolutionCode.ANSWERED,
                    TicketType.REQUEST: ResolutionCode.FULFILLED}.get(ttype, ResolutionCode.FIXED)
            resolver = worker or rng.choice(team["agents"])
            add(EventKind.RESOLVED, resolver["id"], Channel.WEB, body=RESOLUTIONS[lang],
                data={"status": [state, Status.RESOLVED], "code": code})
            state = Status.RESOLVED
            ticket.resolution_code, ticket.resolution = code, RESOLUTIONS[lang]
            ticket.resolved_at = t
            versions += 1
            if status == Status.CLOSED:
                confirmed = rng.random() < 0.7
                step(60, 48 * 60)
                if confirmed and rng.random() < 0.4:
                    add(EventKind.REPLY, req_id, Channel.PORTAL, body=REQUESTER_REPLIES[lang][1])
                    versions += 1
                add(EventKind.CLOSED, req_id if confirmed else None,
                    Channel.PORTAL if confirmed else Channel.SYSTEM,
                    data={"status": [state, Status.CLOSED], "confirmed_by_requester": confirmed})
                state = Status.CLOSED
                ticket.closed_at = t
                versions += 1
    ticket.status = state
    ticket.version = versions
    ticket.updated_at = events[-1].created_at
    return ticket, events


def _next_id(model: type[Ticket] | type[TicketEvent]) -> int:
    return (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def _reset_sequences() -> None:
    # PostgreSQL identity sequences do not move when ids are given explicitly; SQLite's do.
    statements = connection.ops.sequence_reset_sql(
        no_style(), [Ticket, TicketEvent, Ticket.watchers.through])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def seed(
    tickets: int,
    *,
    batch_size: int = 2000,
    days: int = 365,
    seed: int = 2026,
    requesters: int | None = None,
    organisations: int | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = print,
) -> SeedResult:
    """Write ``tickets`` tickets with their timelines (and some watchers), in batches.

    Creation times are spread evenly over the last ``days`` days, oldest first, so ids grow with
    ``created_at`` as they do in real life. Returns what was written and how long it took.
    """
    rng = random.Random(seed)
    now = now or timezone.now()
    requesters = requesters or max(50, min(20_000, tickets // 50))
    organisations = organisations or max(3, min(100, requesters // 100))
    started = time.perf_counter()
    world = ensure_world(requesters, organisations)
    if progress:
        progress(f"World: {len(world.teams)} teams, {sum(len(t['agents']) for t in world.teams)} "
                 f"agents, {len(world.by_org)} organisations, {len(world.requesters)} requesters")
        progress(logins_text())
    result = SeedResult()
    ticket_id, event_id = _next_id(Ticket), _next_id(TicketEvent)
    result.first_id = ticket_id
    span = timedelta(days=days).total_seconds()
    start = now - timedelta(days=days)
    through = Ticket.watchers.through
    statuses: dict[str, int] = {}
    done = 0
    while done < tickets:
        count = min(batch_size, tickets - done)
        batch_tickets: list[Ticket] = []
        batch_events: list[TicketEvent] = []
        batch_watchers = []
        for i in range(done, done + count):
            created = start + timedelta(seconds=span * (i + rng.random()) / tickets)
            ticket, events = build_ticket(rng, world, ticket_id, created, now, event_id)
            batch_tickets.append(ticket)
            batch_events.extend(events)
            statuses[ticket.status] = statuses.get(ticket.status, 0) + 1
            if rng.random() < WATCHER_RATE:
                colleague = rng.choice(world.by_org[ticket.organisation_id])
                if colleague != ticket.requester_id:
                    batch_watchers.append(through(ticket_id=ticket_id, user_id=colleague))
            ticket_id += 1
            event_id += len(events)
        with transaction.atomic():
            Ticket.objects.bulk_create(batch_tickets, batch_size=1000)
            TicketEvent.objects.bulk_create(batch_events, batch_size=1000)
            through.objects.bulk_create(batch_watchers, batch_size=1000)
        done += count
        result.tickets += count
        result.events += len(batch_events)
        result.watchers += len(batch_watchers)
        if progress:
            elapsed = time.perf_counter() - started
            progress(f"  {done:>9,}/{tickets:,} tickets  {result.events:>10,} events  "
                     f"{elapsed:7.1f} s  {done / elapsed:8,.0f} tickets/s  "
                     f"{result.rows / elapsed:9,.0f} rows/s")
    _reset_sequences()
    result.last_id = ticket_id - 1
    result.seconds = time.perf_counter() - started
    result.statuses = dict(sorted(statuses.items(), key=lambda kv: -kv[1]))
    return result


def analyze() -> None:
    """Fresh planner statistics (and, on PostgreSQL, a visibility map for index-only scans):
    what autovacuum would do some minutes after a bulk load."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Every table: autovacuum never analyzes tables as small as teams or services.
            cursor.execute("VACUUM (ANALYZE)")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000, help="tickets per transaction")
    parser.add_argument("--days", type=int, default=365, help="spread creation over N days")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (same data each run)")
    parser.add_argument("--requesters", type=int, help="default: tickets/50, 50..20000")
    parser.add_argument("--no-analyze", action="store_true")
    args = parser.parse_args(argv)

    db = connection.settings_dict
    print(f"Database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
    overall = t0 = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    print(f"Migrated in {time.perf_counter() - t0:.1f} s")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MB for this connection
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")  # a fixture: losing it is fine
    result = seed(args.tickets, batch_size=args.batch, days=args.days, seed=args.seed,
                  requesters=args.requesters)
    print(f"Seeded {result.tickets:,} tickets (ids {result.first_id}..{result.last_id}), "
          f"{result.events:,} events ({result.events / max(result.tickets, 1):.2f} per ticket), "
          f"{result.watchers:,} watchers in {result.seconds:.1f} s: "
          f"{result.tickets / result.seconds:,.0f} tickets/s, {result.rows / result.seconds:,.0f} rows/s")
    print("Statuses: " + ", ".join(f"{k} {v:,}" for k, v in result.statuses.items()))
    if not args.no_analyze:
        t0 = time.perf_counter()
        analyze()
        print(f"Analyzed in {time.perf_counter() - t0:.1f} s")
    print(f"SEED_SECONDS={result.seconds:.1f} SEED_TICKETS={result.tickets} "
          f"SEED_EVENTS={result.events} SEED_TOTAL_SECONDS={time.perf_counter() - overall:.1f}")
    print(logins_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
