"""The sample-data generator: deterministic by seed, realistic shapes, gaps, positivity."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from samples.data_assets import (
    CATEGORIES,
    COST_CATEGORIES,
    QUALITY_DIMENSIONS,
    REVENUE_SHAPES,
    RIGHTS_SCOPES,
    generate_samples,
)
from valuation.conventions import add_months


@pytest.fixture(scope="module")
def samples():
    return generate_samples(7)


def test_same_seed_same_data_different_seed_different_data(samples) -> None:
    again = generate_samples(7)
    other = generate_samples(8)
    for a, b in zip(samples.assets, again.assets, strict=True):
        assert a.profile == b.profile
        pd.testing.assert_frame_equal(a.signals, b.signals)
        pd.testing.assert_frame_equal(a.costs, b.costs)
    pd.testing.assert_frame_equal(samples.comparables, again.comparables)
    assert samples.assets[0].profile != other.assets[0].profile
    assert samples.seed == 7


def test_covers_every_category_and_shape(samples) -> None:
    assert {a.category for a in samples.assets} == set(CATEGORIES)
    assert {a.revenue_shape for a in samples.assets} == set(REVENUE_SHAPES)
    assert len({a.key for a in samples.assets}) == len(samples.assets)


def test_signal_frames_have_the_documented_shape(samples) -> None:
    months = pd.date_range("2023-01-01", periods=36, freq="MS")
    for asset in samples.assets:
        sig = asset.signals
        assert list(sig.columns) == ["month", "metric", "value"]
        assert set(sig["metric"]) == {"revenue", "api_calls", "active_subscribers"}
        assert sig["month"].isin(months).all()
        assert (sig["month"].dt.day == 1).all()
        assert not sig.duplicated(["metric", "month"]).any()
        assert np.isfinite(sig["value"]).all()
        assert (sig["value"] > 0).all()
        # 36 months with a few gaps: between 33 and 36 months per metric
        counts = sig.groupby("metric")["month"].nunique()
        assert counts.between(33, 36).all()
        # first and last months always present (gaps sit inside the history)
        assert sig["month"].min() == months[0]
        assert sig["month"].max() == months[-1]
    assert samples.as_of == date(2026, 1, 1)


def test_every_asset_has_revenue_gaps(samples) -> None:
    for asset in samples.assets:
        revenue = asset.signals[asset.signals["metric"] == "revenue"]
        assert 33 <= len(revenue) <= 35


def test_revenue_shapes_show_in_the_data(samples) -> None:
    def growth(asset):  # log ratio of the last year's revenue to the first year's
        rev = asset.signals[asset.signals["metric"] == "revenue"].set_index("month")["value"]
        return np.log(rev.iloc[-12:].mean() / rev.iloc[:12].mean())

    by_shape = {
        s: [growth(a) for a in samples.assets if a.revenue_shape == s] for s in REVENUE_SHAPES
    }
    assert min(by_shape["growing"]) > 0.3  # >= 2 %/month over 24 months ~ +0.48
    assert max(by_shape["decaying"]) < -0.3
    assert all(abs(g) < 0.2 for g in by_shape["flat"])
    assert min(by_shape["saturating"]) > 0.3


@pytest.mark.parametrize("seed", [3, 11, 2024])
def test_consumer_usage_is_seasonal(seed: int) -> None:
    # Consumer usage swings 18 % around its level with a November peak and a May trough:
    # log(Q4 / Q2 usage) is 0.33 in expectation; month noise (log-sd <= 0.09 + 0.04) over
    # ~9 months a side gives a standard error ~0.05, so 0.15 is a > 3-sigma bound.
    data = generate_samples(seed, n_assets=6)
    consumer = data.assets[5]
    assert consumer.category == "consumer"
    assert consumer.revenue_shape == "flat"
    calls = consumer.signals[consumer.signals["metric"] == "api_calls"]
    log_calls = np.log(calls["value"].to_numpy())
    month = calls["month"].dt.month.to_numpy()
    q4 = log_calls[np.isin(month, [10, 11, 12])].mean()
    q2 = log_calls[np.isin(month, [4, 5, 6])].mean()
    assert q4 - q2 > 0.15


def test_profile_matches_the_registration_body(samples) -> None:
    for asset in samples.assets:
        p = asset.profile
        assert set(p) == {
            "name",
            "category",
            "rights",
            "quality",
            "records",
            "refresh_days",
            "fingerprint_sha256",
        }
        assert set(p["quality"]) == set(QUALITY_DIMENSIONS)
        assert all(0.0 <= v <= 1.0 for v in p["quality"].values())
        assert set(p["rights"]) == {
            "holding",
            "processing_use",
            "product_operation",
            "exclusive",
            "territory",
            "cross_border",
        }
        assert len(p["fingerprint_sha256"]) == 64
        int(p["fingerprint_sha256"], 16)
        assert p["records"] > 0
        assert p["refresh_days"] > 0
        if p["category"] in ("healthcare", "geospatial"):
            assert p["rights"]["cross_border"] is False


def test_costs_and_comparables(samples) -> None:
    for asset in samples.assets:
        costs = asset.costs
        assert list(costs.columns) == [
            "category",
            "amount",
            "currency",
            "incurred_on",
            "recurring_months",
        ]
        assert set(costs["category"]) == set(COST_CATEGORIES)
        assert (costs["amount"] > 0).all()
        assert (costs["currency"] == "CNY").all()
        assert (costs["recurring_months"] >= 0).all()
        assert (costs["recurring_months"] == 0).any()
        assert (costs["recurring_months"] > 0).any()
    comps = samples.comparables
    assert len(comps) == 40
    assert list(comps.columns) == [
        "category",
        "price",
        "currency",
        "traded_on",
        "records",
        "quality_score",
        "rights_scope",
        "annual_revenue",
    ]
    assert (comps["price"] > 0).all()
    assert (comps["records"] > 0).all()
    assert (comps["annual_revenue"] > 0).all()
    assert comps["quality_score"].between(0, 1).all()
    base = comps["rights_scope"].str.split("+").str[0]
    assert set(base) <= set(RIGHTS_SCOPES)
    assert comps["traded_on"].between(date(2023, 1, 1), date(2025, 12, 31)).all()
    # price per unit of revenue rises with rights scope (holding above processing_use)
    multiple = comps["price"] / comps["annual_revenue"]
    med = multiple.groupby(base).median()
    assert med["holding"] > med["processing_use"]
    # comparables scale with revenue: log price and log revenue correlate strongly
    rho = np.corrcoef(np.log(comps["price"]), np.log(comps["annual_revenue"]))[0, 1]
    assert rho > 0.5


def test_recurring_costs_run_past_the_natural_valuation_date(samples) -> None:
    for asset in samples.assets:
        rec = asset.costs[asset.costs["recurring_months"] > 0]
        ends = [
            add_months(d, int(n))
            for d, n in zip(rec["incurred_on"], rec["recurring_months"], strict=True)
        ]
        assert min(ends) > samples.as_of


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_assets": 0}, "n_assets"),
        ({"months": 6}, "months"),
        ({"start_month": date(2023, 1, 2)}, "start_month"),
        ({"n_comparables": -1}, "n_comparables"),
    ],
)
def test_bad_parameters_are_named(kwargs, field) -> None:
    with pytest.raises(ValueError, match=field):
        generate_samples(1, **kwargs)
