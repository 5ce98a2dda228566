"""``parse_message`` rule by rule, on small inline messages; and it never raises (hypothesis)."""

from __future__ import annotations

import base64
import random
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opora.mail.parsing import (
    ParsedMessage,
    decode_bytes,
    decode_header_value,
    normalize_charset,
    parse_message,
)


def mail(body: bytes | str, *headers: str, content_type: str | None = None) -> bytes:
    """A message from header lines and a body (str bodies are UTF-8)."""
    lines = ["From: Пётр <Petr@Example.COM>", "To: support@example.com", "Subject: test"]
    lines += headers
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    head = "\n".join(lines).encode()
    return head + b"\n\n" + (body.encode() if isinstance(body, str) else body)


def multipart(kind: str, *parts: bytes, headers: tuple[str, ...] = ()) -> bytes:
    body = b"".join(b"--XX\n" + part + b"\n" for part in parts) + b"--XX--\n"
    return mail(body, *headers, content_type=f'multipart/{kind}; boundary="XX"')


def part(body: bytes | str, *headers: str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return "\n".join(headers).encode() + b"\n\n" + data


# --- charsets ----------------------------------------------------------------------------------

RUSSIAN = "Здравствуйте, у нас не работает принтер в бухгалтерии, помогите пожалуйста."


@pytest.mark.parametrize("codec", ["cp1251", "koi8_r", "mac_cyrillic"])
def test_russian_without_a_charset_is_guessed(codec: str) -> None:
    parsed = parse_message(mail(RUSSIAN.encode(codec)))
    assert parsed.text == RUSSIAN
    assert any(d.startswith("charset-guessed") for d in parsed.defects)


@pytest.mark.parametrize("label", ["iso-8859-1", "us-ascii", "windows-1252"])
def test_latin_label_on_windows_1251_bytes(label: str) -> None:
    parsed = parse_message(
        mail(RUSSIAN.encode("cp1251"), content_type=f"text/plain; charset={label}")
    )
    assert parsed.text == RUSSIAN


def test_latin_label_on_latin_text_stays_latin() -> None:
    text = "Grüße aus Köln, die Größe ist schön - ÄÖÜäöüß"
    parsed = parse_message(
        mail(text.encode("latin-1"), content_type="text/plain; charset=iso-8859-1")
    )
    assert parsed.text == text


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf8", "utf-8"),
        ("cp-1251", "cp1251"),
        ("x-mac-cyrillic", "mac_cyrillic"),
        ("koi8-r", "koi8_r"),
        ("gb2312", "gb18030"),
        ("ks_c_5601-1987", "cp949"),
        ('"Windows-1251"', "cp1251"),
        ("win-1251", "cp1251"),
    ],
)
def test_charset_names_real_mail_uses(label: str, codec: str) -> None:
    assert normalize_charset(label) == codec
    parsed = parse_message(mail(RUSSIAN.encode(codec), content_type=f"text/plain; charset={label}"))
    assert parsed.text == RUSSIAN


@pytest.mark.parametrize(("label", "codec"), [("koi8-r", "cp1251"), ("windows-1251", "koi8_r")])
def test_wrong_cyrillic_label(label: str, codec: str) -> None:
    parsed = parse_message(mail(RUSSIAN.encode(codec), content_type=f"text/plain; charset={label}"))
    assert parsed.text == RUSSIAN
    assert any(d.startswith("charset-mismatch") for d in parsed.defects)


def test_unknown_charset_name_is_guessed_and_reported() -> None:
    parsed = parse_message(mail(RUSSIAN.encode("cp1251"), content_type="text/plain; charset=x-foo"))
    assert parsed.text == RUSSIAN
    assert "unknown-charset:x-foo" in parsed.defects


def test_chinese_japanese_korean_without_labels() -> None:
    for text, codec in [
        ("您好，我们的打印机坏了，请帮忙处理一下。", "gb18030"),
        ("プリンターが動かないので、確認をお願いします。", "cp932"),
        ("프린터가 작동하지 않습니다. 확인 부탁드립니다.", "cp949"),
    ]:
        assert decode_bytes(text.encode(codec)) == text


def test_utf8_declared_as_something_else() -> None:
    parsed = parse_message(mail(RUSSIAN, content_type="text/plain; charset=windows-1251"))
    assert parsed.text == RUSSIAN
    assert "charset-mismatch:cp1251->utf-8" in parsed.defects


