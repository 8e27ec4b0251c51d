"""``datafin`` CLI and demo: keys, assets, signals, audit verify, schema checks, demo step."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from database_url import database_url_of
from typer.testing import CliRunner

from api import demo as demo_module
from api.cli import app
from api.demo import DemoError, run_demo
from api.demo_steps import DemoContext
from api.demo_steps import registry as registry_step
from api.services import comparables as comparable_service
from api.services import signals as signal_service
from models.audit import AuditEntry, drop_append_only_triggers
from models.registry import Comparable, CostRecord, DataAsset, Signal
from models.security import authenticate
from samples.data_assets import generate_samples

SAMPLES = generate_samples(9, n_assets=3)


@pytest.fixture
def cli(engine, session_factory, monkeypatch):
    """Run ``datafin ...`` against the test database; returns the click Result."""
    monkeypatch.setenv("DATABASE_URL", database_url_of(engine))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def register(cli, tmp_path, i: int = 0, tenant: str = "tenant-a") -> dict:
    path = tmp_path / f"asset{i}.json"
    path.write_text(json.dumps(SAMPLES.assets[i].profile))
    r = cli("assets", "register", str(path), "--tenant", tenant)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def write_csv(path, frame) -> None:
    lines = ["month,metric,value"] + [
        f"{m:%Y-%m},{k},{v!r}"
        for m, k, v in frame[["month", "metric", "value"]].itertuples(index=False)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_keys_create_prints_only_the_key(cli, session_factory) -> None:
    r = cli("keys", "create", "--role", "bank", "--tenant", "bank-1")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"dfk_[0-9a-f]{8}_\S+", lines[0])
    with session_factory() as s:
        key = authenticate(s, lines[0])
        assert key is not None
        assert key.role == "bank"
        assert key.tenant == "bank-1"


def test_keys_create_rejects_an_unknown_role(cli, session_factory) -> None:
    r = cli("keys", "create", "--role", "owner", "--tenant", "t")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert "role" in r.stderr


def test_register_from_json_and_from_options(cli, tmp_path) -> None:
    created = register(cli, tmp_path, 0)
    assert re.fullmatch(r"DA-\d{4}-\d{6}", created["certificate_no"])
    content = tmp_path / "content.bin"
    content.write_bytes(b"abc")
    r = cli(
        "assets",
        "register",
        "--tenant",
        "tenant-a",
        "--name",
        "Tiny",
        "--category",
        "other",
        "--records",
        "3",
        "--refresh-days",
        "30",
        "--quality",
        "0.8",
        "--file",
        str(content),
    )
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert (
        out["fingerprint_sha256"]
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert out["quality"]["timeliness"] == 0.8
    assert out["rights"]["territory"] == "CN"
    again = cli("assets", "register", str(tmp_path / "asset0.json"), "--tenant", "tenant-a")
    assert again.exit_code == 1
    assert "already registered" in again.stderr


def test_register_reports_bad_fields(cli, tmp_path) -> None:
    body = dict(SAMPLES.assets[1].profile, refresh_days=0)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    r = cli("assets", "register", str(path), "--tenant", "tenant-a")
    assert r.exit_code == 1
    assert "refresh_days" in r.stderr
    r = cli("assets", "register", "--tenant", "tenant-a", "--name", "x")
    assert r.exit_code == 2
    assert "--category" in r.stderr


def test_signals_import_bad_file_then_good_file_twice(cli, tmp_path, session_factory) -> None:
    asset = register(cli, tmp_path, 0)
    frame = SAMPLES.assets[0].signals
    good = tmp_path / "signals.csv"
    write_csv(good, frame)
    bad = tmp_path / "bad.csv"
    lines = good.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",-1"
    bad.write_text("\n".join(lines) + "\n")
    audits = count(session_factory, AuditEntry)

    r = cli("signals", "import", str(bad), "--asset", str(asset["id"]), "--tenant", "tenant-a")
    assert r.exit_code == 1
    assert "Row 5" in r.stderr
    assert "rows[5].value" in r.stderr
    assert count(session_factory, Signal) == 0
    assert count(session_factory, AuditEntry) == audits

    r = cli("signals", "import", str(good), "--asset", str(asset["id"]), "--tenant", "tenant-a")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"inserted": len(frame), "updated": 0, "unchanged": 0}
    r = cli("signals", "import", str(good), "--asset", str(asset["id"]), "--tenant", "tenant-a")
    assert json.loads(r.stdout) == {"inserted": 0, "updated": 0, "unchanged": len(frame)}
    assert count(session_factory, AuditEntry) == audits + 1

    other = cli("signals", "import", str(good), "--asset", str(asset["id"]), "--tenant", "tenant-b")
    assert other.exit_code == 1
    assert "no data asset" in other.stderr


def test_audit_verify_detects_an_edited_row(cli, tmp_path, engine) -> None:
    register(cli, tmp_path, 0)
    register(cli, tmp_path, 1)
    register(cli, tmp_path, 2)
    ok = cli("audit", "verify")
    assert ok.exit_code == 0
    assert "3 entries" in ok.stdout

    with engine.begin() as conn:  # tamper with the second entry behind the ORM's back
        drop_append_only_triggers(conn)  # as the database owner could
        conn.execute(
            sa.update(AuditEntry.__table__)
            .where(AuditEntry.__table__.c.seq == 2)
            .values(payload='{"tampered":true}')
        )
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "seq 2" in broken.stderr
    assert broken.stdout == ""


def test_audit_verify_detects_a_deleted_row(cli, tmp_path, engine) -> None:
    for i in range(3):
        register(cli, tmp_path, i)
    with engine.begin() as conn:
        drop_append_only_triggers(conn)
        conn.execute(sa.delete(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 2))
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "seq 3" in broken.stderr


def test_audit_verify_detects_deleted_newest_entries(cli, tmp_path, engine) -> None:
    for i in range(3):
        register(cli, tmp_path, i)
    with engine.begin() as conn:
        drop_append_only_triggers(conn)
        conn.execute(sa.delete(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 3))
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "deleted from the end" in broken.stderr
    assert "checkpoint" in broken.stderr


def test_commands_refuse_an_out_of_date_schema(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "create", "--role", "admin", "--tenant", "t"])
    assert r.exit_code == 1
    assert "datafin db upgrade" in r.stderr
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0
    assert "revision" in r.stdout
    r = runner.invoke(app, ["keys", "create", "--role", "admin", "--tenant", "t"])
    assert r.exit_code == 0
    assert r.stdout.startswith("dfk_")


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["demo"],
        ["db"],
        ["db", "upgrade"],
        ["keys"],
        ["keys", "create"],
        ["assets"],
        ["assets", "register"],
        ["signals"],
        ["signals", "import"],
        ["audit"],
        ["audit", "verify"],
        ["value"],
        ["stress"],
    ],
)
def test_every_command_has_help(command) -> None:
    r = CliRunner().invoke(app, [*command, "--help"])
    assert r.exit_code == 0
    assert "Usage" in r.stdout


def test_demo_registry_step(session_factory) -> None:
    lines: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="demo", out=lines.append, seed=3)
    registry_step.run(ctx)
    samples = ctx.state["samples"]
    assert len(ctx.state["asset_ids"]) == len(samples.assets) == count(session_factory, DataAsset)
    assert count(session_factory, Signal) == sum(len(a.signals) for a in samples.assets)
    assert count(session_factory, CostRecord) == sum(len(a.costs) for a in samples.assets)
    assert count(session_factory, Comparable) == len(samples.comparables)
    assert ctx.as_of == samples.as_of
    table = "\n".join(lines)
    for asset_id in ctx.state["asset_ids"]:
        assert re.search(rf"^{asset_id}\s+DA-\d{{4}}-\d{{6}}\s", table, re.M)


def test_run_demo_needs_an_empty_database(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(demo_module, "STEPS", ("registry",))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out: list[str] = []
    ctx = run_demo(url, seed=4, out=out.append)
    assert len(ctx.state["asset_ids"]) == 10
    assert set(ctx.state["keys"]) >= {"registrar", "bank"}
    with pytest.raises(DemoError, match="empty database"):
        run_demo(url, seed=4, out=out.append)


def test_stored_data_reads_back_as_the_valuation_inputs(session_factory) -> None:
    from api.services import registry
    from valuation.asset import AssetProfile

    ctx = DemoContext(session_factory=session_factory, tenant="demo", out=lambda *a: None, seed=5)
    registry_step.run(ctx)
    samples = ctx.state["samples"]
    with session_factory() as session:
        for asset_id, sample in ctx.state["assets"].items():
            profile = AssetProfile.from_mapping(
                registry.asset_profile_dict(registry.get_asset(session, asset_id))
            )
            assert profile.id == str(asset_id)
            assert profile.category == sample.category
            signals = signal_service.signals_frame(session, asset_id)
            expected = sample.signals.sort_values(["metric", "month"]).reset_index(drop=True)
            assert list(signals.columns) == ["month", "metric", "value"]
            assert (signals["month"] == expected["month"]).all()
            assert (signals["metric"] == expected["metric"]).all()
            assert signals["value"].tolist() == expected["value"].tolist()  # exact round trip
            costs = registry.costs_frame(session, asset_id)
            assert list(costs.columns) == list(sample.costs.columns)
            assert costs["amount"].tolist() == pytest.approx(
                sample.costs["amount"].tolist(), abs=1e-4
            )
            assert costs["incurred_on"].tolist() == sample.costs["incurred_on"].tolist()
        comps = comparable_service.comparables_frame(session)
        assert list(comps.columns) == list(samples.comparables.columns)
        assert len(comps) == len(samples.comparables)
        assert comps["price"].tolist() == pytest.approx(
            samples.comparables["price"].tolist(), abs=1e-4
        )
        consumer = comparable_service.comparables_frame(session, category="consumer")
        assert set(consumer["category"]) == {"consumer"}
