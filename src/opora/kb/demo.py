"""Demo articles for a trial: printer, VPN, password reset, 1C, email on a phone, in Russian and
English, plus an operator script. ``load(admin)`` is called by ``core/demo.py``; it is idempotent
(an existing article with the same title is left alone)."""

from __future__ import annotations

from typing import Any

from opora.accounts.models import User
from opora.catalog.models import Category, Service

from . import actions
from .choices import ArticleType, Visibility
from .models import Article

#: (category code, service code, type, visibility, tags, (ru title, ru summary, ru body),
#: (en title, en summary, en body) or None)
ARTICLES: list[tuple[Any, ...]] = [
    ("hardware", "workplace", ArticleType.TROUBLESHOOTING, Visibility.PUBLIC, ["принтер"],
     ("Принтер перестал печатать", "Документы уходят в очередь, но не печатаются.",
      "1. Проверьте, что принтер включён и в нём есть бумага.\n"
      "2. Откройте «Устройства и принтеры», щёлкните принтер правой кнопкой → «Просмотр очереди "
      "печати» и отмените зависшие задания.\n"
      "3. Выключите принтер на 30 секунд и включите снова.\n"
      "4. Если на экране принтера код ошибки (например, 49.4C02), сообщите его в заявке."),
     ("Printer stopped printing", "Documents go to the queue but are not printed.",
      "1. Check that the printer is on and has paper.\n"
      "2. Open *Devices and Printers*, right-click the printer → *See what's printing* and "
      "cancel stuck jobs.\n"
      "3. Turn the printer off for 30 seconds and on again.\n"
      "4. If the printer shows an error code (e.g. 49.4C02), put it in your request.")),
    ("user-support", "workplace", ArticleType.FAQ, Visibility.PUBLIC, ["пароль"],
     ("Как сбросить пароль", "Забыли пароль или учётная запись заблокирована.",
      "Пароль можно сбросить самостоятельно на странице `https://id.example.ru/reset` — "
      "понадобится мобильный телефон, указанный в профиле.\n\n"
      "Учётная запись блокируется на 15 минут после пяти неверных попыток."),
     ("How to reset your password", "Forgot the password or the account is locked.",
      "Reset it yourself at `https://id.example.ru/reset` — you need the mobile phone from "
      "your profile.\n\nThe account locks for 15 minutes after five wrong attempts.")),
    ("network", "vpn", ArticleType.HOWTO, Visibility.PUBLIC, ["vpn", "удалённая работа"],
     ("Как подключиться к VPN из дома", "Удалённый доступ к сети компании.",
      "1. Установите клиент VPN из Центра программного обеспечения.\n"
      "2. Адрес сервера: `vpn.example.ru`.\n"
      "3. Войдите с вашей рабочей учётной записью и подтвердите вход в приложении-"
      "аутентификаторе.\n\nНе подключается? См. [[{password}|сброс пароля]]."),
     ("How to connect to the VPN from home", "Remote access to the company network.",
      "1. Install the VPN client from the Software Center.\n"
      "2. Server address: `vpn.example.ru`.\n"
      "3. Sign in with your work account and confirm in the authenticator app.")),
    ("consulting", "1c-accounting", ArticleType.INSTRUCTION, Visibility.PUBLIC, ["1с", "excel"],
     ("Как выгрузить отчёт из 1С в Excel", "Оборотно-сальдовая ведомость и другие отчёты.",
      "1. Сформируйте отчёт.\n2. Нажмите «Ещё» → «Сохранить как…».\n"
      "3. Выберите тип файла «Лист Excel 2007-… (*.xlsx)» и папку."),
     None),
    ("software", "email", ArticleType.HOWTO, Visibility.PUBLIC, ["почта", "телефон"],
     ("Рабочая почта на телефоне", "Настройка Outlook на Android и iPhone.",
      "1. Установите Microsoft Outlook из магазина приложений.\n"
      "2. Введите рабочий адрес и пароль.\n3. Разрешите приложению управление устройством."),
     ("Work email on your phone", "Setting up Outlook on Android and iPhone.",
      "1. Install Microsoft Outlook from the app store.\n"
      "2. Enter your work address and password.\n3. Allow device management when asked.")),
    ("network", "vpn", ArticleType.TROUBLESHOOTING, Visibility.INTERNAL, ["vpn"],
     ("VPN: ошибка 809 — проверка на стороне сервера", "Для L1/L2.",
      "Проверьте на шлюзе, что порт UDP 500/4500 открыт, и сессию пользователя в консоли. "
      "Если у пользователя NAT провайдера — выдайте профиль SSTP."),
     None),
    ("other", None, ArticleType.SCRIPT, Visibility.INTERNAL, ["скрипт"],
     ("Приветствие по телефону", "Скрипт оператора первой линии.",
      "Здравствуйте! Служба поддержки, меня зовут … Чем могу помочь?"),
     ("Phone greeting", "First-line operator script.",
      "Hello! Service desk, my name is … How can I help you?")),
]


def load(admin: User) -> int:
    """Create and publish the demo articles; returns how many were created."""
    categories = {c.code: c for c in Category.objects.all()}
    services = {s.code: s for s in Service.objects.all()}
    created = 0
    ids: dict[str, int] = {}
    for cat, svc, kind, visibility, tags, ru, en in ARTICLES:
        if Article.objects.filter(title=ru[0]).exists():
            continue
        common: dict[str, Any] = {
            "type": kind, "visibility": visibility, "tags": tags,
            "categories": [categories[cat]] if cat in categories else [],
            "services": [services[svc]] if svc in services else [], "actor": admin,
        }
        body = ru[2].replace("{password}", str(ids.get("password", 0)))
        original = actions.create_article(title=ru[0], summary=ru[1], body=body,
                                          language="ru", **common)
        actions.transition(original, action="publish", actor=admin)
        created += 1
        if "пароль" in tags:
            ids["password"] = original.pk
        if en is not None:
            translation = actions.create_article(title=en[0], summary=en[1], body=en[2],
                                                 language="en", translation_of=original,
                                                 **common)
            actions.transition(translation, action="publish", actor=admin)
            created += 1
    return created
