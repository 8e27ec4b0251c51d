"""Each approach's own uncertainty, the mixture, the one haircut, reconciliation and sensitivities."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuation import value_asset
from valuation.asset import AssetProfile, Quality, Rights
from valuation.conventions import Compounding, DayCount
from valuation.engine import MODEL_VERSION, model_record
from valuation.haircut import haircut_from_quantile, lending_haircut
from valuation.market import MarketData
from valuation.montecarlo import weighted_quantile

AS_OF = date(2026, 1, 1)


def revenue_frame(values: np.ndarray, start: str = "2023-01-01") -> pd.DataFrame:
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame(
        {"month": months, "metric": "revenue", "value": np.asarray(values, dtype=float)}
    )


def noisy_growth(n: int, seed: int, level: float, growth: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * np.exp(growth * np.arange(n) + 0.05 * rng.standard_normal(n))


def make_asset() -> AssetProfile:
    return AssetProfile(
        id="asset-1",
        name="Test feed",
        category="consumer",
        rights=Rights(),
        quality=Quality(0.9, 0.85, 0.9, 0.8, 0.8, 0.9),
        records=2_000_000,
        refresh_days=7.0,
    )


def make_costs(scale: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "category": ["acquisition", "storage", "compliance"],
            "amount": [120_000.0 * scale, 1_500.0 * scale, 8_000.0 * scale],
            "currency": "CNY",
            "incurred_on": [date(2024, 1, 1), date(2024, 1, 1), date(2025, 1, 1)],
            "recurring_months": [0, 24, 0],
        }
    )


def make_comparables(n: int, scale: float, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "category": "consumer",
            "price": scale * 1_000_000.0 * np.exp(0.3 * rng.standard_normal(n)),
            "currency": "CNY",
            "traded_on": [date(2025, 1 + i % 12, 15) for i in range(n)],
            "records": 2_000_000 * np.exp(0.2 * rng.standard_normal(n)),
            "quality_score": np.clip(0.8 + 0.05 * rng.standard_normal(n), 0.1, 1.0),
            "rights_scope": "processing_use",
        }
    )


def market() -> MarketData:
    return MarketData.flat_rate(
        AS_OF, 0.02, currency="CNY", day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )


SIGNALS = revenue_frame(noisy_growth(36, seed=6, level=20_000.0))
# an asset whose three approaches are of the same order (no disagreement)
COSTS = make_costs(scale=8.0)
COMPS = make_comparables(n=8, scale=0.5)


def _value(paths: int = 4_000, seed: int = 3, **kw):
    return value_asset(SIGNALS, COSTS, COMPS, make_asset(), AS_OF, market(), paths, seed, **kw)


def test_weighted_quantile_equals_numpy_with_equal_weights() -> None:
    x = np.random.default_rng(0).lognormal(size=997)
    q = [0.0, 0.05, 0.5, 0.95, 1.0]
    assert weighted_quantile(x, np.ones_like(x), q) == pytest.approx(np.quantile(x, q), rel=1e-12)


@pytest.mark.parametrize("method", ["income", "cost", "market"])
def test_one_approach_weighted_one_gives_its_own_range_never_a_point(method) -> None:
    res = _value(weights={method: 1.0})
    own = res.methods[method].distribution
    d = res.distribution
    assert d.p95 > d.p05 > 0
    assert d.p05 == pytest.approx(own["p05"], rel=1e-9)
    assert d.p95 == pytest.approx(own["p95"], rel=1e-9)
    assert d.p05 < res.methods[method].value < d.p95


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.tuples(*[st.floats(0.1, 1.0)] * 3))
def test_range_contains_every_approach_value_when_weights_are_at_least_a_tenth(raw) -> None:
    total = sum(raw)
    # weights that sum to one, each at least 0.1
    w = dict(zip(("income", "cost", "market"), (0.1 + 0.7 * r / total for r in raw), strict=True))
    res = _value(paths=2_000, weights=w)
    d = res.distribution
    for m, r in res.methods.items():
        assert d.p05 <= r.value <= d.p95, (m, r.value, d)


def test_the_range_covers_the_approaches_disagreement() -> None:
    far = make_comparables(n=8, scale=40.0)  # a market far above income and cost
    res = value_asset(
        SIGNALS,
        COSTS,
        far,
        make_asset(),
        AS_OF,
        market(),
        4_000,
        3,
        weights={"income": 0.4, "cost": 0.3, "market": 0.3},
    )
    values = [r.value for r in res.methods.values()]
    assert res.distribution.p05 <= min(values)
    assert res.distribution.p95 >= max(values)
    codes = [w["code"] for w in res.warnings]
    assert "approaches_disagree" in codes
    rec = res.reconciliation
    assert rec.disagree
    assert rec.disagreement_ratio > 2
    assert "factor of" in rec.rationale


def test_disagreement_moves_weight_toward_evidence() -> None:
    far = make_comparables(n=3, scale=40.0)  # few comparables, far from the rest
    res = value_asset(SIGNALS, COSTS, far, make_asset(), AS_OF, market(), 4_000, 3)
    ev = res.reconciliation.evidence
    base = {"income": 0.5, "market": 0.3, "cost": 0.2}
    plain = {m: base[m] * ev[m]["sufficiency"] for m in ev}
    plain = {m: v / sum(plain.values()) for m, v in plain.items()}
    weakest = min(ev, key=lambda m: ev[m]["evidence"])
    assert weakest == "market"
    assert res.weights["market"] < plain["market"]
    assert sum(res.weights.values()) == pytest.approx(1.0)


def test_with_no_horizon_and_no_floor_lending_is_cost_times_the_quantile_of_today() -> None:
    res = _value(
        assumptions={
            "liquidation_horizon_months": 0,
            "haircut_floor": 0.0,
            "liquidation_cost": 0.1,
            "lending_quantile": 0.05,
        }
    )
    q05 = res.mixture.horizon_quantile(0.05)
    assert q05 == pytest.approx(res.distribution.p05, rel=1e-12)
    assert res.quote.lending_value == pytest.approx(0.9 * res.distribution.p05, rel=1e-12)


def test_haircuts_rise_with_the_liquidation_horizon() -> None:
    cuts = [
        _value(assumptions={"liquidation_horizon_months": h, "haircut_floor": 0.0}).quote.haircut
        for h in (0, 3, 6, 12, 24)
    ]
    assert all(a <= b + 1e-12 for a, b in zip(cuts, cuts[1:], strict=False)), cuts
    assert cuts[-1] > cuts[0]


def test_lending_value_never_exceeds_an_approach_weighted_above_half() -> None:
    for w in (
        {"income": 0.6, "cost": 0.2, "market": 0.2},
        {"income": 0.2, "cost": 0.6, "market": 0.2},
        {"income": 0.2, "cost": 0.2, "market": 0.6},
    ):
        res = _value(weights=w, assumptions={"haircut_floor": 0.0, "liquidation_horizon_months": 0})
        heavy = max(w, key=w.get)
        assert res.quote.lending_value <= res.methods[heavy].value


def test_the_one_haircut_formula() -> None:
    h = lending_haircut(1_000.0, 500.0, liquidation_cost=0.2, floor=0.0)
    assert h.haircut == pytest.approx(1 - 0.5 * 0.8)
    assert h.lending_value == pytest.approx(400.0)
    assert lending_haircut(
        1_000.0, 990.0, liquidation_cost=0.0, floor=0.3
    ).haircut == pytest.approx(0.3)
    assert float(haircut_from_quantile(0.0, 10.0)) == 1.0
    assert np.allclose(
        haircut_from_quantile(
            np.array([100.0, 100.0]), np.array([50.0, 90.0]), liquidation_cost=0.0, floor=0.2
        ),
        [0.5, 0.2],
    )


def test_sensitivities_table() -> None:
    res = _value()
    names = {(s["name"], s["shift"]) for s in res.sensitivities}
    assert names == {
        ("discount_rate", "+1pp"),
        ("discount_rate", "-1pp"),
        ("revenue", "+20%"),
        ("revenue", "-20%"),
        ("half_life_months", "x0.5"),
        ("half_life_months", "x2"),
        ("economic_life_months", "+12m"),
        ("economic_life_months", "-12m"),
    }
    by = {(s["name"], s["shift"]): s["value"] for s in res.sensitivities}
    v = res.value
    assert by[("discount_rate", "+1pp")] < v < by[("discount_rate", "-1pp")]
    assert by[("revenue", "-20%")] < v < by[("revenue", "+20%")]
    assert by[("half_life_months", "x0.5")] < v < by[("half_life_months", "x2")]
    assert by[("economic_life_months", "-12m")] <= v <= by[("economic_life_months", "+12m")]


def test_model_records_version_and_libraries() -> None:
    res = _value(paths=200)
    assert res.model["version"] == MODEL_VERSION == res.model_version
    assert set(res.model["libraries"]) == {"numpy", "scipy", "pandas", "QuantLib"}
    assert model_record()["libraries"]["numpy"] == np.__version__


def test_figures_are_pinned_to_the_model_version() -> None:
    """Bump MODEL_VERSION whenever these figures change (and update them here)."""
    res = _value(paths=2_000, seed=11)
    assert MODEL_VERSION == "datafin-valuation 2.2.0"
    pinned = {"value": res.value, "p05": res.distribution.p05, "haircut": res.quote.haircut}
    assert pinned == pytest.approx(PINNED, rel=1e-9), pinned


PINNED = {"value": 697111.2272941831, "p05": 232765.2874244222, "haircut": 0.7623881026187345}


def test_batch_summaries_follow_the_single_asset_definitions() -> None:
    from valuation.mixture import BATCH_COLUMNS, summarise_batch
    from valuation.paths import simulate_values_batch

    a, m, n = 7, 24, 2_000
    expected = np.linspace(1_000.0, 3_000.0, a)[:, None] * np.ones((a, m))
    sigma = np.full(a, 0.06)
    dfs = np.exp(-0.08 * np.arange(1, m + 1) / 12)
    income_only = np.tile([1.0, 0.0, 0.0], (a, 1))
    out = summarise_batch(
        expected,
        sigma,
        dfs,
        n,
        np.random.default_rng(5),
        weights=income_only,
        other_values=np.ones((a, 2)),
        other_sds=np.full((a, 2), 0.2),
        horizon_months=0,
        haircut_floor=0.0,
        liquidation_cost=0.1,
        chunk_assets=3,
    )
    col = {c: i for i, c in enumerate(BATCH_COLUMNS)}
    values = simulate_values_batch(expected[:3], sigma[:3], dfs, n, np.random.default_rng(5))
    assert out[:3, col["p05"]] == pytest.approx(np.quantile(values, 0.05, axis=1), rel=1e-12)
    assert out[:, col["lending_value"]] == pytest.approx(0.9 * out[:, col["p05"]], rel=1e-12)
    # a horizon lowers lending values; a mixture with far-off approaches widens the range
    later = summarise_batch(
        expected,
        sigma,
        dfs,
        n,
        np.random.default_rng(5),
        weights=income_only,
        other_values=np.ones((a, 2)),
        other_sds=np.full((a, 2), 0.2),
        horizon_months=6,
        haircut_floor=0.0,
    )
    assert np.all(later[:, col["lending_value"]] < out[:, col["lending_value"]])
    mixed = summarise_batch(
        expected,
        sigma,
        dfs,
        n,
        np.random.default_rng(5),
        weights=np.tile([0.5, 0.25, 0.25], (a, 1)),
        other_values=np.column_stack([out[:, 0] * 0.3, out[:, 0] * 3.0]),
        other_sds=np.full((a, 2), 0.2),
        horizon_months=0,
        haircut_floor=0.0,
    )
    assert np.all(mixed[:, col["p05"]] < out[:, col["p05"]])
    assert np.all(mixed[:, col["p95"]] > out[:, col["p95"]])


@pytest.mark.parametrize("paths", [1, 2, 3])
def test_the_histogram_integrates_to_one_however_few_the_paths(paths: int) -> None:
    """With one path per approach the trimmed range once held no sample and every density
    was NaN (stored as null, then every read of the valuation failed)."""
    h = _value(paths=paths).as_dict()["histogram"]
    edges, density = np.asarray(h["edges"]), np.asarray(h["density"])
    assert np.all(np.isfinite(density))
    assert np.all(density >= 0)
    assert float(np.sum(density * np.diff(edges))) == pytest.approx(1.0)
