"""Admin endpoints and commands: keys listed without secrets and revoked (401 at once, audited),
the audit log over HTTP (tenant-filtered, paged, filtered by entity and time)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from database_url import database_url_of
from sqlmodel import select
from typer.testing import CliRunner

from api.cli import app as cli_app
from models.audit import AuditEntry, verify_chain


def test_keys_are_listed_without_secrets_and_revocation_is_immediate(
    client, make_key, session_factory
) -> None:
    admin = make_key("admin")
    bank = make_key("bank")
    other = make_key("bank", "tenant-b")
    assert client.get("/v1/assets", headers=bank).status_code == 200  # cached as a valid principal
    listed = client.get("/v1/keys", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {k["tenant"] for k in items} == {"tenant-a"}
    assert len(items) == 2
    secret = bank["Authorization"].split()[1]
    assert secret not in listed.text
    assert "key_hash" not in listed.text
    assert all(k["created_at"].endswith("Z") for k in items)
    bank_id = next(k["id"] for k in items if k["role"] == "bank")

    revoked = client.delete(f"/v1/keys/{bank_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True
    assert revoked.json()["revoked_at"].endswith("Z")
    r = client.get("/v1/assets", headers=bank)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert client.delete(f"/v1/keys/{bank_id}", headers=admin).status_code == 200  # idempotent
    # another tenant's key, a missing key, and a non-admin caller
    other_id = client.get("/v1/keys", headers=make_key("admin", "tenant-b")).json()["items"][0][
        "id"
    ]
    assert client.delete(f"/v1/keys/{other_id}", headers=admin).status_code == 404
    assert client.get("/v1/assets", headers=other).status_code == 200
    assert client.delete("/v1/keys/999999", headers=admin).status_code == 404
    assert client.get("/v1/keys", headers=make_key("risk")).status_code == 403
    with session_factory() as s:
        actions = [e.action for e in s.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()]
        assert actions.count("api_key.revoke") == 1
        assert actions.count("api_key.create") >= 4
        assert verify_chain(s).ok


def test_audit_log_over_http(client, make_key) -> None:
    admin = make_key("admin")
    make_key("bank")
    make_key("bank", "tenant-b")
    page = client.get("/v1/audit?limit=1", headers=admin)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 1
    assert body["next_cursor"]
    first = body["items"][0]
    assert first["tenant"] == "tenant-a"
    assert first["at"].endswith("Z")
    assert len(first["hash"]) == 64
    rest = client.get("/v1/audit", headers=admin, params={"cursor": body["next_cursor"]}).json()[
        "items"
    ]
    assert [e["seq"] for e in rest]
    assert all(e["seq"] > first["seq"] for e in rest)
    assert all(e["tenant"] == "tenant-a" for e in rest)
    keys = client.get("/v1/audit", headers=admin, params={"entity": "api_key"}).json()["items"]
    assert keys
    assert all(e["entity"] == "api_key" and json.loads(e["payload"])["role"] for e in keys)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert client.get("/v1/audit", headers=admin, params={"since": future}).json()["items"] == []
    bad = client.get("/v1/audit", headers=admin, params={"since": "2026-01-01T00:00:00"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "since"
    assert client.get("/v1/audit", headers=make_key("bank")).status_code == 403


def test_cli_lists_and_revokes_keys(engine, client, make_key, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url_of(engine))
    runner = CliRunner()
    bank = make_key("bank")
    listed = runner.invoke(cli_app, ["keys", "list", "--tenant", "tenant-a"])
    assert listed.exit_code == 0, listed.output
    line = listed.stdout.strip().splitlines()[-1].split("\t")
    assert line[2] == "bank"
    assert line[4] == "active"
    assert bank["Authorization"].split()[1] not in listed.stdout
    assert client.get("/v1/assets", headers=bank).status_code == 200
    done = runner.invoke(cli_app, ["keys", "revoke", line[0]])
    assert done.exit_code == 0
    assert "revoked" in done.stdout
    assert client.get("/v1/assets", headers=bank).status_code == 401
    assert "revoked" in runner.invoke(cli_app, ["keys", "list"]).stdout
    missing = runner.invoke(cli_app, ["keys", "revoke", "999999"])
    assert missing.exit_code == 1
    assert "no API key" in missing.stderr
