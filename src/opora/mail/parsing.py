"""Raw RFC 5322 / MIME bytes → a ``ParsedMessage``: pure functions, no database, never raises.

This is the contract the email gateway (``opora.mail`` ingestion) codes against. What it does
with real mail, and why:

* **Parser.** The standard library's ``email`` package with the ``compat32`` policy. The modern
  ``email.policy.default`` was tried first and rejected as the main parser: its header objects
  decode lazily and raise on malformed input, and they replace raw 8-bit bytes before we can see
  them. ``compat32`` keeps every header as the original bytes (surrogate-escaped), so an
  unlabelled KOI8-R or GBK subject can still be guessed; header decoding (RFC 2047, including
  encoded words split inside a multi-byte character, raw spaces and words in quoted strings) and
  RFC 2231 parameters are done here. Broken header blocks are repaired before parsing: an mbox
  ``From `` line or another junk line before the headers is dropped, and header lines that lost
  their folding indentation are re-indented, so a Subject after them is not lost.
* **Charsets.** See ``decode_bytes``: declared charsets are trusted when they decode cleanly,
  Latin/ASCII labels are checked for UTF-8 and for Cyrillic mojibake, missing or wrong labels are
  guessed with a deterministic heuristic; replacement characters are the last resort and are a
  defect.
* **Body.** ``text`` is the message as plain text: ``text/plain`` is preferred in
  ``multipart/alternative`` unless it is empty or only says "see the HTML version", then the
  HTML converted (``htmltext.html_to_text``, links kept as "text (url)"). Text parts interleaved
  with attachments (Apple Mail) are all kept, in order. ``html`` is only ever the sanitised HTML.
* **Forwarded messages** (``message/rfc822``): their text is appended under a
  "---------- Forwarded message ----------" line with From/Date/Subject/To, their attachments
  are included, **and** the forwarded message itself is kept as a ``.eml`` attachment (named
  after its subject), because for reports of suspicious mail the agent needs its headers.
* **Attachments**: decoded file names (RFC 2047 words, RFC 2231 continuations and charsets),
  path parts removed, never empty ("attachment-N.ext"); inline images keep their Content-ID;
  uuencoded files inside a plain-text body (Lotus Notes) become attachments; ``winmail.dat``
  (TNEF) is unpacked when the optional ``tnefparse`` package is installed, else kept as is.
* **Automatic mail** (``auto``): Auto-Submitted other than "no", X-Autoreply/X-Autorespond,
  X-Auto-Response-Suppress with All/OOF/AutoReply, Precedence bulk/junk/list/auto_reply,
  multipart/report delivery or disposition notifications, X-Failed-Recipients, a null
  Return-Path and MAILER-DAEMON/postmaster senders. A List-Id header alone is *not* automatic:
  people write to tickets from mailing lists and through Google Groups, and those messages carry
  List-Id; lists that are really automatic also send Precedence: list or bulk.
* **Addresses**: encoded words are decoded in display names only, never inside an address
  (``=?utf-8?Q?agent?=@example.com`` stays literal): decoding them there is the "splitting the
  email atom" spoofing trick.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import mimetypes
import quopri
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from opora.mail.htmltext import html_to_text, sanitize_html
from opora.mail.replies import strip_reply

__all__ = [
    "ParsedAttachment",
    "ParsedMessage",
    "decode_bytes",
    "decode_header_value",
    "normalize_charset",
    "parse_message",
]


# --- charsets ----------------------------------------------------------------------------------
# Declared charsets are trusted when they decode cleanly (except the Latin/ASCII labels, checked
# for UTF-8 and Cyrillic mojibake); otherwise candidate decodings are scored and the most
# plausible kept. A small deterministic heuristic for the cases mail really has (Russian in the
# three Cyrillic code pages, CJK without a label, UTF-8 in 8-bit headers); charset-normalizer was
# not needed: on short headers knowing that Russian is mostly lower case does better.

_ALIASES: dict[str, str | None] = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf7": "utf-7",
    "cp-1251": "cp1251",
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
    "x-cp1251": "cp1251",
    "win1251": "cp1251",
    "x-mac-cyrillic": "mac_cyrillic",
    "mac-cyrillic": "mac_cyrillic",
    "maccyrillic": "mac_cyrillic",
    "x-mac-ukrainian": "mac_cyrillic",
    "koi8r": "koi8_r",
    "koi8-r": "koi8_r",
    "koi8": "koi8_r",
    "koi8-u": "koi8_u",
    "gb2312": "gb18030",
    "iso-gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "gb18030": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "euc-kr": "cp949",
    "x-euc-kr": "cp949",
    "korean": "cp949",
    "uhc": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "x-ms-cp932": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "x-user-defined": None,
    "unknown-8bit": None,
    "x-unknown": None,
    "unknown": None,
    "default": None,
    "charset": None,
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "iso_8859-1": "latin-1",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "l1": "latin-1",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}
# Labels that say little: the bytes are checked for UTF-8 and Cyrillic mojibake first.
_WEAK = frozenset({"ascii", "latin-1", "cp1252", "iso8859-15"})
_FALLBACK_8BIT = ("cp1251", "koi8_r", "mac_cyrillic", "cp1252", "gb18030", "cp932", "euc_jp",
                  "cp949", "big5hkscs", "cp1250")  # fmt: skip
_CYRILLIC = ("cp1251", "koi8_r", "mac_cyrillic", "iso8859-5", "cp866")
_ISO2022 = ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_kr")
_SAMPLE = 16384


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when unknown or meaningless."""
    if not label:
        return None
    name = str(label).strip().strip("\"'").strip().lower()
    name = re.split(r"[\s;,]", name, maxsplit=1)[0] if name else name
    name = name.split("*", 1)[0]  # RFC 2231 language suffix ("utf-8*en")
    if not name:
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        compact = name.replace("_", "-")
        if compact in _ALIASES:
            return _ALIASES[compact]
        match = re.fullmatch(r"(?:windows|win|cp|x-cp)-?(\d{3,4})", name)
        if match:
            return normalize_charset("cp" + match.group(1))
        return None
    return {"iso8859-1": "latin-1", "mbcs": None}.get(codec, codec) if codec else None


