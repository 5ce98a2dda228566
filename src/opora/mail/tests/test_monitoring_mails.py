"""Icinga and Nagios notification mails: ../shared/corpora/alerts/zammad-monitoring-emails.

``expectations.json`` holds, per mail, Zammad's Ruby assertions verbatim. They are read here,
not re-typed: each case replays the mails of its Ruby test (each Ruby test starts from an empty
database, so a case replays from the first mail of its test up to itself, in corpus order) and
then checks its own assertions, translated as follows:

- ``state.name`` "new" is our status "new"; "closed" (Zammad closes on recovery) is our
  "resolved" (the brief: a recovery resolves the incident, code "fixed");
- ``preferences['icinga'|'nagios'][field]`` is the ``MonitoringAlert`` of the ticket (the state
  and information of the notification that opened it); ``assert_not(preferences[...])`` means
  the mail was treated as ordinary mail: a ticket without an alert;
- equal/unequal ticket ids refer to the tickets of earlier mails by their Ruby variable names;
- ``assert_equal(ticket, {})`` with an unchanged ticket count: a recovery without a problem does
  nothing (the message is "ignored");
- ``Setting.set('icinga_sender' …)`` lines configure Zammad; here the mailbox's monitoring
  senders are icinga2@ and nagios2@monitoring.example.com throughout, which is what every case's
  own assertions need. After the first mail of "recover without problem tests" the Ruby test
  processes other mails that are not in the corpus; those assertions are not checked.

The corpus reuses Message-IDs for different alerts (the Ruby tests never stored them); each mail
gets its own here, or the store's de-duplication would rightly swallow the repeats.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from opora.mail import ingest
from opora.mail.models import InboundMessage, InboundStatus, MonitoringAlert
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.models import Ticket

from .test_ingest_helpers import make_mailbox, ticket_of

CORPUS = "alerts/zammad-monitoring-emails"
SENDERS = "icinga2@monitoring.example.com\nnagios2@monitoring.example.com"
_LOCAL = Path(__file__).resolve().parents[5] / "shared" / "corpora" / CORPUS


def _load(root: Path) -> list[dict[str, Any]]:
    data = json.loads((root / "expectations.json").read_text(encoding="utf-8"))
    return [case for case in data["cases"] if "file" in case]


CASES = _load(_LOCAL) if _LOCAL.is_dir() else []
IDS = [case["file"] for case in CASES] or [f"case-{i}" for i in range(33)]

_PROCESS = re.compile(r"^(\w+), _article_p, _user_p, _mail = Channel::EmailParser")
_STATE = re.compile(r"^assert_equal\('(\w+)', (\w+)\.state\.name\)$")
_HAS = re.compile(r"^assert\((\w+)\.preferences\['(\w+)'\]\)$")
_HAS_NOT = re.compile(r"^assert_not\((\w+)\.preferences\['(\w+)'\]\)$")
_FIELD = re.compile(r"^assert_equal\('(.*)', (\w+)\.preferences\['(\w+)'\]\['(\w+)'\]\)$")
_NIL = re.compile(r"^assert_nil\((\w+)\.preferences\['(\w+)'\]\['(\w+)'\]\)$")
_SAME = re.compile(r"^assert_equal\((\w+)\.id, (\w+)\.id\)$")
_OTHER = re.compile(r"^assert_not_equal\((\w+)\.id, (\w+)\.id\)$")
_NONE = re.compile(r"^assert_equal\((\w+), \{\}\)$")
_IGNORED = re.compile(r"^(assert\(\w+\.preferences\)|Setting\.set\(.*\)|ticket_count = "
                      r"Ticket\.count|assert_equal\(ticket_count, Ticket\.count\))$")
STATES = {"new": Status.NEW, "closed": Status.RESOLVED}


@pytest.fixture
def corpus(shared_corpora: Path) -> list[dict[str, Any]]:
    root = shared_corpora / CORPUS
    if not root.is_dir():
        pytest.skip(f"{CORPUS} is not in ../shared/corpora")
    return _load(root)


def _group(case: dict[str, Any]) -> tuple[str, str]:
    return case["file"].split("_")[0], case["test"]


def _raw(root: Path, name: str) -> bytes:
    raw = (root / name).read_bytes()
    unique = f"<{name}@corpus.opora.test>".encode()
    return re.sub(rb"(?im)^Message-Id:[^\r\n]*", b"Message-Id: " + unique, raw, count=1)


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_monitoring_mail_behaves_as_zammad_expects(db, shared_corpora, corpus, index):
    assert len(corpus) == 33
    case = corpus[index]
    root = shared_corpora / CORPUS
    mailbox = make_mailbox(address="support@example.com", monitoring_senders=SENDERS)
    first = next(i for i, c in enumerate(corpus) if _group(c) == _group(case))
    names: dict[str, int | None] = {}
    messages: dict[str, InboundMessage] = {}
    for earlier in corpus[first:index + 1]:
        count_before = Ticket.objects.count()
        message = ingest.receive(_raw(root, earlier["file"]), mailbox=mailbox)
        assert message.status != InboundStatus.QUARANTINED, message.error
        messages[earlier["file"]] = message
        match = _PROCESS.match(earlier["assertions_ruby_verbatim"][0])
        assert match, earlier["assertions_ruby_verbatim"][0]
        names[match.group(1)] = message.ticket_id
    message = messages[case["file"]]

    def ticket(var: str) -> Ticket:
        pk = names.get(var)
        assert pk is not None, f"{var} has no ticket"
        return Ticket.objects.get(pk=pk)

    checked = 0
    for line in case["assertions_ruby_verbatim"][1:]:
        if _PROCESS.match(line):
            break  # the Ruby test goes on with mails that are not in the corpus
        if m := _STATE.match(line):
            assert ticket(m.group(2)).status == STATES[m.group(1)], line
        elif m := _HAS.match(line):
            alert = MonitoringAlert.objects.get(ticket=ticket(m.group(1)))
            assert alert.source == m.group(2), line
            assert ticket(m.group(1)).channel == Channel.MONITORING
        elif m := _HAS_NOT.match(line):
            assert not MonitoringAlert.objects.filter(ticket=ticket(m.group(1))).exists(), line
            assert ticket(m.group(1)).channel == Channel.EMAIL
        elif m := _FIELD.match(line):
            alert = MonitoringAlert.objects.get(ticket=ticket(m.group(2)), source=m.group(3))
            assert getattr(alert, m.group(4)) == m.group(1).replace("\\'", "'"), line
        elif m := _NIL.match(line):
            alert = MonitoringAlert.objects.get(ticket=ticket(m.group(1)), source=m.group(2))
            assert getattr(alert, m.group(3)) == "", line
        elif m := _SAME.match(line):
            assert names[m.group(1)] == names[m.group(2)] is not None, line
        elif m := _OTHER.match(line):
            assert names[m.group(1)] != names[m.group(2)], line
        elif m := _NONE.match(line):
            assert names[m.group(1)] is None, line
            assert message.status == InboundStatus.IGNORED
            assert message.reason == "recovery without a problem"
            assert Ticket.objects.count() == count_before
        else:
            assert _IGNORED.match(line), f"an assertion this test does not understand: {line}"
            continue
        checked += 1
    assert checked >= 1


def test_a_recovery_resolves_with_the_mail_text_and_repeats_are_notes(db, shared_corpora,
                                                                      corpus):
    root = shared_corpora / CORPUS
    mailbox = make_mailbox(address="support@example.com", monitoring_senders=SENDERS)
    for name in ("icinga_04.eml", "icinga_06.eml", "icinga_07.eml"):
        message = ingest.receive(_raw(root, name), mailbox=mailbox)
    ticket = ticket_of(message)
    assert ticket.status == Status.RESOLVED
    assert ticket.resolution_code == ResolutionCode.FIXED
    assert "load average: 1.62" in ticket.resolution
    kinds = list(ticket.events.values_list("kind", "channel"))
    assert kinds.count((EventKind.NOTE, Channel.MONITORING)) == 1
    assert (EventKind.RESOLVED, Channel.MONITORING) in kinds
    alert = MonitoringAlert.objects.get(ticket=ticket)
    assert (alert.is_open, alert.notifications, alert.last_state) == (False, 3, "OK")
    assert alert.key == "host.internal.loc/cpu load"
    # The monitoring account gets no mail about its own incidents.
    assert ticket.requester.email == "icinga2@monitoring.example.com"
    assert not ticket.requester.email_notifications
    # A new problem after the recovery is a new incident.
    again = ingest.receive(_raw(root, "icinga_17.eml"), mailbox=mailbox)
    assert again.ticket_id != ticket.pk


def test_an_incident_resolved_by_hand_ends_the_alert(db, shared_corpora, corpus):
    from opora.testing import factories as f
    from opora.tickets import actions

    root = shared_corpora / CORPUS
    mailbox = make_mailbox(address="support@example.com", monitoring_senders=SENDERS)
    first = ingest.receive(_raw(root, "icinga_04.eml"), mailbox=mailbox)
    actions.resolve(ticket_of(first), code=ResolutionCode.WORKAROUND,
                    resolution="Перезапустили службу", actor=f.AgentFactory.create(),
                    channel=Channel.WEB)
    repeat = ingest.receive(_raw(root, "icinga_06.eml"), mailbox=mailbox)
    assert repeat.ticket_id != first.ticket_id
    assert MonitoringAlert.objects.filter(is_open=True).count() == 1


def test_an_unlisted_sender_cannot_resolve_an_incident(db, shared_corpora, corpus):
    root = shared_corpora / CORPUS
    mailbox = make_mailbox(address="support@example.com", monitoring_senders=SENDERS)
    problem = ingest.receive(_raw(root, "icinga_04.eml"), mailbox=mailbox)
    forged = _raw(root, "icinga_07.eml").replace(b"icinga2@monitoring.example.com",
                                                b"prankster@monitoring.example.com")
    message = ingest.receive(forged, mailbox=mailbox)
    assert message.ticket_id != problem.ticket_id
    assert ticket_of(problem).status == Status.NEW
