"""Text handling shared by both engines: words, stems, stop words, plain text and snippets.

PostgreSQL stems with its own ``russian``/``english`` configurations; SQLite's FTS5 has no
Russian stemmer, so the indexer stores the Snowball stems computed here (``snowballstemmer`` is
the same algorithm PostgreSQL uses) and queries are stemmed the same way. A word written in
Cyrillic is stemmed as Russian, a Latin one as English — PostgreSQL's ``russian`` configuration
does exactly that, which keeps the two engines in agreement on mixed texts ("VPN не работает").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .stopwords import ENGLISH, RUSSIAN

WORD_RE = re.compile(r"\w+", re.UNICODE)
CYRILLIC_RE = re.compile(r"[а-яё]")
LATIN_RE = re.compile(r"[a-z]")
#: What ts_headline marks matches with before we escape the text: control characters that never
#: occur in stored text (``plain_text`` removes them), so escaping cannot touch them.
START_SEL = "\x02"
STOP_SEL = "\x03"
#: Longest text indexed per field: PostgreSQL's tsvector holds at most 1 MB.
MAX_FIELD_CHARS = 200_000

_local = threading.local()


def _stemmers() -> tuple[snowballstemmer.stemmer, snowballstemmer.stemmer]:
    # Snowball stemmer objects keep state while stemming: one pair per thread.
    pair = getattr(_local, "stemmers", None)
    if pair is None:
        pair = (snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english"))
        _local.stemmers = pair
    return pair


def normalise_word(word: str) -> str:
    return word.lower().replace("ё", "е")


def is_stop_word(word: str) -> bool:
    return word in RUSSIAN or word in ENGLISH


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word (Russian for Cyrillic, English for Latin)."""
    russian, english = _stemmers()
    if CYRILLIC_RE.search(word):
        return str(russian.stemWord(word))
    if LATIN_RE.search(word):
        return str(english.stemWord(word))
    return word


def words(text: str) -> list[str]:
    """The searchable words of a text, lower-cased, stop words left out, in order."""
    found = (normalise_word(m.group()) for m in WORD_RE.finditer(text))
    return [w for w in found if not is_stop_word(w) and w.strip("_")]


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def index_text(text: str) -> str:
    """What the SQLite index stores for a text: its stems separated by spaces."""
    return " ".join(stems(text[:MAX_FIELD_CHARS]))


def normalise_query(text: str) -> str:
    """The key the "nothing found" report groups by: lower case, words only, in order."""
    return " ".join(normalise_word(m.group()) for m in WORD_RE.finditer(text))[:300]


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARKUP = re.compile(r"^\s*(#{1,6}|>+)\s|[*`~|]{1,3}", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACE = re.compile(r"[ \t\u200b\u200c\u200d\ufeff]+")


def plain_text(markdown: str) -> str:
    """Markdown source as the words a reader sees: link targets, markup and control characters
    (including our highlight sentinels) removed. Used for the index and for snippets."""
    text = _CONTROL.sub(" ", markdown or "")
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKUP.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:MAX_FIELD_CHARS]


def headline_html(raw: str) -> SafeString:
    """ts_headline's output (matches between the sentinels) as safe HTML with ``<mark>``."""
    escaped = escape(raw)
    return mark_safe(  # noqa: S308 — everything but our own tags was escaped just above
        escaped.replace(START_SEL, "<mark>").replace(STOP_SEL, "</mark>")
    )


def _matches(word: str, wanted: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    w = normalise_word(word)
    if is_stop_word(w):
        return False
    s = stem(w)
    return s in wanted or any(s.startswith(p) or w.startswith(p) for p in prefixes)


def snippet(text: str, query_stems: Iterable[str], *, prefixes: Iterable[str] = (),
            window: int = 30) -> SafeString:
    """An escaped excerpt of ``text`` around the densest run of matching words, each match in
    ``<mark>`` — the Python twin of ts_headline for SQLite."""
    wanted = frozenset(query_stems)
    prefix_tuple = tuple(prefixes)
    spans = [m.span() for m in WORD_RE.finditer(text)]
    if not spans:
        return mark_safe("")
    hits = [_matches(text[a:b], wanted, prefix_tuple) for a, b in spans]
    best_start, best_count, count = 0, -1, 0
    for i in range(len(spans)):
        count += hits[i]
        if i >= window:
            count -= hits[i - window]
        if count > best_count:
            best_count, best_start = count, max(0, i - window + 1)
    first = best_start
    # Start a little before the first match of the window, so it reads in context.
    for i in range(best_start, min(len(spans), best_start + window)):
        if hits[i]:
            first = max(0, i - 5)
            break
    last = min(len(spans), first + window) - 1
    parts: list[str] = ["…"] if first > 0 else []
    cursor = spans[first][0]
    for i in range(first, last + 1):
        a, b = spans[i]
        parts.append(escape(text[cursor:a]))
        piece = escape(text[a:b])
        parts.append(f"<mark>{piece}</mark>" if hits[i] else piece)
        cursor = b
    end = spans[last][1]
    if last < len(spans) - 1:
        parts.append("…")
    else:
        parts.append(escape(text[end:]))
    return mark_safe("".join(parts))  # noqa: S308 — built from escaped pieces and <mark> only
