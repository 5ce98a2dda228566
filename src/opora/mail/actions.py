"""Writes of the email channel other than ticket changes: mailbox configuration (audited),
re-processing messages from the quarantine, and the requester accounts mail creates.

Only service desk managers and administrators configure mailboxes and re-process mail. Each
configuration action validates everything first (``ActionError`` with the field), runs in one
transaction and writes the audit row (Django's admin log) with the actor. A mailbox stores the
NAME of the environment variable holding its password, never the password.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from opora.accounts.models import Organisation, Role, Team, User
from opora.accounts.team_actions import NotAllowed, is_desk_manager
from opora.catalog.models import Category
from opora.core.audit import log_change
from opora.tickets.errors import ActionError

from .models import InboundMessage, InboundStatus, Mailbox, Security, UnknownSenderPolicy

#: Statuses an administrator may send back to processing (never "processed": that would make
#: a second ticket change from one message).
REPROCESSABLE = frozenset({InboundStatus.QUARANTINED, InboundStatus.REFUSED,
                           InboundStatus.IGNORED})
#: The IMAP position is only valid for the server, account and folder it was read from.
_IMAP_IDENTITY = ("imap_host", "imap_port", "imap_user", "imap_folder")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_SENDER_PATTERN = re.compile(r"[^\s@]+@[^\s@]+")


def _require_manager(actor: User) -> None:
    if not is_desk_manager(actor):
        raise NotAllowed(_("Only service desk managers and administrators may do this."))


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _required(value: str, field: str) -> str:
    if not value:
        raise ActionError(_("This field is required."), code="required", field=field)
    return value


def _max(value: str, limit: int, field: str) -> str:
    if len(value) > limit:
        raise ActionError(_("Use at most %(limit)d characters (now %(count)d).")
                          % {"limit": limit, "count": len(value)}, code="too_long", field=field)
    return value


def _email(value: str, field: str) -> str:
    value = _required(str(value or "").strip().lower(), field)
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ActionError(_("Enter a valid email address."), code="invalid",
                          field=field) from exc
    return value


def _active(obj: Team | Category | Organisation | None, field: str) -> None:
    if obj is not None and not obj.is_active:
        raise ActionError(_("This entry is no longer in use."), code="inactive", field=field)


def _mailbox_values(
    *, name: str, address: str, is_active: bool = True, imap_host: str = "",
    imap_port: int | str | None = None, imap_security: str = Security.SSL, imap_user: str = "",
    password_env: str = "", imap_folder: str = "INBOX", team: Team | None = None,
    category: Category | None = None, organisation: Organisation | None = None,
    unknown_senders: str = UnknownSenderPolicy.CREATE, reopen_on_reply: bool = True,
    monitoring_senders: str = "",
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": _max(_required(_text(name), "name"), 120, "name"),
        "address": _max(_email(address, "address"), 254, "address"),
        "is_active": bool(is_active),
        "imap_host": _max(str(imap_host or "").strip(), 255, "imap_host"),
        "imap_security": imap_security,
        "imap_user": _max(str(imap_user or "").strip(), 255, "imap_user"),
        "password_env": str(password_env or "").strip(),
        "imap_folder": _max(str(imap_folder or "").strip() or "INBOX", 255, "imap_folder"),
        "team": team, "category": category, "organisation": organisation,
        "unknown_senders": unknown_senders, "reopen_on_reply": bool(reopen_on_reply),
    }
    if imap_security not in Security.values:
        raise ActionError(_("Choose one of the offered values."), code="invalid_choice",
                          field="imap_security")
    if unknown_senders not in UnknownSenderPolicy.values:
        raise ActionError(_("Choose one of the offered values."), code="invalid_choice",
                          field="unknown_senders")
    default_port = 143 if imap_security != Security.SSL else 993
    try:
        port = default_port if imap_port is None or imap_port == "" else int(imap_port)
    except (TypeError, ValueError) as exc:
        raise ActionError(_("Enter a whole number."), code="invalid", field="imap_port") from exc
    if not 1 <= port <= 65535:
        raise ActionError(_("Enter a port from 1 to 65535."), code="invalid", field="imap_port")
    values["imap_port"] = port
    if values["password_env"] and not _ENV_NAME.fullmatch(values["password_env"]):
        raise ActionError(
            _("Enter the NAME of an environment variable (letters, digits and _), not the "
              "password itself."), code="invalid", field="password_env")
    if values["imap_host"]:
        _required(values["imap_user"], "imap_user")
        _required(values["password_env"], "password_env")
    _active(team, "team")
    _active(category, "category")
    _active(organisation, "organisation")
    patterns = []
    for line in str(monitoring_senders or "").splitlines():
        pattern = line.strip().lower()
        if not pattern:
            continue
        if not _SENDER_PATTERN.fullmatch(pattern):
            raise ActionError(_("Write one address a line, for example icinga@example.com "
                                "(* matches any characters)."), code="invalid",
                              field="monitoring_senders")
        patterns.append(pattern)
    values["monitoring_senders"] = "\n".join(dict.fromkeys(patterns))
    return values


def _check_unique(mailbox: Mailbox) -> None:
    for field in ("name", "address"):
        taken = Mailbox.objects.filter(**{f"{field}__iexact": getattr(mailbox, field)})
        if mailbox.pk:
            taken = taken.exclude(pk=mailbox.pk)
        if taken.exists():
            raise ActionError(_("Another mailbox already has this value."), code="duplicate",
                              field=field)


def create_mailbox(*, actor: User, **values: Any) -> Mailbox:
    """A new mailbox: mail arrives through IMAP (when a server is given) or the pipe command."""
    _require_manager(actor)
    mailbox = Mailbox(**_mailbox_values(**values))
    _check_unique(mailbox)
    try:
        with transaction.atomic():
            mailbox.created_at = mailbox.updated_at = timezone.now()
            mailbox.save()
            log_change(actor, mailbox, ADDITION, [{"added": {}}])
    except IntegrityError as exc:
        raise ActionError(_("Another mailbox already has this value."), code="duplicate",
                          field="address") from exc
    return mailbox


def update_mailbox(mailbox: Mailbox, *, actor: User, **values: Any) -> Mailbox:
    """Change a mailbox. Pointing it at another server, account or folder forgets the IMAP
    position (the UIDs there mean other messages): the next poll reads that folder's unread
    mail."""
    _require_manager(actor)
    new = _mailbox_values(**values)
    try:
        with transaction.atomic():
            current = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
            changed = [f for f, v in new.items() if _differs(current, f, v)]
            for field_name, value in new.items():
                setattr(current, field_name, value)
            _check_unique(current)
            if changed:
                if set(changed) & set(_IMAP_IDENTITY):
                    current.uid_validity = None
                    current.last_uid = 0
                    changed += ["uid_validity", "last_uid"]
                current.updated_at = timezone.now()
                current.save(update_fields=[*changed, "updated_at"])
                log_change(actor, current, CHANGE, [{"changed": {"fields": changed}}])
    except IntegrityError as exc:
        raise ActionError(_("Another mailbox already has this value."), code="duplicate",
                          field="address") from exc
    mailbox.refresh_from_db()
    return mailbox


def _differs(obj: Mailbox, field_name: str, value: Any) -> bool:
    if obj._meta.get_field(field_name).is_relation:
        return bool(getattr(obj, f"{field_name}_id") != (value.pk if value is not None else None))
    return bool(getattr(obj, field_name) != value)


def reprocess(messages: Iterable[InboundMessage], *, actor: User) -> Counter[str]:
    """Send quarantined (or ignored, or refused) messages through processing again, e.g. after
    a fix or a change of the mailbox's policy; returns how many ended in each status.

    Each is put back to "received" with an audit row, then processed like new mail; a message
    someone else already re-processed is skipped.
    """
    from . import ingest

    _require_manager(actor)
    done: Counter[str] = Counter()
    for message in messages:
        with transaction.atomic():
            updated = InboundMessage.objects.filter(
                pk=message.pk, status__in=REPROCESSABLE).update(
                status=InboundStatus.RECEIVED, reason="")
            if updated:
                log_change(actor, message, CHANGE,
                           [{"changed": {"fields": ["status"]}}])
        if not updated:
            done["skipped"] += 1
            continue
        result = ingest.process(message.pk)
        done[result.status if result is not None else "skipped"] += 1
    return done


def requester_from_mail(*, email: str, full_name: str = "",
                        organisation: Organisation | None = None,
                        email_notifications: bool = True, looked_up: bool = False) -> User:
    """The account of an unknown sender a mailbox accepts (policy "create"): a requester without
    a password (they may set one through the password reset, or never sign in). Safe when two
    messages of the same new sender are processed at once: the second finds the first's.
    ``looked_up``: the caller has just searched for the address and found nobody."""
    email = _email(email, "email")
    name = _text(full_name)[:200] or email.partition("@")[0][:200]
    if not looked_up:  # the caller has just found nobody with this address
        existing = User.objects.annotate(e=Lower("email")).filter(e=email).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=None, full_name=name, role=Role.REQUESTER,
                organisation=organisation if organisation and organisation.is_active else None,
                email_notifications=email_notifications)
    except IntegrityError:
        found = User.objects.annotate(e=Lower("email")).filter(e=email).first()
        if found is None:
            raise
        return found
