"""Fixtures for the browser journeys: Debian's Chromium driven by Playwright against Django's
live test server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("OPORA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module: while Playwright's loop runs, code that starts its own
    event loop (``async_to_sync``, ``asyncio.run``) cannot run in this thread, so the browser
    is stopped as soon as the module's journeys are done."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are ordinary synchronous calls, so Django's guard is lifted here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # With that loop running, Django keeps its connections per context rather than per thread,
    # so the tests would get fresh connection objects — without the serialized migrated data a
    # committing test restores (``serialized_rollback``) if the test database was set up before
    # the browser started. Keep using the thread's own connections.
    outer = {alias: connections[alias] for alias in connections}
    with sync_playwright() as playwright:
        for alias, connection in outer.items():
            connections[alias] = connection
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any, settings: Any) -> Iterator[Any]:
    """``new_page(language)`` opens a fresh browser context (its own cookies) on the live
    server, with the browser's preferred language set."""
    # The live server speaks plain HTTP.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    contexts: list[Any] = []

    def make(language: str = "ru") -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale=language, viewport={"width": 1366, "height": 900},
            extra_http_headers={"Accept-Language": language},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