def decode_bytes(
    data: bytes,
    charset: str | None = None,
    defects: list[str] | None = None,
    hints: Iterable[str | None] = (),
) -> str:
    """``data`` as text; never raises. ``hints`` are other charsets the message declares."""
    found: list[str] = [] if defects is None else defects
    if not data:
        return ""
    declared = normalize_charset(charset)
    if charset and declared is None and str(charset).strip().lower() not in _ALIASES:
        found.append(f"unknown-charset:{str(charset).strip().lower()[:40]}")
    if data.isascii():
        if b"\x1b" in data and (declared is None or declared in _WEAK or "2022" in declared):
            for codec in ((declared,) if declared and "2022" in declared else ()) + _ISO2022:
                try:
                    return data.decode(codec)
                except (UnicodeDecodeError, LookupError):
                    continue
            converted = _iso2022jp_via_cp932(data)
            if converted is not None:
                return converted
        if declared == "utf-7":
            return _strict(data, "utf-7") or data.decode("ascii")
        if declared and "2022" in declared:
            return _strict(data, declared) or data.decode("ascii")
        return data.decode("ascii")
    # Valid UTF-8 with multi-byte sequences is UTF-8, whatever the label says: other encodings
    # produce such byte patterns by accident only in a few short strings.
    utf8 = _strict(data, "utf-8")
    if utf8 is not None and not (declared and declared.startswith(("utf-16", "utf-32"))):
        if declared and declared != "utf-8":
            found.append(f"charset-mismatch:{declared}->utf-8")
        return utf8
    if declared and declared not in _WEAK and declared != "utf-8":
        text = _strict(data, declared)
        if text is not None and declared in _CYRILLIC:
            # Every byte is "valid" in a Cyrillic code page: check the label against the others.
            best = _guess(data, [declared], _CYRILLIC)
            if best != declared:
                found.append(f"charset-mismatch:{declared}->{best}")
                return data.decode(best, errors="replace")
        if text is not None:
            return text
        found.append(f"charset-mismatch:{declared}")
    if declared == "utf-8":
        found.append("charset-mismatch:utf-8")
    mixed = _mixed_utf8(data)
    if mixed is not None:
        found.append("mixed-encoding:utf-8+cp1252")
        return mixed
    hinted = [normalize_charset(hint) for hint in hints]
    hinted = ["cp1252" if h in ("latin-1", "ascii") else h for h in hinted]
    order = [h for h in hinted if h and h != "utf-8"]
    if declared in _WEAK:
        latin_codec = "iso8859-15" if declared == "iso8859-15" else "cp1252"
        latin = _strict(data, latin_codec) or data.decode("latin-1")
        if not _looks_cyrillic_mojibake(latin):
            return latin
        # Whole words of À-ÿ: windows-1251 or KOI8-R labelled Latin-1, or just German umlauts.
        best = _guess(data, [latin_codec, *order], _CYRILLIC)
    else:
        best = _guess(data, order, _FALLBACK_8BIT)
    if best != declared:
        found.append(f"charset-guessed:{best}")
    text = data.decode(best, errors="replace")
    bad = text.count("\ufffd")
    if bad:
        found.append(f"replacement-characters:{bad}")
    return text


def _iso2022jp_via_cp932(data: bytes) -> str | None:
    """ISO-2022-JP with Microsoft's extensions (NEC row 13: ①, ㈱ …), which Python's codecs
    refuse: re-encode each JIS X 0208 pair as Shift_JIS and decode that as cp932."""
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x1B:
            sequence = data[index + 1 : index + 3]
            if sequence in (b"$B", b"$@"):
                mode = "jis"
            elif sequence in (b"(B", b"(J"):
                mode = "ascii"
            elif sequence == b"(I":
                mode = "kana"
            else:
                return None
            index += 3
            continue
        if mode == "jis" and byte not in (0x0A, 0x0D):
            if index + 1 >= len(data):
                return None
            first, second = byte, data[index + 1]
            lead = ((first + 1) >> 1) + (0x70 if first < 0x5F else 0xB0)
            odd_trail = second + (0x1F if second < 0x60 else 0x20)
            trail = odd_trail if first & 1 else second + 0x7E
            if not (0 <= lead < 256 and 0 <= trail < 256):
                return None
            out += bytes((lead, trail))
            index += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte < 0x60 else byte)
        index += 1
    return _strict(bytes(out), "cp932")


_CP1252_HOLES = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _mixed_utf8(data: bytes) -> str | None:
    """UTF-8 with some Latin-1/cp1252 bytes pasted in (a quoted old mail, a signature): keep
    the UTF-8, read the stray bytes as cp1252 — when UTF-8 clearly dominates."""
    sequences = _UTF8_SEQUENCE.findall(data)
    valid_bytes = sum(len(sequence) for sequence in sequences)
    high_bytes = sum(1 for byte in data if byte >= 0x80)
    stray = high_bytes - valid_bytes
    if not sequences or stray <= 0 or len(sequences) < stray:
        return None
    pieces: list[str] = []
    position = 0
    for match in _UTF8_SEQUENCE.finditer(data):
        pieces.append(_cp1252(data[position : match.start()]))
        pieces.append(match.group(0).decode("utf-8", errors="replace"))
        position = match.end()
    pieces.append(_cp1252(data[position:]))
    return "".join(pieces)


_CP1252_C1 = {
    code: bytes((code,)).decode("cp1252") for code in range(0x80, 0xA0) if code not in _CP1252_HOLES
}


def _cp1252(data: bytes) -> str:
    """cp1252 that never fails: its five undefined bytes read as Latin-1 control characters."""
    return data.decode("latin-1").translate(_CP1252_C1)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_cyrillic_mojibake(text: str) -> bool:
    """Latin-1 reading of windows-1251/KOI8-R: whole words of À-ÿ letters, no ASCII letters."""
    runs = re.findall(r"[À-ÿ]{3,}", text)
    long_run_chars = sum(len(run) for run in runs)
    high = sum(1 for ch in text if "À" <= ch <= "ÿ")
    return long_run_chars >= 6 and long_run_chars >= 0.5 * high


