"""The new part of an email reply: quoted history and signatures removed. Pure functions.

``strip_reply(text)`` = ``strip_signature(strip_quotes(text))``; the full text always stays
available to the caller (``ParsedMessage.text``), this is only what a ticket shows.

``strip_quotes`` cuts the quoted history off the end of a reply:

* a reply header — "On <date>, <name> wrote:" and its translations (German "schrieb", French
  "a écrit", Russian "пишет:" / "написал(а):", Polish, Dutch, Italian, Portuguese, Spanish,
  Scandinavian, Finnish, Hungarian, Czech, Turkish, Chinese, Japanese), also wrapped over up
  to four lines, and the bare "<date>, <name> <address>:" form of Gmail in many languages;
* a separator line — "-----Original Message-----", "----- Ursprüngliche Nachricht -----",
  "-------- Message d'origine --------", "-----Исходное сообщение-----" …;
* an Outlook header block — "From: / Sent: / To: / Subject:" (and "Von: / Gesendet:",
  "De : / Envoyé :", "От: / Отправлено:" …, with or without the "_____" line above it);
* a run of "> " quoted lines that goes on to the end (only a signature may follow).

It does not cut where the text goes on after the quote (an inline, interleaved reply keeps its
quotes — they are the context of the answers), nor at a forwarded message ("---------- Forwarded
message ----------" / "Begin forwarded message:" and the From/Date block under it): a forwarded
mail is the request itself. If cutting would leave nothing, the text is returned unchanged.

``strip_signature`` removes, when clearly trailing: a "-- " (or "--") delimiter and what
follows it (at most 40 lines; after "__" at most 15); a mobile footer ("Sent from my iPhone",
"Get Outlook for iOS", "Отправлено с iPhone" …) and everything under it (mobile clients put
the quoted original there without quoting it); a contact block (short lines with a phone, an
address, a web site) under a "-----" line or under a name; a closing phrase ("Regards,",
"Thanks,", "С уважением,", "Mit freundlichen Grüßen" …) followed by a short name block (its
first line at most three words, at most eight short lines in all).
"""

from __future__ import annotations

import re

__all__ = ["strip_quotes", "strip_reply", "strip_signature"]

