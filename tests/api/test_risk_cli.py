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
from api.services import signals as signal_service
from models.risk import StressResult, StressRun
from samples.data_assets import generate_samples

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
            rows = [
                {"month": f"{m:%Y-%m}", "metric": k, "value": float(v)}
                for m, k, v in sample.signals[["month", "metric", "value"]].itertuples(index=False)
            ]
            signal_service.import_signals(s, int(asset.id), rows, tenant="tenant-a", actor="test")
            ids.append(int(asset.id))
    return ids


@pytest.fixture
def cli(engine, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", _url(engine))
    monkeypatch.delenv("DASK_SCHEDULER", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_stress_prints_the_aggregate_table_and_stores_the_run(cli, assets, session_factory) -> None:
    r = cli(
        "stress", "rates_up_200bp", "--tenant", "tenant-a", "--paths", "32", "--as-of", "2026-01-01"
    )
    assert r.exit_code == 0, r.stderr
    assert "collateral_value" in r.stdout
    assert "lending_value" in r.stdout
    assert "assets 2" in r.stdout
    with session_factory() as s:
        run = s.execute(sa.select(StressRun)).scalar_one()
        assert run.status == "succeeded"
        assert run.tenant == "tenant-a"
        n = s.execute(sa.select(sa.func.count()).select_from(StressResult)).scalar_one()
    assert n > 0


def test_stress_json_file_and_errors(cli, assets, tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {"name": "mine", "extends": "data_demand_slump", "shocks": {"revenue_multiplier": 0.5}}
        )
    )
    r = cli("stress", str(path), "--tenant", "tenant-a", "--paths", "16", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "mine"
    assert doc["aggregate"]["collateral_value"]["delta"] < 0
    path.write_text(json.dumps({"name": "bad", "shocks": {"pd_multiplier": 0}}))
    r = cli("stress", str(path), "--tenant", "tenant-a")
    assert r.exit_code == 1
    assert "shocks.pd_multiplier" in r.stderr
    r = cli("stress", "no_such", "--tenant", "tenant-a")
    assert r.exit_code == 1
    assert "scenario" in r.stderr
    r = cli("stress", "baseline", "--as-of", "2026-13-01")
    assert r.exit_code == 1
    assert "as_of" in r.stderr


def test_demo_step_prints_base_and_two_scenarios(session_factory, assets) -> None:
    out: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="tenant-a", out=out.append)
    risk_step.run(ctx)
    text = "\n".join(out)
    assert "data_demand_slump" in text
    assert "severe_combined" in text
    assert "collateral_value" in text
    assert ctx.state["stress_scenarios"] == ["data_demand_slump", "severe_combined"]


def test_table_reads_in_units_a_risk_officer_expects() -> None:
    from api.cli_risk import CAPITAL_PLUS_EL, aggregate_table, fmt_change, reading_notes

    agg = {
        "collateral_value": {"base": 200.0, "stressed": 150.0, "delta": -50.0},
        "pd": {"base": 0.02, "stressed": 0.9, "delta": 0.88},
        "expected_loss": {"base": 10.0, "stressed": 90.0, "delta": 80.0},
        "capital": {"base": 30.0, "stressed": 5.0, "delta": -25.0},
        "margin_calls": {"base": 0.0, "stressed": 2.0, "delta": 2.0},
        "price": {"base": 100.5, "stressed": 92.25, "delta": -8.25},
    }
    text = aggregate_table(agg, "CNY")
    lines = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert "2.00%" in lines["pd"]
    assert "90.00%" in lines["pd"]
    assert "+88.00 pp" in lines["pd"]
    assert "-50 (-25.0%)" in lines["collateral_value"]
    assert "CNY" in lines["collateral_value"]
    assert lines["margin_calls"].split()[-1] == "+2"
    assert "-8.25" in lines["price"]
    assert "per 100" in lines["price"]
    # capital falls while EL rises: the derived row and a note say how to read it
    derived = next(line for line in text.splitlines() if line.startswith(CAPITAL_PLUS_EL))
    assert "40" in derived
    assert "95" in derived
    assert "+55 (+137.5%)" in derived
    notes = reading_notes(agg, {"expected_loss": 12.0}, "CNY")
    assert any("K falls" in n for n in notes)
    assert any("booked on the loans" in n and "expected_loss 12 CNY" in n for n in notes)
    calm = {**agg, "capital": {"base": 30.0, "stressed": 40.0, "delta": 10.0}}
    assert not any("K falls" in n for n in reading_notes(calm, None))
    assert fmt_change("expected_loss", 0.0, 5.0, compact=True) == "+5"
    assert fmt_change("ltv", 0.3, float("nan")) == "-"


def test_stress_header_names_as_of_paths_and_seed(cli, assets) -> None:
    r = cli(
        "stress",
        "baseline",
        "--tenant",
        "tenant-a",
        "--paths",
        "16",
        "--seed",
        "7",
        "--as-of",
        "2026-01-01",
    )
    assert r.exit_code == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert "as of 2026-01-01" in header
    assert "paths 16" in header
    assert "seed 7" in header
    assert "note: base = the stress engine's revaluation" in r.stdout


def test_stress_reverse_option(cli, assets, session_factory) -> None:
    r = cli(
        "stress",
        "data_demand_slump",
        "--tenant",
        "tenant-a",
        "--paths",
        "16",
        "--as-of",
        "2026-01-01",
        "--reverse-limit",
        "expected_loss_budget",
        "--threshold",
        "1e15",
    )
    assert r.exit_code == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("reverse stress:"))
    assert "expected_loss_budget" in line
    assert "not broken" in line
    with session_factory() as s:
        run = s.execute(sa.select(StressRun)).scalar_one()
        assert json.loads(run.record)["reverse"]["threshold"] == 1e15
    r = cli(
        "stress",
        "baseline",
        "--tenant",
        "tenant-a",
        "--reverse-limit",
        "margin_calls",
        "--threshold",
        "1.5",
    )
    assert r.exit_code == 1
    assert "`threshold` of `reverse`" in r.stderr
    r = cli("stress", "baseline", "--tenant", "tenant-a", "--reverse-limit", "var")
    assert r.exit_code == 1
    assert "`limit` of `reverse`" in r.stderr