def test_utf8_with_stray_latin1_bytes_keeps_both() -> None:
    data = "Ответ: ".encode() + "Grüße".encode("latin-1") + " и ещё немного текста".encode()
    assert decode_bytes(data) == "Ответ: Grüße и ещё немного текста"


def test_iso_2022_jp_with_microsoft_extensions() -> None:
    # "①" (NEC row 13) is not in Python's iso2022_jp codecs.
    data = b"\x1b$B-!\x1b(B test \x1b$B$3$s$K$A$O\x1b(B"
    assert decode_bytes(data, "iso-2022-jp") == "① test こんにちは"


def test_utf7_encoded_word() -> None:
    assert decode_header_value("=?unicode-1-1-utf-7?Q?+ANw-bermittlung?=") == "Übermittlung"


# --- headers -----------------------------------------------------------------------------------


def test_rfc2047_words_split_inside_a_character_and_raw_spaces() -> None:
    assert decode_header_value("=?utf-8?Q?=E3?=    =?utf-8?Q?=82?=    =?utf-8?Q?=AD?=") == "キ"
    assert decode_header_value("=?UTF-8?B?5L2g5Q==?==?UTF-8?B?pb0=?=") == "你好"
    assert decode_header_value("=?UTF-8?Q?Ceci n'est pas une?= pipe") == "Ceci n'est pas une pipe"
    assert decode_header_value("A =?UTF-8?Q?B?= C =?UTF-8?Q?D?=") == "A B C D"


def test_subject_is_decoded_and_whitespace_normalised() -> None:
    raw = mail("x", "Subject: =?koi8-r?B?8NLJ18XU?=\n\t =?utf-8?Q?_=D0=BC=D0=B8=D1=80?=  !")
    assert parse_message(raw.replace(b"Subject: test\n", b"")).subject == "Привет мир !"


def test_raw_8bit_subject_uses_the_charset_the_body_declares() -> None:
    raw = mail(
        RUSSIAN.encode("koi8_r"), "Subject: " + "", content_type="text/plain; charset=koi8-r"
    )
    raw = raw.replace(b"Subject: test\nSubject: \n", "Subject: Не печатает\n".encode("koi8_r"))
    assert parse_message(raw).subject == "Не печатает"


def test_raw_utf8_headers() -> None:
    raw = mail("x").replace(b"Subject: test", "Subject: Привет, élève".encode())
    assert parse_message(raw).subject == "Привет, élève"


