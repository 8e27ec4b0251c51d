"""``datafin stress`` and the risk demo step."""

from __future__ import annotations

import copy
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.demo_steps import DemoContext
from api.demo_steps import risk as risk_step
from api.schemas.registry import AssetRegister
from api.services import registry
from models.risk import StressResult, StressRun
from valuation.samples import generate_samples

SAMPLES = generate_samples(13, n_assets=2)


def _url(engine) -> str:
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def assets(session_factory) -> list[int]:
    ids = []
    with session_factory() as s:
        for sample in SAMPLES.assets:
            data = AssetRegister.model_validate(copy.deepcopy(sample.profile))
            asset = registry.register_asset(s, data, tenant="tenant-a", actor="test")
            rows = [{"month": f"{m:%Y-%m}", "metric": k, "value": float(v)}
                    for m, k, v in sample.signals[["month", "metric", "value"]]
                    .itertuples(index=False)]
            registry.import_signals(s, int(asset.id), rows, tenant="tenant-a", actor="test")
            ids.append(int(asset.id))
    return ids


@pytest.fixture
def cli(engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", _url(engine))
    monkeypatch.delenv("DASK_SCHEDULER", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_stress_prints_the_aggregate_table_and_stores_the_run(cli, assets,
                                                              session_factory) -> None:
    r = cli("stress", "rates_up_200bp", "--tenant", "tenant-a", "--paths", "32",
            "--as-of", "2026-01-01")
    assert r.exit_code == 0, r.stderr
    assert "collateral_value" in r.stdout and "lending_value" in r.stdout
    assert "assets 2" in r.stdout
    with session_factory() as s:
        run = s.execute(sa.select(StressRun)).scalar_one()
        assert run.status == "succeeded" and run.tenant == "tenant-a"
        n = s.execute(sa.select(sa.func.count()).select_from(StressResult)).scalar_one()
    assert n > 0


def test_stress_json_file_and_errors(cli, assets, tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "mine", "extends": "data_demand_slump",
                                "shocks": {"revenue_multiplier": 0.5}}))
    r = cli("stress", str(path), "--tenant", "tenant-a", "--paths", "16", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "mine"
    assert doc["aggregate"]["collateral_value"]["delta"] < 0
    path.write_text(json.dumps({"name": "bad", "shocks": {"pd_multiplier": 0}}))
    r = cli("stress", str(path), "--tenant", "tenant-a")
    assert r.exit_code == 1 and "shocks.pd_multiplier" in r.stderr
    r = cli("stress", "no_such", "--tenant", "tenant-a")
    assert r.exit_code == 1 and "scenario" in r.stderr
    r = cli("stress", "baseline", "--as-of", "2026-13-01")
    assert r.exit_code == 1 and "as_of" in r.stderr


def test_demo_step_prints_base_and_two_scenarios(session_factory, assets) -> None:
    out: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="tenant-a", out=out.append)
    risk_step.run(ctx)
    text = "\n".join(out)
    assert "data_demand_slump" in text and "severe_combined" in text
    assert "collateral_value" in text
    assert ctx.state["stress_scenarios"] == ["data_demand_slump", "severe_combined"]
