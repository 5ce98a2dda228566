"""IMAP end to end against a real Dovecot the test starts itself.

Each test runs ``/usr/sbin/dovecot -F`` with a configuration generated in its tmp directory:
listening on 127.0.0.1 on a free port, mail in a maildir there, one user with a static
password. Plain IMAP, and STARTTLS with a self-signed certificate made by ``openssl req`` (the
client trusts it through ``SSL_CERT_FILE``). Never the system's Dovecot. Skipped with the reason
when Dovecot (Debian: dovecot-imapd) or openssl is not installed.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opora.mail import imap, ingest
from opora.mail.models import InboundMessage, InboundStatus, Mailbox, Security
from opora.tickets.models import Ticket

from .test_ingest_helpers import make_mail, make_mailbox, message_id_of, ticket_of

DOVECOT = "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "imap-test-secret"
ENV = "OPORA_TEST_IMAP_PASSWORD"

pytestmark = pytest.mark.skipif(
    not os.access(DOVECOT, os.X_OK),
    reason=f"{DOVECOT} is not installed (Debian package dovecot-imapd; .ci/run installs it)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail_owner() -> tuple[int, int]:
    """Dovecot never serves mail as root: as root, the mail belongs to the "dovecot" user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    import pwd

    for name in ("dovecot", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    pytest.skip("running as root and neither a dovecot nor a nobody user exists")


def _own(path: Path) -> None:
    if os.getuid() == 0:
        uid, gid = _mail_owner()
        os.chown(path, uid, gid)


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def maildir(self) -> Path:
        return self.root / "mail" / USER

    def deliver(self, raw: bytes, name: str) -> None:
        """Drop a message into the maildir as a local delivery agent does (tmp/ then new/)."""
        for path in (self.maildir, *(self.maildir / sub for sub in ("tmp", "new", "cur"))):
            if not path.exists():
                path.mkdir(parents=True)
                _own(path)
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        _own(tmp)
        tmp.rename(self.maildir / "new" / name)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes) -> None:
        client = self.client()
        try:
            client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
        finally:
            client.logout()

    def recreate_inbox(self, uid_validity: int) -> None:
        """Replace the INBOX by a new one with another UIDVALIDITY. (Dovecot would take the
        current second, which may equal the old folder's in a fast test.)"""
        shutil.rmtree(self.maildir)
        self.deliver(b"", ".placeholder")
        (self.maildir / "new" / ".placeholder").unlink()
        uidlist = self.maildir / "dovecot-uidlist"
        uidlist.write_text(f"3 V{uid_validity} N1\n")
        _own(uidlist)