def test_identifiers_addresses_and_date() -> None:
    raw = mail(
        "x",
        "Message-ID: <abc.123@example.com>",
        "In-Reply-To: <OPORA-1@opora.local> (comment)",
        "References: <a@x> <b@x>\n <OPORA-1@opora.local>",
        "Cc: =?utf-8?B?0JjQstCw0L0=?= <IVAN@example.com>, plain@example.com, broken",
        "Reply-To: Help <help@example.com>",
        "Date: Tue, 3 Apr 2012 16:55:26 +0400",
    )
    parsed = parse_message(raw)
    assert parsed.message_id == "abc.123@example.com"
    assert parsed.in_reply_to == ["OPORA-1@opora.local"]
    assert parsed.references == ["a@x", "b@x", "OPORA-1@opora.local"]
    assert (parsed.from_name, parsed.from_address) == ("Пётр", "petr@example.com")
    assert parsed.to == [("", "support@example.com")]
    assert parsed.cc == [("Иван", "ivan@example.com"), ("", "plain@example.com")]
    assert parsed.reply_to == [("Help", "help@example.com")]
    assert parsed.date == datetime(2012, 4, 3, 12, 55, 26, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(hours=4)


def test_dates_without_zone_or_invalid() -> None:
    naive = parse_message(mail("x", "Date: Tue, 3 Apr 2012 16:55:26 -0000"))
    assert naive.date is not None and naive.date.tzinfo is not None
    assert parse_message(mail("x", "Date: yesterday")).date is None


def test_encoded_words_inside_an_address_are_never_decoded() -> None:
    raw = mail("x").replace(b"From: ", b"X-Old: ")
    raw = b"From: =?utf-8?Q?agent=40example.com?=@attacker.example\n" + raw
    parsed = parse_message(raw)
    assert parsed.from_address == "=?utf-8?q?agent=40example.com?=@attacker.example"


def test_sender_fallbacks() -> None:
    no_from = mail("x", "Reply-To: <real@example.com>").replace(
        "From: Пётр <Petr@Example.COM>".encode(), b'From: "Name" <>'
    )
    parsed = parse_message(no_from)
    assert parsed.from_address == "real@example.com"
    assert "from-missing-used-reply-to" in parsed.defects
    salvage = mail("x").replace("From: Пётр <Petr@Example.COM>".encode(), b"From: Test test@ex.com")
    assert parse_message(salvage).from_address == "test@ex.com"


def test_headers_dict_first_occurrence_lower_case_decoded() -> None:
    raw = mail("x", "X-Thing: one", "X-THING: two", "X-Name: =?utf-8?Q?=C3=A9?=")
    headers = parse_message(raw).headers
    assert headers["x-thing"] == "one"
    assert headers["x-name"] == "é"
    assert headers["from"] == "Пётр <Petr@Example.COM>"


def test_broken_header_blocks_are_repaired() -> None:
    raw = mail("body", "X-Tracker: abc\nGARBAGE-WITHOUT-COLON-OR-INDENT\nX-Other: 1")
    raw = (
        b"From someone@example.com Wed Apr 19 20:56:33 2017\n"
        + raw.replace(b"Subject: test\n", b"")
        + b""
    )
    raw = raw.replace(b"X-Other: 1\n", b"X-Other: 1\nSubject: still here\n")
    parsed = parse_message(raw)
    assert parsed.subject == "still here"
    assert parsed.text == "body"
    assert "leading-garbage-removed" in parsed.defects
    assert "header-folding-repaired" in parsed.defects


# --- bodies ------------------------------------------------------------------------------------


def test_quoted_printable_and_broken_base64() -> None:
    qp = parse_message(
        mail("Gr=C3=BC=C3=9Fe, a soft=\n break", "Content-Transfer-Encoding: quoted-printable")
    )
    assert qp.text == "Grüße, a soft break"
    encoded = base64.b64encode(RUSSIAN.encode() + b"!").decode().rstrip("=")
    broken = encoded[:20] + "\n!!\n" + encoded[20:]  # no padding, junk inside
    parsed = parse_message(mail(broken, "Content-Transfer-Encoding: base64"))
    assert parsed.text == RUSSIAN + "!"
    assert {"base64-padding", "base64-garbage"} <= set(parsed.defects)


def test_alternative_prefers_plain_text() -> None:
    raw = multipart(
        "alternative",
        part("Plain version", "Content-Type: text/plain; charset=utf-8"),
        part("<p>HTML <b>version</b></p>", "Content-Type: text/html; charset=utf-8"),
    )
    parsed = parse_message(raw)
    assert parsed.text == "Plain version"
    assert parsed.html == "<p>HTML <b>version</b></p>"


@pytest.mark.parametrize(
    "plain",
    ["", "   \n", "This is an HTML message. Please use an HTML capable mail program to read it."],
)
def test_alternative_uses_the_html_when_the_plain_part_says_nothing(plain: str) -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>Printer on floor 3 is <b>broken</b>.</p><p>See <a href='https://wiki.example.com/p3'>"
        "the wiki</a> or write to <a href='mailto:it@example.com'>it@example.com</a>.</p>"
        "<ul><li>Model HP 4250</li><li>Since Monday</li></ul></body></html>"
    )
    raw = multipart(
        "alternative",
        part(plain, "Content-Type: text/plain"),
        part(html, "Content-Type: text/html"),
    )
    parsed = parse_message(raw)
    assert parsed.text == (
        "Printer on floor 3 is broken.\n\nSee the wiki (https://wiki.example.com/p3) or write to "
        "it@example.com.\n\n- Model HP 4250\n- Since Monday"
    )


def test_html_only_mail_and_quoted_history_in_blockquote() -> None:
    html = (
        "<div>Thanks, it works now.</div><div class='gmail_quote'>On Mon, Apr 2, 2012 at 6:26 PM, "
        "Support &lt;support@example.com&gt; wrote:<blockquote>Please restart it.</blockquote>"
        "</div>"
    )
    parsed = parse_message(mail(html, content_type="text/html; charset=utf-8"))
    assert "> Please restart it." in parsed.text
    assert parsed.reply_text == "Thanks, it works now."


