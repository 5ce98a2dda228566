"""Notification mails of Icinga and Nagios: a problem opens an incident, repeats join it, a
recovery resolves it.

Only senders listed in the mailbox's ``monitoring_senders`` are read this way: anyone else could
otherwise resolve an incident with a forged "OK". Both notification layouts are understood:

- the classic one (Nagios, Icinga 1 and the Icinga 2 defaults)::

      Notification Type: PROBLEM
      Service: CPU Load
      Host: host.internal.loc
      State: WARNING
      Additional Info: WARNING - load average: 3.44, 0.99, 0.35

- the Icinga 2 "==> RBL check on host is CRITICAL! <==" banner with ``Info:``/``Host:`` lines.

As Zammad does (its corpus is the test), the state in the body decides: OK or UP is a recovery
whatever the subject says. The alert's key is host and service (display names removed, case
folded); ``MonitoringAlert`` keeps the state and information of the notification that opened it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from opora.accounts.models import User
from opora.tickets import actions as ticket_actions
from opora.tickets.choices import OPEN_STATUSES, Channel, EventKind, ResolutionCode, TicketType
from opora.tickets.models import Ticket, TicketEvent

from . import safety
from .models import InboundStatus, Mailbox, MonitoringAlert

RECOVERY_STATES = frozenset({"OK", "UP"})

#: "[PROBLEM] …", "PROBLEM - …", "** PROBLEM Service Alert: … **", "RECOVERY …", "OK …".
_SUBJECT = re.compile(
    r"^\s*(?:\*\*\s*)?\[?(?:PROBLEM|RECOVERY|OK|ACKNOWLEDGEMENT|FLAPPING\w*|DOWNTIME\w*|"
    r"CUSTOM)\b",
    re.IGNORECASE,
)
#: "Key: value" lines of the notification body.
_FIELD = re.compile(
    r"^[ \t]*(Notification Type|Service|Host|State|Info|Additional Info|Address|Date/Time|When)"
    r"[ \t]*:[ \t]*(.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: The Icinga 2 banner: "==> RBL check on apn4711 is CRITICAL! <==", "apn4709 is DOWN!".
_BANNER = re.compile(
    r"^[ \t]*(?:==>[ \t]*)?(?:(?P<service>.+?) on )?(?P<host>[^\s<>]+) is (?P<state>[A-Z]+)!"
    r"(?:[ \t]*<==)?[ \t]*$",
    re.MULTILINE,
)
_DISPLAY_NAME = re.compile(r"\s*\(Display Name:.*\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Alert:
    """One notification, as read from its body."""

    source: str
    host: str
    service: str
    state: str
    info: str

    @property
    def is_recovery(self) -> bool:
        return self.state.upper() in RECOVERY_STATES

    @property
    def key(self) -> str:
        return alert_key(self.host, self.service)


def _plain(value: str) -> str:
    return " ".join(_DISPLAY_NAME.sub("", value).split()).lower()


def alert_key(host: str, service: str) -> str:
    return f"{_plain(host)[:255]}/{_plain(service)[:255]}"


def _fields(text: str) -> dict[str, str]:
    """The first value of each "Key: value" line; an empty value takes the next line's text
    (Nagios writes "Additional Info:" and the text below it)."""
    lines = text.splitlines()
    found: dict[str, str] = {}
    for match in _FIELD.finditer(text):
        name = match.group(1).lower()
        value = match.group(2)
        if not value:
            line_no = text.count("\n", 0, match.start()) + 1
            following = next((ln.strip() for ln in lines[line_no:line_no + 3] if ln.strip()),
                             "")
            value = "" if _FIELD.match(following) else following
        found.setdefault(name, value)
    return found


def parse_alert(subject: str, text: str) -> Alert | None:
    """The alert in an Icinga/Nagios notification mail, or ``None`` when it is not one."""
    if not _SUBJECT.match(subject or ""):
        return None
    fields = _fields(text)
    banner = _BANNER.search(text)
    host = fields.get("host") or (banner.group("host") if banner else "")
    state = (fields.get("state") or (banner.group("state") if banner else "")).upper()
    if not host or not state or not re.fullmatch(r"[A-Z]+", state):
        return None
    service = fields.get("service") or (banner.group("service") or "" if banner else "")
    info = fields.get("info") or fields.get("additional info") or ""
    head = (text.lstrip()[:200] + " " + subject).lower()
    source = "nagios" if "nagios" in head or subject.lstrip().startswith("**") else "icinga"
    return Alert(source=source, host=host[:255], service=service[:255], state=state[:40],
                 info=info)


def sender_patterns(mailbox: Mailbox) -> list[str]:
    return [line.strip().lower() for line in mailbox.monitoring_senders.splitlines()
            if line.strip()]


def is_monitoring_sender(mailbox: Mailbox | None, address: str) -> bool:
    if mailbox is None or not address:
        return False
    return any(fnmatch.fnmatchcase(address.lower(), pattern)
               for pattern in sender_patterns(mailbox))


@dataclass(frozen=True)
class Result:
    status: InboundStatus
    reason: str = ""
    ticket: Ticket | None = None
    event: TicketEvent | None = None


def _open_alert(key: str) -> MonitoringAlert | None:
    alert = (MonitoringAlert.objects.select_for_update(of=("self",)).select_related("ticket")
             .filter(key=key, is_open=True).first())
    if alert is not None and alert.ticket.status not in OPEN_STATUSES:
        # Resolved or closed by hand: the alert is over; a new problem opens a new incident.
        alert.is_open = False
        alert.save(update_fields=["is_open"])
        return None
    return alert


def handle(alert: Alert, *, subject: str, text: str, requester: User,
           mailbox: Mailbox | None) -> Result:
    """Open, join or resolve the incident of ``alert``; in the caller's transaction."""
    now = timezone.now()
    body = text.strip() or subject
    current = _open_alert(alert.key)
    if alert.is_recovery:
        if current is None:
            return Result(InboundStatus.IGNORED, safety.RECOVERY_WITHOUT_PROBLEM)
        ticket = ticket_actions.resolve(current.ticket, code=ResolutionCode.FIXED,
                                        resolution=body, actor=None,
                                        channel=Channel.MONITORING, now=now)
        _seen(current, alert, now, recovered=True)
        return Result(InboundStatus.PROCESSED, ticket=ticket,
                      event=_last_event(ticket, EventKind.RESOLVED))
    if current is None:
        try:
            with transaction.atomic():
                ticket = ticket_actions.open_ticket(
                    requester=requester, title=subject or alert.key, description=body,
                    ticket_type=TicketType.INCIDENT, channel=Channel.MONITORING, actor=None,
                    team=mailbox.team if mailbox else None,
                    category=mailbox.category if mailbox else None, now=now)
                MonitoringAlert.objects.create(
                    source=alert.source, key=alert.key, host=alert.host, service=alert.service,
                    state=alert.state, last_state=alert.state, info=alert.info, ticket=ticket,
                    opened_at=now, last_seen_at=now)
        except IntegrityError:
            # Another worker opened the incident of this key a moment ago: join it.
            current = _open_alert(alert.key)
            if current is None:
                raise
        else:
            return Result(InboundStatus.PROCESSED, ticket=ticket,
                          event=_last_event(ticket, EventKind.CREATED))
    event = ticket_actions.add_note(current.ticket, body=body, actor=None,
                                    channel=Channel.MONITORING, now=now)
    _seen(current, alert, now, recovered=False)
    return Result(InboundStatus.PROCESSED, ticket=current.ticket, event=event)


def _seen(current: MonitoringAlert, alert: Alert, now: datetime, *, recovered: bool) -> None:
    current.last_state = alert.state
    current.notifications += 1
    current.last_seen_at = now
    fields = ["last_state", "notifications", "last_seen_at"]
    if recovered:
        current.is_open = False
        current.recovered_at = now
        fields += ["is_open", "recovered_at"]
    current.save(update_fields=fields)


def _last_event(ticket: Ticket, kind: EventKind) -> TicketEvent | None:
    return TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("-id").first()
