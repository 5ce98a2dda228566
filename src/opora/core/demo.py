"""Demo data: organisations, teams on lines L1–L3 (and a vendor on L4), people, services and a
few hundred realistic tickets in Russian and English with their conversations.

Every ticket is made through the ticket actions, so the demo timelines are exactly what real use
produces. The random generator is seeded: the same command gives the same data.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from opora.accounts.models import Department, Line, Organisation, Role, Team, TeamMembership, User
from opora.catalog.models import Category, Service
from opora.kb import demo as kb_demo
from opora.sla import actions as sla_actions
from opora.sla import engine as sla_engine
from opora.sla.choices import AgreementKind, Metric, PenaltyKind
from opora.sla.models import Agreement, Calendar
from opora.tickets import actions
from opora.tickets.choices import Channel, ResolutionCode, Status, TicketType
from opora.tickets.models import Ticket

PASSWORD = "opora-demo"  # noqa: S105 - a published demo password, for demo data only


@dataclass(frozen=True)
class Login:
    email: str
    full_name: str
    role: str
    what: str


LOGINS = [
    Login("admin@opora.local", "Администратор Опоры", Role.ADMIN, "administrator"),
    Login("manager@opora.local", "Мария Руководова", Role.DESK_MANAGER, "service desk manager"),
    Login("l1@opora.local", "Ольга Первова", Role.AGENT, "L1 agent (Service desk)"),
    Login("l2.network@opora.local", "Сергей Сетевой", Role.AGENT, "L2 agent (Network)"),
    Login("l2.apps@opora.local", "Irina Appleton", Role.TEAM_LEAD, "L2 team lead (1C / business apps)"),
    Login("user@sever.example", "Пётр Пользователев", Role.REQUESTER, "requester, Северный ветер"),
    Login("boss@sever.example", "Анна Начальникова", Role.ORG_MANAGER, "organisation manager, Северный ветер"),
    Login("john@globex.example", "John Smith", Role.REQUESTER, "requester, Globex (English)"),
]


def logins_text() -> str:
    width = max(len(login.email) for login in LOGINS)
    lines = [f"Demo logins (password for all: {PASSWORD}):"]
    lines += [f"  {login.email.ljust(width)}  {login.what}" for login in LOGINS]
    return "\n".join(lines)


ORGS = [
    ("ООО «Северный ветер»", "Северный ветер", "sever.example", ["Бухгалтерия", "Продажи", "Склад"]),
    ("АО «ТехноСтрой»", "ТехноСтрой", "tehnostroy.example", ["Проектный отдел", "Администрация"]),
    ("Globex Ltd", "Globex", "globex.example", ["Finance", "Operations"]),
]

TEAMS = [
    ("Service desk", Line.L1, "first line"),
    ("Network", Line.L2, "LAN, Wi-Fi, VPN"),
    ("Workplaces", Line.L2, "PCs, printers, peripherals"),
    ("1C / business apps", Line.L2, "1C:Enterprise, CRM, ERP"),
    ("Infrastructure", Line.L3, "servers, virtualisation, databases"),
    ("Vendor: 1C partner", Line.L4, "external contractor"),
]

SERVICES = [
    ("email", "Электронная почта", "Email", "Network"),
    ("1c-accounting", "1С:Бухгалтерия", "1C:Accounting", "1C / business apps"),
    ("vpn", "Удалённый доступ (VPN)", "Remote access (VPN)", "Network"),
    ("workplace", "Рабочее место", "Workplace", "Workplaces"),
    ("printing", "Печать", "Printing", "Workplaces"),
    ("file-storage", "Файловое хранилище", "File storage", "Infrastructure"),
]

# (category code, service code, type, Russian title/text, English title/text)
SCENARIOS = [
    ("hardware", "printing", TicketType.INCIDENT,
     ("Не печатает принтер в бухгалтерии", "Принтер HP LaserJet в кабинете 204 выдаёт ошибку 49.4C02, "
      "очередь печати стоит."),
     ("Printer in accounting does not print", "The HP LaserJet in room 204 shows error 49.4C02 and "
      "the print queue is stuck.")),
    ("network", "vpn", TicketType.INCIDENT,
     ("Не подключается VPN из дома", "При подключении к VPN ошибка 809, вчера всё работало."),
     ("VPN does not connect from home", "Connecting to the VPN fails with error 809; it worked "
      "yesterday.")),
    ("software", "1c-accounting", TicketType.INCIDENT,
     ("1С зависает при проведении документов", "При проведении реализации 1С:Бухгалтерия зависает "
      "на 5–10 минут, у всех пользователей отдела."),
     ("1C freezes when posting documents", "Posting a sales document freezes 1C:Accounting for 5–10 "
      "minutes for everyone in the department.")),
    ("user-support", "workplace", TicketType.REQUEST,
     ("Сбросить пароль к учётной записи", "Забыл пароль после отпуска, учётная запись заблокирована."),
     ("Reset my account password", "I forgot my password after holidays and the account is locked.")),
    ("service-request", "workplace", TicketType.REQUEST,
     ("Подготовить рабочее место новому сотруднику", "С понедельника выходит новый менеджер: нужен "
      "ПК, учётная запись, почта и доступ к 1С."),
     ("Prepare a workplace for a new employee", "A new manager starts on Monday: needs a PC, an "
      "account, email and access to 1C.")),
    ("network", "email", TicketType.INCIDENT,
     ("Не приходят письма от контрагентов", "С утра не приходят внешние письма, внутренние ходят."),
     ("External email is not arriving", "Since this morning no external mail arrives; internal "
      "mail works.")),
    ("performance", "file-storage", TicketType.INCIDENT,
     ("Медленно открываются файлы на сетевом диске", "Файлы Excel с диска S: открываются по минуте."),
     ("Files on the network drive open slowly", "Excel files on drive S: take a minute to open.")),
    ("consulting", "1c-accounting", TicketType.QUESTION,
     ("Как выгрузить отчёт из 1С в Excel?", "Подскажите, как сохранить оборотно-сальдовую ведомость "
      "в Excel."),
     ("How do I export a 1C report to Excel?", "How can I save the trial balance to Excel?")),
    ("security", "email", TicketType.INCIDENT,
     ("Подозрительное письмо с вложением", "Пришло письмо «Счёт на оплату» с архивом, отправитель "
      "незнакомый. Архив не открывал."),
     ("Suspicious email with an attachment", "Got an 'Invoice' email with an archive from an unknown "
      "sender. I did not open it.")),
    ("data-recovery", "file-storage", TicketType.REQUEST,
     ("Восстановить удалённую папку", "Случайно удалил папку «Договоры 2026» на диске S: вчера "
      "около 17:00."),
     ("Restore a deleted folder", "I accidentally deleted the 'Contracts 2026' folder on drive S: "
      "yesterday around 5 pm.")),
    ("hardware", "workplace", TicketType.INCIDENT,
     ("Не включается монитор", "Второй монитор не включается, индикатор не горит."),
     ("Monitor does not turn on", "The second monitor does not turn on, no power light.")),
    ("other", None, TicketType.QUESTION,
     ("Можно ли установить Telegram на рабочий ПК?", "Нужно для связи с клиентами."),
     ("May I install Telegram on my work PC?", "I need it to talk to customers.")),
]

REPLIES_RU = [
    "Здравствуйте! Уточните, пожалуйста, номер кабинета и инвентарный номер.",
    "Спасибо, проверяем. Перезагрузите, пожалуйста, компьютер и сообщите результат.",
    "Проблема воспроизводится, передали специалистам.",
]
REPLIES_EN = [
    "Hello! Could you tell us your room and the asset tag, please?",
    "Thank you, we are checking. Please restart the computer and tell us the result.",
    "We can reproduce the problem and handed it to the specialists.",
]
NOTES = [
    "Проверил логи: ошибка таймаута на стороне сервера.",
    "Похоже на известную проблему после обновления, см. прошлые заявки.",
    "Checked the switch port: errors on the interface, replacing the patch cord.",
]


def _user(email: str, full_name: str, role: str, org: Organisation | None = None,
          **extra: object) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email, full_name=full_name, role=role, organisation=org, **extra)
        user.password = _password_hash()
        user.save()
    return user


@functools.cache
def _password_hash() -> str:
    # Hashing is deliberately slow; the demo people share one password, so hash it once.
    return make_password(PASSWORD)


@transaction.atomic
def load(*, tickets: int = 300, seed: int = 2026, now: datetime | None = None) -> dict[str, int]:
    """Create the demo world; returns counts. Safe to call twice: existing people are reused."""
    rng = random.Random(seed)
    now = now or timezone.now()

    orgs = []
    for name, short, domain, departments in ORGS:
        org, _ = Organisation.objects.get_or_create(
            name=name, defaults={"short_name": short, "email_domain": domain})
        for dep in departments:
            Department.objects.get_or_create(organisation=org, name=dep)
        orgs.append(org)
    provider, _ = Organisation.objects.get_or_create(
        name="Опора ИТ-сервис", defaults={"short_name": "Опора", "email_domain": "opora.local"})

    teams = {}
    for name, line, speciality in TEAMS:
        teams[name], _ = Team.objects.get_or_create(
            name=name, defaults={"line": line, "speciality": speciality})

    admin = _user("admin@opora.local", "Администратор Опоры", Role.ADMIN, provider,
                  is_staff=True, is_superuser=True)
    _user("manager@opora.local", "Мария Руководова", Role.DESK_MANAGER, provider, is_staff=True)
    l1 = [_user("l1@opora.local", "Ольга Первова", Role.AGENT, provider),
          _user("l1.second@opora.local", "Дмитрий Вторушин", Role.AGENT, provider),
          _user("l1.en@opora.local", "Emma Frontline", Role.AGENT, provider, language="en")]
    staff = {
        "Service desk": l1,
        "Network": [_user("l2.network@opora.local", "Сергей Сетевой", Role.AGENT, provider)],
        "Workplaces": [_user("l2.workplace@opora.local", "Алексей Железнов", Role.AGENT, provider)],
        "1C / business apps": [_user("l2.apps@opora.local", "Irina Appleton", Role.TEAM_LEAD,
                                     provider, language="en")],
        "Infrastructure": [_user("l3.infra@opora.local", "Виктор Серверов", Role.AGENT, provider)],
        "Vendor: 1C partner": [_user("vendor@partner.example", "Partner Support", Role.AGENT,
                                     provider)],
    }
    for team_name, members in staff.items():
        for i, member in enumerate(members):
            # A team lead leads their team; otherwise the first of several members does.
            lead = member.role == Role.TEAM_LEAD or (i == 0 and len(members) > 1)
            TeamMembership.objects.get_or_create(team=teams[team_name], user=member,
                                                 defaults={"is_lead": lead})

    requesters: list[User] = [
        _user("user@sever.example", "Пётр Пользователев", Role.REQUESTER, orgs[0],
              phone="+7 495 100-00-01"),
        _user("boss@sever.example", "Анна Начальникова", Role.ORG_MANAGER, orgs[0],
              phone="+7 495 100-00-02"),
        _user("john@globex.example", "John Smith", Role.REQUESTER, orgs[2], language="en",
              time_zone="Europe/London", phone="+44 20 7946 0001"),
    ]
    ru_names = ["Иван Петров", "Елена Смирнова", "Николай Кузнецов", "Татьяна Попова",
                "Андрей Волков", "Светлана Морозова", "Михаил Лебедев", "Ольга Козлова"]
    en_names = ["Alice Brown", "Bob Taylor", "Carol White", "David Green"]
    for i, name in enumerate(ru_names):
        org = orgs[i % 2]
        requesters.append(_user(f"user{i + 1}@{org.email_domain}", name, Role.REQUESTER, org,
                                phone=f"+7 495 100-01-{i:02d}"))
    for i, name in enumerate(en_names):
        requesters.append(_user(f"user{i + 1}@globex.example", name, Role.REQUESTER, orgs[2],
                                language="en", phone=f"+44 20 7946 01{i:02d}"))

    services = {}
    for code, name, name_en, owner in SERVICES:
        services[code], _ = Service.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "owner_team": teams[owner]})
    categories = {c.code: c for c in Category.objects.all()}
    team_for_service = {code: teams[owner] for code, _n, _e, owner in SERVICES}

    _service_levels(now, admin, orgs, teams)
    articles = kb_demo.load(admin)

    created = Ticket.objects.count()
    channels = [Channel.PORTAL, Channel.EMAIL, Channel.PHONE, Channel.PORTAL, Channel.API,
                Channel.MONITORING, Channel.MESSENGER, Channel.CHAT]
    with actions.notifications_suppressed():
        for n in range(tickets):
            _walk(n, rng, now, requesters, l1, staff, teams, services, categories,
                  team_for_service, channels)
        # Warnings and breaches of the walked tickets, recorded without mailing anyone.
        sla_engine.scan(now=now, run_actions=False)
    return {
        "organisations": Organisation.objects.count(),
        "teams": Team.objects.count(),
        "users": User.objects.count(),
        "tickets": Ticket.objects.count() - created,
        "articles": articles,
        "admin": admin.pk,
    }


def _service_levels(now: datetime, admin: User, orgs: list[Organisation],
                    teams: dict[str, Team]) -> None:
    """The production calendar in the business-hours calendar, a customer contract with a
    penalty, an OLA for the network team and the 1C partner's underpinning contract."""
    business = Calendar.objects.get(name="Business hours")
    if not business.days.exists():
        sla_actions.load_production_calendar(
            business, years=[now.year - 1, now.year, now.year + 1], actor=admin)
    if Agreement.objects.filter(name="Северный ветер: Gold").exists():
        return
    hour, day = 3600, 8 * 3600
    gold = sla_actions.create_agreement(
        name="Северный ветер: Gold", calendar=business, organisation=orgs[0],
        monthly_fee=Decimal("300000"), penalty_kind=PenaltyKind.PER_BREACH,
        penalty_percent=Decimal("2"), penalty_cap_percent=Decimal("20"),
        compliance_target=Decimal("95"), actor=admin)
    rows = [(1, 10 * 60, 2 * hour, False), (2, 20 * 60, 6 * hour, True),
            (3, hour, 2 * day, True), (4, 4 * hour, 4 * day, True), (5, day, 8 * day, True)]
    sla_actions.set_targets(gold, targets=[
        spec for priority, first, resolution, business_hours in rows
        for spec in ((Metric.FIRST_RESPONSE, priority, "", first, business_hours),
                     (Metric.RESOLUTION, priority, "", resolution, business_hours))
    ], actor=admin)
    ola = sla_actions.create_agreement(kind=AgreementKind.OLA, name="OLA: сеть (L2)",
                                       calendar=business, team=teams["Network"], actor=admin)
    sla_actions.set_targets(ola, targets=[
        (Metric.RESOLUTION, p, "", seconds, True)
        for p, seconds in ((1, 2 * hour), (2, 4 * hour), (3, day), (4, 2 * day), (5, 4 * day))
    ], actor=admin)
    uc = sla_actions.create_agreement(kind=AgreementKind.UC, name="Договор с партнёром 1С",
                                      calendar=business, team=teams["Vendor: 1C partner"],
                                      actor=admin)
    sla_actions.set_targets(uc, targets=[
        (Metric.RESOLUTION, p, "", seconds, True)
        for p, seconds in ((1, 4 * hour), (2, day), (3, 3 * day), (4, 5 * day), (5, 10 * day))
    ], actor=admin)