def test_html_is_sanitised() -> None:
    html = (
        '<p onclick="steal()">Hi<script>alert(1)</script><style>*{}</style></p>'
        '<iframe src="https://evil.example"></iframe><form action="x"><input name="p"></form>'
        '<a href="javascript:alert(1)">js</a> <a href="https://ok.example/">ok</a>'
        '<img src="https://tracker.example/pixel.gif"> <img src="cid:logo@x">'
        '<img src="data:image/png;base64,iVBORw0KGgo="> <span style="background:url(x)">s</span>'
    )
    clean = parse_message(mail(html, content_type="text/html")).html
    for bad in (
        "onclick",
        "<script",
        "alert(1)",
        "<style",
        "<iframe",
        "<form",
        "<input",
        "javascript:",
        "tracker.example",
        "style=",
    ):
        assert bad not in clean
    assert '<a href="https://ok.example/" rel="noopener noreferrer">ok</a>' in clean
    assert 'src="cid:logo@x"' in clean and 'src="data:image/png;base64,iVBORw0KGgo="' in clean


def test_plain_message_has_no_html() -> None:
    assert parse_message(mail("just text")).html == ""


def test_related_inline_images_and_attachments() -> None:
    html = part('<p>Look: <img src="cid:image001.png@01D"></p>', "Content-Type: text/html")
    png = part(
        base64.b64encode(b"\x89PNG....").decode(),
        "Content-Type: image/png",
        "Content-Transfer-Encoding: base64",
        "Content-ID: <image001.png@01D>",
    )
    related = part(
        b"--YY\n" + html + b"\n--YY\n" + png + b"\n--YY--",
        'Content-Type: multipart/related; boundary="YY"',
    )
    pdf_part = part(
        b"%PDF-1.4",
        "Content-Type: application/pdf",
        "Content-Disposition: attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf",
    )
    raw = multipart("mixed", related, pdf_part)
    parsed = parse_message(raw)
    assert parsed.text == "Look:"
    image, pdf = parsed.attachments
    assert (image.filename, image.content_type, image.inline, image.content_id) == (
        "image001.png",
        "image/png",
        True,
        "image001.png@01D",
    )
    assert image.content == b"\x89PNG...."
    assert (pdf.filename, pdf.content_type, pdf.inline, pdf.content) == (
        "отчёт.pdf",
        "application/pdf",
        False,
        b"%PDF-1.4",
    )
    assert 'src="cid:image001.png@01D"' in parsed.html


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="C:\\\\Users\\\\me\\\\report.xlsx"', "report.xlsx"),
        ('attachment; filename="=?utf-8?B?0LzQvtC5X9GE0LDQudC7LmJpbg==?="', "мой_файл.bin"),
        ("attachment", "attachment.bin"),
        ('attachment; filename=".."', "attachment.bin"),
    ],
)
def test_attachment_file_names(disposition: str, expected: str) -> None:
    raw = multipart(
        "mixed",
        part("see attached", "Content-Type: text/plain"),
        part(
            "AAAA", "Content-Type: application/octet-stream", f"Content-Disposition: {disposition}"
        ),
    )
    assert [a.filename for a in parse_message(raw).attachments] == [expected]


def test_forwarded_message_keeps_its_text_and_attachments() -> None:
    inner = (
        b"From: Boss <boss@example.com>\nSubject: =?utf-8?Q?=D0=9E=D1=82=D1=87=D1=91=D1=82?=\n"
        b"Date: Mon, 1 Jan 2024 10:00:00 +0300\nContent-Type: multipart/mixed; boundary=IN\n\n"
        b"--IN\nContent-Type: text/plain; charset=utf-8\n\n" + "Текст отчёта".encode() + b"\n"
        b"--IN\nContent-Type: application/pdf; name=r.pdf\n\n%PDF\n--IN--\n"
    )
    raw = multipart(
        "mixed",
        part("FYI, see below", "Content-Type: text/plain"),
        part(inner, "Content-Type: message/rfc822"),
    )
    parsed = parse_message(raw)
    assert parsed.text.startswith("FYI, see below\n\n---------- Forwarded message ----------\n")
    assert "From: Boss <boss@example.com>" in parsed.text and "Subject: Отчёт" in parsed.text
    assert parsed.text.endswith("Текст отчёта")
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("Отчёт.eml", "message/rfc822"),
        ("r.pdf", "application/pdf"),
    ]
    assert parsed.reply_text == parsed.text  # a forward is not quoted history


