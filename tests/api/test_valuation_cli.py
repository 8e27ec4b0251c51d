"""``datafin value ASSET_ID`` and the demo's valuation step."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.demo_steps import DemoContext
from api.demo_steps import registry as registry_step
from api.demo_steps import valuation as valuation_step
from models.valuation import AssetQuote, Valuation


def _url(engine) -> str:
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def demo_ctx(session_factory) -> DemoContext:
    lines: list[str] = []
    ctx = DemoContext(
        session_factory=session_factory,
        tenant="demo",
        out=lambda *a: lines.append(" ".join(map(str, a))),
    )
    ctx.state["lines"] = lines
    registry_step.run(ctx)
    return ctx


def _count(session_factory, model) -> int:
    with session_factory() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_demo_step_values_every_asset_and_prints_the_table(demo_ctx, session_factory) -> None:
    valuation_step.run(demo_ctx)
    ids = demo_ctx.state["valuation_ids"]
    assert list(ids) == list(demo_ctx.state["asset_ids"])
    assert _count(session_factory, Valuation) == len(ids) == _count(session_factory, AssetQuote)
    text = "\n".join(demo_ctx.state["lines"])
    for column in ("income", "cost", "market", "value", "p05 - p95", "lending", "haircut"):
        assert column in text


def test_cli_value_prints_the_breakdown_and_stores(
    demo_ctx, engine, session_factory, monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(engine))
    asset_id = demo_ctx.state["asset_ids"][0]
    runner = CliRunner()
    r = runner.invoke(
        app, ["value", str(asset_id), "--as-of", demo_ctx.as_of.isoformat(), "--paths", "500"]
    )
    assert r.exit_code == 0, r.stderr
    for word in ("income", "cost", "market", "reconciled value", "lending value", "haircut", "p95"):
        assert word in r.stdout
    assert _count(session_factory, Valuation) == 1
    r = runner.invoke(
        app,
        [
            "value",
            str(asset_id),
            "--as-of",
            demo_ctx.as_of.isoformat(),
            "--paths",
            "500",
            "--no-store",
            "--json",
            "--seed",
            "5",
        ],
    )
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["seed"] == 5
    assert doc["valuation_id"] is None
    assert set(doc["methods"]) == {"income", "cost", "market"}
    assert _count(session_factory, Valuation) == 1


def test_cli_value_errors_go_to_stderr(demo_ctx, engine, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", _url(engine))
    runner = CliRunner()
    r = runner.invoke(app, ["value", "99999", "--as-of", "2026-01-01"])
    assert r.exit_code == 1
    assert "99999" in r.stderr
    r = runner.invoke(app, ["value", str(demo_ctx.state["asset_ids"][0]), "--as-of", "2026-02-30"])
    assert r.exit_code == 1
    assert "as_of" in r.stderr
    r = runner.invoke(
        app, ["value", str(demo_ctx.state["asset_ids"][0]), "--paths", "0", "--as-of", "2026-01-01"]
    )
    assert r.exit_code == 1
    assert "paths" in r.stderr
