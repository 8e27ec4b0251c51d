"""Collateral certificate, deal report and stress report: HTML and PDF over HTTP and
from the command line, tenant isolation (another tenant's document is a 404), and the
stress results exported as CSV, Excel and Parquet with the same columns."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader
from report_world import CHINESE_NAME, TENANT, build_world, cli_database_url
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.reports import exports
from api.reports.certificate import origination_entry


def pdf_text(data: bytes) -> str:
    assert data[:5] == b"%PDF-", data[:20]
    return "".join(
        "".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(data)).pages
    )


@pytest.fixture
def world(client, make_key, session_factory):
    return build_world(client, make_key, session_factory, deal=True, stress=True)


def test_certificate_deal_and_stress_reports(
    client, make_key, session_factory, engine, monkeypatch, tmp_path, world
) -> None:
    w = world
    bank, risk, fund = w.keys["bank"], w.keys["risk"], w.keys["fund_manager"]
    valuation = client.get(f"/v1/valuations/{w.valuation_id}", headers=bank).json()
    loan = client.get(f"/v1/loans/{w.loan_id}", headers=bank).json()
    with session_factory() as session:
        entry = origination_entry(session, w.loan_id)
    assert entry is not None
    number = f"CC-{w.loan_id:06d}-{entry.hash[:8]}"

    # collateral certificate
    r = client.get(f"/v1/loans/{w.loan_id}/certificate", headers=bank)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for needle in (
        number,
        w.certificate_no,
        CHINESE_NAME,
        valuation["inputs_sha256"],
        entry.hash,
        f"{loan['principal']:,.2f}",
        "datafin audit verify",
    ):
        assert needle in r.text, needle
    pdf = client.get(f"/v1/loans/{w.loan_id}/certificate?format=pdf", headers=risk)
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for needle in (
        number,
        w.certificate_no,
        valuation["inputs_sha256"],
        f"{loan['principal']:,.2f}",
        "".join(CHINESE_NAME.split()),
    ):
        assert needle in text, needle

    # deal report
    r = client.get(f"/v1/securitizations/{w.deal_id}/report", headers=fund)
    assert r.status_code == 200
    for needle in (
        "Structure",
        "Base-case cash flows",
        "Tranche analytics",
        "Pool loss distribution",
        "SEC-SA",
        "<svg",
        "数据资产 ABS demo",
    ):
        assert needle in r.text, needle
    pdf = client.get(
        f"/v1/securitizations/{w.deal_id}/report", headers={**bank, "Accept": "application/pdf"}
    )
    text = pdf_text(pdf.content)
    assert f"securitizations/{w.deal_id}/cashflows" in text.replace(" ", "")
    assert "数据资产ABSdemo" in text

    # stress report
    r = client.get(f"/v1/stress-runs/{w.run_id}/report", headers=risk)
    assert r.status_code == 200
    results = client.get(f"/v1/stress-runs/{w.run_id}/results", headers=risk).json()
    cell = results["aggregate"]["collateral_value"]
    for needle in (
        "data_demand_slump",
        "Bowie",
        "<svg",
        f"{cell['stressed']:,.2f}",
        "Positions that lose most",
    ):
        assert needle in r.text, needle
    text = pdf_text(
        client.get(f"/v1/stress-runs/{w.run_id}/report?format=pdf", headers=risk).content
    )
    assert f"run{w.run_id}·" in text
    assert f"{cell['base']:,.2f}" in text

    # another tenant sees none of them; roles that may not read them get 403
    for role in ("bank", "risk", "fund_manager"):
        other = make_key(role, "tenant-other")
        for path in (
            f"/v1/loans/{w.loan_id}/certificate",
            f"/v1/securitizations/{w.deal_id}/report",
            f"/v1/stress-runs/{w.run_id}/report",
        ):
            status = client.get(path, headers=other).status_code
            assert status in (403, 404), (role, path, status)
            assert status == 404 or role not in _readers(path), (role, path)
    assert client.get(f"/v1/stress-runs/{w.run_id}/report", headers=bank).status_code == 403
    assert client.get(f"/v1/loans/{w.loan_id}/certificate").status_code == 401

    # the same documents from the command line
    monkeypatch.setenv("DATABASE_URL", cli_database_url(engine))
    runner = CliRunner()
    for kind, object_id, needle in (
        ("loan", w.loan_id, number),
        ("deal", w.deal_id, f"securitizations/{w.deal_id}/cashflows"),
        ("stress", w.run_id, f"run{w.run_id}·"),
    ):
        out = tmp_path / f"{kind}.pdf"
        res = runner.invoke(
            cli_app, ["report", kind, str(object_id), "--out", str(out), "--tenant", TENANT]
        )
        assert res.exit_code == 0, res.output
        assert needle in pdf_text(out.read_bytes()).replace(" ", "")
        res = runner.invoke(
            cli_app,
            [
                "report",
                kind,
                str(object_id),
                "--out",
                str(tmp_path / "x.html"),
                "--tenant",
                "tenant-other",
            ],
        )
        assert res.exit_code == 1, res.output
    res = runner.invoke(
        cli_app, ["report", "loan", str(w.loan_id), "--out", str(tmp_path / "x.docx")]
    )
    assert res.exit_code == 2

    # deal cash flows from the command line: one row per class and period
    out = tmp_path / "cashflows.parquet"
    res = runner.invoke(
        cli_app, ["export", "cashflows", str(w.deal_id), "--out", str(out), "--tenant", TENANT]
    )
    assert res.exit_code == 0, res.output
    flows = pd.read_parquet(out)
    api_flows = client.get(
        f"/v1/securitizations/{w.deal_id}/cashflows?format=parquet", headers=bank
    )
    pd.testing.assert_frame_equal(flows, pd.read_parquet(io.BytesIO(api_flows.content)))
    assert set(flows["class"]) == {"A", "B", "C"}
    last = flows.sort_values("period").groupby("class")["note_balance"].last().sum()
    assert flows["principal_paid"].sum() + flows["writedown"].sum() + last == pytest.approx(
        client.get(f"/v1/securitizations/{w.deal_id}", headers=bank).json()["note_balance"],
        rel=1e-6,
    )


def _readers(path: str) -> tuple[str, ...]:
    if "/loans/" in path:
        return ("bank", "risk")
    if "/securitizations/" in path:
        return ("bank", "fund_manager", "risk")
    return ("risk",)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_stress_results_export_round_trip(client, world, fmt) -> None:
    risk = world.keys["risk"]
    csv_text = client.get(
        f"/v1/stress-runs/{world.run_id}/results", headers={**risk, "Accept": "text/csv"}
    ).text
    expected = exports.stress_frame(csv_text)
    r = client.get(f"/v1/stress-runs/{world.run_id}/results?format={fmt}", headers=risk)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(exports.MEDIA_TYPES[fmt].split(";")[0])
    data = io.BytesIO(r.content)
    got = (
        pd.read_csv(data, dtype={"id": str}, keep_default_na=False)
        if fmt == "csv"
        else pd.read_excel(data, dtype={"id": str}, keep_default_na=False)
        if fmt == "xlsx"
        else pd.read_parquet(data)
    )
    assert list(got.columns) == list(expected.columns) == list(exports.STRESS_COLUMNS)
    assert list(got["metric"]) == list(expected["metric"])
    assert [str(x) for x in got["id"]] == [str(x) for x in expected["id"]]
    for c in ("base", "stressed", "delta"):
        pd.testing.assert_series_equal(
            pd.to_numeric(got[c], errors="coerce"), expected[c], check_names=False, rtol=1e-12
        )


def test_demo_step_writes_the_four_documents(session_factory, world, tmp_path) -> None:
    from api.demo_steps import DemoContext
    from api.demo_steps import reports as reports_step

    lines: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant=TENANT, out=lines.append)
    ctx.as_of = world.extra["as_of"]
    ctx.state.update(
        {
            "valuation_ids": {world.asset_id: world.valuation_id},
            "loan_ids": [world.loan_id],
            "securitization_ids": [world.deal_id],
            "reports_dir": str(tmp_path / "reports"),
        }
    )
    reports_step.run(ctx)
    paths = ctx.state["report_paths"]
    assert len(paths) == 4
    for path in paths:
        assert path in "\n".join(lines)
        assert Path(path).read_bytes()[:5] == b"%PDF-"
    assert world.certificate_no in pdf_text(Path(paths[0]).read_bytes())


def test_stress_report_compares_the_tenants_scenarios(client, world) -> None:
    from report_world import wait_for_run

    risk = world.keys["risk"]
    r = client.post(
        "/v1/stress-runs",
        headers=risk,
        json={
            "scenario": "severe_combined",
            "paths": 64,
            "seed": 3,
            "as_of": world.extra["as_of"].isoformat(),
        },
    )
    assert r.status_code == 202, r.text
    wait_for_run(client, r.json()["id"], risk)
    html = client.get(f"/v1/stress-runs/{world.run_id}/report", headers=risk).text
    assert "By scenario" in html
    assert "severe_combined" in html
    assert "data_demand_slump" in html
    agg = client.get(f"/v1/stress-runs/{r.json()['id']}/results", headers=risk).json()["aggregate"]
    share = 100.0 * agg["collateral_value"]["stressed"] / agg["collateral_value"]["base"]
    assert f"{share:.1f} %" in html