_WROTE = (
    r"(?:wrote|writes|schrieb|a\s+écrit|a\s+ecrit|ha\s+scritto|schreef|"
    r"napisał\(a\)|napisała|napisał|napisal|escreveu|escribió|escribio|kirjoitti|skrev|"
    r"írta|irta|napsal\(a\)|napsala|napsal|пишет|пише|написал\(а\)|написала|написал|написав|"
    r"писал\(а\)|писал|yazdı|写道|寫道|書きました|のメッセージ)"
)
_HEADER_END = re.compile(
    rf"(?:\b{_WROTE}\s*(?:-+)?\s*[:：]?\s*-*|(?:@\S*|>)\s*[:：]|\)\s*{_WROTE}\s*[:：]?)\s*$",
    re.IGNORECASE,
)
_HEADER_START = re.compile(
    r"^(?:on|am|le|il|in\s+data|op|w\s+dniu|dnia|em|el|den|dne|dňa|pada|la|kl\.?|"
    r"mon|tue|wed|thu|fri|sat|sun)\b|^\d|^[^\W\d_]{1,12}\.?,?\s+\d{1,2}[\s.,]",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*[-=_*]{2,}\s*(?:original\s+message|ursprüngliche\s+nachricht|original[\s-]?nachricht|"
    r"message\s+d'origine|message\s+original|oprindelig\s+besked|opprinnelig\s+melding|"
    r"ursprungligt\s+meddelande|alkuperäinen\s+viesti|mensaje\s+original|messaggio\s+originale|"
    r"oorspronkelijk\s+bericht|původní\s+zpráva|pôvodná\s+správa|oryginalna\s+wiadomość|"
    r"wiadomość\s+oryginalna|исходное\s+сообщение|оригинальное\s+сообщение|"
    r"reply\s+message|original\s+email\s+message)\s*[-=_*]{2,}\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"forwarded\s+message|begin\s+forwarded\s+message|weitergeleitete\s+nachricht|"
    r"message\s+transféré|пересылаемое\s+сообщение|пересланное\s+сообщение|"
    r"mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|videresendt",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(
    r"^\s*\*?(?:from|von|de|da|van|fra|från|od|от|lähettäjä|feladó|kimden|发件人|差出人)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_OTHER_FIELD = re.compile(
    r"^\s*\*?(?:sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé(?:\s+le)?|date|à|a|"
    r"objet|copie\s+à|sujet|inviato|data|oggetto|verzonden|aan|onderwerp|sendt|dato|til|emne|"
    r"skickat|till|ämne|wysłane|wysłano|do|temat|отправлено|дата|кому|копия|тема|"
    r"lähetetty|vastaanottaja|aihe|enviado|para|assunto|asunto|elküldve|címzett|tárgy|"
    r"odesláno|komu|předmět|gönderildi|kime|konu|发送时间|收件人|主题|送信日時|宛先|件名)"
    r"\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")
_SEPARATOR_LINE = re.compile(r"^\s*[-_=*~—–]{2,}\s*$")
_LABEL_LINE = re.compile(r"^\s*[^\W\d_][\w' ]{0,20}\s?:\s?.*\d")
_SIG_DELIMITER = re.compile(r"^(?:-- ?|--|__)\s*$")
_MOBILE = re.compile(
    r"^\s*(?:sent\s+(?:from|with|via|using)\s+(?:my\s+)?[^,.;:!?<>]{1,40}|"
    r"get\s+outlook\s+for\s+\w+|envoyé\s+(?:de|depuis|à\s+partir\s+de)\s+[^,;:!?<>]{1,40}|"
    r"gesendet\s+(?:von|mit|vom)\s+[^,;:!?<>]{1,40}|inviato\s+da\s+[^,;:!?<>]{1,40}|"
    r"verzonden\s+(?:vanaf|met|van)\s+[^,;:!?<>]{1,40}|"
    r"enviado\s+(?:desde|de|do)\s+[^,;:!?<>]{1,40}|"
    r"отправлено\s+(?:с|из|со)\s+[^,;:!?<>]{1,40}|"
    r"skickat\s+från\s+[^,;:!?<>]{1,40}|sendt\s+fra\s+[^,;:!?<>]{1,40}|"
    r"wysłane\s+z\s+[^,;:!?<>]{1,40}|lähetetty\s+[^,;:!?<>]{1,40})"
    r"\s*(?:<[^>]*>|\([^)]*\))?\s*$",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:best\s+regards|kind\s+regards|warm\s+regards|warmest\s+regards|regards|"
    r"best\s+wishes|best|cheers|thanks|thank\s+you|many\s+thanks|thanks\s+again|br|"
    r"with\s+(?:best|kind)\s+regards|all\s+the\s+best|"
    r"mit\s+freundlichen\s+grüßen|mit\s+freundlichen\s+grüssen|freundliche\s+grüße|mfg|"
    r"viele\s+grüße|beste\s+grüße|liebe\s+grüße|gruß|grüße|cordialement|bien\s+cordialement|"
    r"bien\s+à\s+vous|salutations|cordiali\s+saluti|distinti\s+saluti|saluti|"
    r"met\s+vriendelijke\s+groet(?:en)?|groeten|pozdrawiam|z\s+poważaniem|atenciosamente|"
    r"saludos|un\s+saludo|saludos\s+cordiales|с\s+уважением|с\s+наилучшими\s+пожеланиями|"
    r"всего\s+доброго|всего\s+хорошего|спасибо|заранее\s+спасибо|благодарю|с\s+уважением\s+и\s+"
    r"наилучшими\s+пожеланиями|з\s+повагою|med\s+vennlig\s+hilsen|venlig\s+hilsen|"
    r"med\s+venlig\s+hilsen|vänliga\s+hälsningar|hälsningar|ystävällisin\s+terveisin|"
    r"terveisin|üdvözlettel|s\s+pozdravem|saygılarımla)"
    r"\s*[,.!]*\s*(?:[^\w\s]{1,4})?\s*$",
    re.IGNORECASE,
)


def strip_reply(text: str) -> str:
    """The new part of a reply: quoted history and a trailing signature removed."""
    return strip_signature(strip_quotes(text))


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _join(lines: list[str]) -> str:
    return "\n".join(lines).rstrip()


def _signature_start(lines: list[str]) -> int | None:
    """Index of the last signature delimiter that ends the text: "-- " (or "--") with at most
    40 lines under it (signatures with legal notices are long), "__" with at most 15."""
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    for index in range(last - 1, max(last - 41, -1), -1):
        line = lines[index]
        if _SIG_DELIMITER.match(line) and (line.startswith("--") or last - index <= 16):
            return index
    return None


def _has_text_after(lines: list[str], start: int) -> bool:
    """Unquoted, non-signature text after ``start``: the reply is interleaved with quotes.

    A line right under a long quoted one is the rest of that line, wrapped by the sender's
    client without repeating the ">" — not an answer."""
    end = next((i for i in range(start, len(lines)) if _SIG_DELIMITER.match(lines[i])), len(lines))
    seen_quote = False
    previous = ""
    for line in lines[start:end]:
        if not line.strip() or _SEPARATOR_LINE.match(line):
            previous = line
            continue
        if _QUOTED.match(line):
            seen_quote = True
        elif seen_quote and not _MOBILE.match(line) and not _wrapped(previous):
            return True
        previous = line
    return False


def _wrapped(previous: str) -> bool:
    return bool(_QUOTED.match(previous)) and len(previous.rstrip()) >= 60


def _reply_header(lines: list[str]) -> int | None:
    """Start of the first reply header whose history is not interleaved with answers."""
    for end, line in enumerate(lines):
        if not line.strip() or not _HEADER_END.search(line):
            continue
        for size in range(1, 5):
            start = end - size + 1
            if start < 0:
                break
            window = lines[start : end + 1]
            if any(not part.strip() for part in window):
                break
            joined = " ".join(part.strip() for part in window)
            first = re.sub(r"^[>\s]*-*\s*", "", window[0])
            if len(joined) > 500:
                break
            if not re.search(r"[\d@]", joined) or not _HEADER_START.search(first):
                continue
            if _FORWARD.search(joined):
                break
            following = next((ln for ln in lines[end + 1 :] if ln.strip()), "")
            interleaved = _QUOTED.match(following) and not _QUOTED.match(lines[start])
            if interleaved and _has_text_after(lines, end + 1):
                break  # an inline reply: its quotes are the context of the answers
            return start
    return None


def _separator(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return index
    return None


def _is_field(line: str) -> bool:
    return bool(_FROM_FIELD.match(line) or _OTHER_FIELD.match(line))


def _outlook_block(lines: list[str]) -> int | None:
    """The first line of a block of mail header fields ("From:", "Sent:", "To:", "Subject:" in
    any order — Hotmail starts with "Date:"), with a From field among them."""
    for index, line in enumerate(lines):
        if not _is_field(line) or (index and _is_field(lines[index - 1])):
            continue
        window = lines[index : index + 8]
        fields = [other for other in window if _is_field(other)]
        if len(fields) < 3 or not any(_FROM_FIELD.match(other) for other in window):
            continue
        above = [ln for ln in lines[max(index - 3, 0) : index] if ln.strip()]
        if any(_FORWARD.search(ln) for ln in above):
            continue
        return index
    return None


def _trailing_quote(lines: list[str]) -> int | None:
    sig = _signature_start(lines)
    end = sig if sig is not None else len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    if not end or not _QUOTED.match(lines[end - 1]):
        return None
    start = end
    while start and (not lines[start - 1].strip() or _QUOTED.match(lines[start - 1])):
        start -= 1
    return start


def _walk_back(lines: list[str], cut: int, *, labels: bool) -> int:
    """Include blank and separator lines (and "Message du : <date>" labels) above the cut."""
    while cut > 0:
        previous = lines[cut - 1]
        if (
            not previous.strip()
            or _SEPARATOR_LINE.match(previous)
            or (labels and _LABEL_LINE.match(previous) and len(previous) < 60)
        ):
            cut -= 1
            continue
        break
    return cut


def strip_quotes(text: str) -> str:
    """The reply without the quoted history under it (see the module docstring)."""
    lines = _lines(text)
    cuts: list[int] = []
    header = _reply_header(lines)
    if header is not None:
        cuts.append(_walk_back(lines, header, labels=False))
    separator = _separator(lines)
    if separator is not None:
        cuts.append(_walk_back(lines, separator, labels=False))
    block = _outlook_block(lines)
    if block is not None:
        cuts.append(_walk_back(lines, block, labels=True))
    trailing = _trailing_quote(lines)
    if trailing is not None:
        cuts.append(_walk_back(lines, trailing, labels=False))
    kept = lines[: min(cuts)] if cuts else lines
    kept = _without_bottom_posted_quote(kept)
    if kept is lines:
        return text
    result = _join(kept)
    return result if re.search(r"\w", result) else text


def _without_bottom_posted_quote(lines: list[str]) -> list[str]:
    """A bottom post: one reply header with its quote above the answer. Interleaved answers
    (more than one quote block) and quotes without a header stay."""
    blocks = []
    index = 0
    while index < len(lines):
        if _QUOTED.match(lines[index]):
            start = index
            while index < len(lines) and (_QUOTED.match(lines[index]) or not lines[index].strip()):
                index += 1
            blocks.append((start, index))
        index += 1
    if len(blocks) != 1:
        return lines
    start, end = blocks[0]
    if not any(line.strip() for line in lines[end:]):
        return lines
    above = start
    while above and not lines[above - 1].strip():
        above -= 1
    header = None
    for size in range(1, 5):
        first = above - size
        if first < 0:
            break
        window = lines[first:above]
        if _HEADER_END.search(window[-1]) and _HEADER_START.search(window[0].lstrip("> -")):
            header = first
            break
    if header is None:
        return lines
    return [*lines[:header], *lines[end:]]


def _closing_block(lines: list[str]) -> int | None:
    """A closing phrase followed by a short name block that ends the text."""
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    for index in range(last - 1, max(last - 10, -1), -1):
        if not _CLOSING.match(lines[index]):
            continue
        rest = [ln.strip() for ln in lines[index + 1 : last] if ln.strip()]
        if not rest or len(rest) > 8 or any(len(ln) > 80 for ln in rest):
            return None
        if len(rest[0].split()) > 3:
            return None
        return index
    return None


_CONTACT = re.compile(
    r"(?:[\w.+-]+@[\w-]+\.[\w.-]+|https?://|www\.|\+?\d[\d ()./-]{6,}\d|^\s*(?:tel|phone|fax|"
    r"mobile|mob|cell|skype|t|f|m|тел|моб)\.?\s*[:.])",
    re.IGNORECASE,
)


_NAME_LINE = re.compile(r"^\s*[A-ZА-ЯЁ][\w'’.-]+(?:\s+[A-ZА-ЯЁ][\w'’.-]*){1,3}\s*$")


def _contact_block(lines: list[str]) -> int | None:
    """A signature without the "-- " delimiter: a trailing block of short lines with contact
    details (address, phone, web site) under a separator line ("-----", "_____") or starting
    with a name ("Gina Smith")."""
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    first = last
    while first and lines[first - 1].strip():
        first -= 1
    block = [ln.strip() for ln in lines[first:last]]
    if (
        first
        and 3 <= len(block) <= 8
        and _NAME_LINE.match(block[0])
        and all(len(ln) <= 60 for ln in block)
        and sum(1 for ln in block[1:] if _CONTACT.search(ln)) >= 2
    ):
        return first
    for index in range(last - 1, max(last - 25, 0), -1):
        if not re.fullmatch(r"\s*[-_=*]{4,}\s*", lines[index]):
            continue
        rest = [ln.strip() for ln in lines[index + 1 : last] if ln.strip()]
        short = 2 <= len(rest) <= 14 and all(len(ln) <= 60 for ln in rest)
        if short and sum(1 for ln in rest if _CONTACT.search(ln)) >= 2:
            return index
        return None
    return None


def strip_signature(text: str) -> str:
    """The text without a trailing signature (see the module docstring)."""
    lines = _lines(text)
    cuts: list[int] = []
    contact = _contact_block(lines)
    if contact is not None and contact > 0:
        cuts.append(contact)
    for index, line in enumerate(lines):
        if _MOBILE.match(line) and index > 0:
            cuts.append(index)
            break
    sig = _signature_start(lines)
    if sig is not None and sig > 0:
        cuts.append(sig)
    if not cuts:
        closing = _closing_block(lines)
        if closing is not None and closing > 0:
            cuts.append(closing)
    else:
        closing = _closing_block(lines[: min(cuts)])
        if closing is not None and closing > 0:
            cuts.append(closing)
    if not cuts:
        return text
    result = _join(lines[: _walk_back(lines, min(cuts), labels=False)])
    return result if re.search(r"\w", result) else text