def test_inline_text_attachment_is_shown_and_kept() -> None:
    raw = multipart(
        "mixed",
        part("Log below", "Content-Type: text/plain"),
        part(
            "error 42",
            "Content-Type: text/plain",
            'Content-Disposition: inline; filename="log.txt"',
        ),
    )
    parsed = parse_message(raw)
    assert parsed.text == "Log below\n\nerror 42"
    assert [(a.filename, a.inline, a.content) for a in parsed.attachments] == [
        ("log.txt", True, b"error 42")
    ]


def test_uuencoded_file_in_a_plain_body() -> None:
    body = "Here is the file.\n\nbegin 644 hello.txt\n%:&5L;&\\`\n`\nend\n\nBye"
    parsed = parse_message(mail(body))
    assert parsed.text == "Here is the file.\n\n\n\nBye"
    assert [(a.filename, a.content) for a in parsed.attachments] == [("hello.txt", b"hello")]


def _tnef_attribute(level: int, attribute: int, data: bytes) -> bytes:
    return (
        struct.pack("<BII", level, attribute, len(data))
        + data
        + struct.pack("<H", sum(data) & 0xFFFF)
    )


def test_winmail_dat_is_unpacked() -> None:
    pytest.importorskip("tnefparse", reason="tnefparse is in requirements/base.in")
    tnef = struct.pack("<IH", 0x223E9F78, 1)
    tnef += _tnef_attribute(2, 0x00069002, b"\x01\x00\x00\x00" + b"\x00" * 10)  # attachment starts
    tnef += _tnef_attribute(2, 0x00018010, b"report.txt\x00")  # its title
    tnef += _tnef_attribute(2, 0x0006800F, b"hello from tnef")  # its data
    raw = multipart(
        "mixed",
        part("text", "Content-Type: text/plain"),
        part(
            base64.b64encode(tnef).decode(),
            "Content-Type: application/ms-tnef; name=winmail.dat",
            "Content-Transfer-Encoding: base64",
        ),
    )
    parsed = parse_message(raw)
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("report.txt", b"hello from tnef")
    ]


def test_winmail_dat_that_cannot_be_unpacked_is_kept() -> None:
    raw = multipart(
        "mixed",
        part("text", "Content-Type: text/plain"),
        part(b"\x78\x9f\x3e\x22junk", "Content-Type: application/ms-tnef; name=winmail.dat"),
    )
    parsed = parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["winmail.dat"]
    assert {"tnef-undecodable", "tnef-not-decoded"} & set(parsed.defects)


def test_lying_multipart_is_read_as_text() -> None:
    parsed = parse_message(mail("no parts here", content_type="multipart/mixed"))
    assert parsed.text == "no parts here"
    assert "multipart-without-parts" in parsed.defects


# --- automatic mail ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "auto"),
    [
        (("Auto-Submitted: auto-replied",), "auto-submitted"),
        (("Auto-Submitted: auto-generated; owner-email=x@example.com",), "auto-submitted"),
        (("Auto-Submitted: no",), ""),
        (("Precedence: bulk",), "precedence:bulk"),
        (("Precedence: junk",), "precedence:junk"),
        (("Precedence: list",), "precedence:list"),
        (("Precedence: auto_reply",), "precedence:auto_reply"),
        (("Precedence: first-class",), ""),
        (("X-Autoreply: yes",), "x-autoreply"),
        (("X-Autorespond: yes",), "x-autorespond"),
        (("X-Auto-Response-Suppress: OOF, DR",), "x-auto-response-suppress"),
        (("X-Auto-Response-Suppress: All",), "x-auto-response-suppress"),
        (("X-Auto-Response-Suppress: DR, RN",), ""),
        (("Return-Path: <>",), "null-return-path"),
        (("X-Failed-Recipients: a@example.com",), "x-failed-recipients"),
        (("List-Id: <users.lists.example.com>",), ""),  # people write from mailing lists
        ((), ""),
    ],
)
def test_automatic_mail_by_headers(headers: tuple[str, ...], auto: str) -> None:
    assert parse_message(mail("x", *headers)).auto == auto


