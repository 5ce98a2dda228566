"""Health, version, the OpenAPI schema and the API docs page."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
import yaml
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.validation import validate_schema

import opora
from opora.core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def beat(worker_id: str, last_seen) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(worker_id=worker_id, hostname="node-1", pid=4242,
                                          last_seen=last_seen)


# --- /healthz ----------------------------------------------------------------------------------


def test_unhealthy_without_a_worker(client):
    r = client.get("/healthz")
    assert r.status_code == 503
    assert "no-cache" in r["Cache-Control"]
    body = r.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "alive": 0, "last_heartbeat": None}


def test_healthy_with_a_fresh_heartbeat(client):
    beat("w1", timezone.now())
    r = client.get("/healthz")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["ok"] is True and body["checks"]["worker"]["alive"] == 1


@time_machine.travel("2026-03-02 09:00:00+00:00", tick=False)
def test_a_stale_heartbeat_is_unhealthy(client, settings):
    settings.OPORA_WORKER_STALE_SECONDS = 120
    seen = timezone.now()
    beat("w1", seen)
    with time_machine.travel(seen + timedelta(seconds=120), tick=False):
        assert client.get("/healthz").status_code == 200  # exactly at the limit: still alive
    with time_machine.travel(seen + timedelta(seconds=121), tick=False):
        r = client.get("/healthz")
        assert r.status_code == 503
        worker = r.json()["checks"]["worker"]
        assert worker["ok"] is False and worker["alive"] == 0
        assert worker["last_heartbeat"] == seen.isoformat()


@time_machine.travel("2026-03-02 09:00:00+00:00", tick=False)
def test_one_live_worker_among_stale_ones_is_enough(client):
    now = timezone.now()
    beat("old", now - timedelta(hours=5))
    beat("dead", now - timedelta(minutes=3))
    beat("live", now - timedelta(seconds=5))
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["checks"]["worker"]["alive"] == 1
    assert r.json()["checks"]["worker"]["last_heartbeat"] == (now - timedelta(seconds=5)
                                                              ).isoformat()


def test_healthz_is_read_only(client):
    assert client.post("/healthz").status_code == 405
    assert client.get("/healthz").status_code == 503  # and needs no login


# --- /version ----------------------------------------------------------------------------------


def test_version(client):
    r = client.get("/version")
    assert r.status_code == 200
    assert r.json() == {"name": "opora", "version": opora.__version__, "api": "v1"}


# --- the schema --------------------------------------------------------------------------------


def test_the_schema_is_a_valid_openapi_3_document(client):
    r = client.get("/api/schema/")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(r.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on any violation of the OpenAPI 3 JSON schema
    as_json = client.get("/api/schema/?format=json")
    assert as_json.status_code == 200
    assert json.loads(as_json.content) == schema
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/tickets/": {"get", "post"},
        "/api/v1/tickets/{id}/": {"get", "patch"},
        "/api/v1/tickets/{id}/reply/": {"post"},
        "/api/v1/tickets/{id}/note/": {"post"},
        "/api/v1/tickets/{id}/assign/": {"post"},
        "/api/v1/tickets/{id}/escalate/": {"post"},
        "/api/v1/tickets/{id}/status/": {"post"},
        "/api/v1/tickets/{id}/resolve/": {"post"},
        "/api/v1/tickets/{id}/close/": {"post"},
        "/api/v1/tickets/{id}/reopen/": {"post"},
        "/api/v1/tickets/{id}/cancel/": {"post"},
        "/api/v1/tickets/{id}/watchers/": {"post"},
        "/api/v1/tickets/{id}/watchers/{user_id}/": {"delete"},
        "/api/v1/attachments/{id}/": {"get"},
        "/api/v1/auth/token/": {"post"},
        "/api/v1/users/": {"get"},
        "/api/v1/users/me/": {"get"},
        "/api/v1/organisations/": {"get"},
        "/api/v1/teams/": {"get"},
        "/api/v1/categories/": {"get"},
        "/api/v1/services/": {"get"},
    }.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    # Every filter of the shared filterset is documented on the list.
    listed = {p["name"] for p in paths["/api/v1/tickets/"]["get"]["parameters"]}
    assert {"status", "open", "priority", "type", "channel", "category", "team", "assignee",
            "unassigned", "organisation", "line", "created_after", "created_before", "q",
            "ordering", "page", "page_size"} <= listed
    assert "q" in {p["name"] for p in paths["/api/v1/users/"]["get"]["parameters"]}
    create = paths["/api/v1/tickets/"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(create)


def test_the_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert yaml.safe_load(out.read_text())["info"]["title"] == "Opora API"


# --- the docs page -----------------------------------------------------------------------------

EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


def test_the_docs_page_uses_only_local_files(client):
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui" in html
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert refs, html
    assert not EXTERNAL.search(html), EXTERNAL.findall(html)
    for ref in refs:
        assert ref.startswith("/"), ref
        assert not ref.startswith("//"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        streamed = hasattr(asset, "streaming_content")
        body = b"".join(asset.streaming_content) if streamed else asset.content
        assert body, ref
        if ref.startswith("/api/docs/"):
            # The page's own start-up script points at our schema and nowhere else.
            script = body.decode()
            assert '"/api/schema/"' in script
            assert not EXTERNAL.search(script), EXTERNAL.findall(script)


def test_the_swagger_bundle_is_shipped_not_fetched():
    import drf_spectacular_sidecar

    dist = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"
    assert (dist / "swagger-ui-dist" / "swagger-ui-bundle.js").is_file()
