"""The README's first command, end to end: ``opora run`` starts web + worker on a fresh SQLite
database with demo data, serves the API and health, and stops both on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("OPORA_DATABASE_URL")),
    reason="runs once, in the SQLite pass: `opora run` is the embedded trial",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_run_serves_demo_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPORA_")}
    env["OPORA_VAR_DIR"] = str(tmp_path / "var")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "opora.cli", "run", "--port", str(port), "--web-workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health: tuple[int, dict] = (0, {})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                health = get(f"{base}/healthz")
                if health[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.5)
        assert health[0] == 200, health
        assert health[1]["checks"]["worker"]["alive"] >= 1

        # The demo login printed on the console works against the served API.
        request = urllib.request.Request(  # noqa: S310
            f"{base}/api/v1/auth/token/", method="POST",
            data=json.dumps({"email": "l1@opora.local", "password": "opora-demo"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            token = json.loads(response.read())["token"]
        status, page = get(f"{base}/api/v1/tickets/?open=true",
                           {"Authorization": f"Token {token}"})
        assert status == 200
        assert page["count"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert proc.returncode == 0, output
    assert f"Opora is running at {base}/" in output
    assert "l1@opora.local" in output and "opora-demo" in output
    assert "Opora stopped." in output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
