"""Uploads: what ``check_upload`` accepts, and how actions store (and clean up) the files."""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opora.tickets import actions
from opora.tickets.attachments import CheckedUpload, check_upload, safe_filename
from opora.tickets.choices import Channel, EventKind
from opora.tickets.errors import ActionError, StaleTicket
from opora.tickets.models import Attachment, Ticket, TicketEvent

T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


def png_bytes() -> bytes:
    """A real 1 × 1 grey PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x7f")) + chunk(b"IEND", b""))


PNG = png_bytes()
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200


def upload(content: bytes, name: str) -> CheckedUpload:
    return check_upload(io.BytesIO(content), name)


def refused_upload(content: bytes, name: str, code: str, size: int | None = None) -> None:
    with pytest.raises(ActionError) as caught:
        check_upload(io.BytesIO(content), name, size)
    assert caught.value.code == code


@pytest.fixture
def media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


def files_in(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


# --- check_upload -------------------------------------------------------------------------------


class TestCheckUpload:
    def test_a_real_png_is_accepted_with_its_sniffed_type(self):
        file = io.BytesIO(PNG)
        checked = check_upload(file, "screenshot.PNG")
        assert checked == CheckedUpload(file=file, filename="screenshot.PNG",
                                        content_type="image/png", size=len(PNG))
        assert file.tell() == 0  # ready to be stored from the start

    def test_the_client_cannot_choose_the_type(self):
        # A PNG named .txt is stored as what it is.
        assert upload(PNG, "notes.txt").content_type == "image/png"

    def test_pdf_and_text(self):
        assert upload(PDF, "invoice.pdf").content_type == "application/pdf"
        assert upload(b"2025-03-03 error 809\n", "vpn.txt").content_type == "text/plain"
        assert upload(b"a;b\n1;2\n", "export.csv").content_type == "text/csv"

    def test_empty_file(self):
        refused_upload(b"", "empty.txt", "empty_file")

    def test_size_limit(self, settings):
        settings.OPORA_MAX_ATTACHMENT_BYTES = 10
        assert upload(b"0123456789", "ten.txt").size == 10
        refused_upload(b"0123456789A", "eleven.txt", "file_too_large")
        # A declared size is checked too (the framework knows it without reading the file).
        refused_upload(b"0123", "big.txt", "file_too_large", size=11)

    @pytest.mark.parametrize(
        "name",
        ["setup.exe", "page.html", "page.htm", "logo.svg", "README", "run.bat", "app.js",
         "script.ps1", "invoice.pdf.exe", "evil.exe.", " evil.exe ", "archive.tar.exe",
         "..", "", "photo.jpg.scr"],
    )
    def test_disallowed_extensions(self, name):
        refused_upload(b"harmless text", name, "file_type_not_allowed")

    @pytest.mark.parametrize(
        ("content", "name"),
        [
            (EXE, "invoice.pdf"),
            (EXE, "archive.zip"),
            (ELF, "invoice.pdf"),
            (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "invoice.pdf"),
            (b"\n\n   <HTML><body onload=alert(1)>", "report.pdf"),
            (b"<script>alert(1)</script>", "notes.txt"),
            (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image.png"),
            (b"\xef\xbb\xbf<html><script>alert(1)</script></html>", "invoice.pdf"),
        ],
    )
    def test_content_that_lies_about_its_extension_is_refused(self, content, name):
        refused_upload(content, name, "file_type_not_allowed")

    @pytest.mark.parametrize(
        ("name", "cleaned"),
        [
            ("../../etc/passwd.txt", "passwd.txt"),
            ("..\\..\\Windows\\system.ini", "system.ini"),
            ("/var/log/syslog.log", "syslog.log"),
            ("C:\\Users\\petr\\Desktop\\отчёт.pdf", "отчёт.pdf"),
            ('a<b>c:d"e|f?g*h.txt', "abcdefgh.txt"),
            ("report\x00\r\n.txt", "report.txt"),
            ("  .hidden.txt.  ", "hidden.txt"),
            ("..", "file"),
        ],
    )
    def test_names_are_cleaned(self, name, cleaned):
        assert safe_filename(name) == cleaned

    def test_a_traversal_name_is_stored_cleaned(self):
        checked = upload(b"127.0.0.1 localhost\n", "../../../etc/hosts.txt")
        assert checked.filename == "hosts.txt"

    def test_a_long_name_keeps_its_extension(self):
        long_name = "Протокол совещания " * 15 + ".docx"
        cleaned = safe_filename(long_name)
        assert len(cleaned) <= 200
        assert cleaned.endswith(".docx")
        assert cleaned.startswith("Протокол совещания")
        checked = upload(b"plain text pretending to be docx", long_name)
        assert checked.filename == cleaned


# --- storing through actions --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


STORED_NAME = re.compile(r"attachments/2025/03/[0-9a-f]{32}")


def assert_stored(attachment: Attachment, media: Path, content: bytes) -> None:
    # The stored name is random and carries nothing of the client's name.
    assert STORED_NAME.fullmatch(attachment.file.name)
    path = Path(attachment.file.path)
    assert path.is_relative_to(media)
    assert path.read_bytes() == content


class TestStoredWithTheEvent:
    def test_reply_with_a_file_and_no_text(self, world, media):
        event = actions.reply(world.ticket, body="", actor=world.requester,
                              channel=Channel.PORTAL, attachments=[upload(PNG, "экран.png")])
        assert (event.kind, event.body, event.is_public) == (EventKind.REPLY, "", True)
        attachment = Attachment.objects.get()
        assert (attachment.ticket_id, attachment.event_id, attachment.filename,
                attachment.content_type, attachment.size, attachment.is_public,
                attachment.uploaded_by, attachment.created_at) == (
            world.ticket.pk, event.pk, "экран.png", "image/png", len(PNG), True,
            world.requester, T0)
        assert_stored(attachment, media, PNG)
        assert files_in(media) == [Path(attachment.file.path)]

    def test_internal_note_files_are_internal(self, world, media):
        event = actions.add_note(world.ticket, body="Дамп", actor=world.l1_agent,
                                 channel=Channel.WEB,
                                 attachments=[upload(b"trace", "trace.txt"), upload(PDF, "a.pdf")])
        attachments = list(Attachment.objects.order_by("id"))
        assert [(a.event_id, a.filename, a.content_type, a.is_public, a.uploaded_by_id)
                for a in attachments] == [
            (event.pk, "trace.txt", "text/plain", False, world.l1_agent.pk),
            (event.pk, "a.pdf", "application/pdf", False, world.l1_agent.pk),
        ]
        assert_stored(attachments[0], media, b"trace")
        assert_stored(attachments[1], media, PDF)
        assert attachments[0].file.name != attachments[1].file.name

    def test_open_ticket_with_a_file(self, world, media):
        ticket = actions.open_ticket(requester=world.requester, title="Ошибка", channel=Channel.EMAIL,
                                     actor=world.requester, attachments=[upload(PDF, "скан.pdf")])
        created = ticket.events.get()
        attachment = Attachment.objects.get()
        assert (attachment.ticket_id, attachment.event_id, attachment.is_public,
                attachment.uploaded_by) == (ticket.pk, created.pk, True, world.requester)
        assert_stored(attachment, media, PDF)


class TestFilesRemovedWhenTheActionFails:
    def test_a_stale_reply_stores_nothing(self, world, media):
        actions.add_note(world.ticket, body="bump", actor=world.l1_agent, channel=Channel.WEB)
        events = TicketEvent.objects.count()
        with pytest.raises(StaleTicket) as caught:
            actions.reply(world.ticket, body="Смотрите файл", actor=world.l1_agent,
                          channel=Channel.WEB, expected_version=1,
                          attachments=[upload(PNG, "a.png")])
        assert caught.value.code == "stale"
        assert TicketEvent.objects.count() == events
        assert Attachment.objects.count() == 0
        assert files_in(media) == []

    def test_a_refused_reply_on_a_closed_ticket_stores_nothing(self, world, media):
        actions.cancel(world.ticket, reason="Не нужно", actor=world.requester,
                       channel=Channel.PORTAL)
        with pytest.raises(ActionError):
            actions.reply(world.ticket, body="", actor=world.requester, channel=Channel.PORTAL,
                          attachments=[upload(PNG, "a.png")])
        assert Attachment.objects.count() == 0
        assert files_in(media) == []

    @pytest.mark.parametrize("action", ["reply", "add_note", "open_ticket"])
    def test_a_failure_after_a_file_was_written_removes_every_file(self, world, media, action):
        """The first file is stored completely, the second breaks half-way (a dropped upload,
        a full disk): the action fails, no row is left and neither file stays on disk."""
        broken = dataclasses.replace(upload(b"x" * 1000, "second.log"), file=BreaksAfter(b"x" * 1000))
        uploads = [upload(PNG, "first.png"), broken]
        counts = (Ticket.objects.count(), TicketEvent.objects.count())
        version = Ticket.objects.get(pk=world.ticket.pk).version
        kwargs: dict[str, Any] = {"actor": world.l1_agent, "channel": Channel.PHONE,
                                  "attachments": uploads}
        with pytest.raises(OSError, match="No space left"):
            if action == "open_ticket":
                actions.open_ticket(requester=world.requester, title="x", **kwargs)
            else:
                getattr(actions, action)(world.ticket, body="files", **kwargs)
        assert (Ticket.objects.count(), TicketEvent.objects.count()) == counts
        assert Ticket.objects.get(pk=world.ticket.pk).version == version
        assert Attachment.objects.count() == 0
        assert files_in(media) == []


class BreaksAfter(io.BytesIO):
    """A stream that delivers its first chunk and then fails, like a disk filling up."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError(28, "No space left on device")
        return super().read(1 if size is None or size < 0 else min(size, 100))
