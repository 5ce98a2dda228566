"""Checks on uploaded files: size, extension and content must agree before anything is stored."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

import filetype
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .errors import ActionError

#: Extensions accepted as attachments. Executables, scripts and HTML are never accepted: the
#: desk serves files back to other people, so it must not become a malware or XSS relay.
ALLOWED_EXTENSIONS = frozenset(
    {
        # text, data and documents
        "txt", "log", "csv", "tsv", "json", "xml", "yaml", "yml", "md", "rtf", "pdf",
        "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "vsd", "vsdx",
        # images
        "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "heic",
        # archives, mail, captures and configs
        "zip", "7z", "rar", "gz", "tgz", "tar", "eml", "msg", "pcap", "pcapng", "cfg", "conf", "ini",
        # audio and video (screen recordings, voice messages)
        "mp4", "mov", "webm", "mp3", "wav", "ogg", "m4a",
    }
)
#: Content that is refused whatever the extension claims.
FORBIDDEN_MIME_PREFIXES = (
    "application/x-msdownload",
    "application/x-executable",
    "application/x-elf",
    "application/x-mach-binary",
    "application/x-sharedlib",
    "application/vnd.microsoft.portable-executable",
    "application/x-dosexec",
    "text/html",
    "image/svg",
)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks, with a safe file name and the type to store."""

    file: IO[bytes]
    filename: str
    content_type: str
    size: int


#: Longest file name kept; a longer one is shortened before its extension.
MAX_FILENAME = 200


def safe_filename(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name.strip().strip(".")
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"/\\|?*')
    if len(cleaned) > MAX_FILENAME:
        # Shorten the stem, not the extension: the extension decides whether the file is accepted.
        suffix = PurePath(cleaned).suffix[:16]
        cleaned = cleaned[: MAX_FILENAME - len(suffix)] + suffix
    return cleaned or "file"


def check_upload(file: IO[bytes], filename: str, size: int | None = None) -> CheckedUpload:
    """Refuse (``ActionError``) an empty, oversized or disallowed file; never trust the client's
    declared content type."""
    name = safe_filename(filename)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
    file.seek(0)
    limit = settings.OPORA_MAX_ATTACHMENT_BYTES
    if size == 0:
        raise ActionError(_("The file “%(name)s” is empty.") % {"name": name}, code="empty_file")
    if size > limit:
        raise ActionError(
            _("The file “%(name)s” is %(size)s; the limit is %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)},
            code="file_too_large",
        )
    ext = PurePath(name).suffix.lower().lstrip(".")
    if ext not in ALLOWED_EXTENSIONS:
        raise ActionError(
            _("Files of type “.%(ext)s” are not accepted.") % {"ext": ext or "?"},
            code="file_type_not_allowed",
        )
    head = file.read(8192)
    file.seek(0)
    kind = filetype.guess(head)
    sniffed = kind.mime if kind else None
    # A byte-order mark or leading white space must not hide a markup document.
    lowered = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<svg", b"<script")):
        sniffed = "text/html"
    if head.startswith(b"MZ"):
        sniffed = "application/x-dosexec"
    if sniffed and sniffed.startswith(FORBIDDEN_MIME_PREFIXES):
        raise ActionError(
            _("The content of “%(name)s” is not an accepted file type.") % {"name": name},
            code="file_type_not_allowed",
        )
    content_type = sniffed or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return CheckedUpload(file=file, filename=name, content_type=content_type, size=size)
