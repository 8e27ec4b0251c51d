"""The application shell: factory, health, docs, auth and problem+json errors."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from api.app import SchemaNotCurrentError, create_app
from api.deps import Principal, require_roles
from api.errors import ConflictError, NotFoundError, install_handlers
from api.settings import Settings
from models import db
from valuation.errors import ConventionError

PROBLEM = "application/problem+json"


def test_health_reports_dialect_and_version(client, database_dialect) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == database_dialect
    assert body["version"]


def test_docs_and_openapi_are_open(client) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]


def test_app_refuses_an_out_of_date_schema(tmp_path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(SchemaNotCurrentError, match="datafin db upgrade"):
            create_app(engine=engine)
    finally:
        engine.dispose()


def test_app_refuses_a_schema_behind_head(tmp_path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        db.upgrade(engine, "0001_registry")
        with pytest.raises(SchemaNotCurrentError, match="0001_registry.*datafin db upgrade"):
            create_app(engine=engine)
        db.upgrade(engine)
        assert create_app(engine=engine).title == "datafin"
    finally:
        engine.dispose()


def test_serve_refuses_an_out_of_date_schema(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from api.cli import app as cli_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    r = CliRunner().invoke(cli_app, ["serve", "--port", "1"])
    assert r.exit_code == 1
    assert "datafin db upgrade" in r.stderr


def test_settings_refuse_the_default_secret_outside_development() -> None:
    assert Settings(environment="development").environment == "development"
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValueError, match="AUDIT_KEY"):
        Settings(environment="production", secret_key="a-private-value-of-32-characters")
    with pytest.raises(ValueError, match="at least 32"):
        Settings(environment="production", secret_key="sixteen-chars-ok", audit_key="b" * 32)
    ok = Settings(
        environment="production",
        secret_key="a-private-value-of-32-characters",
        audit_key="another-private-value-of-32-bytes",
    )
    assert ok.environment == "production"


def test_unknown_route_is_problem_json(client, make_key) -> None:
    # every /v1 request is authenticated first (before any body is read): without a key, 401
    assert client.get("/v1/no-such-thing").status_code == 401
    r = client.get("/v1/no-such-thing", headers=make_key("bank"))
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 404


@pytest.fixture
def probe_client(engine, session_factory):
    """A small app exercising every handler and the role checks on the test database."""
    app = create_app(engine=engine)

    @app.get("/probe/registrar")
    def registrar_only(p: Principal = Depends(require_roles("registrar"))) -> dict:  # noqa: B008
        return {"role": p.role, "tenant": p.tenant}

    @app.get("/probe/any")
    def any_role(p: Principal = Depends(require_roles())) -> dict:  # noqa: B008
        return {"role": p.role}

    @app.get("/probe/valuation-error")
    def valuation_error() -> None:
        raise ConventionError("The `rate` must be a decimal. Got 5.", field="assumptions.rate")

    @app.get("/probe/conflict")
    def conflict() -> None:
        raise ConflictError("The asset has no capacity left.")

    @app.get("/probe/missing")
    def missing() -> None:
        raise NotFoundError("No such loan.")

    @app.get("/probe/boom")
    def boom() -> None:
        raise RuntimeError("bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_missing_or_invalid_key_is_401_with_challenge(probe_client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer dfk_00000000_nope"},
        {"Authorization": "Basic x"},
    ):
        r = probe_client.get("/probe/any", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"] == "Bearer"


def test_role_checks(probe_client, make_key) -> None:
    r = probe_client.get("/probe/registrar", headers=make_key("bank"))
    assert r.status_code == 403
    assert r.headers["content-type"] == PROBLEM
    assert probe_client.get("/probe/registrar", headers=make_key("registrar", "t1")).json() == {
        "role": "registrar",
        "tenant": "t1",
    }
    assert probe_client.get("/probe/registrar", headers=make_key("admin")).status_code == 200
    assert probe_client.get("/probe/any", headers=make_key("risk")).status_code == 200


def test_domain_errors_map_to_problem_json(probe_client) -> None:
    r = probe_client.get("/probe/valuation-error")
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"] == [
        {"field": "assumptions.rate", "message": "The `rate` must be a decimal. Got 5."}
    ]
    assert probe_client.get("/probe/conflict").status_code == 409
    assert probe_client.get("/probe/missing").status_code == 404
    r = probe_client.get("/probe/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM
    assert "bug" not in r.text


def test_install_handlers_on_a_bare_app() -> None:
    app = FastAPI()
    install_handlers(app)

    @app.get("/items/{n}")
    def item(n: int) -> dict:
        return {"n": n}

    r = TestClient(app).get("/items/abc")
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "n"


def test_health_answers_while_heavy_requests_hold_every_pooled_connection(tmp_path) -> None:
    """Issue: a health check that does not queue behind heavy requests. The app's pool has
    one connection, held here as a long request would, and gives up waiting for it after
    1 s: a check through the pool would answer 503; /health answers 200 (no timing asserted)."""
    import asyncio

    from api.routers.health import health

    assert asyncio.iscoroutinefunction(health)  # no place in the sync routes' thread pool
    engine = db.make_engine(
        f"sqlite:///{tmp_path / 'busy.db'}", pool_size=1, max_overflow=0, pool_timeout=1
    )
    try:
        db.upgrade(engine)
        app = create_app(engine=engine)
        with engine.connect() as held, TestClient(app) as c:
            held.exec_driver_sql("SELECT 1")
            r = c.get("/health")
            assert r.status_code == 200
            assert r.json()["status"] == "ok"
    finally:
        engine.dispose()
