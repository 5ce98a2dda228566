"""Fixtures of the portal tests: English pages by default, and a signed-in test client."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    # The pages are asserted on in English; the language switch itself is tested explicitly.
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def login(client: Client) -> Any:
    """``login(user)`` signs ``user`` in on the test client and returns the client."""

    def sign_in(user: Any) -> Client:
        client.force_login(user)
        return client

    return sign_in
