"""HTML mail bodies → plain text, and HTML → sanitised HTML.

Pure functions, standard library plus nh3 (already a dependency), no database.

``html_to_text`` keeps what a reader needs from an HTML-only mail: paragraphs and line breaks,
list items ("- "), table rows (cells separated by " | "), quoted history (``<blockquote>`` lines
are prefixed with "> " so that ``replies.strip_reply`` recognises them), and links as
``text (url)`` when the url adds something to the text. Scripts, styles, the head and comments
are dropped.

``sanitize_html`` is the only way mail HTML may leave the parser: a conservative allow-list (no
script, style, iframe, forms, event handlers or style attributes), links get
``rel="noopener noreferrer"``, images only keep ``cid:`` and ``data:image/…`` sources — remote
images are dropped so that showing a mail never tells its sender that it was read.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

__all__ = ["html_to_text", "sanitize_html"]

_BLOCK = frozenset(
    {
        "address", "article", "aside", "center", "dd", "details", "dir", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "main", "menu",
        "nav", "ol", "section", "summary", "table", "tbody", "tfoot", "thead", "ul", "caption",
    }
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "object", "svg"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
_WS = re.compile(r"[ \t\n\r\f\v\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


class _TextBuilder(HTMLParser):
    """Collects lines; ``quote`` is the current ``<blockquote>`` depth."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []  # (quote depth, text)
        self.current: list[str] = []
        self.quote = 0
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, length of current text at <a>)
        self.list_stack: list[list[int]] = []  # [ordered?, counter]
        self.cell = 0

    # -- line handling --------------------------------------------------------------------
    def _text(self) -> str:
        return "".join(self.current)

    def newline(self) -> None:
        text = self._text()
        if not self.pre:
            text = text.strip(" ")
        self.lines.append((self.quote, text))
        self.current = []
        self.cell = 0

    def ensure_newline(self) -> None:
        if self._text().strip():
            self.newline()
        else:
            self.current = []

    def blank_line(self) -> None:
        self.ensure_newline()
        if self.lines and self.lines[-1][1] != "":
            self.lines.append((self.quote, ""))

    # -- parser callbacks -----------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip += 1
            return
        if self.skip:
            return
        if tag == "br":
            self.newline()
        elif tag == "hr":
            self.ensure_newline()
            self.lines.append((self.quote, "----"))
        elif tag == "blockquote":
            self.blank_line()
            self.quote += 1
        elif tag in _PARAGRAPH:
            self.blank_line()
            if tag == "pre":
                self.pre += 1
        elif tag in ("ul", "ol"):
            self.ensure_newline()
            self.list_stack.append([1 if tag == "ol" else 0, 0])
        elif tag == "li":
            self.ensure_newline()
            if self.list_stack and self.list_stack[-1][0]:
                self.list_stack[-1][1] += 1
                bullet = f"{self.list_stack[-1][1]}. "
            else:
                bullet = "- "
            self.current.append("  " * max(len(self.list_stack) - 1, 0) + bullet)
        elif tag == "tr":
            self.ensure_newline()
        elif tag in ("td", "th"):
            if self.cell and self._text().strip():
                self.current.append(" | ")
            self.cell += 1
        elif tag in _BLOCK:
            self.ensure_newline()
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href.strip(), len(self._text())))
        elif tag == "img":
            pass  # images carry no text worth keeping; alt text of spacer images is noise

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID or tag in ("br", "hr", "img"):
            self.handle_starttag(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if tag not in _VOID and self.skip:
                self.skip -= 1
            return
        if self.skip:
            return
        if tag == "blockquote":
            self.blank_line()
            self.quote = max(self.quote - 1, 0)
        elif tag in _PARAGRAPH:
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
            self.blank_line()
        elif tag in ("ul", "ol"):
            self.ensure_newline()
            if self.list_stack:
                self.list_stack.pop()
        elif tag in ("li", "tr") or tag in _BLOCK:
            self.ensure_newline()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            self._close_link(href, start)

    def _close_link(self, href: str, start: int) -> None:
        text = self._text()
        label = text[start:].strip() if start <= len(text) else ""
        if not href or href.startswith(("#", "javascript:", "cid:", "data:")):
            return
        target = href[7:] if href.lower().startswith("mailto:") else href
        target = target.split("?", 1)[0] if href.lower().startswith("mailto:") else target
        plain = label.rstrip("/").lower()
        if not label:
            self.current.append(target)
        elif plain in (target.rstrip("/").lower(), href.rstrip("/").lower()) or (
            target.lower().rstrip("/").endswith("//" + plain)
        ):
            return
        else:
            self.current.append(f" ({target})")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.newline()
                self.current.append(part)
            return
        text = _WS.sub(" ", data)
        if text == " " and (not self.current or self._text().endswith(" ")):
            return
        if self._text().endswith(" ") and text.startswith(" "):
            text = text[1:]
        self.current.append(text)

    def result(self) -> str:
        self.ensure_newline()
        out = []
        for depth, text in self.lines:
            line = text.replace("\xa0", " ").rstrip()
            out.append(("> " * depth + line).rstrip() if depth else line)
        return _BLANKS.sub("\n\n", "\n".join(out)).strip("\n")


def html_to_text(markup: str) -> str:
    """Readable plain text of an HTML document or fragment; never raises."""
    builder = _TextBuilder()
    try:
        builder.feed(markup)
        builder.close()
    except Exception:  # HTMLParser is lenient; anything left is a bug we must not crash on
        return html.unescape(re.sub(r"<[^>]*>", " ", markup)).strip()
    return builder.result()


_TAGS = {
    "a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
    "center", "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
    "tr", "tt", "u", "ul", "var",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "time": {"datetime"},
    "*": {"dir", "lang"},
}
_CLEAN_CONTENT = {"script", "style", "title", "template", "noscript", "iframe", "object", "svg",
                  "math", "textarea", "select", "button"}  # fmt: skip
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|bmp);", re.IGNORECASE)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    lowered = value.strip().lower()
    if tag == "img" and attribute == "src":
        # cid: images are the mail's own attachments; data: images travel inside the mail.
        # Anything remote is a tracking pixel as far as we are concerned.
        if lowered.startswith("cid:") or _DATA_IMAGE.match(lowered):
            return value
        return None
    if attribute in ("href", "cite") and lowered.startswith(("data:", "cid:")):
        return None
    return value


def sanitize_html(markup: str) -> str:
    """The HTML with only harmless markup left (see the module docstring); never raises."""
    if not markup.strip():
        return ""
    try:
        cleaned = nh3.clean(
            markup,
            tags=_TAGS,
            clean_content_tags=_CLEAN_CONTENT,
            attributes=_ATTRIBUTES,
            attribute_filter=_attribute_filter,
            url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
            link_rel="noopener noreferrer",
            strip_comments=True,
        )
    except Exception:  # nh3 refuses nothing we know of; be certain we never return raw HTML
        return html.escape(html_to_text(markup)).replace("\n", "<br>")
    return cleaned.strip()
