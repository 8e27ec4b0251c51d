"""One contract test over every valuer (STYLE.md section 4).

Each valuer: rejects bad hyperparameters with the standard message, is deterministic
(for a given seed), leaves its inputs unchanged, and is homogeneous: scaling every
money input (revenue, costs, comparable prices) by k scales the value by k.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from valuation import CostValuer, IncomeValuer, MarketValuer, MonteCarloValuer
from valuation.errors import ConventionError
from valuation.params import get_params
from valuation.results import ValuationInputs

VALUERS = {
    "income": (IncomeValuer, {"income_form": "bogus"}, "income_form"),
    "cost": (CostValuer, {"profit_margin": -0.1}, "profit_margin"),
    "market": (MarketValuer, {"lookback_months": 0}, "lookback_months"),
    "monte_carlo": (MonteCarloValuer, {"paths": 0}, "paths"),
}


def _inputs(build, k: float = 1.0) -> ValuationInputs:
    signals = build.revenue_frame(build.noisy_growth(36, seed=4) * k)
    usage = build.revenue_frame(np.full(36, 5_000.0), metric="api_calls")  # a count: not scaled
    return ValuationInputs(
        pd.concat([signals, usage], ignore_index=True),
        build.costs(scale=k),
        build.comparables(12, scale=k),
        build.asset(),
        "CNY",
    )


def _make(cls, **kw):
    if cls is MonteCarloValuer:
        kw.setdefault("paths", 2_000)
        kw.setdefault("seed", 5)
    return cls(**kw)


@pytest.mark.parametrize("name", list(VALUERS))
def test_bad_parameters_are_rejected_with_the_standard_message(build, name) -> None:
    cls, bad, field = VALUERS[name]
    valuer = cls(**bad)  # the constructor stores, value() checks
    assert get_params(valuer)[field] == bad[field]
    with pytest.raises(
        ConventionError, match=rf"The `{field}` of `{cls.__name__}` must be .* Got "
    ):
        valuer.value(_inputs(build), as_of=build.as_of, market=build.market())


@pytest.mark.parametrize("name", list(VALUERS))
def test_deterministic_and_does_not_change_itself(build, name) -> None:
    cls = VALUERS[name][0]
    valuer = _make(cls)
    before = copy.deepcopy(get_params(valuer))
    a = valuer.value(_inputs(build), as_of=build.as_of, market=build.market())
    b = valuer.value(_inputs(build), as_of=build.as_of, market=build.market())
    assert a.value == b.value
    assert get_params(valuer) == before


def test_monte_carlo_depends_on_the_seed(build) -> None:
    a = _make(MonteCarloValuer, seed=1).value(
        _inputs(build), as_of=build.as_of, market=build.market()
    )
    b = _make(MonteCarloValuer, seed=2).value(
        _inputs(build), as_of=build.as_of, market=build.market()
    )
    assert a.value != b.value
    assert a.assumptions["seed"] == 1


@pytest.mark.parametrize("name", list(VALUERS))
def test_inputs_are_unchanged(build, name) -> None:
    inputs = _inputs(build)
    frames = {k: getattr(inputs, k).copy(deep=True) for k in ("signals", "costs", "comparables")}
    _make(VALUERS[name][0]).value(inputs, as_of=build.as_of, market=build.market())
    for k, frame in frames.items():
        pd.testing.assert_frame_equal(getattr(inputs, k), frame)


@pytest.mark.parametrize("name", list(VALUERS))
@pytest.mark.parametrize("k", [0.001, 7.5, 1e4])
def test_homogeneous_in_money_inputs(build, name, k) -> None:
    cls = VALUERS[name][0]
    base = _make(cls).value(_inputs(build), as_of=build.as_of, market=build.market())
    scaled = _make(cls).value(_inputs(build, k), as_of=build.as_of, market=build.market())
    assert base.value > 0
    assert scaled.value == pytest.approx(k * base.value, rel=1e-6)
