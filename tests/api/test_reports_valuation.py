"""Appraisal report and exports: over HTTP and from the command line, HTML and PDF.

The PDF's text (extracted with pypdf) must carry the certificate number, the value and
the inputs hash, and the asset's Chinese name (rendered with a CJK font, so the text
layer holds the characters, not missing-glyph boxes).
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from pypdf import PdfReader
from report_world import CHINESE_NAME, TENANT, build_world, cli_database_url
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.reports import exports, render


def pdf_text(data: bytes) -> str:
    assert data[:5] == b"%PDF-", data[:20]
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 1
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_appraisal_report_html_pdf_and_cli(
    client, make_key, session_factory, engine, monkeypatch, tmp_path
) -> None:
    assert render.cjk_font_available(), "a CJK font is needed (Debian: fonts-noto-cjk)"
    w = build_world(client, make_key, session_factory)
    v = client.get(f"/v1/valuations/{w.valuation_id}", headers=w.keys["risk"]).json()
    value_text = f"{v['value']:,.2f}"

    r = client.get(f"/v1/valuations/{w.valuation_id}/report", headers=w.keys["risk"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for needle in (
        w.certificate_no,
        CHINESE_NAME,
        value_text,
        v["inputs_sha256"],
        "<svg",
        "Income forecast",
        "Value distribution",
        "Reconciliation",
        "Sensitivities",
        "Warnings",
        "Quote",
        v["model_version"],
    ):
        assert needle in html, needle
    # the sections in the order an appraiser writes them
    order = [
        "1. The asset",
        "2. Purpose and value type",
        "3. Valuation date",
        "4. Approaches",
        "5. Assumptions",
        "6. Income forecast",
        "7. Value distribution",
        "8. Reconciliation",
        "9. Sensitivities",
        "10. Warnings",
        "11. Quote",
        "12. Model",
    ]
    assert [html.index(s) for s in order] == sorted(html.index(s) for s in order)

    by_accept = client.get(
        f"/v1/valuations/{w.valuation_id}/report",
        headers={**w.keys["risk"], "Accept": "application/pdf"},
    )
    by_query = client.get(
        f"/v1/valuations/{w.valuation_id}/report?format=pdf", headers=w.keys["bank"]
    )
    for resp in (by_accept, by_query):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/pdf"
    text = pdf_text(by_query.content)
    flat = squeeze(text)
    for needle in (w.certificate_no, value_text, v["inputs_sha256"], squeeze(CHINESE_NAME)):
        assert needle in flat, needle

    monkeypatch.setenv("DATABASE_URL", cli_database_url(engine))
    out = tmp_path / "appraisal.pdf"
    res = CliRunner().invoke(
        cli_app, ["report", "valuation", str(w.valuation_id), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert w.certificate_no in squeeze(pdf_text(out.read_bytes()))
    html_out = tmp_path / "appraisal.html"
    res = CliRunner().invoke(
        cli_app, ["report", "valuation", str(w.valuation_id), "--out", str(html_out)]
    )
    assert res.exit_code == 0
    assert CHINESE_NAME in html_out.read_text(encoding="utf-8")
    res = CliRunner().invoke(cli_app, ["report", "valuation", "999999", "--out", str(html_out)])
    assert res.exit_code == 1
    assert "999999" in res.output

    assert client.get(f"/v1/valuations/{w.valuation_id}/report").status_code == 401
    assert client.get("/v1/valuations/999999/report", headers=w.keys["risk"]).status_code == 404
    bad = client.get(f"/v1/valuations/{w.valuation_id}/report?format=doc", headers=w.keys["risk"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "format"


def read_back(data: bytes, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(data))
    if fmt == "xlsx":
        return pd.read_excel(io.BytesIO(data), engine="openpyxl")
    return pd.read_parquet(io.BytesIO(data))


def same(df: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(df.columns) == list(expected.columns)
    assert len(df) == len(expected)
    for c in expected.columns:
        got, want = df[c], expected[c]
        if pd.api.types.is_datetime64_any_dtype(want):
            got = pd.to_datetime(got)
            assert (got.isna() == want.isna()).all(), c
            assert (got[want.notna()] == want[want.notna()]).all(), c
        elif pd.api.types.is_numeric_dtype(want):
            pd.testing.assert_series_equal(
                got.astype("float64"), want.astype("float64"), check_names=False, rtol=1e-12
            )
        else:
            assert [None if pd.isna(x) else str(x) for x in got] == [
                None if pd.isna(x) else str(x) for x in want
            ], c


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_exports_round_trip(
    client, make_key, session_factory, engine, monkeypatch, tmp_path, fmt
) -> None:
    w = build_world(client, make_key, session_factory)
    bank = w.keys["bank"]
    schedule = client.get(f"/v1/loans/{w.loan_id}/schedule", headers=bank).json()
    history = client.get(f"/v1/assets/{w.asset_id}/valuations", headers=bank).json()["items"]
    quote = client.get(f"/v1/quotes/{w.asset_id}", headers=bank).json()
    risk = client.get("/v1/portfolio/risk", headers=bank).json()
    cases = {
        f"/v1/loans/{w.loan_id}/schedule": exports.schedule_frame(w.loan_id, schedule),
        f"/v1/assets/{w.asset_id}/valuations": exports.valuations_frame(history),
        f"/v1/quotes/{w.asset_id}": exports.quotes_frame([quote]),
        "/v1/portfolio/risk": exports.portfolio_frame(risk),
    }
    for path, expected in cases.items():
        r = client.get(f"{path}?format={fmt}", headers=bank)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].split(";")[0] == exports.MEDIA_TYPES[fmt].split(";")[0]
        same(read_back(r.content, fmt), expected)
        by_accept = client.get(path, headers={**bank, "Accept": exports.MEDIA_TYPES[fmt]})
        assert by_accept.content == r.content or fmt == "xlsx"  # xlsx zips carry a timestamp
    assert schedule[0]["interest"] == pytest.approx(
        float(
            read_back(
                client.get(f"/v1/loans/{w.loan_id}/schedule?format={fmt}", headers=bank).content,
                fmt,
            )["interest"][0]
        ),
        rel=1e-12,
    )
    quotes = client.get(f"/v1/quotes?format={fmt}", headers=bank)
    assert quotes.status_code == 200
    assert w.asset_id in set(read_back(quotes.content, fmt)["asset_id"])
    # JSON stays the default
    assert isinstance(client.get(f"/v1/loans/{w.loan_id}/schedule", headers=bank).json(), list)
    # another tenant's loan is not exported
    other = make_key("bank", "tenant-other")
    assert (
        client.get(f"/v1/loans/{w.loan_id}/schedule?format={fmt}", headers=other).status_code == 404
    )

    monkeypatch.setenv("DATABASE_URL", cli_database_url(engine))
    out = tmp_path / f"schedule.{fmt}"
    res = CliRunner().invoke(
        cli_app, ["export", "schedule", str(w.loan_id), "--out", str(out), "--tenant", TENANT]
    )
    assert res.exit_code == 0, res.output
    same(read_back(out.read_bytes(), fmt), cases[f"/v1/loans/{w.loan_id}/schedule"])
    out = tmp_path / f"valuations.{fmt}"
    res = CliRunner().invoke(cli_app, ["export", "valuations", str(w.asset_id), "--out", str(out)])
    assert res.exit_code == 0, res.output
    same(read_back(out.read_bytes(), fmt), cases[f"/v1/assets/{w.asset_id}/valuations"])
    res = CliRunner().invoke(
        cli_app,
        ["export", "schedule", str(w.loan_id), "--out", str(out), "--tenant", "tenant-other"],
    )
    assert res.exit_code == 1


def test_appraisal_report_shows_the_newer_valuation_fields(
    client, make_key, session_factory, monkeypatch
) -> None:
    """warnings, reconciliation, sensitivities, model and per-approach ranges render when a
    valuation carries them (older valuations show "not available" instead)."""
    from api.services import quotes as quote_service

    w = build_world(client, make_key, session_factory)
    original = quote_service.get_valuation

    def with_fields(session, valuation_id):
        pub = dict(original(session, valuation_id))
        pub["warnings"] = [{"code": "stale_signals", "message": "The last signal is 7 months old."}]
        pub["reconciliation"] = {
            "weights": {"income": 0.6, "cost": 0.4},
            "disagreement_ratio": 2.5,
            "evidence": {"income": "36 months of revenue"},
            "rationale": "Income has the most evidence; cost is a floor.",
        }
        pub["sensitivities"] = [
            {"name": "discount_rate", "shift": 0.01, "value": pub["value"] * 0.9}
        ]
        pub["model"] = {"version": "9.9.9", "libraries": {"numpy": "1.2.3"}}
        methods = {k: dict(v) for k, v in pub["methods"].items()}
        methods["income"]["distribution"] = {"p05": 111111.0, "p50": 222222.0, "p95": 333333.0}
        pub["methods"] = methods
        return pub

    monkeypatch.setattr(quote_service, "get_valuation", with_fields)
    html = client.get(f"/v1/valuations/{w.valuation_id}/report", headers=w.keys["risk"]).text
    for needle in (
        "stale_signals",
        "The last signal is 7 months old.",
        "Income has the most evidence",
        "36 months of revenue",
        "discount_rate",
        "-10.0 %",
        "9.9.9",
        "numpy: 1.2.3",
        "111,111.00",
        "333,333.00",
    ):
        assert needle in html, needle
