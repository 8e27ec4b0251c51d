"""A small demo world for the report, export and dashboard tests.

``build_world(client, make_key)`` registers the demo's sample assets (the registry demo
step) plus one asset with a Chinese name, values it over HTTP, books a loan against it,
pools the loans into the demo deal and prices it, and runs a stored stress run; it returns
the ids and the keys of tenant ``demo``. Plain functions, no fixtures (on the test import
path through pytest's ``pythonpath``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from contract_world import cost_bodies, loan_body, signals_csv

from api.demo_steps import DemoContext
from api.demo_steps import registry as registry_step
from samples.data_assets import generate_samples

TENANT = "demo"
CHINESE_NAME = "工业传感器数据 #1"
"""The name of the asset whose reports must render Chinese."""


@dataclass
class World:
    keys: dict[str, dict[str, str]]
    asset_id: int
    certificate_no: str
    valuation_id: int
    loan_id: int
    deal_id: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_world(
    client: Any, make_key: Any, session_factory: Any, *, deal: bool = False, stress: bool = False
) -> World:
    keys = {role: make_key(role, TENANT) for role in ("registrar", "bank", "fund_manager", "risk")}
    ctx = DemoContext(session_factory=session_factory, tenant=TENANT, out=lambda *a, **k: None)
    registry_step.run(ctx)
    sample = generate_samples(ctx.seed).assets[0]
    profile = dict(sample.profile)
    profile["name"] = CHINESE_NAME
    profile["fingerprint_sha256"] = hashlib.sha256(b"report-world").hexdigest()
    r = client.post("/v1/assets", json=profile, headers=keys["registrar"])
    assert r.status_code == 201, r.text
    asset = r.json()
    aid = asset["id"]
    r = client.put(
        f"/v1/assets/{aid}/signals",
        content=signals_csv(sample.signals),
        headers={**keys["registrar"], "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/v1/assets/{aid}/costs", json=cost_bodies(sample.costs), headers=keys["registrar"]
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/v1/assets/{aid}/valuations",
        headers=keys["registrar"],  # the public quote
        json={"as_of": ctx.as_of.isoformat(), "currency": "CNY", "paths": 2000, "seed": 7},
    )
    assert r.status_code == 201, r.text
    valuation_id = r.json()["id"]
    quote = client.post(
        "/v1/loans/quote", json=loan_body([aid], as_of=ctx.as_of.isoformat()), headers=keys["bank"]
    )
    assert quote.status_code == 200, quote.text
    principal = round(quote.json()["max_principal"] * 0.5, 2)
    r = client.post(
        "/v1/loans",
        json=loan_body(
            [aid],
            as_of=ctx.as_of.isoformat(),
            principal=principal,
            start_date=ctx.as_of.isoformat(),
        ),
        headers=keys["bank"],
    )
    assert r.status_code == 201, r.text
    world = World(
        keys=keys,
        asset_id=aid,
        certificate_no=asset["certificate_no"],
        valuation_id=valuation_id,
        loan_id=r.json()["id"],
    )
    world.extra["as_of"] = ctx.as_of
    if deal:
        body = {
            "name": "数据资产 ABS demo",
            "currency": "CNY",
            "pool": {
                "loan_ids": [str(world.loan_id)],
                "recovery_lag_months": 6,
                "cut_off_date": ctx.as_of.isoformat(),
            },
            "tranches": [
                {"name": "A", "attach": 0.25, "detach": 1.0, "coupon": 0.02},
                {"name": "B", "attach": 0.10, "detach": 0.25, "coupon": 0.026},
                {"name": "C", "attach": 0.0, "detach": 0.10, "coupon": 0.0, "equity": True},
            ],
            "senior_fee_rate": 0.005,
            "triggers": {"cumulative_default": 0.10},
        }
        r = client.post("/v1/securitizations", json=body, headers=keys["bank"])
        assert r.status_code == 201, r.text
        world.deal_id = r.json()["id"]
        r = client.post(
            f"/v1/securitizations/{world.deal_id}/price",
            headers=keys["fund_manager"],
            json={"paths": 500, "seed": 1, "correlation": 0.2, "break_even": False},
        )
        assert r.status_code == 200, r.text
    if stress:
        r = client.post(
            "/v1/stress-runs",
            headers=keys["risk"],
            json={
                "scenario": "data_demand_slump",
                "paths": 64,
                "seed": 3,
                "as_of": ctx.as_of.isoformat(),
            },
        )
        assert r.status_code == 202, r.text
        world.run_id = r.json()["id"]
        wait_for_run(client, world.run_id, keys["risk"])
    return world


def wait_for_run(
    client: Any, run_id: str, headers: dict[str, str], timeout_s: float = 120.0
) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/v1/stress-runs/{run_id}", headers=headers).json()["status"]
        if status in ("succeeded", "failed"):
            assert status == "succeeded"
            return
        time.sleep(0.2)
    raise AssertionError(f"stress run {run_id} did not finish in {timeout_s} s")


def cli_database_url(engine: Any) -> str:
    """``DATABASE_URL`` for the command line on the test database (on PostgreSQL with the
    test's own schema on the search path)."""
    import sqlalchemy as sa

    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
