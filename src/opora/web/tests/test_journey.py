"""Browser journeys: real Chromium (Playwright) against the live test server.

The main journey walks a request through the whole desk — a requester opens it in the portal
with a file, the first line takes and escalates it, the second line notes, answers and resolves
it, the requester confirms — once in Russian and once in English. Every visible text the test
looks for comes from the translation catalogue (``override(language)`` + ``gettext``), so the
test proves the pages are translated without spelling the translations out here.

Locators are by role and label wherever the page allows: that is also a check that the forms are
labelled and the buttons are buttons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext, pgettext

from opora.accounts.models import Team, User
from opora.catalog.models import Category
from opora.testing import factories as f
from opora.tickets.choices import Channel, EventKind, ResolutionCode, Status
from opora.tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LANGUAGES = ["ru", "en"]


def tr(language: str, message: str, **values: Any) -> str:
    """``message`` as the catalogue says it in ``language``, with ``%(name)s`` values filled."""
    with translation.override(language):
        text = gettext(message)
    return text % values if values else text


def tr_ctx(language: str, context: str, message: str) -> str:
    with translation.override(language):
        return pgettext(context, message)


def tr_lazy(language: str, text: Any) -> str:
    """A lazy label (a model choice's) rendered in ``language``."""
    with translation.override(language):
        return str(text)


def exact(text: str) -> re.Pattern[str]:
    """A whole accessible name, ignoring the surrounding white space and a shortcut hint."""
    return re.compile(rf"^\s*{re.escape(text)}(\s|$)")


@contextmanager
def screenshots_on_failure(tmp_path: Path, pages: dict[str, Any]) -> Iterator[None]:
    """On a failed step, save a screenshot of every open page and name them in the message."""
    try:
        yield
    except Exception as exc:
        saved = []
        for name, page in pages.items():
            target = tmp_path / f"failure-{name}.png"
            try:
                page.screenshot(path=str(target), full_page=True)
                saved.append(f"{name}: {target} ({page.url})")
            except Exception as shot_error:  # the page may be gone; keep the real failure
                saved.append(f"{name}: no screenshot ({shot_error.__class__.__name__})")
        raise AssertionError(f"{exc}\nScreenshots:\n  " + "\n  ".join(saved)) from exc


def sign_in(page: Any, user: User, language: str) -> None:
    page.goto("/login/")
    page.get_by_label(tr(language, "Email")).fill(user.email)
    page.get_by_label(tr(language, "Password")).fill(f.PASSWORD)
    page.get_by_role("button", name=tr(language, "Sign in"), exact=True).click()
    page.wait_for_url(lambda url: "/login/" not in url)


# --- the main journey ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_request_travels_from_the_portal_through_two_lines_and_back(
    language: str, new_page: Callable[[str], Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    t = lambda message, **values: tr(language, message, **values)  # noqa: E731
    org = f.OrganisationFactory.create()
    requester = f.RequesterFactory.create(organisation=org, language=language,
                                          full_name="Пётр Пользователев")
    l1_agent = f.AgentFactory.create(language=language, full_name="Ольга Первова")
    l2_agent = f.AgentFactory.create(language=language, full_name="Сергей Сетевой")
    l1 = f.TeamFactory.create(name="Service desk", line=1, members=[l1_agent])
    l2 = f.TeamFactory.create(name="Network", line=2, members=[l2_agent])
    assert Team.objects.filter(line=1).order_by("id").first() == l1  # the intake team
    category = Category.objects.get(code="hardware")  # a default category (data migration)
    with translation.override(language):
        category_name = category.display_name()

    title = "The printer in room 214 does not print"
    description = "It shows **Error 49.4C02** since this morning."
    summary = "Restarted the spooler, the error stays: the print server must be checked."
    note = "Print server PRN-02 has a full queue; do not tell the user the server name."
    answer = "The print queue was cleared on our side. Please try printing again."
    resolution = "Cleared the stuck print queue on the print server."
    upload = tmp_path / "printer-error.txt"
    upload.write_text("Error 49.4C02\nPaper tray 2\n", encoding="utf-8")

    requester_page = new_page(language)
    pages = {"requester": requester_page}
    with screenshots_on_failure(tmp_path, pages):
        # --- the requester opens a request in the portal ----------------------------------------
        sign_in(requester_page, requester, language)
        expect(requester_page.get_by_role("heading", name=t("My requests"), level=1)).to_be_visible()
        requester_page.get_by_role("link", name=t("New request"), exact=True).first.click()
        expect(requester_page.get_by_role("heading", name=t("New request"))).to_be_visible()
        topics = requester_page.get_by_role("navigation", name=t("Topics"))
        topics.get_by_role("link", name=category_name, exact=True).click()
        requester_page.get_by_label(t("In a few words, what is it about?")).fill(title)
        requester_page.get_by_label(t("Describe it")).fill(description)
        requester_page.get_by_label(t("Which device?")).fill("HP LaserJet, room 214")
        requester_page.get_by_role("radio", name=t("Right now: I cannot do my work")).check()
        requester_page.get_by_label(t("Files")).set_input_files(str(upload))
        requester_page.get_by_role("button", name=t("Send the request")).click()

        ticket = Ticket.objects.get(title=title)
        number = ticket.number
        assert number
        confirmation = t("Thank you! Your request %(number)s is registered. "
                         "We will let you know when something changes.", number=number)
        expect(requester_page.get_by_role("status")).to_contain_text(confirmation)
        expect(requester_page.get_by_role("heading", name=title, level=1)).to_be_visible()
        expect(requester_page.get_by_role("link", name=upload.name)).to_be_visible()
        ticket.refresh_from_db()
        assert ticket.team_id == l1.pk and ticket.channel == Channel.PORTAL

        # --- the first line takes it and escalates it to the second -----------------------------
        l1_page = new_page(language)
        pages["l1"] = l1_page
        sign_in(l1_page, l1_agent, language)
        queues = l1_page.get_by_role("navigation", name=t("Queues"))
        queues.get_by_role("link", name=exact(tr_ctx(language, "queue", "Unassigned"))).click()
        l1_page.get_by_role("link", name=number, exact=True).click()
        expect(l1_page.get_by_role("heading", name=title, level=1)).to_be_visible()
        l1_page.get_by_role("button", name=t("Take it"), exact=True).click()
        expect(l1_page.get_by_role("status").filter(
            has_text=t("The ticket is yours now."))).to_be_visible()
        l1_page.get_by_text(t("Escalate…"), exact=True).click()
        l1_page.get_by_label(t("Team of a higher line")).select_option(str(l2.pk))
        l1_page.get_by_label(t("What was done and found")).fill(summary)
        l1_page.get_by_role("button", name=t("Escalate"), exact=True).click()
        expect(l1_page.get_by_text(t("The ticket is escalated."))).to_be_visible()

        # --- the second line notes, answers and resolves ----------------------------------------
        l2_page = new_page(language)
        pages["l2"] = l2_page
        sign_in(l2_page, l2_agent, language)
        queues = l2_page.get_by_role("navigation", name=t("Queues"))
        queues.get_by_role("link", name=exact(t("My teams"))).click()
        l2_page.get_by_role("link", name=number, exact=True).click()
        expect(l2_page.get_by_role("heading", name=title, level=1)).to_be_visible()
        timeline = l2_page.locator("#timeline")
        expect(timeline).to_contain_text(summary)  # the first line's findings are there

        l2_page.get_by_role("tab", name=exact(t("Internal note"))).click()
        l2_page.get_by_label(t("Internal note — only the service desk sees it (Markdown)")).fill(note)
        l2_page.get_by_role("button", name=t("Add note"), exact=True).click()
        expect(l2_page.get_by_role("status").filter(
            has_text=t("Internal note added."))).to_be_visible()
        expect(timeline).to_contain_text(note)

        l2_page.get_by_role("tab", name=exact(t("Reply"))).click()
        l2_page.get_by_label(t("Reply to the requester (Markdown)")).fill(answer)
        l2_page.get_by_role("button", name=t("Send reply"), exact=True).click()
        expect(l2_page.get_by_role("status").filter(has_text=t("Reply sent."))).to_be_visible()
        expect(timeline).to_contain_text(answer)

        l2_page.get_by_text(t("Resolve"), exact=True).click()
        l2_page.get_by_label(t("Resolution code")).select_option(ResolutionCode.FIXED.value)
        l2_page.get_by_label(t("Resolution — the requester receives this text")).fill(resolution)
        l2_page.get_by_role("button", name=t("Resolve the ticket"), exact=True).click()
        expect(l2_page.get_by_role("status").filter(
            has_text=t("The ticket is resolved."))).to_be_visible()

        # --- the requester sees the answer, not the desk's internals, and confirms --------------
        requester_page.reload()
        conversation = requester_page.get_by_role("region", name=t("Conversation"))
        expect(conversation).to_contain_text(answer)
        expect(conversation).to_contain_text(resolution)
        expect(conversation.get_by_role("link", name=upload.name)).to_be_visible()
        for hidden in (note, summary, "PRN-02"):
            expect(requester_page.locator("body")).not_to_contain_text(hidden)
        expect(requester_page.get_by_text(t("Internal note"), exact=True)).to_have_count(0)
        expect(requester_page.get_by_role("heading", name=t("Is it solved?"))).to_be_visible()
        requester_page.get_by_role("button", name=t("Yes, confirm the solution")).click()
        expect(conversation).to_contain_text(t("Solution confirmed"))
        expect(requester_page.get_by_text(t(
            "This request is finished, so new messages cannot be added. If you need more help, "
            "open a new request."))).to_be_visible()

        # --- the agent's timeline tells the whole story in order --------------------------------
        l2_page.reload()
        entries = l2_page.locator("#timeline > li")
        texts = [text.strip() for text in entries.all_inner_texts()]
        channel_portal = tr_lazy(language, Channel.PORTAL.label)
        steps = [
            t("registered the ticket (%(channel)s)", channel=channel_portal),
            t("took the ticket"),
            t("escalated to %(team)s (line %(line)s)", team=l2.name, line=2),
            note,
            answer,
            t("resolved the ticket: %(code)s", code=tr_lazy(language, ResolutionCode.FIXED.label)),
            t("confirmed the resolution and closed the ticket"),
        ]
        positions = []
        for step in steps:
            found = [i for i, text in enumerate(texts) if step in text]
            assert found, f"{step!r} is not in the timeline:\n" + "\n".join(texts)
            positions.append(found[0])
        assert positions == sorted(positions), f"timeline out of order: {positions}\n{texts}"
        expect(l2_page.locator("#timeline")).to_contain_text(t("Internal note"))

    # --- and the database agrees ----------------------------------------------------------------
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.team_id == l2.pk and ticket.current_line == 2
    events = list(ticket.events.order_by("created_at", "id").values_list(
        "kind", "channel", "actor_id"))
    kinds = [kind for kind, _channel, _actor in events]
    expected = [EventKind.CREATED, EventKind.ASSIGNED, EventKind.ESCALATED, EventKind.NOTE,
                EventKind.REPLY, EventKind.RESOLVED, EventKind.CLOSED]
    indexes = [kinds.index(kind) for kind in expected]
    assert indexes == sorted(indexes), kinds
    for kind, channel, actor in events:
        if actor == requester.pk:
            assert channel == Channel.PORTAL, (kind, channel)
        elif actor in (l1_agent.pk, l2_agent.pk):
            assert channel == Channel.WEB, (kind, channel)
    by_kind = {kind: (channel, actor) for kind, channel, actor in reversed(events)}
    assert by_kind[EventKind.CREATED] == (Channel.PORTAL, requester.pk)
    assert by_kind[EventKind.CLOSED] == (Channel.PORTAL, requester.pk)
    assert by_kind[EventKind.ASSIGNED] == (Channel.WEB, l1_agent.pk)
    assert by_kind[EventKind.ESCALATED] == (Channel.WEB, l1_agent.pk)
    for kind in (EventKind.NOTE, EventKind.REPLY, EventKind.RESOLVED):
        assert by_kind[kind] == (Channel.WEB, l2_agent.pk)
    assert ticket.attachments.filter(filename=upload.name, is_public=True).exists()


# --- phone intake and the live-change banner ----------------------------------------------------


def test_phone_intake_registers_a_call_in_one_submit_and_the_page_notices_other_changes(
    new_page: Callable[[str], Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    language = "ru"
    t = lambda message, **values: tr(language, message, **values)  # noqa: E731
    caller = f.RequesterFactory.create(full_name="Анна Звонкова", phone="+7 (495) 100-00-01",
                                       language=language)
    f.RequesterFactory.create(full_name="Борис Другой", phone="+7 (495) 200-00-02")
    operator = f.AgentFactory.create(full_name="Ольга Первова", language=language)
    colleague = f.AgentFactory.create(full_name="Игорь Второй", language=language)
    desk = f.TeamFactory.create(name="Service desk", line=1, members=[operator, colleague])
    title = "Нет доступа к общей папке бухгалтерии"
    note = "Checked the group membership: the caller is not in ACC-RW."

    page = new_page(language)
    # The page asks every few seconds whether the ticket changed; the test moves the page's
    # clock on instead of waiting.
    page.clock.install()
    pages = {"operator": page}
    with screenshots_on_failure(tmp_path, pages):
        sign_in(page, operator, language)
        # A telephony screen pop: the number in another format than the one stored.
        page.goto("/agent/new/?phone=84951000001")
        expect(page.get_by_role("heading", name=t("New ticket from a call"))).to_be_visible()
        card = page.get_by_label(t("The caller"))
        expect(card).to_contain_text(caller.full_name)
        expect(card).to_contain_text(caller.email)
        expect(page.get_by_label(t("Channel"))).to_have_value(Channel.PHONE.value)
        page.get_by_label(t("Title"), exact=True).fill(title)
        page.get_by_label(t("Description (Markdown)")).fill("Звонок: папка \\\\fs01\\acc не открывается.")
        page.get_by_role("button", name=t("Register the ticket"), exact=True).click()

        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
        ticket = Ticket.objects.get(title=title)
        assert ticket.requester_id == caller.pk and ticket.channel == Channel.PHONE
        assert ticket.created_by_id == operator.pk and ticket.team_id == desk.pk
        channel = tr_lazy(language, Channel.PHONE.label)
        expect(page.locator("#timeline")).to_contain_text(
            t("registered the ticket (%(channel)s)", channel=channel))

        # Nothing changed yet: the poll answers "no change" and no banner appears.
        with page.expect_response(lambda r: "/version/" in r.url) as first:
            page.clock.run_for(13_000)
        assert first.value.status == 204
        expect(page.get_by_role("alert")).to_have_count(0)

        # A colleague adds a note in their own session.
        other = new_page(language)
        pages["colleague"] = other
        sign_in(other, colleague, language)
        other.goto(f"/agent/tickets/{ticket.number}/")
        other.get_by_role("tab", name=exact(t("Internal note"))).click()
        other.get_by_label(t("Internal note — only the service desk sees it (Markdown)")).fill(note)
        other.get_by_role("button", name=t("Add note"), exact=True).click()
        expect(other.locator("#timeline")).to_contain_text(note)

        with page.expect_response(lambda r: "/version/" in r.url) as second:
            page.clock.run_for(13_000)
        assert second.value.status == 286  # changed: the banner, and the polling stops
        banner = page.get_by_role("alert").filter(
            has_text=t("This ticket was changed by %(name)s.", name=colleague.full_name))
        expect(banner).to_be_visible()
        expect(page.locator("#timeline")).not_to_contain_text(note)
        banner.get_by_role("link", name=t("Reload")).click()
        expect(page.locator("#timeline")).to_contain_text(note)
        expect(page.get_by_role("alert")).to_have_count(0)
