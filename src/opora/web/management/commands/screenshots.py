"""``opora screenshots``: pictures of the main pages for the documentation.

Starts Opora itself (``opora run``) on a free port with a throw-away var directory and the demo
data, signs in as the demo people in Debian's Chromium (driven by Playwright) and saves PNGs:
the sign-in page, an agent's queue, a ticket with its timeline, the phone intake, the portal's
"My requests", a new request and a request page, the portal at phone width — in Russian — and
the queue and the ticket page in English. ``--base-url`` points it at a running Opora with the
demo data instead (nothing is changed there: the command only reads pages).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opora.core import demo

CHROMIUM = os.environ.get("OPORA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 812}
#: Who the pictures show (demo people, see ``opora.core.demo.LOGINS``).
AGENT = "l1@opora.local"
REQUESTER = "user@sever.example"
MANAGER = "manager@opora.local"
ADMIN = "admin@opora.local"
#: What the search and the suggestion pictures type (words the demo articles contain).
SEARCH = "принтер"
SUGGEST = "Не печатает принтер"
#: The demo requester's phone number, as a telephony system would pass it.
CALLER_PHONE = "+7 495 100-00-01"
#: Seconds to wait for a freshly started Opora to answer /healthz (migrations + demo data).
START_TIMEOUT = 240
#: How many tickets of a list are looked at to find one with a long story.
CANDIDATES = 8


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 - our own local URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Command(BaseCommand):
    help = "Start Opora with demo data and save screenshots of the main pages (PNG)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default="docs/screenshots",
                            help="Directory for the PNG files (default: docs/screenshots).")
        parser.add_argument("--base-url", default="",
                            help="Use a running Opora with the demo data instead of starting one.")
        parser.add_argument("--port", type=int, default=0,
                            help="Port for the Opora started here (default: a free one).")
        parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable.")

    def handle(self, *args: Any, **options: Any) -> None:
        chromium = options["chromium"]
        if not (os.path.exists(chromium) or shutil.which(chromium)):
            raise CommandError(f"Chromium is not found at {chromium} (apt-get install chromium).")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            raise CommandError("Playwright is not installed (pip install playwright).") from exc
        out = Path(options["out"]).resolve()
        out.mkdir(parents=True, exist_ok=True)
        if options["base_url"]:
            self.take_all(options["base_url"].rstrip("/"), out, chromium)
            return
        with self.opora(options["port"] or free_port()) as url:
            self.take_all(url, out, chromium)

    # --- Opora for the pictures -----------------------------------------------------------------

    @contextmanager
    def opora(self, port: int) -> Iterator[str]:
        """``opora run`` with demo data in a temporary var directory; stopped with SIGINT."""
        var_dir = Path(tempfile.mkdtemp(prefix="opora-screenshots-"))
        env = dict(os.environ, OPORA_VAR_DIR=str(var_dir))
        env.pop("OPORA_DATABASE_URL", None)  # the temporary SQLite database in var_dir
        log_path = var_dir / "opora-run.log"
        url = f"http://127.0.0.1:{port}"
        self.stdout.write(f"Starting Opora at {url} (var dir {var_dir}) ...")
        with log_path.open("wb") as log:
            server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "opora.cli", "run", "--host", "127.0.0.1",
                 "--port", str(port), "--web-workers", "1"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                deadline = time.monotonic() + START_TIMEOUT
                while not healthy(url):
                    if server.poll() is not None:
                        raise CommandError(f"Opora stopped while starting:\n{self._tail(log_path)}")
                    if time.monotonic() > deadline:
                        raise CommandError(
                            f"Opora did not become healthy in {START_TIMEOUT} s:\n"
                            f"{self._tail(log_path)}")
                    time.sleep(0.5)
                self.stdout.write("Opora is up.")
                yield url
            finally:
                if server.poll() is None:
                    server.send_signal(signal.SIGINT)
                    try:
                        server.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait()
                self.stdout.write("Opora stopped.")
                shutil.rmtree(var_dir, ignore_errors=True)

    @staticmethod
    def _tail(path: Path, lines: int = 30) -> str:
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- the pictures ---------------------------------------------------------------------------

    def take_all(self, url: str, out: Path, chromium: str) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            # One browser per language: its own widgets (date fields, "Choose files") follow
            # the browser's interface language (from the environment; Debian's chromium-l10n
            # has the Russian one), not the page's.
            browsers = {
                language: playwright.chromium.launch(
                    executable_path=chromium, args=[*CHROMIUM_ARGS, f"--lang={language}"],
                    env={**os.environ, "LANG": f"{posix}.UTF-8", "LANGUAGE": language},
                )
                for language, posix in (("ru", "ru_RU"), ("en", "en_US"))
            }
            try:
                self._take_all(browsers, url, out)
            finally:
                for browser in browsers.values():
                    browser.close()
        self.stdout.write(self.style.SUCCESS(f"Screenshots saved to {out}"))

    def _take_all(self, browsers: dict[str, Any], url: str, out: Path) -> None:
        def session(language: str, email: str | None = None,
                    viewport: dict[str, int] = DESKTOP) -> Any:
            context = browsers[language].new_context(
                base_url=url, locale=language, viewport=viewport, timezone_id="Europe/Moscow",
                extra_http_headers={"Accept-Language": language},
                is_mobile=viewport is PHONE, has_touch=viewport is PHONE,
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            if email:
                page.goto("/login/")
                page.locator("#id_username").fill(email)
                page.locator("#id_password").fill(demo.PASSWORD)
                page.locator("form button[type=submit]").click()
                page.wait_for_url(lambda u: "/login/" not in u)
            return page

        def shot(page: Any, name: str, what: str, language: str) -> None:
            shown = page.locator("html").get_attribute("lang")
            if shown != language:
                raise CommandError(f"{name}: the page is in {shown!r}, not {language!r} "
                                   f"({page.url}).")
            page.wait_for_load_state("networkidle")
            path = out / name
            page.screenshot(path=str(path), full_page=False)
            self.stdout.write(f"  {name}: {what} ({page.url})")

        # Russian.
        page = session("ru")
        page.goto("/login/")
        shot(page, "01-sign-in.png", "sign-in page", "ru")
        page.context.close()

        agent = session("ru", AGENT)
        agent.goto("/agent/queues/my-teams/")
        shot(agent, "02-agent-queue.png", "agent queue “My teams”", "ru")
        ticket_path = self._longest(agent, "/agent/queues/my-teams/", "a.queue-ticket-link",
                                    "#timeline > li")
        agent.goto(ticket_path)
        shot(agent, "03-agent-ticket.png", "ticket page with its timeline", "ru")
        agent.goto(f"/agent/new/?phone={quote(CALLER_PHONE)}")
        shot(agent, "04-phone-intake.png", "phone intake, caller found by the number", "ru")
        agent.context.close()

        requester = session("ru", REQUESTER)
        requester.goto("/portal/?state=all")
        shot(requester, "05-portal-my-requests.png", "portal: my requests", "ru")
        requester.goto("/portal/new/")
        shot(requester, "06-portal-new-topic.png", "portal: new request, step 1 (topic)", "ru")
        requester.goto("/portal/new/?category=hardware")
        shot(requester, "07-portal-new-request.png", "portal: new request, step 2 (details)",
             "ru")
        request_path = self._longest(requester, "/portal/?state=all", "a.portal-request-link",
                                     ".portal-event")
        requester.goto(request_path)
        shot(requester, "08-portal-request.png", "portal: one request with its conversation",
             "ru")
        requester.context.close()

        phone = session("ru", REQUESTER, viewport=PHONE)
        phone.goto("/portal/")
        shot(phone, "09-portal-phone-requests.png", "portal at phone width: my requests", "ru")
        phone.goto(request_path)
        shot(phone, "10-portal-phone-request.png", "portal at phone width: one request", "ru")
        phone.context.close()

        # English: the same agent and ticket, the browser asking for English.
        agent = session("en", AGENT)
        agent.goto("/agent/queues/my-teams/")
        shot(agent, "11-agent-queue-en.png", "agent queue “My teams” (English)", "en")
        agent.goto(ticket_path)
        shot(agent, "12-agent-ticket-en.png", "ticket page (English)", "en")
        agent.context.close()

        # Service levels, the knowledge base and the email channel (Russian).
        manager = session("ru", MANAGER)
        manager.goto("/agent/queues/breaching-soon/")
        shot(manager, "13-agent-breaching-soon.png", "queue “Breaching soon” with SLA badges",
             "ru")
        manager.goto("/agent/reports/sla/")
        shot(manager, "14-sla-report.png", "SLA compliance report", "ru")
        manager.goto("/agent/manage/sla/agreements/")
        manager.locator("td a[href*='/manage/sla/agreements/']").first.click()
        manager.wait_for_load_state()
        shot(manager, "15-sla-agreement.png", "an agreement with its targets and thresholds",
             "ru")
        manager.goto("/agent/kb/")
        shot(manager, "16-kb-list.png", "knowledge base: the article list", "ru")
        manager.locator("tr[data-article] a").first.click()
        manager.wait_for_load_state()
        shot(manager, "17-kb-article.png", "knowledge base: an article", "ru")
        manager.goto(f"/agent/search/?q={quote(SEARCH)}")
        shot(manager, "18-agent-search.png", "search over articles and tickets", "ru")
        manager.context.close()

        admin = session("ru", ADMIN)
        admin.goto("/agent/manage/mail/messages/")
        shot(admin, "19-mail-messages.png", "incoming mail with the quarantine", "ru")
        admin.context.close()

        requester = session("ru", REQUESTER)
        requester.goto("/portal/new/?category=hardware")
        requester.locator("#id_title").fill(SUGGEST)
        requester.locator("#kb-suggestions-list a").first.wait_for()
        shot(requester, "20-portal-suggestions.png",
             "portal: articles suggested while a request is typed", "ru")
        requester.context.close()

    def _longest(self, page: Any, listing: str, links: str, items: str) -> str:
        """Of the first tickets listed at ``listing``, the path of the one with the most
        ``items`` on its own page (the richest timeline or conversation)."""
        page.goto(listing)
        paths = [p for p in page.locator(links).evaluate_all("els => els.map(e => e.pathname)")
                 if p][:CANDIDATES]
        if not paths:
            raise CommandError(f"No tickets are listed at {page.url}: is the demo data loaded?")
        counts: dict[str, int] = {}
        for path in paths:
            page.goto(path)
            counts[path] = page.locator(items).count()
        return max(paths, key=lambda path: counts[path])