def _config(root: Path, port: int, *, tls: tuple[Path, Path] | None) -> str:
    uid, gid = _mail_owner()
    users = "" if uid == 0 else (
        # Not root: Dovecot runs everything as the current user.
        f"default_internal_user = {os.environ.get('USER') or _user_name(uid)}\n"
        f"default_login_user = {os.environ.get('USER') or _user_name(uid)}\n")
    ssl = "ssl = no\n" if tls is None else (
        f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}\n")
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = opora-test-{port}
log_path = {root}/dovecot.log
{users}first_valid_uid = 0
first_valid_gid = 0
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
"""


def _user_name(uid: int) -> str:
    import pwd

    return pwd.getpwuid(uid).pw_name


def _start(tmp: Path, *, tls: tuple[Path, Path] | None = None) -> Dovecot:
    if os.getuid() == 0:
        # The mail user must reach the maildir: pytest's tmp directories are private to root.
        root = Path(tempfile.mkdtemp(prefix="opora-dovecot-"))
        root.chmod(0o755)
    else:
        root = tmp
        root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(exist_ok=True)
    for sub in ("mail", "home"):
        _own(root / sub)
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, tls=tls))
    process = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            pytest.fail(f"dovecot exited: {output}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(100).startswith(b"* OK"):
                    return Dovecot(root, port, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("dovecot did not start within 20 s")


def _stop(server: Dovecot) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    if server.process.stdout:
        server.process.stdout.close()
    if os.getuid() == 0 and server.root.name.startswith("opora-dovecot-"):
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def dovecot(tmp_path: Path, monkeypatch) -> Iterator[Dovecot]:
    monkeypatch.setenv(ENV, PASSWORD)
    server = _start(tmp_path / "dovecot")
    try:
        yield server
    finally:
        _stop(server)


@pytest.fixture
def mailbox(world, dovecot) -> Mailbox:
    return make_mailbox(address="support@desk.example", team=world.l1,
                        imap_host="127.0.0.1", imap_port=dovecot.port,
                        imap_security=Security.NONE, imap_user=USER, password_env=ENV)


def _from(user, **kwargs) -> bytes:
    return make_mail(sender=(user.full_name, user.email), **kwargs)


def test_a_message_arrives_becomes_a_ticket_and_a_reply_joins_it(world, dovecot, mailbox):
    first = _from(world.requester, subject="Не работает VPN", body="С утра не подключается.")
    dovecot.deliver(first, "1.msg")

    result = imap.poll(mailbox)

    assert (result.fetched, result.error) == (1, "")
    message = InboundMessage.objects.get()
    assert message.status == InboundStatus.PROCESSED, message.error
    ticket = ticket_of(message)
    assert ticket.title == "Не работает VPN"
    mailbox.refresh_from_db()
    assert mailbox.last_uid >= 1 and mailbox.uid_validity and mailbox.last_error == ""
    assert mailbox.last_polled_at is not None and mailbox.poll_claimed_until is None

    # The requester answers their own message (no number in the subject): the same ticket.
    dovecot.append(_from(world.requester, subject="Re: Не работает VPN",
                         body="Перезагрузка не помогла.", in_reply_to=message_id_of(first)))
    assert imap.poll(mailbox).fetched == 1
    reply = InboundMessage.objects.exclude(pk=message.pk).get()
    assert reply.ticket_id == ticket.pk and reply.event is not None
    assert reply.event.body == "Перезагрузка не помогла."

    # Polling again fetches nothing twice; the messages are marked seen on the server.
    assert imap.poll(mailbox).fetched == 0
    assert InboundMessage.objects.count() == 2
    client = dovecot.client()
    try:
        client.select("INBOX")
        _typ, unseen = client.search(None, "UNSEEN")
        _typ, everything = client.search(None, "ALL")
    finally:
        client.logout()
    assert unseen == [b""] and len(everything[0].split()) == 2


def test_many_messages_are_fetched_in_batches(world, dovecot, mailbox, monkeypatch):
    monkeypatch.setattr(imap, "BATCH", 3)
    for i in range(8):
        dovecot.deliver(_from(world.requester, subject=f"Письмо {i}"), f"{i}.msg")
    assert imap.poll(mailbox).fetched == 8
    assert InboundMessage.objects.filter(status=InboundStatus.PROCESSED).count() == 8
    assert imap.poll(mailbox).fetched == 0


def test_a_uidvalidity_change_resets_the_position(world, dovecot, mailbox):
    dovecot.deliver(_from(world.requester, subject="Первое"), "1.msg")
    dovecot.deliver(_from(world.requester, subject="Второе"), "2.msg")
    assert imap.poll(mailbox).fetched == 2
    mailbox.refresh_from_db()
    old_validity, old_uid = mailbox.uid_validity, mailbox.last_uid
    assert old_uid == 2

    dovecot.recreate_inbox(uid_validity=(old_validity or 0) + 1000)
    dovecot.deliver(_from(world.requester, subject="После пересоздания"), "3.msg")
    result = imap.poll(mailbox)

    mailbox.refresh_from_db()
    assert result.fetched == 1, result
    assert mailbox.uid_validity != old_validity
    assert mailbox.last_uid == 1  # the new folder's UIDs start again
    assert InboundMessage.objects.filter(subject="После пересоздания",
                                         status=InboundStatus.PROCESSED).exists()


def test_a_position_lost_is_no_duplicate(world, dovecot, mailbox):
    """A crash after storing but before saving the position re-reads the batch: the store's
    de-duplication absorbs it (and \\Seen is not needed for correctness)."""
    dovecot.deliver(_from(world.requester, subject="Один раз"), "1.msg")
    assert imap.poll(mailbox).fetched == 1
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=0, uid_validity=None)
    client = dovecot.client()
    try:
        client.select("INBOX")
        client.store("1", "-FLAGS", r"(\Seen)")
    finally:
        client.logout()
    assert imap.poll(mailbox).fetched == 1
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.filter(title="Один раз").count() == 1


def test_errors_are_recorded_on_the_mailbox_never_raised(world, dovecot, mailbox, monkeypatch):
    monkeypatch.setenv(ENV, "wrong password")
    result = imap.poll(mailbox)
    mailbox.refresh_from_db()
    assert "Login failed" in result.error or "Вход не выполнен" in result.error
    assert mailbox.last_error == result.error and mailbox.poll_claimed_until is None

    monkeypatch.delenv(ENV)
    assert ENV in imap.poll(mailbox).error

    monkeypatch.setenv(ENV, PASSWORD)
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_port=_free_port())
    mailbox.refresh_from_db()
    assert imap.poll(mailbox).error
    ok, text = imap.test_connection(mailbox)
    assert not ok and text


def test_test_connection_reports_the_folder_count(world, dovecot, mailbox):
    dovecot.deliver(_from(world.requester), "1.msg")
    dovecot.deliver(_from(world.requester), "2.msg")
    ok, text = imap.test_connection(mailbox)
    assert ok, text
    assert "2" in text
    assert not InboundMessage.objects.exists()  # testing reads nothing


def test_a_mailbox_polled_by_another_worker_is_skipped(world, dovecot, mailbox):
    from datetime import timedelta

    from django.utils import timezone

    dovecot.deliver(_from(world.requester), "1.msg")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        poll_claimed_until=timezone.now() + timedelta(minutes=5))
    assert imap.poll(mailbox).skipped
    assert not InboundMessage.objects.exists()
    # A crashed worker's lease runs out.
    Mailbox.objects.filter(pk=mailbox.pk).update(
        poll_claimed_until=timezone.now() - timedelta(seconds=1))
    assert imap.poll(mailbox).fetched == 1


def test_poll_all_reads_every_active_imap_mailbox_and_processes(world, dovecot, mailbox):
    make_mailbox(address="pipe-only@desk.example")  # no IMAP server: not polled
    make_mailbox(address="off@desk.example", is_active=False, imap_host="127.0.0.1",
                 imap_port=1, imap_user="x", password_env=ENV)
    waiting = ingest.receive(_from(world.requester, subject="Из трубы"), mailbox=mailbox,
                             process_now=False)
    dovecot.deliver(_from(world.requester, subject="Из IMAP"), "1.msg")

    results = imap.poll_all()

    assert [(r.mailbox_id, r.fetched, r.error) for r in results] == [(mailbox.pk, 1, "")]
    waiting.refresh_from_db()
    assert waiting.status == InboundStatus.PROCESSED
    assert InboundMessage.objects.filter(status=InboundStatus.PROCESSED).count() == 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_starttls_with_a_certificate_the_client_trusts(world, tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603 - our own fixed command line
        [shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    monkeypatch.setenv(ENV, PASSWORD)
    server = _start(tmp_path / "dovecot", tls=(cert, key))
    try:
        mailbox = make_mailbox(address="support@desk.example", team=world.l1,
                               imap_host="localhost", imap_port=server.port,
                               imap_security=Security.STARTTLS, imap_user=USER,
                               password_env=ENV)
        server.deliver(_from(world.requester, subject="Через TLS"), "1.msg")

        # An untrusted certificate is refused (and recorded), nothing is read.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
        refused = imap.poll(mailbox)
        assert refused.error and refused.fetched == 0

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        result = imap.poll(mailbox)
        assert (result.fetched, result.error) == (1, "")
        assert Ticket.objects.filter(title="Через TLS").exists()
    finally:
        _stop(server)
