"""Fixtures for API tests: an app on the test database, a client, and API keys.

They build on ``tests/conftest.py`` (``engine``: a database at the latest migration,
SQLite by default or PostgreSQL when ``TEST_DATABASE_URL`` is set; ``session_factory``:
sessions on it, every table emptied after the test). Each fixture below requests
``session_factory``, so any test using them starts and ends with empty tables.

Fixtures
--------
app
    ``api.app.create_app(engine=engine)``: the real application, routers and error
    handlers included, on the test engine.
client
    ``fastapi.testclient.TestClient(app)``. Unhandled exceptions are re-raised in the
    test (a 500 is a bug), so a test sees the traceback.
make_key
    ``make_key(role, tenant="tenant-a") -> dict``: inserts an ``ApiKey`` row and returns
    the request headers ``{"Authorization": "Bearer <key>"}``. Use different tenants to
    test isolation, e.g. ``make_key("bank", "tenant-b")``.

Example
-------
::

    def test_register(client, make_key):
        r = client.post("/v1/assets", json=body, headers=make_key("registrar"))
        assert r.status_code == 201
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():
    # starlette>=1 prefers the httpx2 package for its TestClient and warns once, at import,
    # when only httpx is installed; the suite runs with filterwarnings=error.
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from api.app import create_app
from models.security import create_api_key


@pytest.fixture
def app(engine, session_factory):
    """The application on the test engine (tables emptied after the test)."""
    return create_app(engine=engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """A TestClient on `app` (raises server-side exceptions in the test)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_key(session_factory) -> Callable[..., dict[str, str]]:
    """Factory: ``make_key(role, tenant="tenant-a")`` -> auth headers for a new key."""

    def _make(role: str, tenant: str = "tenant-a") -> dict[str, str]:
        with session_factory() as session:
            plain, _row = create_api_key(session, role=role, tenant=tenant, label="test")
            session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return _make
