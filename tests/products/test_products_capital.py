"""SEC-SA risk weights against the Basel worked example and the rule's closed-form corners."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.capital import sec_sa_k_a, sec_sa_risk_weight
from valuation.errors import ConventionError

DATA = Path(__file__).resolve().parents[1] / "data" / "products"


def test_basel_worked_example() -> None:
    # Source: Basel SEC-SA worked example (UAE Central Bank rulebook, SA guidance paras 33-39)
    case = json.loads((DATA / "sec_sa_example.json").read_text())
    inp = case["inputs"]
    unknown = 1.0 - inp["share_of_pool_with_known_w"]
    k_a = sec_sa_k_a(inp["k_sa"], inp["w"], unknown)
    assert k_a == pytest.approx(case["published"]["k_a"], abs=1e-4)
    rw = sec_sa_risk_weight(
        inp["k_sa"],
        inp["w"],
        inp["attachment"],
        inp["detachment"],
        p=inp["p"],
        unknown_w_share=unknown,
    )
    assert abs(100.0 * rw - case["published"]["risk_weight_pct"]) <= 0.5


def test_k_a_formula_without_unknowns() -> None:
    assert sec_sa_k_a(0.08, 0.0) == pytest.approx(0.08, rel=1e-15)
    assert sec_sa_k_a(0.08, 1.0) == pytest.approx(0.5, rel=1e-15)
    assert sec_sa_k_a(0.09, 0.06) == pytest.approx(0.94 * 0.09 + 0.03, rel=1e-15)


def test_tranche_below_k_a_takes_1250() -> None:
    assert sec_sa_risk_weight(0.08, 0.0, 0.0, 0.08) == 12.5
    assert sec_sa_risk_weight(0.08, 0.0, 0.0, 0.05) == 12.5


def test_tranche_above_k_a_closed_form() -> None:
    # A >= K_A: RW = 12.5 K_SSFA with K_SSFA = (e^{a u} - e^{a l}) / (a (u - l))
    k_a, a_, d_ = 0.08, 0.10, 0.20
    a = -1.0 / k_a
    k_ssfa = (math.exp(a * (d_ - k_a)) - math.exp(a * (a_ - k_a))) / (a * (d_ - a_))
    assert sec_sa_risk_weight(0.08, 0.0, a_, d_) == pytest.approx(12.5 * k_ssfa, rel=1e-12)


def test_senior_tranche_floored_at_15_percent_and_stc_at_10() -> None:
    assert sec_sa_risk_weight(0.08, 0.0, 0.5, 1.0) == 0.15
    assert sec_sa_risk_weight(0.08, 0.0, 0.5, 1.0, stc=True) == 0.10


def test_more_than_five_percent_unknown_takes_1250() -> None:
    assert sec_sa_risk_weight(0.08, 0.0, 0.5, 1.0, unknown_w_share=0.06) == 12.5


def test_resecuritisation_p_raises_weight() -> None:
    assert sec_sa_risk_weight(0.08, 0.0, 0.1, 0.2, p=1.5) > sec_sa_risk_weight(0.08, 0.0, 0.1, 0.2)


@given(
    k_sa=st.floats(0.01, 0.5),
    w=st.floats(0.0, 1.0),
    a=st.floats(0.0, 0.98),
    width=st.floats(0.01, 0.5),
)
def test_weight_bounded_and_falls_with_attachment(
    k_sa: float, w: float, a: float, width: float
) -> None:
    d = min(a + width, 1.0)
    rw = sec_sa_risk_weight(k_sa, w, a, d)
    assert 0.15 <= rw <= 12.5
    if a + 0.01 < d:
        assert sec_sa_risk_weight(k_sa, w, a + 0.01, d) <= rw + 1e-12


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"k_sa": 0.08, "w": 0.0, "attach": 0.3, "detach": 0.2}, "attach"),
        ({"k_sa": 1.5, "w": 0.0, "attach": 0.1, "detach": 0.2}, "k_sa"),
        ({"k_sa": 0.08, "w": -0.1, "attach": 0.1, "detach": 0.2}, "w"),
        ({"k_sa": 0.08, "w": 0.0, "attach": 0.1, "detach": 1.2}, "detach"),
        ({"k_sa": 0.08, "w": 0.0, "attach": 0.1, "detach": 0.2, "p": 0.0}, "p"),
    ],
)
def test_bad_inputs_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConventionError) as err:
        sec_sa_risk_weight(**kwargs)
    assert err.value.field == field