def _guess(data: bytes, preferred: list[str], candidates: Iterable[str]) -> str:
    sample = data[:_SAMPLE]
    seen: set[str] = set()
    best_codec, best_score = "", float("-inf")
    for position, codec in enumerate([*preferred, *candidates]):
        if codec in seen:
            continue
        seen.add(codec)
        text = _strict_prefix(sample, codec, whole=len(sample) == len(data))
        if text is None:
            continue
        score = plausibility(text, len(sample))
        if position < len(preferred):
            score += 0.75  # the message declares this charset elsewhere
        if score > best_score:
            best_codec, best_score = codec, score
    return best_codec or "cp1252"


def _strict_prefix(sample: bytes, codec: str, *, whole: bool) -> str | None:
    """Strict decoding of a sample that may end in the middle of a multi-byte character."""
    for cut in (0, 1, 2, 3):
        if cut and whole:
            return None
        try:
            return (sample[:-cut] if cut else sample).decode(codec)
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4 or whole:
                return None
        except LookupError:
            return None
    return None


# Russian letter frequencies in three tiers; Ukrainian/Belarusian letters count as medium.
_LETTER_WEIGHT = {
    **dict.fromkeys("оеаинтсрвлк", 1.2),
    **dict.fromkeys("мдпуяыьгзбчйіїєґў", 0.7),
    **dict.fromkeys("хжшюцщэфъё", 0.2),
}


def _script(ch: str) -> str:
    code = ord(ch)
    if code < 0x250:
        return "latin"
    if 0x370 <= code < 0x400:
        return "greek"
    if 0x400 <= code < 0x530:
        return "cyrillic"
    if 0x590 <= code < 0x600:
        return "hebrew"
    if 0x600 <= code < 0x700:
        return "arabic"
    if 0xE00 <= code < 0xE80:
        return "thai"
    if 0x3040 <= code < 0x3100:
        return "kana"
    if 0xAC00 <= code < 0xD7B0 or 0x1100 <= code < 0x1200 or 0x3130 <= code < 0x3190:
        return "hangul"
    if 0x4E00 <= code < 0xA000:
        return "han"
    if 0xFF61 <= code < 0xFFA0:
        return "halfwidth"
    return "other"


def plausibility(text: str, size: int | None = None) -> float:
    """How much ``text`` looks like human writing, per non-ASCII byte (higher is better).

    Per byte, not per character: a wrong multi-byte reading packs garbage into fewer, "rarer"
    characters and must not win just by that."""
    score = 0.0
    count = 0
    previous = " "
    previous_script = ""
    word_scripts: set[str] = set()
    for ch in text:
        if ch < "\x80":
            if ch.isalpha():
                word_scripts.add("ascii")
            else:
                if "ascii" in word_scripts and word_scripts & {"cyrillic", "han", "kana", "hangul"}:
                    score -= 3
                word_scripts = set()
            previous = ch
            continue
        count += 1
        category = unicodedata.category(ch)
        if ch == "\ufffd" or category[0] == "C":
            score -= 8
        elif category[0] == "L":
            script = _script(ch)
            word_scripts.add(script)
            if script == "cyrillic":
                # A wrong Cyrillic code page turns lower case into upper case and common letters
                # into rare ones: real text is mostly lower case, with capitals first in a word.
                weight = _LETTER_WEIGHT.get(ch.lower())
                if weight is None:
                    score -= 1
                elif ch.islower():
                    score += weight + 0.3
                elif previous.isalpha() and previous.islower():
                    score -= 1
                elif previous.isalpha():
                    score += weight / 2  # all-capital words exist, but are not the rule
                else:
                    score += weight
            elif script == "kana":
                score += 2.0
            elif script == "hangul":
                score += 1.6
            elif script == "han":
                score += 1.5
            elif script == "halfwidth":
                score -= 1
            elif script == "latin":
                score += 0.5 if previous.isascii() and previous.isalpha() else 0.2
            elif script == "other":
                score -= 1
            else:
                score += 0.5
        elif category[0] == "Z":
            pass
        elif category[0] == "P":
            score -= 0 if 0x2010 <= ord(ch) < 0x2070 or 0x3000 <= ord(ch) < 0x3040 else 0.5
        elif category == "Sc" or (category[0] == "N" and 0xFF10 <= ord(ch) < 0xFF1A):
            pass
        else:
            score -= 2
        if category[0] == "L":
            script = _script(ch)
            if previous_script and script != previous_script and {script, previous_script} in (
                {"hangul", "han"}, {"cyrillic", "latin"}, {"greek", "latin"},
                {"cyrillic", "greek"}, {"halfwidth", "han"}, {"hangul", "kana"},
            ):  # fmt: skip
                score -= 1.5  # scripts that real words do not switch between
            previous_script = script
        else:
            word_scripts = set()
            previous_script = ""
        previous = ch
    if not count:
        return 0.0
    high_bytes = count if size is None else max(size - sum(ch < "\x80" for ch in text), 1)
    return score / high_bytes


# --- the contract ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAttachment:
    """One file carried by a message (including inline images and forwarded messages)."""

    filename: str  # decoded, never empty, no path parts
    content_type: str  # lower-case "type/subtype"
    content: bytes
    inline: bool  # Content-Disposition inline, or a Content-ID without a disposition
    content_id: str  # without <>, "" if none


