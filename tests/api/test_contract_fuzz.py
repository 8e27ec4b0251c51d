"""The API contract: "A 500 is a bug." Hypothesis fuzzes the JSON bodies of the POST/PUT/PATCH
endpoints: a valid body with one field replaced by a hostile value (wrong type, NaN,
infinity, huge or negative numbers, bad dates, nested junk), a field removed, an unknown
field added, or an arbitrary JSON document. Every answer must be below 500, and every
error a problem+json document (``errors`` for 422).

Example counts are small (the whole file runs in well under 30 s); the client re-raises
server exceptions, so a 500 fails with its traceback and Hypothesis shrinks the input.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from contract_world import signals_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.job_queue import get_jobs
from samples.data_assets import generate_samples

PROBLEM = "application/problem+json"
SAMPLES = generate_samples(11, n_assets=1)
AS_OF = SAMPLES.as_of.isoformat()

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Hostile leaves: wrong types, NaN and infinities, numbers beyond any column, dates outside
# any calendar, NUL characters.
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(
        [-1, 0, 1, -(2**31), 2**31, 2**63, 2**70, 10**9, 1e308, -1e308, 1e-300, 0.5, 2.5, -0.5]
    ),
    st.integers(min_value=-1000, max_value=1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "x",
            "2025-02-30",
            "2025-13-01",
            "1900-01-01",
            "9999-12-31",
            "0001-01-01",
            "2199-12-31",
            "2025-01",
            "CNY",
            "ZZZ",
            "ACT/365F",
            "annuity",
            "recursion",
            "baseline",
            "NaN",
            "-1",
            "1e400",
            "\u0000",
            "a" * 300,
        ]
    ),
    st.text(max_size=20),
)
JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def _leaf_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        out = [prefix] if prefix else []
        for k, v in value.items():
            out += _leaf_paths(v, (*prefix, k))
        return out
    if isinstance(value, list):
        out = [prefix] if prefix else []
        for i, v in enumerate(value[:2]):
            out += _leaf_paths(v, (*prefix, i))
        return out
    return [prefix]


def _set(body: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    body = copy.deepcopy(body)
    target = body
    for p in path[:-1]:
        target = target[p]
    if delete and isinstance(target, dict):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return body


@st.composite
def hostile_bodies(draw, base: Any) -> Any:
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "extra", "anything"]))
    if kind == "anything":
        return draw(JSON)
    if kind == "extra" and isinstance(base, dict):
        return {**copy.deepcopy(base), draw(st.text(min_size=1, max_size=10)): draw(JSON)}
    path = draw(st.sampled_from(_leaf_paths(base)))
    return _set(base, path, draw(JSON), delete=kind == "delete")


def _send(client, method: str, url: str, headers: dict[str, str], body: Any):
    payload = json.dumps(body, allow_nan=True).encode()
    r = client.request(
        method, url, content=payload, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith(PROBLEM), (r.status_code, r.text)
        doc = r.json()
        assert {"type", "title", "status", "detail"} <= set(doc)
        if r.status_code == 422:
            assert doc["errors"]
            assert all(
                isinstance(e["field"], str) and isinstance(e["message"], str) for e in doc["errors"]
            )
    return r


# ----------------------------------------------------------------------------- world


@pytest.fixture
def world(client, make_key) -> dict[str, Any]:
    w: dict[str, Any] = {
        role: make_key(role, "tenant-a") for role in ("registrar", "bank", "fund_manager", "risk")
    }
    sample = SAMPLES.assets[0]
    r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=w["registrar"])
    assert r.status_code == 201, r.text
    w["asset"] = r.json()["id"]
    assert (
        client.put(
            f"/v1/assets/{w['asset']}/signals",
            content=signals_csv(sample.signals),
            headers={**w["registrar"], "Content-Type": "text/csv"},
        ).status_code
        == 200
    )
    # loans rely on a stored valuation of the asset
    assert (
        client.post(
            f"/v1/assets/{w['asset']}/valuations",
            json={"as_of": AS_OF, "paths": 200, "seed": 1},
            headers=w["registrar"],
        ).status_code
        == 201
    )
    return w


ASSET = copy.deepcopy(SAMPLES.assets[0].profile) | {"fingerprint_sha256": "cd" * 32}
COST = {
    "category": "storage",
    "amount": 1000.0,
    "currency": "CNY",
    "incurred_on": "2025-01-01",
    "recurring_months": 0,
}
COMP = {
    "category": "consumer",
    "price": 4_200_000,
    "currency": "CNY",
    "traded_on": "2025-06-15",
    "records": 8_000_000,
    "quality_score": 0.88,
    "rights_scope": "processing_use",
}
LOAN = {
    "asset_ids": [1],
    "currency": "CNY",
    "tenor_months": 12,
    "amortization": "annuity",
    "frequency_months": 1,
    "day_count": "ACT/365F",
    "calendar": "China",
    "borrower": {"rating": "BBB"},
    "as_of": AS_OF,
    "principal": 1000.0,
    "start_date": AS_OF,
}
DEAL = {
    "name": "fuzz deal",
    "currency": "CNY",
    "pool": {
        "receivables": [
            {"receivable_id": "R0", "cashflows": [1e6] * 6, "pd": 0.03, "recovery_rate": 0.2}
        ],
        "recovery_lag_months": 1,
    },
    "tranches": [
        {"name": "A", "attach": 0.3, "detach": 1.0, "coupon": 0.02},
        {"name": "B", "attach": 0.0, "detach": 0.3, "spread_bp": 300},
    ],
    "reserve": {"interest_months": 1},
    "principal_rule": "sequential",
    "triggers": {"dscr": [{"action": "trap", "tiers": [{"threshold": 1.4, "fraction": 0.5}]}]},
}
SCENARIO = {
    "name": "fz",
    "extends": "baseline",
    "horizon_months": 12,
    "shocks": {
        "revenue_multiplier": 0.8,
        "pd_multiplier": 2.0,
        "key_rate_shifts_bp": {"1Y": 50},
        "rights_events": [{"category": "consumer", "cross_border": True, "value_factor": 0.5}],
    },
}


@FUZZ
@given(data=st.data())
def test_fuzz_registry_writes(client, world, data) -> None:
    reg, aid = world["registrar"], world["asset"]
    _send(client, "POST", "/v1/assets", reg, data.draw(hostile_bodies(ASSET)))
    _send(client, "POST", f"/v1/assets/{aid}/costs", reg, data.draw(hostile_bodies(COST)))
    _send(client, "POST", "/v1/comparables", reg, data.draw(hostile_bodies(COMP)))
    _send(
        client,
        "PUT",
        f"/v1/assets/{aid}/signals",
        reg,
        data.draw(hostile_bodies([{"month": "2025-01", "metric": "revenue", "value": 1.0}])),
    )
    _send(
        client, "PATCH", f"/v1/assets/{aid}", reg, data.draw(hostile_bodies({"status": "active"}))
    )


@FUZZ
@given(data=st.data())
def test_fuzz_valuation(client, world, data) -> None:
    base = {
        "as_of": AS_OF,
        "currency": "CNY",
        "paths": 50,
        "seed": 1,
        "weights": {"income": 1.0, "cost": 0.0},
        "assumptions": {
            "discount_rate": 0.1,
            "half_life_months": 36,
            "income_form": "direct",
            "revenue_share": 0.5,
            "economic_life_months": 60,
            "timing": "end",
        },
    }
    _send(
        client,
        "POST",
        f"/v1/assets/{world['asset']}/valuations",
        world["bank"],
        data.draw(hostile_bodies(base)),
    )


@FUZZ
@given(data=st.data())
def test_fuzz_loans(client, world, data) -> None:
    base = {**LOAN, "asset_ids": [world["asset"]]}
    _send(client, "POST", "/v1/loans/quote", world["bank"], data.draw(hostile_bodies(base)))
    _send(client, "POST", "/v1/loans", world["bank"], data.draw(hostile_bodies(base)))


@FUZZ
@given(data=st.data())
def test_fuzz_products(client, world, data) -> None:
    fm = world["fund_manager"]
    _send(client, "POST", "/v1/securitizations", fm, data.draw(hostile_bodies(DEAL)))
    note = {
        "asset_id": world["asset"],
        "share": 0.3,
        "term_months": 6,
        "cap": 1e6,
        "floor": 0.0,
        "issuer_hazard": 0.05,
        "paths": 50,
        "seed": 1,
        "as_of": AS_OF,
    }
    _send(client, "POST", "/v1/data-notes/price", fm, data.draw(hostile_bodies(note)))


@FUZZ
@given(data=st.data())
def test_fuzz_securitization_pricing(client, world, data) -> None:
    fm = world["fund_manager"]
    if "deal" not in world:
        world["deal"] = client.post("/v1/securitizations", json=DEAL, headers=fm).json()["id"]
    base = {
        "paths": 100,
        "seed": 1,
        "correlation": 0.2,
        "method": "mc",
        "as_of": AS_OF,
        "discount_rate": 0.02,
        "k_sa": 0.08,
        "w": 0.0,
        "break_even": False,
    }
    _send(
        client,
        "POST",
        f"/v1/securitizations/{world['deal']}/price",
        fm,
        data.draw(hostile_bodies(base)),
    )


@FUZZ
@given(data=st.data())
def test_fuzz_scenarios_and_stress_runs(client, app, world, data) -> None:
    risk = world["risk"]
    body = data.draw(hostile_bodies(SCENARIO))
    if isinstance(body, dict) and "name" in body and isinstance(body["name"], str):
        body["name"] = body["name"] + f"_{data.draw(st.integers(0, 10**6))}"
    _send(client, "POST", "/v1/scenarios", risk, body)
    run = data.draw(hostile_bodies({"scenario": copy.deepcopy(SCENARIO), "paths": 16, "seed": 1}))
    _send(client, "POST", "/v1/stress-runs", risk, run)
    assert get_jobs(app).wait(timeout=60)


@FUZZ
@given(data=st.data())
def test_fuzz_revalue(client, world, data) -> None:
    bank = world["bank"]
    if "loan" not in world:
        q = client.post(
            "/v1/loans/quote",
            json={**LOAN, "asset_ids": [world["asset"]], "principal": None},
            headers=bank,
        )
        if q.status_code != 200:
            pytest.skip(f"no quote for the fuzz asset: {q.text}")
        r = client.post(
            "/v1/loans",
            json={
                **LOAN,
                "asset_ids": [world["asset"]],
                "principal": round(q.json()["max_principal"] / 4, 2),
            },
            headers=bank,
        )
        assert r.status_code == 201, r.text
        world["loan"] = r.json()["id"]
    base = {"as_of": AS_OF, "thresholds": {"warning": 0.6, "margin_call": 0.7, "liquidation": 0.85}}
    _send(
        client, "POST", f"/v1/loans/{world['loan']}/revalue", bank, data.draw(hostile_bodies(base))
    )


QUERY_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1",
            "50",
            "500",
            "501",
            "1e3",
            "nan",
            "inf",
            "x",
            "%00",
            "2**63",
            "9223372036854775808",
            "99999999999999999999999",
            "recursion",
            "mc",
            "lhp",
            "0.999",
            "revenue",
            "consumer",
            "a" * 600,
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
READ_PATHS = [
    ("/v1/assets?category={v}&limit={v2}", "registrar"),
    ("/v1/assets/{v}", "registrar"),
    ("/v1/assets/{v}/signals?metric={v2}", "bank"),
    ("/v1/assets/{v}/costs?limit={v2}", "bank"),
    ("/v1/comparables?category={v}&cursor={v2}", "bank"),
    ("/v1/assets/{v}/valuations?cursor={v2}", "bank"),
    ("/v1/valuations/{v}", "risk"),
    ("/v1/quotes/{v}", "risk"),
    ("/v1/quotes?category={v}&limit={v2}", "risk"),
    ("/v1/loans?limit={v}&cursor={v2}", "bank"),
    ("/v1/loans/{v}", "bank"),
    ("/v1/loans/{v}/schedule", "risk"),
    ("/v1/portfolio/risk?confidence={v}&method={v2}", "risk"),
    ("/v1/securitizations?cursor={v}", "fund_manager"),
    ("/v1/securitizations/{v}", "fund_manager"),
    ("/v1/scenarios?limit={v}&cursor={v2}", "risk"),
    ("/v1/stress-runs?cursor={v}", "risk"),
    ("/v1/stress-runs/{v}", "risk"),
    ("/v1/stress-runs/{v}/results", "risk"),
    ("/v1/quotes/stream?since_id={v}&limit=1&timeout_seconds=0.01", "bank"),
]


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_fuzz_read_paths_and_queries(client, world, data) -> None:
    from urllib.parse import quote

    template, role = data.draw(st.sampled_from(READ_PATHS))
    v, v2 = data.draw(QUERY_VALUES), data.draw(QUERY_VALUES)
    url = template.format(v=quote(v, safe="%"), v2=quote(v2, safe="%"))
    r = client.get(url, headers=world[role])
    assert r.status_code < 500, (url, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith(PROBLEM), (url, r.status_code, r.text)


CSV_CELLS = st.one_of(
    st.sampled_from(
        [
            "2025-01",
            "2025-13",
            "2025-1",
            "0000-01",
            "9999-12",
            "2025-01-01",
            "revenue",
            "api_calls",
            "bogus",
            "1200.5",
            "-5",
            "nan",
            "inf",
            "1e400",
            "",
            " ",
            '"',
            '""',
            "a,b",
            "\u0000",
            "\ufeff",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)


@st.composite
def csv_bodies(draw) -> str:
    header = draw(
        st.sampled_from(
            [
                "month,metric,value",
                "metric,month,value",
                "month,metric",
                "MONTH, Metric ,value",
                "month,metric,value,value",
                "",
            ]
        )
    )
    rows = draw(st.lists(st.lists(CSV_CELLS, min_size=0, max_size=4), max_size=6))
    sep = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return sep.join([header, *(",".join(r) for r in rows)]) + draw(st.sampled_from(["", sep]))


@settings(FUZZ, max_examples=60)
@given(body=csv_bodies())
def test_fuzz_signal_csv(client, world, body) -> None:
    """Malformed CSV is a 422 naming the row and field (or 200 when it happens to be valid)."""
    headers = {**world["registrar"], "Content-Type": "text/csv"}
    r = client.put(
        f"/v1/assets/{world['asset']}/signals",
        content=body.encode("utf-8", "surrogatepass"),
        headers=headers,
    )
    assert r.status_code in (200, 422), (body, r.status_code, r.text)
    if r.status_code == 422:
        errors = r.json()["errors"]
        assert all(
            e["field"] == "header"
            or e["field"] == "rows"
            or e["field"] == "body"
            or e["field"].startswith("rows[")
            for e in errors
        ), errors


@FUZZ
@given(data=st.data())
def test_fuzz_multipart_registration(client, world, data) -> None:
    meta = {k: v for k, v in ASSET.items() if k != "fingerprint_sha256"}
    part = data.draw(
        st.one_of(
            hostile_bodies(meta).map(lambda b: json.dumps(b, allow_nan=True)), st.text(max_size=30)
        )
    )
    content = data.draw(st.binary(max_size=64))
    r = client.post(
        "/v1/assets",
        data={"asset": part},
        files={"file": ("content.bin", content)},
        headers=world["registrar"],
    )
    assert r.status_code in (201, 409, 422), (part, r.status_code, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith(PROBLEM)


@FUZZ
@given(data=st.data())
def test_fuzz_sensitivities_and_reverse_stress(client, app, world, data) -> None:
    risk = world["risk"]
    base = {
        "paths": 16,
        "seed": 1,
        "as_of": AS_OF,
        "horizon_months": 12,
        "bumps": {"rate_bp": 1.0, "spread_bp": 1.0, "revenue": 0.01, "correlation": 0.01},
    }
    body = data.draw(hostile_bodies(base))
    _send(client, "POST", "/v1/sensitivities", risk, body)
    run = {
        "scenario": "data_demand_slump",
        "paths": 16,
        "seed": 1,
        "reverse": {"limit": "expected_loss_budget", "threshold": 1000.0, "max_scale": 2.0},
    }
    _send(client, "POST", "/v1/stress-runs", risk, data.draw(hostile_bodies(run)))
    assert get_jobs(app).wait(timeout=60)


def test_the_reported_edge_inputs_are_4xx(client, world) -> None:
    """Issue (security and integrity, item 9): inputs that once gave 500s."""
    aid = world["asset"]
    valuation = {
        "as_of": AS_OF,
        "paths": 50,
        "seed": 1,
        "assumptions": {"half_life_months": 5e-324},
    }
    r = client.post(f"/v1/assets/{aid}/valuations", json=valuation, headers=world["bank"])
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert r.json()["errors"][0]["field"].startswith("assumptions")
    note = {"asset_id": aid, "share": 0.5, "term_months": 12, "as_of": "1990-01-31"}
    r = client.post("/v1/data-notes/price", json=note, headers=world["fund_manager"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json", r.text
    deal = copy.deepcopy(DEAL)
    deal["tranches"][0]["name"] = "A\ud800"
    r = client.post(
        "/v1/securitizations",
        content=json.dumps(deal).encode("utf-8"),
        headers={**world["fund_manager"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json", r.text
    assert "lone surrogate" in r.json()["detail"]
    assert client.get("/v1/securitizations", headers=world["fund_manager"]).json()["items"] == []
