"""Scenarios as data: parsing with the API contract's field names, validation, composition, scaling."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.library import BUILTIN_NAMES, DEMAND_SLUMP_REVENUE_MULTIPLIER, builtins, get_builtin
from risk.parsing import parse_scenario
from risk.scenarios import DOWNTURN_LGD_ADD, Scenario, Shocks, tenor_years
from valuation.errors import ConventionError

FULL = {
    "name": "everything",
    "horizon_months": 6,
    "shocks": {
        "revenue_multiplier": 0.7,
        "revenue_multiplier_by_category": {"consumer": 0.5},
        "usage_multiplier": 0.9,
        "growth_shift": -0.05,
        "volatility_multiplier": 1.5,
        "obsolescence_hazard_add": 0.1,
        "rate_shift_bp": 200,
        "key_rate_shifts_bp": {"1Y": 25},
        "credit_spread_shift_bp": 150,
        "pd_multiplier": 2.5,
        "lgd_add": 0.05,
        "downturn_lgd": True,
        "correlation_shift": 0.05,
        "liquidation_cost_add": 0.1,
        "rights_events": [{"category": "geospatial", "cross_border": False, "value_factor": 0.5}],
    },
}


def test_every_api_field_parses_and_round_trips() -> None:
    sc = parse_scenario(FULL)
    assert sc.horizon_months == 6
    assert sc.shocks.revenue_multiplier == 0.7
    assert sc.shocks.key_rate_shifts_bp == {"1Y": 25.0}
    assert sc.shocks.rights_events[0].category == "geospatial"
    again = parse_scenario(json.loads(json.dumps(sc.as_dict())))
    assert again.shocks == sc.shocks
    assert again.horizon_months == sc.horizon_months


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"shocks": {"pd_multiplier": -1}}, "shocks.pd_multiplier"),
        ({"shocks": {"pd_multiplier": "x"}}, "shocks.pd_multiplier"),
        ({"shocks": {"revenue_multiplier": 0}}, "shocks.revenue_multiplier"),
        ({"shocks": {"revenue_multiplier": 1e308}}, "shocks.revenue_multiplier"),
        ({"shocks": {"lgd_add": 15}}, "shocks.lgd_add"),
        ({"shocks": {"downturn_lgd": "yes"}}, "shocks.downturn_lgd"),
        ({"shocks": {"rate_shift_bp": float("nan")}}, "shocks.rate_shift_bp"),
        ({"shocks": {"key_rate_shifts_bp": {"ten years": 5}}}, "shocks.key_rate_shifts_bp"),
        (
            {"shocks": {"revenue_multiplier_by_category": {"consumer": -2}}},
            "shocks.revenue_multiplier_by_category.consumer",
        ),
        (
            {"shocks": {"rights_events": [{"category": "consumer", "cross_border": False}]}},
            "shocks.rights_events[0].value_factor",
        ),
        (
            {
                "shocks": {
                    "rights_events": [
                        {"category": "consumer", "cross_border": "no", "value_factor": 0.5}
                    ]
                }
            },
            "shocks.rights_events[0].cross_border",
        ),
        ({"shocks": {"obsolescence_hazard_add": -0.1}}, "shocks.obsolescence_hazard_add"),
        ({"shocks": {"revenue_mult": 0.5}}, "shocks.revenue_mult"),  # not a shock's name
        ({"horizon_months": 0}, "horizon_months"),
        ({"horizon_months": 2.5}, "horizon_months"),
        ({"name": ""}, "name"),
        ({"extends": "no_such_scenario"}, "extends"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_scenarios_raise_naming_the_field(patch: dict, field: str) -> None:
    data = {"name": "bad", **patch}
    with pytest.raises(ConventionError) as info:
        parse_scenario(data)
    assert info.value.field == field
    assert field.split(".")[-1].split("[")[0] in str(info.value)


def test_extends_child_overrides_parent_and_merges_maps() -> None:
    parents = {
        "p": {
            "name": "p",
            "horizon_months": 3,
            "shocks": {
                "pd_multiplier": 2.0,
                "rate_shift_bp": 100,
                "key_rate_shifts_bp": {"1Y": 10, "5Y": 20},
            },
        },
    }
    child = parse_scenario(
        {
            "name": "c",
            "extends": "p",
            "shocks": {"pd_multiplier": 3.0, "key_rate_shifts_bp": {"5Y": 50}},
        },
        parents,
    )
    assert child.shocks.pd_multiplier == 3.0
    assert child.shocks.rate_shift_bp == 100.0
    assert dict(child.shocks.key_rate_shifts_bp) == {"1Y": 10.0, "5Y": 50.0}
    assert child.horizon_months == 3
    assert child.extends == "p"


def test_extends_a_builtin_by_default() -> None:
    sc = parse_scenario(
        {"name": "harsher", "extends": "downturn_credit", "shocks": {"pd_multiplier": 4.0}}
    )
    assert sc.shocks.pd_multiplier == 4.0
    assert sc.shocks.downturn_lgd is True


def test_cycles_are_rejected() -> None:
    defs = {"a": {"name": "a", "extends": "b"}, "b": {"name": "b", "extends": "a"}}
    with pytest.raises(ConventionError) as info:
        parse_scenario({"name": "c", "extends": "a"}, defs)
    assert info.value.field == "extends"
    with pytest.raises(ConventionError):
        parse_scenario({"name": "self", "extends": "self"}, {"self": {"name": "self"}})


def test_scale_zero_is_the_zero_shock_and_one_is_the_scenario() -> None:
    sc = parse_scenario(FULL)
    assert sc.scaled(0.0).shocks == Shocks()
    assert sc.scaled(0.0).is_zero
    assert sc.scaled(1.0) is sc
    half = sc.scaled(0.5)
    assert half.shocks.pd_multiplier == pytest.approx(math.sqrt(2.5), rel=1e-15)
    assert half.shocks.rate_shift_bp == 100.0
    assert half.shocks.downturn_lgd is None
    assert half.shocks.lgd_add == pytest.approx(0.5 * (0.05 + DOWNTURN_LGD_ADD), rel=1e-15)
    with pytest.raises(ConventionError) as info:
        sc.scaled(-1.0)
    assert info.value.field == "scale"


@settings(max_examples=50, deadline=None)
@given(s1=st.floats(0.0, 3.0), s2=st.floats(0.0, 3.0))
def test_scaling_is_monotone_in_the_scale(s1: float, s2: float) -> None:
    lo, hi = sorted((s1, s2))
    sc = get_builtin("severe_combined")
    assert sc is not None
    a, b = sc.scaled(lo).shocks, sc.scaled(hi).shocks
    assert b.get("revenue_multiplier", 1.0) <= a.get("revenue_multiplier", 1.0)
    assert b.get("pd_multiplier", 1.0) >= a.get("pd_multiplier", 1.0)
    assert b.get("rate_shift_bp", 0.0) >= a.get("rate_shift_bp", 0.0)


def test_library_is_complete_valid_and_documented() -> None:
    assert set(BUILTIN_NAMES) == {
        "baseline",
        "rates_up_200bp",
        "data_demand_slump",
        "regulatory_cross_border",
        "ai_obsolescence",
        "downturn_credit",
        "severe_combined",
    }
    for sc in builtins():
        assert sc.description
        again = parse_scenario(sc.as_dict(), {})
        assert again.shocks == sc.shocks
    assert get_builtin("baseline").is_zero  # type: ignore[union-attr]
    slump = get_builtin("data_demand_slump")
    assert slump is not None
    assert slump.shocks.revenue_multiplier == DEMAND_SLUMP_REVENUE_MULTIPLIER
    reg = get_builtin("regulatory_cross_border")
    assert reg is not None
    assert {e.category for e in reg.shocks.rights_events or ()} == {
        "consumer",
        "healthcare",
        "geospatial",
    }
    credit = get_builtin("downturn_credit")
    assert credit is not None
    assert credit.shocks.pd_multiplier == 2.5
    assert credit.shocks.downturn_lgd
    assert get_builtin("nope") is None


def test_tenors() -> None:
    assert tenor_years("6M") == 0.5
    assert tenor_years("10Y") == 10.0
    assert tenor_years("2W") == pytest.approx(14 / 365)
    with pytest.raises(ConventionError):
        tenor_years("0Y")


def test_scenario_object_validation() -> None:
    with pytest.raises(ConventionError) as info:
        Scenario(name="x", horizon_months=500)
    assert info.value.field == "horizon_months"