@pytest.mark.parametrize(
    ("sender", "auto"),
    [
        ("MAILER-DAEMON@mx.example.com", "mailer-daemon"),
        ("Mail Delivery System <MAILER-DAEMON@mx.example.com>", "mailer-daemon"),
        ("postmaster@example.com", "postmaster"),
        ("postmaster.team@example.com", ""),
    ],
)
def test_automatic_mail_by_sender(sender: str, auto: str) -> None:
    raw = mail("x").replace("From: Пётр <Petr@Example.COM>".encode(), f"From: {sender}".encode())
    assert parse_message(raw).auto == auto


def test_delivery_status_and_read_receipt_reports() -> None:
    bounce = multipart(
        "report",
        part("Delivery failed", "Content-Type: text/plain"),
        part(
            "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@example.com\n"
            "Action: failed\nStatus: 5.1.1",
            "Content-Type: message/delivery-status",
        ),
    ).replace(
        b'multipart/report; boundary="XX"',
        b'multipart/report; report-type=delivery-status; boundary="XX"',
    )
    parsed = parse_message(bounce)
    assert parsed.auto == "delivery-status"
    assert [a.filename for a in parsed.attachments] == ["delivery-status.txt"]
    assert b"Status: 5.1.1" in parsed.attachments[0].content
    receipt = bounce.replace(b"delivery-status", b"disposition-notification")
    assert parse_message(receipt).auto == "disposition-notification"


# --- replies -----------------------------------------------------------------------------------


def test_reply_text() -> None:
    plain = parse_message(mail("Printer is broken.\n\n-- \nIvan, accounting"))
    assert plain.reply_text == "Printer is broken."
    reply = parse_message(
        mail("Still broken.\n\nср, 30 апр. 2025 г. в 15:19, Support <s@example.com>:\n> Fixed?")
    )
    assert reply.reply_text == "Still broken."
    assert parse_message(mail("Just text")).reply_text == "Just text"


# --- never raises ------------------------------------------------------------------------------


def _sane(parsed: ParsedMessage) -> None:
    assert isinstance(parsed.text, str) and isinstance(parsed.html, str)
    assert all(
        a.filename and "/" not in a.filename and "\\" not in a.filename for a in parsed.attachments
    )
    assert parsed.date is None or parsed.date.tzinfo is not None
    assert all(isinstance(d, str) for d in parsed.defects)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00",
        b"\xff" * 100,
        b"\n\n\n",
        b"Subject: =?x?B?###?=\n\n",
        b"From:\n",
        b"Content-Type: multipart/mixed; boundary=\n\n--\n--",
        b"\r\r\r",
        "Тема: нет".encode(),
        b"Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n" * 50,
        b'Content-Type: text/plain; charset="\n\nx',
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\n\nx",
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    _sane(parse_message(raw))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    _sane(parse_message(raw))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
        | st.sampled_from(
            [
                "\n",
                "\r\n",
                ": ",
                "=?",
                "?=",
                "--XX",
                "Content-Type: multipart/mixed; boundary=XX",
                "Content-Transfer-Encoding: base64",
                "charset=",
                "\x1b$B",
            ]
        ),
        max_size=40,
    )
)
def test_header_like_garbage_never_raises(pieces: list[str]) -> None:
    _sane(parse_message("".join(pieces).encode("utf-8", "surrogatepass")))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_corpus_messages_never_raise(shared_corpora: Path, seed: int) -> None:
    rng = random.Random(seed)
    files = sorted(p for p in (shared_corpora / "email" / "zammad" / "mail").glob("*.box"))
    files += sorted((shared_corpora / "email" / "php-mime-mail-parser" / "mails").glob("*"))
    data = bytearray(rng.choice(files).read_bytes()[:60000])
    for _ in range(rng.randint(1, 30)):
        position = rng.randrange(len(data) + 1)
        action = rng.random()
        if action < 0.4 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif action < 0.7:
            data[position:position] = rng.choice(
                [b"\n", b"--", b"=?utf-8?B?", b"\r\n\r\n", b"\xff"]
            )
        else:
            del data[position : position + rng.randint(1, 200)]
    _sane(parse_message(bytes(data)))