@dataclass(frozen=True)
class ParsedMessage:
    """Everything the gateway needs from one message; see the module docstring."""

    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    date: datetime | None
    text: str
    html: str
    reply_text: str
    attachments: list[ParsedAttachment]
    headers: dict[str, str]
    auto: str
    defects: list[str]


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one message; never raises — garbage gives an empty-ish message with defects."""
    try:
        return _parse(bytes(raw))
    except Exception as exc:  # the contract: any input bytes, no exception
        try:
            return _salvage(bytes(raw), f"parse-error:{type(exc).__name__}")
        except Exception as again:
            return _empty([f"parse-error:{type(exc).__name__}", f"salvage-error:{again!r}"[:80]])


# --- headers -----------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?(.*?)\?=", re.DOTALL)
_FOLD = re.compile(r"\r?\n")  # unfolding: the line break goes, the indentation stays
_SPACE = re.compile(r"\s+")


def _raw_bytes(value: object) -> bytes:
    """The original bytes of a compat32 header value (8-bit bytes are surrogate-escaped)."""
    if isinstance(value, bytes):
        return value
    text = str(value)
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _raw_all(part: Message, name: str) -> list[str]:
    """Every stored value of a header, as parsed (compat32's ``get`` would turn 8-bit values
    into ``Header`` objects whose text has the bytes replaced)."""
    lowered = name.lower()
    return [str(v) for k, v in part.raw_items() if str(k).lower() == lowered]


def _raw(part: Message, name: str) -> str:
    values = _raw_all(part, name)
    return values[0] if values else ""


def _header_text(value: object, defects: list[str], hints: Iterable[str | None] = ()) -> str:
    """A raw header value as text: 8-bit bytes decoded (UTF-8 or guessed), folding removed."""
    data = _raw_bytes(value)
    if data.isascii() and b"\x1b" not in data:
        text = data.decode("ascii")
    else:
        text = decode_bytes(data, None, defects, hints)
    return _FOLD.sub("", text)


def _decode_q(text: str) -> bytes:
    data = text.replace("_", " ").encode("latin-1", "replace")
    return quopri.decodestring(data, header=False)


def _decode_b(text: str, defects: list[str]) -> bytes | None:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        defects.append("invalid-base64-encoded-word")
        return None


def decode_header_value(
    value: object, defects: list[str] | None = None, hints: Iterable[str | None] = ()
) -> str:
    """RFC 2047 decoding that survives real mail; never raises.

    Whitespace between adjacent encoded words is dropped, adjacent words in one charset are
    decoded together (a character may be split across them), raw spaces inside a Q word and
    words inside quoted strings are accepted, unknown charsets are guessed.
    """
    found: list[str] = [] if defects is None else defects
    text = _header_text(value, found, hints)
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    position = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset, found, hints))
        pending, pending_charset = [], None

    for match in _ENCODED_WORD.finditer(text):
        between = text[position : match.start()]
        position = match.end()
        if between and not (last_was_word and between.isspace()):
            flush()
            out.append(between)
        charset, encoding, payload = match.groups()
        data = _decode_b(payload, found) if encoding in "bB" else _decode_q(payload)
        if data is None:
            flush()
            out.append(match.group(0))
            last_was_word = False
            continue
        name = charset.split("*", 1)[0].lower()
        if pending and name != pending_charset:
            flush()
        pending.append(data)
        pending_charset = name
        last_was_word = True
    flush()
    out.append(text[position:])
    return "".join(out)


def _unquote_param(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        value = re.sub(r"\\(.)", r"\1", value)
    return value


def _param(part: Message, name: str, header: str, defects: list[str]) -> str:
    """A Content-Type / Content-Disposition parameter, decoded (RFC 2231 and RFC 2047)."""
    try:
        value = _raw(part, header)
        if value and not _raw_bytes(value).isascii():
            # 8-bit parameters (raw UTF-8 or GBK file names): decode the bytes first.
            holder = Message()
            holder[header] = _header_text(value, defects)
            part = holder
        raw = part.get_param(name, None, header=header)
    except Exception:
        defects.append(f"bad-parameter:{name}")
        return ""
    if raw is None:
        return ""
    if isinstance(raw, tuple):  # RFC 2231: (charset, language, value with raw bytes)
        charset, _language, text = raw
        data = str(text).encode("raw-unicode-escape", "replace")
        return _unquote_param(decode_bytes(data, charset or None, defects))
    return decode_header_value(_unquote_param(str(raw)), defects)


def _msgids(value: str) -> list[str]:
    ids = re.findall(r"<([^<>\s]+)>", value)
    if not ids:
        ids = [token.strip("<>") for token in value.split() if "@" in token]
    unique: list[str] = []
    for msgid in ids:
        if msgid and msgid not in unique:
            unique.append(msgid)
    return unique


_EMAIL = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+\.[^\s<>()\[\],;:\"@]+")


def _valid_address(address: str) -> str:
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address) or "@" in domain:
        return ""
    return address.lower()


def _addresses(
    values: list[object], defects: list[str], hints: Iterable[str | None]
) -> list[tuple[str, str]]:
    """(name, address) pairs; display names decoded, addresses never (see the docstring)."""
    result: list[tuple[str, str]] = []
    for value in values:
        raw = _header_text(value, defects, hints)
        try:
            pairs = getaddresses([raw])
        except Exception:
            pairs = []
            defects.append("bad-address-header")
        parsed = [(name, _valid_address(addr)) for name, addr in pairs]
        if not any(addr for _name, addr in parsed):
            # "Test test@example.com", "<>" and friends: salvage what looks like an address.
            found = _EMAIL.findall(raw)
            if found:
                label = raw.split(found[0], 1)[0].strip(' "<')
                parsed = [(label, _valid_address(found[0]))]
        for name, addr in parsed:
            if addr:
                name = _SPACE.sub(" ", decode_header_value(name, defects, hints)).strip()
                comment = re.fullmatch(r"(.+?)\s*(\([^()]*\))", name)
                at = raw.find(comment.group(2)) if comment else -1
                if comment and at >= 0 and raw[:at].count('"') % 2 == 0:
                    # "MAILER-DAEMON (Mail Delivery System) <postmaster@…>": a comment, not
                    # part of the name ("Marcus Smith (ABC)" in quotes is the name).
                    name = comment.group(1)
                if name.lower() == addr:
                    name = ""
                result.append((name.strip('"').strip(), addr))
    return result


def _date(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- repairing the header block before the standard parser sees it -----------------------------

_HEADER_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")
_KNOWN_HEADER = re.compile(
    rb"^(from|to|cc|subject|date|message-id|mime-version|content-[a-z-]+|received|reply-to|"
    rb"return-path|x-[a-z0-9-]+|in-reply-to|references|sender|delivered-to)[ \t]*:",
    re.IGNORECASE,
)


def _repair(raw: bytes, defects: list[str]) -> bytes:
    if b"\n" not in raw[:65536] and b"\r" in raw:
        raw = raw.replace(b"\r", b"\n")
        defects.append("cr-line-endings")
    # Junk before the headers: an mbox "From " line, a "---- Original message ----" banner.
    for _ in range(3):
        first, newline, rest = raw.partition(b"\n")
        if not newline or _HEADER_LINE.match(first):
            break
        following = rest.split(b"\n", 1)[0]
        if first.startswith(b"From ") or (first.strip() and _KNOWN_HEADER.match(following)):
            raw = rest
            defects.append("leading-garbage-removed")
        elif not first.strip() and _KNOWN_HEADER.match(following):
            raw = rest
            defects.append("leading-blank-line-removed")
        else:
            break
    # Header lines that lost their folding indentation, followed by more headers.
    end = _header_end(raw)
    block = raw[:end]
    lines = block.split(b"\n")
    known = [bool(_KNOWN_HEADER.match(line)) for line in lines]
    repaired = False
    for index, line in enumerate(lines):
        if index == 0 or not line.strip(b"\r") or line[:1] in (b" ", b"\t"):
            continue
        if _HEADER_LINE.match(line):
            continue
        if any(known[index + 1 :]):
            lines[index] = b" " + line
            repaired = True
    if repaired:
        defects.append("header-folding-repaired")
        raw = b"\n".join(lines) + raw[end:]
    return raw


def _header_end(raw: bytes) -> int:
    candidates = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return min(candidates) if candidates else len(raw)


# --- the body walk -----------------------------------------------------------------------------


@dataclass
class _Block:
    text: str = ""
    html: str = ""
    _clean: str | None = None

    @property
    def clean(self) -> str:
        """The sanitised HTML, made once."""
        if self._clean is None:
            self._clean = sanitize_html(self.html) if self.html else ""
        return self._clean


@dataclass
class _Walk:
    defects: list[str]
    hints: list[str | None]
    attachments: list[ParsedAttachment] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    counter: int = 0


_MAX_DEPTH = 40
_SEE_HTML = re.compile(
    r"html|htm\b|view (this|it) (e-?mail|message) in (your|a) (web )?browser|"
    r"(mail|e-mail) (client|program|reader) (does|that)|"
    r"this is a multi-part message|your (mail|email) (client|program) does not",
    re.IGNORECASE,
)
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "application/pgp-signature": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
}


def _content_type(part: Message, defects: list[str]) -> str:
    try:
        ctype = part.get_content_type().lower()
    except Exception:
        defects.append("bad-content-type")
        return "application/octet-stream"
    if "/" not in ctype or ctype.count("/") != 1:
        defects.append("bad-content-type")
        return "application/octet-stream"
    return ctype


def _disposition(part: Message) -> str:
    value = _raw(part, "content-disposition")
    return value.split(";", 1)[0].strip().lower()


def _charset_of(part: Message) -> str | None:
    try:
        charset = part.get_param("charset")
    except Exception:
        return None
    if isinstance(charset, tuple):
        charset = charset[2]
    return str(charset) if charset else None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    """The decoded content of a non-multipart part; tolerant of broken transfer encodings."""
    # The stored payload itself: compat32's get_payload() would decode 8-bit bytes with the
    # declared charset and replace what does not fit, before we can look at them.
    payload = getattr(part, "_payload", None)
    if isinstance(payload, list):
        return _message_bytes(payload[0]) if payload else b""
    raw = _raw_bytes(payload if payload is not None else "")
    cte = _raw(part, "content-transfer-encoding").strip().lower()
    cte = re.sub(r"[\s\"']", "", cte)
    if cte in ("base64", "base-64", "b64"):
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", raw)
        if re.search(rb"[^A-Za-z0-9+/=\s]", raw):
            defects.append("base64-garbage")
        if len(cleaned) % 4 == 1:
            cleaned = cleaned[:-1]
            defects.append("base64-truncated")
        elif len(cleaned) % 4 and not raw.rstrip().endswith(b"="):
            defects.append("base64-padding")
        try:
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            defects.append("base64-undecodable")
            return raw
    if cte in ("quoted-printable", "quotedprintable", "qp"):
        return quopri.decodestring(raw)
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        decoded = _uudecode(raw.decode("latin-1").splitlines())
        if decoded is None:
            defects.append("uuencode-undecodable")
            return raw
        return decoded[1]
    if cte and cte not in ("7bit", "8bit", "binary", "none", "plain", "text"):
        defects.append(f"unknown-transfer-encoding:{cte[:30]}")
    return raw


def _message_bytes(message: object) -> bytes:
    if not isinstance(message, Message):
        return _raw_bytes(str(message))
    try:
        return message.as_bytes(policy=compat32)
    except Exception:
        try:
            return _raw_bytes(message.as_string(policy=compat32))
        except Exception:
            return b""


_UU_BLOCK = re.compile(r"^begin [0-7]{3,4} ([^\n]+)\n(.*?)^end[ \t]*$", re.MULTILINE | re.DOTALL)


def _uudecode(lines: list[str]) -> tuple[str, bytes] | None:
    name = ""
    chunks: list[bytes] = []
    started = False
    if not any(line.startswith("begin ") for line in lines):
        started = True  # Content-Transfer-Encoding: x-uuencode without the begin line
    for line in lines:
        if not started:
            match = re.match(r"begin [0-7]{3,4} (.+)", line)
            if match:
                name, started = match.group(1).strip(), True
            continue
        if line.strip() == "end":
            return name, b"".join(chunks)
        if not line.strip() or line.strip() == "`":
            continue
        try:
            chunks.append(binascii.a2b_uu(line))
        except ValueError:  # binascii.Error, or a non-ASCII character
            try:  # trailing garbage some encoders leave: trust the length byte
                length = ((ord(line[0]) - 32) & 63) * 4 // 3
                chunks.append(binascii.a2b_uu(line[: length + 1]))
            except (ValueError, IndexError):
                return None
    return (name, b"".join(chunks)) if started and chunks else None


def _clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if ch in "\t\xa0" else ch
        for ch in name
        if unicodedata.category(ch)[0] != "C" or ch == "\t"
    )
    name = name.strip().strip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


_STEMS = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "text/html": "document",
    "text/calendar": "invitation",
    "message/delivery-status": "delivery-status",
    "message/disposition-notification": "disposition-notification",
    "text/rfc822-headers": "headers",
}


def _fallback_name(walk: _Walk, ctype: str, content_id: str) -> str:
    """A name for a nameless part: the file name inside its Content-ID (Outlook's
    ``image001.jpg@01CD…``), else one after its type ("image.jpg", "image-2.jpg")."""
    local = content_id.split("@", 1)[0]
    if re.fullmatch(r"[\w\- .]{1,100}\.[A-Za-z0-9]{2,5}", local):
        return local
    extension = _EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype, strict=False) or ".bin"
    stem = _STEMS.get(ctype) or _STEMS.get(ctype.split("/", 1)[0]) or "attachment"
    taken = {attachment.filename for attachment in walk.attachments}
    name, number = f"{stem}{extension}", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{extension}"
    return name


def _add_attachment(
    walk: _Walk,
    part: Message,
    ctype: str,
    content: bytes,
    *,
    filename: str = "",
    inline: bool | None = None,
) -> None:
    walk.counter += 1
    defects = walk.defects
    if not filename:
        filename = _param(part, "filename", "content-disposition", defects) or _param(
            part, "name", "content-type", defects
        )
    if not filename:
        # Bounces name their parts only here ("Delivery report", "Undelivered Message").
        description = _clean_filename(decode_header_value(_raw(part, "content-description")))
        if description and len(description) <= 60:
            extension = _EXTENSIONS.get(ctype, "")
            filename = description if description.endswith(extension) else description + extension
    cid = decode_header_value(_raw(part, "content-id"), defects).strip()
    cid = cid.strip().strip("<>").strip()
    filename = _clean_filename(filename) or _fallback_name(walk, ctype, cid)
    if inline is None:
        disposition = _disposition(part)
        inline = disposition == "inline" or (not disposition and bool(cid))
    walk.attachments.append(
        ParsedAttachment(
            filename=filename, content_type=ctype, content=content, inline=inline, content_id=cid
        )
    )


def _is_body_text(part: Message, ctype: str, *, root: bool) -> bool:
    if ctype not in ("text/plain", "text/html", "text/enriched", "text/richtext"):
        return False
    if root:
        return True
    if _disposition(part) == "attachment":
        return False
    try:
        has_name = bool(part.get_param("filename", header="content-disposition")) or bool(
            part.get_param("name")
        )
    except Exception:
        has_name = False
    return not has_name


def _meta_charset(data: bytes) -> str | None:
    match = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_:.-]+)", data[:4096], re.IGNORECASE)
    return match.group(1).decode("ascii") if match else None


def _text_block(part: Message, ctype: str, walk: _Walk) -> _Block:
    data = _payload_bytes(part, walk.defects)
    charset = _charset_of(part)
    if ctype == "text/html" and not charset:
        charset = _meta_charset(data)
    text = decode_bytes(data, charset, walk.defects, walk.hints)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if ctype == "text/html":
        return _Block(html=text)
    if ctype in ("text/enriched", "text/richtext"):
        text = re.sub(r"<[^>]{1,40}>", "", text).replace("<<", "<")
    if "begin " in text:
        text = _extract_uuencoded(text, part, walk)
    return _Block(text=text)


def _extract_uuencoded(text: str, part: Message, walk: _Walk) -> str:
    """Lotus Notes and old clients put files inline as uuencode blocks."""

    def replace(match: re.Match[str]) -> str:
        decoded = _uudecode(match.group(0).splitlines())
        if decoded is None:
            return match.group(0)
        name, content = decoded
        ctype = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
        _add_attachment(walk, part, ctype, content, filename=name, inline=False)
        return ""

    return _UU_BLOCK.sub(replace, text)


def _walk(part: Message, walk: _Walk, depth: int = 0, *, root: bool = False) -> list[_Block]:
    """The body blocks of ``part`` in reading order; attachments go to ``walk``."""
    if depth > _MAX_DEPTH:
        walk.defects.append("nesting-too-deep")
        return []
    ctype = _content_type(part, walk.defects)
    if ctype in ("message/rfc822", "message/global", "message/news"):
        return _forwarded(part, walk, depth)
    if ctype in ("message/delivery-status", "message/disposition-notification"):
        walk.reports.append(ctype)
        _add_attachment(walk, part, ctype, _report_bytes(part))
        return []
    if part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if ctype == "multipart/alternative":
            return _alternative(children, walk, depth)
        if ctype == "multipart/related":
            return _related(part, children, walk, depth)
        if ctype == "multipart/report":
            walk.reports.append(str(part.get_param("report-type") or "report").lower())
        blocks: list[_Block] = []
        for child in children:
            blocks.extend(_walk(child, walk, depth + 1))
        return blocks
    if ctype.startswith("multipart/"):
        walk.defects.append("multipart-without-parts")
        return [_text_block(part, "text/plain", walk)]
    if _is_body_text(part, ctype, root=root):
        return [_text_block(part, ctype, walk)]
    if ctype == "text/plain" and _disposition(part) == "inline":
        # An inline text file (Netscape, VM): mail clients show it in the body; so do we,
        # and keep the file.
        block = _text_block(part, ctype, walk)
        _add_attachment(walk, part, ctype, _payload_bytes(part, walk.defects))
        return [block]
    if ctype == "application/ms-tnef" or (
        ctype == "application/octet-stream"
        and _param(part, "filename", "content-disposition", walk.defects).lower() == "winmail.dat"
    ):
        return _tnef(part, walk)
    _add_attachment(walk, part, ctype, _payload_bytes(part, walk.defects))
    return []


def _report_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        return b"\n".join(_message_bytes(block).strip(b"\n") + b"\n" for block in payload)
    return _raw_bytes(payload or "")


def _alternative(children: list[Message], walk: _Walk, depth: int) -> list[_Block]:
    plain: list[str] = []
    rich: list[str] = []
    for child in children:
        ctype = _content_type(child, walk.defects)
        if ctype == "text/plain" and _is_body_text(child, ctype, root=False):
            plain.append(_text_block(child, ctype, walk).text)
            continue
        if ctype.startswith("text/") and ctype not in ("text/html", "text/enriched"):
            _walk(child, walk, depth + 1)  # text/calendar invitations and the like: attachments
            continue
        for block in _walk(child, walk, depth + 1):
            if block.html:
                rich.append(block.html)
            elif block.text and not plain:
                plain.append(block.text)
    return [_Block(text="\n".join(plain), html="\n".join(rich))]


def _related(parent: Message, children: list[Message], walk: _Walk, depth: int) -> list[_Block]:
    if not children:
        return []
    start = str(parent.get_param("start") or "").strip().strip("<>")
    root = children[0]
    if start:
        for child in children:
            if _raw(child, "content-id").strip().strip("<>") == start:
                root = child
                break
    blocks = _walk(root, walk, depth + 1)
    for child in children:
        if child is root:
            continue
        ctype = _content_type(child, walk.defects)
        if child.is_multipart() or ctype.startswith("message/"):
            blocks.extend(_walk(child, walk, depth + 1))
            continue
        disposition = _disposition(child)
        _add_attachment(
            walk, child, ctype, _payload_bytes(child, walk.defects),
            inline=disposition != "attachment",
        )  # fmt: skip
    return blocks


def _forwarded(part: Message, walk: _Walk, depth: int) -> list[_Block]:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        # Not parsed as a message (e.g. base64-encoded message/rfc822): parse its bytes.
        data = _payload_bytes(part, walk.defects)
        inner = message_from_bytes(_repair(data, walk.defects), policy=compat32)
    fields = []
    subject = ""
    for name in ("From", "Date", "Subject", "To", "Cc"):
        value = _raw(inner, name)
        if not value:
            continue
        decoded = _SPACE.sub(" ", decode_header_value(value, walk.defects, walk.hints)).strip()
        if name == "Subject":
            subject = decoded
        fields.append(f"{name}: {decoded}")
    filename = _param(part, "filename", "content-disposition", walk.defects) or _param(
        part, "name", "content-type", walk.defects
    )
    description = _clean_filename(decode_header_value(_raw(part, "content-description")))
    if not filename:
        name = _clean_filename(subject)[:150] or description[:60] or "forwarded-message"
        filename = name if name.lower().endswith(".eml") else name + ".eml"
    _add_attachment(walk, part, "message/rfc822", _message_bytes(inner), filename=filename,
                    inline=False)  # fmt: skip
    inner_blocks = _walk(inner, walk, depth + 1, root=True)
    heading = "---------- Forwarded message ----------\n" + "\n".join(fields)
    body = _blocks_text(inner_blocks)
    return [_Block(text=heading + ("\n\n" + body if body else ""))]


def _tnef(part: Message, walk: _Walk) -> list[_Block]:
    data = _payload_bytes(part, walk.defects)
    try:
        from tnefparse import TNEF  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        walk.defects.append("tnef-not-decoded")
        _add_attachment(walk, part, "application/ms-tnef", data, filename="winmail.dat")
        return []
    try:
        tnef = TNEF(data)
        blocks: list[_Block] = []
        body = getattr(tnef, "body", None)
        html_body = getattr(tnef, "htmlbody", None)
        if html_body:
            raw = html_body if isinstance(html_body, bytes) else str(html_body).encode()
            blocks.append(_Block(html=decode_bytes(raw, None, walk.defects)))
        elif body:
            raw = body if isinstance(body, bytes) else str(body).encode()
            blocks.append(_Block(text=decode_bytes(raw, None, walk.defects)))
        for item in getattr(tnef, "attachments", []):
            name = item.long_filename() if hasattr(item, "long_filename") else item.name
            if isinstance(name, bytes):
                name = decode_bytes(name, None, walk.defects)
            ctype = mimetypes.guess_type(str(name), strict=False)[0] or "application/octet-stream"
            _add_attachment(walk, part, ctype, bytes(item.data), filename=str(name), inline=False)
        if not blocks and not getattr(tnef, "attachments", []):
            raise ValueError("nothing in the TNEF container")  # keep the file as it came
        return blocks
    except Exception:
        walk.defects.append("tnef-undecodable")
        _add_attachment(walk, part, "application/ms-tnef", data, filename="winmail.dat")
        return []


def _wants_html(text: str, html_text: str) -> bool:
    """True when the plain alternative is empty or only points at the HTML version."""
    stripped = text.strip()
    if not stripped:
        return bool(html_text.strip())
    if len(stripped) > 300 or len(html_text.strip()) <= len(stripped):
        return False
    return bool(_SEE_HTML.search(stripped))


def _block_text(block: _Block) -> str:
    if block.html and len(block.text.strip()) <= 300:  # a longer plain part is never replaced
        converted = html_to_text(block.html)
        if _wants_html(block.text, converted):
            return converted
    return block.text


def _blocks_text(blocks: list[_Block]) -> str:
    parts = [_block_text(block).strip("\n") for block in blocks]
    return "\n\n".join(part for part in parts if part.strip())


def _blocks_html(blocks: list[_Block]) -> str:
    if not any(block.html for block in blocks):
        return ""
    pieces = []
    for block in blocks:
        if block.html:
            pieces.append(block.clean)
        elif block.text.strip():
            escaped = html.escape(block.text.strip("\n")).replace("\n", "<br>\n")
            pieces.append(f"<div>{escaped}</div>")
    return "\n".join(piece for piece in pieces if piece)


# --- automatic mail ----------------------------------------------------------------------------

_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply",
                      "x-mail-autoreply", "x-autogenerated", "x-autoreply-from")  # fmt: skip
_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply", "auto-reply"})
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")


def _auto(headers: dict[str, str], reports: list[str], from_raw: str, root_type: str) -> str:
    submitted = headers.get("auto-submitted", "").split(";", 1)[0].strip().lower()
    if submitted and submitted != "no":
        return "auto-submitted"
    for name in _AUTOREPLY_HEADERS:
        if name in headers:
            return name
    suppress = {token.strip().lower() for token in headers.get("x-auto-response-suppress", "")
                .split(",")}  # fmt: skip
    if suppress & {"all", "oof", "autoreply"}:
        return "x-auto-response-suppress"
    for name in ("precedence", "x-precedence"):
        precedence = headers.get(name, "").strip().lower()
        if precedence in _PRECEDENCE:
            return f"precedence:{precedence}"
    if root_type == "multipart/report" or reports:
        kinds = " ".join(reports)
        if "disposition-notification" in kinds:
            return "disposition-notification"
        return "delivery-status"
    if "x-failed-recipients" in headers:
        return "x-failed-recipients"
    if headers.get("return-path", "").strip() == "<>":
        return "null-return-path"
    sender = from_raw.lower()
    for daemon in _DAEMONS:
        if re.search(rf"(^|[\s<\"']){daemon}(@|>|\s|$)", sender):
            return "mailer-daemon" if daemon != "postmaster" else "postmaster"
    return ""


# --- putting it together -----------------------------------------------------------------------


def _declared_charsets(message: Message) -> list[str | None]:
    """Charsets the message names anywhere (parts, then encoded words of its headers): the
    best hint for 8-bit text that names none."""
    found: list[str | None] = []
    try:
        for part in message.walk():
            charset = _charset_of(part)
            if charset and charset.lower() not in found:
                found.append(charset.lower())
        for _name, value in message.raw_items():
            for match in _ENCODED_WORD.finditer(str(value)):
                charset = match.group(1).split("*", 1)[0].lower()
                if charset not in found:
                    found.append(charset)
    except Exception:
        return found
    return found


def _collect_defects(message: Message, defects: list[str]) -> None:
    try:
        for part in message.walk():
            for defect in getattr(part, "defects", []):
                defects.append(type(defect).__name__)
    except Exception:
        defects.append("defects-unreadable")


def _parse(raw: bytes) -> ParsedMessage:
    defects: list[str] = []
    raw = _repair(raw, defects)
    message = message_from_bytes(raw, policy=compat32)
    _collect_defects(message, defects)
    hints = _declared_charsets(message)

    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        key = str(name).strip().lower()
        if key and key not in headers:
            headers[key] = _SPACE.sub(" ", decode_header_value(value, defects, hints)).strip()

    def all_of(name: str) -> list[object]:
        return list(_raw_all(message, name))

    senders = _addresses(all_of("from"), defects, hints)
    senders = senders or _addresses(all_of("sender"), defects, hints)
    if not senders and all_of("reply-to"):
        senders = _addresses(all_of("reply-to"), defects, hints)  # From: "Name" <> (spam, CRMs)
        if senders:
            defects.append("from-missing-used-reply-to")
    from_name, from_address = senders[0] if senders else ("", "")
    if not senders and _raw(message, "from"):
        defects.append("unparsable-from")

    walk = _Walk(defects=defects, hints=hints)
    blocks = _walk(message, walk, root=True)
    text = _blocks_text(blocks)
    root_type = _content_type(message, defects)
    forwarded = _FORWARD_SUBJECT.match(headers.get("subject", ""))
    reply_text = text if forwarded else strip_reply(text)
    auto = _auto(headers, walk.reports, headers.get("from", ""), root_type)

    return ParsedMessage(
        message_id=(_msgids(headers.get("message-id", "")) or [""])[0],
        in_reply_to=_msgids(headers.get("in-reply-to", "")),
        references=_msgids(" ".join(str(v) for v in all_of("references"))),
        subject=headers.get("subject", ""),
        from_address=from_address,
        from_name=from_name,
        to=_addresses(all_of("to"), defects, hints),
        cc=_addresses(all_of("cc"), defects, hints),
        reply_to=_addresses(all_of("reply-to"), defects, hints),
        date=_date(headers.get("date", "")),
        text=text,
        html=_blocks_html(blocks),
        reply_text=reply_text,
        attachments=walk.attachments,
        headers=headers,
        auto=auto,
        defects=list(dict.fromkeys(defects)),
    )


# "Fwd:", "WG:", "TR:", "I:", "Пересл:" …: what looks like quoted history is the request itself.
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:fwd?|wg|w\.|tr|enc|rv|i|vs|vb|pd|doorst|пересл|пересылка|转发|轉寄)\s*(?:\[\d+\])?\s*[:：]",
    re.IGNORECASE,
)


def _salvage(raw: bytes, reason: str) -> ParsedMessage:
    """When the structured parse failed: the whole input as text, nothing else trusted."""
    text = decode_bytes(raw, None, []).replace("\r\n", "\n")
    return ParsedMessage(
        message_id="", in_reply_to=[], references=[], subject="", from_address="", from_name="",
        to=[], cc=[], reply_to=[], date=None, text=text, html="", reply_text=text,
        attachments=[], headers={}, auto="", defects=[reason],
    )  # fmt: skip


def _empty(defects: list[str]) -> ParsedMessage:
    return ParsedMessage(
        message_id="", in_reply_to=[], references=[], subject="", from_address="", from_name="",
        to=[], cc=[], reply_to=[], date=None, text="", html="", reply_text="",
        attachments=[], headers={}, auto="", defects=defects,
    )  # fmt: skip