def _walk(n: int, rng: random.Random, now: datetime, requesters: list[User], l1: list[User],
          staff: dict[str, list[User]], teams: dict[str, Team], services: dict[str, Service],
          categories: dict[str, Category], team_for_service: dict[str, Team],
          channels: list[Channel]) -> None:
    """Open one ticket and move it a random distance along its life, through the actions."""
    cat, svc, ttype, ru, en = rng.choice(SCENARIOS)
    requester = rng.choice(requesters)
    english = requester.language == "en"
    title, text = en if english else ru
    opened = now - timedelta(days=rng.uniform(0, 60), minutes=rng.randint(0, 600))
    agent = rng.choice(l1)
    channel = rng.choice(channels)
    impact, urgency = rng.choice([1, 2, 2, 2, 3, 3]), rng.choice([1, 2, 2, 3])
    ticket = actions.open_ticket(
        requester=requester, title=title, description=text, ticket_type=ttype,
        channel=channel,
        actor=requester if channel == Channel.PORTAL else agent,
        category=categories.get(cat), service=services.get(svc) if svc else None,
        impact=impact, urgency=urgency,
        is_major=(impact == 1 and urgency == 1 and n % 7 == 0), now=opened,
    )
    # Walk the ticket a random distance along its life, always through the actions.
    stage = rng.choices(range(7), weights=[12, 10, 18, 8, 10, 22, 20])[0]
    t = opened
    if stage == 0:
        return
    t = min(t + timedelta(minutes=rng.randint(2, 30)), now)
    actions.assign(ticket, assignee=agent, actor=agent, channel=Channel.WEB, now=t)
    if stage == 1:
        return
    t = min(t + timedelta(minutes=rng.randint(1, 20)), now)
    actions.reply(ticket, body=rng.choice(REPLIES_EN if english else REPLIES_RU),
                  actor=agent, channel=Channel.WEB, now=t)
    actions.change_status(ticket, status=Status.IN_PROGRESS, actor=agent,
                          channel=Channel.WEB, now=t)
    if stage == 2:
        return
    t = min(t + timedelta(minutes=rng.randint(5, 60)), now)
    if stage == 3:
        actions.change_status(ticket, status=Status.WAITING_REQUESTER, actor=agent,
                              channel=Channel.WEB, now=t)
        return
    worker_agent = agent
    if rng.random() < 0.6 and svc:
        target = team_for_service[svc]
        if target.line > Line.L1:
            actions.add_note(ticket, body=rng.choice(NOTES), actor=agent,
                             channel=Channel.WEB, now=t)
            actions.escalate(ticket, to_team=target, actor=agent, channel=Channel.WEB,
                             summary="Проверено на L1: перезагрузка не помогла, ошибка "
                                     "воспроизводится. Нужен специалист.", now=t)
            if stage == 4:
                return
            worker_agent = staff[target.name][0]
            t = min(t + timedelta(minutes=rng.randint(10, 240)), now)
            actions.assign(ticket, assignee=worker_agent, actor=worker_agent,
                           channel=Channel.WEB, now=t)
            actions.change_status(ticket, status=Status.IN_PROGRESS, actor=worker_agent,
                                  channel=Channel.WEB, now=t)
    if stage == 4:
        return
    t = min(t + timedelta(hours=rng.uniform(0.5, 30)), now)
    code = ResolutionCode.ANSWERED if ttype == TicketType.QUESTION else (
        ResolutionCode.FULFILLED if ttype == TicketType.REQUEST else ResolutionCode.FIXED)
    actions.resolve(ticket, code=code, actor=worker_agent, channel=Channel.WEB, now=t,
                    resolution="The issue is fixed, please check." if english
                    else "Проблема устранена, проверьте, пожалуйста.")
    if stage == 5:
        return
    t = min(t + timedelta(hours=rng.uniform(1, 48)), now)
    if rng.random() < 0.1:
        actions.reopen(ticket, reason="Still not working." if english
                       else "Проблема повторилась.", actor=requester,
                       channel=Channel.PORTAL, now=t)
        return
    actions.close(ticket, actor=requester, channel=Channel.PORTAL, now=t)
