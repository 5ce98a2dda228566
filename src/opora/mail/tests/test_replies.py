"""``replies.strip_reply`` on the reply-extraction corpora and on small inline cases.

crisp-email-reply-parser (expectations.json) states its expected results as assertions on
fragments; each is translated below into what the visible reply must be (``equal``), contain
or not contain — whitespace-normalised, as the MANIFEST says. talon states them for its own
functions: ``extract_from_plain`` (quotations only: our ``strip_quotes``), HTML replies
converted to text, and signature extraction (our ``strip_signature``).

Cases we do not pass are listed in ``*_XFAIL`` with the reason and run as strict xfails, so a
fix shows up as an unexpected pass. The pass rates are printed (``pytest -s``) and asserted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from opora.mail.htmltext import html_to_text
from opora.mail.parsing import parse_message
from opora.mail.replies import strip_quotes, strip_reply, strip_signature


def _ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Expect:
    """What the visible reply must be: ``equal`` (or COMMON_FIRST_FRAGMENT when ``common``),
    or contain / not contain; ``same`` = nothing may be stripped."""

    fixture: str
    common: bool = False
    equal: str | None = None
    same: bool = False
    contains: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()


_COMMON_FIXTURES = {
    "test_email_with_italian": "email_7.txt",
    "test_email_with_dutch": "email_8.txt",
    "test_email_with_signature": "email_9.txt",
    "test_email_with_hotmail": "email_10.txt",
    "test_email_whitespace_before_header": "email_11.txt",
    "test_email_square_brackets": "email_12.txt",
    "test_email_da_into_italian": "email_13.txt",
    "test_email_header_polish": "email_14.txt",
    "test_email_sent_from_my": "email_15.txt",
    "test_email_header_polish_with_dnia_and_napisala": "email_16.txt",
    "test_email_header_polish_with_date_in_iso8601": "email_17.txt",
    "test_email_outlook_en": "email_18.txt",
    "test_email_22": "email_22.txt",
    "test_email_23": "email_23.txt",
    "test_email_25": "email_25.txt",
    "test_email_26": "email_26.txt",
    "test_email_portuguese": "email_portuguese.txt",
    "test_email_german": "email_german.txt",
    "test_email_german_2": "email_german_2.txt",
    "test_email_german_3": "email_german_3.txt",
    "test_email_german_outlook": "email_german_outlook.txt",
    "test_email_gmail_no": "email_norwegian_gmail.txt",
    "test_email_finnish": "email_finnish.txt",
    "test_email_italian": "email_italian.txt",
    "test_email_russian": "email_russian.txt",
    "test_email_24": "email_24.txt",
    "test_email_outlook": "email_outlook_split_line_from.txt",
    "test_email_gmail": "email_gmail_split_line_from.txt",
    "text_email_ios_outlook_fr": "email_ios_outlook_fr.txt",
    "text_email_ios_outlook": "email_ios_outlook.txt",
    "text_email_msn": "email_msn.txt",
    "test_email_fr_multiline": "email_fr_multiline.txt",
    "test_email_fr_2": "email_french_2.txt",
    "test_email_en_multiline_2": "email_en_multiline_2.txt",
    "test_email_original_message": "email_original_message.txt",
    "test_email_original_message_2": "email_original_message_2.txt",
    "test_email_original_message_danish_dash": "email_danish_dash_separator.txt",
    "test_email_original_message_french_dash": "email_french_dash_separator.txt",
    "test_tricky_mixed_languages": "email_tricky_5_mixed_languages.txt",
    "test_tricky_special_chars_in_name": "email_tricky_10_special_chars_in_name.txt",
    "test_tricky_no_space_after_header": "email_tricky_12_no_space_after_header.txt",
    "test_tricky_long_quote_header": "email_tricky_14_long_quote_header.txt",
    "test_tricky_original_message_variations": "email_tricky_15_original_message_variations.txt",
}
_RIAK = "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\n"
CRISP: dict[str, Expect] = {
    **{test: Expect(fixture, common=True) for test, fixture in _COMMON_FIXTURES.items()},
    "test_reads_simple_body": Expect(
        "email_1.txt",
        equal=_RIAK + "running a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
    ),
    "test_parseReply_extracts_visible_text": Expect(
        "email_1.txt",
        equal=_RIAK + "running a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
    ),
    "test_reads_top_post": Expect(
        "email_3.txt", equal="Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona"
    ),
    "test_reads_bottom_post": Expect(
        "email_2.txt",
        contains=("Hi,", "You can list the keys", "delete them all individually."),
        excludes=("-Abhishek Kona", "__"),
    ),
    "test_recognizes_data_string_above_quote": Expect(
        "email_4.txt", equal="Awesome! I haven't had another problem with it."
    ),
    "test_complex_body_with_only_one_fragment": Expect("email_5.txt", same=True),
    "test_deals_with_multiline_reply_headers": Expect(
        "email_6.txt",
        contains=("I get proper rendering as well.",),
        excludes=("Was this", "On Dec 16"),
    ),
    "test_email_with_correct_signature": Expect(
        "correct_sig.txt", equal="this is an email with a correct -- signature."
    ),
    "test_reads_email_with_signature_with_no_empty_line_above": Expect(
        "sig_no_empty_line.txt", equal="this is an email with a signature with no empty line above."
    ),
    "test_one_is_not_one": Expect(
        "email_one_is_not_on.txt",
        equal="Thank, this is really helpful.\n\nOne outstanding "
        "question I had:\n\nLocally (on development), when I run...",
    ),
    "test_sent_from": Expect(
        "email_sent_from.txt",
        equal="Hi it can happen to any texts you type, as long as you type "
        "in between words or paragraphs.",
    ),
    "test_parseReply_with_signature": Expect(
        "email_sent_from.txt",
        equal="Hi it can happen to any texts you type, as long as you type "
        "in between words or paragraphs.",
    ),
    "test_email_emoji": Expect("email_emoji.txt", same=True),
    "test_email_not_a_signature": Expect("email_not_a_signature.txt", same=True),
    "test_email_not_a_signature_2": Expect("email_not_a_signature_2.txt", same=True),
    "text_email_reply_header": Expect(
        "email_reply_header.txt",
        contains=("This is the latest reply.", "it could happen TWICE!"),
        excludes=("Hey, Stranger", "wrote:", "My name is Stranger"),
    ),
    "text_email_zoho": Expect(
        "email_zoho.txt",
        equal="What is the best way to clear a Riak bucket of all key, values "
        "after\nrunning a test?",
    ),
    "text_email_regards": Expect(
        "email_with_regards.txt", equal="Hi,\n\nI still have the same problem....\n\nCan you help?"
    ),
    "test_tricky_on_false_positive": Expect("email_tricky_1_on_false_positive.txt", same=True),
    "test_tricky_url_with_wrote": Expect(
        "email_tricky_2_url_with_wrote.txt",
        contains=("Check out this article", "https://example.com/blog/on-date-someone-wrote"),
    ),
    "test_tricky_code_block": Expect(
        "email_tricky_3_code_block.txt", contains=("function sendEmail", "Notice how the code")
    ),
    "test_tricky_from_in_body": Expect("email_tricky_4_from_in_body.txt", same=True),
    "test_tricky_regards_in_sentence": Expect("email_tricky_6_regards_in_sentence.txt", same=True),
    "test_tricky_multiple_dashes": Expect(
        "email_tricky_7_multiple_dashes.txt", contains=("Key Points", "Also these equal signs")
    ),
    "test_tricky_sent_from_in_content": Expect(
        "email_tricky_8_sent_from_in_content.txt", same=True
    ),
    "test_tricky_nested_quotes": Expect(
        "email_tricky_9_nested_quotes.txt", equal="I agree with the points below."
    ),
    "test_tricky_double_signature": Expect(
        "email_tricky_11_double_signature.txt",
        contains=("Thanks for your help",),
        excludes=("Senior Developer",),
    ),
    "test_tricky_timestamp_variations": Expect(
        "email_tricky_13_timestamp_variations.txt", same=True
    ),
    "test_tricky_unicode_signatures": Expect(
        "email_tricky_16_unicode_signatures.txt", contains=("Thanks for the update",)
    ),
    "test_tricky_forward_header": Expect(
        "email_tricky_17_forward_header.txt", contains=("See the forwarded message",)
    ),
    "test_tricky_inline_reply": Expect(
        "email_tricky_18_inline_reply.txt",
        contains=("I think option A is great.", "Option C is not suitable"),
    ),
    "test_tricky_quote_without_header": Expect(
        "email_tricky_19_quote_without_header.txt",
        contains=("I wanted to respond", "And my final thoughts."),
    ),
    "test_tricky_html_entities": Expect(
        "email_tricky_20_html_entities.txt",
        contains=("&gt; 100 and &lt; 200",),
        excludes=("Previous message with HTML entities",),
    ),
}
# Tests of expectations.json whose input is an inline string of test.js, not a fixture.
CRISP_NOT_EVALUABLE = {
    "test_parseReply_with_quote_header",
    "test_parseReplied_extracts_quoted_text",
    "test_parseReplied_with_multiple_quotes",
}
# Every translated crisp case passes; a failing one would have to be listed here with why.
CRISP_XFAIL: dict[str, str] = {}


def _check(expect: Expect, source: str, result: str, common: str) -> bool:
    if expect.common:
        return _ws(result) == _ws(common)
    if expect.equal is not None:
        return _ws(result) == _ws(expect.equal)
    if expect.same and _ws(result) != _ws(source):
        return False
    return all(part in result for part in expect.contains) and not any(
        part in result for part in expect.excludes
    )


def _crisp(corpora: Path) -> tuple[dict[str, object], Path]:
    root = corpora / "email" / "crisp-email-reply-parser"
    return json.loads((root / "expectations.json").read_text()), root / "fixtures"


def test_crisp_expectations_are_all_translated(shared_corpora: Path) -> None:
    data, _fixtures = _crisp(shared_corpora)
    tests: list[dict[str, object]] = data["tests"]  # type: ignore[assignment]
    assert {test["test"] for test in tests} == set(CRISP) | CRISP_NOT_EVALUABLE
    common = {t["test"] for t in tests if t["expects_first_fragment_equals_COMMON_FIRST_FRAGMENT"]}
    # test_email_fr_2 compares the whole visible text with COMMON_FIRST_FRAGMENT instead.
    assert common | {"test_email_fr_2"} == {name for name, expect in CRISP.items() if expect.common}


def _crisp_results(corpora: Path) -> dict[str, bool]:
    data, fixtures = _crisp(corpora)
    results = {}
    for name, expect in CRISP.items():
        source = (fixtures / expect.fixture).read_text(encoding="utf-8")
        common = str(data["COMMON_FIRST_FRAGMENT"])
        results[name] = _check(expect, source, strip_reply(source), common)
    return results


def test_crisp_pass_rate(shared_corpora: Path) -> None:
    results = _crisp_results(shared_corpora)
    passed = sum(results.values())
    rate = 100 * passed / len(results)
    print(f"\ncrisp-email-reply-parser: {passed}/{len(results)} = {rate:.1f} %")
    assert {name for name, ok in results.items() if not ok} == set(CRISP_XFAIL)
    assert passed >= 0.9 * len(results)


# --- talon -------------------------------------------------------------------------------------

TALON_XFAIL: dict[str, str] = {
    "signature jeff": "'Stavros Xxxxxx / via mobile' is a signature only because talon knows the "
    "sender's name; strip_reply gets no sender",
    "signature johndoeexamplecom": "the '#sig#' lines are found by talon's sender-aware "
    "classifier (the sender's address is in the signature); strip_reply gets no sender",
}


def _talon_cases(corpora: Path) -> dict[str, tuple[str, Callable[[], bool]]]:
    root = corpora / "email" / "talon" / "fixtures"
    cases: dict[str, tuple[str, Callable[[], bool]]] = {}
    for path in sorted((root / "standard_replies").glob("*.eml")):
        expected_file = path.with_name(f"{path.stem}_reply_text")
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        text = parse_message(path.read_bytes()).text

        def quotes(text: str = text, expected: str = expected) -> bool:
            return _ws(strip_quotes(text)) == _ws(expected)

        def reply(text: str = text) -> bool:  # and without the signature: only "Hello" is new
            return _ws(strip_reply(text)) == "Hello"

        cases[f"standard {path.stem}"] = ("standard_replies", quotes)
        cases[f"standard {path.stem} (no signature)"] = ("standard_replies", reply)
    for path in sorted((root / "html_replies").glob("*.html")):
        source = path.read_bytes().decode("utf-8", "replace")

        def html(source: str = source) -> bool:
            return re.sub(r"\s", "", strip_quotes(html_to_text(source))) == "Hi.Iamfine.Thanks,Alex"

        cases[f"html {path.stem}"] = ("html_replies", html)
    stripped = root / "signature" / "emails" / "stripped"
    for path in sorted(stripped.glob("*_body")):
        name = path.name.removesuffix("_body")
        body = path.read_text()
        signature = (stripped / f"{name}_signature").read_text()

        def sig(body: str = body, signature: str = signature) -> bool:
            expected = body[: body.rindex(signature.strip())] if signature.strip() else body
            return _ws(strip_signature(body)) == _ws(expected)

        cases[f"signature {name}"] = ("signature", sig)
    return cases


def test_talon_pass_rate(shared_corpora: Path) -> None:
    cases = _talon_cases(shared_corpora)
    assert len(cases) == 12 * 2 + 9 + 6  # the MANIFEST says 13 replies; 12 .eml files are there
    print()
    failed = set()
    for group in ("standard_replies", "html_replies", "signature"):
        results = {name: check() for name, (g, check) in cases.items() if g == group}
        failed |= {name for name, ok in results.items() if not ok}
        passed = sum(results.values())
        print(f"talon {group}: {passed}/{len(results)} = {100 * passed / len(results):.1f} %")
    assert failed == set(TALON_XFAIL)


@pytest.mark.parametrize("name", sorted(TALON_XFAIL))
def test_talon_known_failures(shared_corpora: Path, name: str) -> None:
    if not _talon_cases(shared_corpora)[name][1]():
        pytest.xfail(TALON_XFAIL[name])
    pytest.fail(f"{name} passes now: remove it from TALON_XFAIL")


# --- small cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, 2 Apr 2012 at 18:26, Support <support@example.com> wrote:",
        "ср, 30 апр. 2025 г. в 15:19, Служба поддержки <support@example.com>:",
        "30.04.2025 15:19, Служба поддержки пишет:",
        "Понедельник, 2 апреля 2012, 18:26 +04:00 от Служба поддержки <support@example.com>:",
        '02.04.2012 14:20 пользователь "Support" <support@example.com> написал:',
        "Am 02.04.2012 um 18:26 schrieb Support <support@example.com>:",
        "Le 2 avr. 2012 à 18:26, Support <support@example.com> a écrit :",
        "-----Исходное сообщение-----\nОт: Служба поддержки [mailto:support@example.com]\n"
        "Отправлено: 2 апреля 2012 г. 18:26\nКому: Иван\nТема: Принтер",
        "________________________________\nFrom: Support <support@example.com>\n"
        "Sent: Monday, April 2, 2012 6:26 PM\nTo: Ivan\nSubject: Printer",
    ],
)
def test_quoted_history_under_a_reply_header(header: str) -> None:
    quote = "> Перезагрузите его, пожалуйста.\n>\n> --\n> Support"
    text = f"Принтер снова не печатает.\n\n{header}\n\n{quote}"
    assert strip_reply(text) == "Принтер снова не печатает."


def test_unquoted_history_under_an_outlook_header() -> None:
    text = (
        "Спасибо, заработало!\n\nОт: Служба поддержки\nОтправлено: 2 апреля 2012 г. 18:26\n"
        "Кому: Иван\nТема: RE: [INC-000123] Принтер\n\nПерезагрузите принтер."
    )
    assert strip_reply(text) == "Спасибо, заработало!"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Готово.\n\nС уважением,\nИван Петров\nбухгалтерия, доб. 123", "Готово."),
        ("Готово.\n\n-- \nИван Петров\nбухгалтерия", "Готово."),
        ("Готово.\n\nОтправлено с iPhone", "Готово."),
        ("Done.\n\nSent from my iPhone\n\nOn Apr 3 ... the rest", "Done."),
        ("Done.\n\nBest regards,\nJohn", "Done."),
        # not signatures:
        ("Please call me back:\n\nPhone: +7 495 123-45-67\nRoom 301", None),
        ("С уважением к вашему времени, прошу ускорить решение.", None),
        ("Thanks!", None),
        ("Список:\n-- первый пункт\n-- второй пункт", None),
    ],
)
def test_signatures(text: str, expected: str | None) -> None:
    assert strip_reply(text) == (text if expected is None else expected)


def test_inline_answers_keep_their_quotes() -> None:
    text = (
        "On Mon, 2 Apr 2012, Support <s@example.com> wrote:\n> Which printer?\n\n"
        "The one on floor 3."
        "\n\n> Since when?\n\nMonday."
    )
    assert strip_reply(text) == text


def test_bottom_post_drops_the_quote_above_the_answer() -> None:
    text = "On 04/02/2012 06:26 PM, Support wrote:\n> Is it fixed?\n\nYes, thank you."
    assert strip_reply(text) == "Yes, thank you."


def test_forwarded_content_is_not_quoted_history() -> None:
    text = (
        "Please look at this.\n\n---------- Forwarded message ---------\nFrom: Boss <b@example.com>"
        "\nDate: Mon, Apr 2, 2012 at 6:26 PM\nSubject: Printer\nTo: Ivan <i@example.com>\n\n"
        "The printer on floor 3 is broken."
    )
    assert strip_reply(text) == text


def test_a_reply_that_is_only_a_quote_is_kept() -> None:
    text = "On Mon, 2 Apr 2012, Support <s@example.com> wrote:\n> Is it fixed?"
    assert strip_reply(text) == text
    assert strip_reply("") == ""
