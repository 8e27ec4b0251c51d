"""Reverse stress: the scale returned hits the limit within tolerance."""

from __future__ import annotations

import pytest

from risk.library import get_builtin
from risk.reverse import (
    Limit,
    expected_loss_budget,
    limit_metric,
    margin_call_count,
    reverse_stress,
    senior_tranche_loss,
)
from risk.runner import StressRunner
from valuation.errors import ConventionError


def test_expected_loss_budget_is_hit_at_the_scale(runner: StressRunner) -> None:
    sc = get_builtin("data_demand_slump")
    base = limit_metric(runner, sc.scaled(0.0), expected_loss_budget(0.0))
    limit = expected_loss_budget(1.5 * base)
    out = reverse_stress(runner, sc, limit, max_scale=4.0, xtol=1e-6, rtol=1e-10)
    assert out.breached
    assert out.method == "brentq"
    assert out.base_metric == pytest.approx(base, rel=1e-15)
    assert out.metric_at_scale == pytest.approx(1.5 * base, rel=1e-4)
    # just past the scale the budget is broken, well before it is not
    assert limit_metric(runner, sc.scaled(out.scale + 1e-3), limit) > limit.threshold
    assert limit_metric(runner, sc.scaled(out.scale - 1e-3), limit) < limit.threshold
    assert out.as_dict()["limit"] == {"kind": "expected_loss_budget", "threshold": 1.5 * base}


def test_margin_call_count_is_bisected(runner: StressRunner) -> None:
    sc = get_builtin("ai_obsolescence")
    n0 = limit_metric(runner, sc.scaled(0.0), margin_call_count(0))
    limit = margin_call_count(int(n0) + 3)
    out = reverse_stress(runner, sc, limit, max_scale=8.0, xtol=1e-3)
    assert out.breached
    assert out.method == "bisect"
    lo, hi = out.bracket
    assert hi - lo <= 1e-3
    assert out.scale == hi
    assert out.metric_at_scale > limit.threshold
    assert limit_metric(runner, sc.scaled(lo), limit) <= limit.threshold


def test_senior_tranche_loss(runner: StressRunner) -> None:
    sc = get_builtin("downturn_credit")
    out = reverse_stress(runner, sc, senior_tranche_loss(0.02), max_scale=6.0, xtol=1e-6)
    assert out.breached
    assert out.metric_at_scale == pytest.approx(0.02, rel=1e-4)


def test_unbroken_and_broken_at_zero(runner: StressRunner) -> None:
    sc = get_builtin("rates_up_200bp")
    out = reverse_stress(runner, sc, expected_loss_budget(1e15), max_scale=2.0, scan_points=2)
    assert not out.breached
    assert out.method == "scan"
    assert out.evaluations == 3
    out = reverse_stress(runner, sc, expected_loss_budget(0.0))
    assert out.scale == 0.0
    assert out.method == "at_zero"


def test_bad_limits() -> None:
    with pytest.raises(ConventionError) as info:
        Limit("var", 1.0)  # type: ignore[arg-type]
    assert info.value.field == "limit.kind"
    with pytest.raises(ConventionError) as info:
        expected_loss_budget(-1.0)
    assert info.value.field == "limit.threshold"


@pytest.mark.parametrize("edge", [0.3, 0.7341])
def test_a_metric_that_steps_across_the_limit_reports_a_breaking_scale(
    runner: StressRunner, monkeypatch: pytest.MonkeyPatch, edge: float
) -> None:
    """Monte Carlo metrics step (obsolescence jumps fall in whole months): the reported
    scale must break the limit, within xtol of the step, even where Brent's root sits on
    the step with the metric still below the threshold."""
    import risk.reverse as reverse_module

    def stepped(_runner, scenario, _limit) -> float:  # continuous below, jumps at `edge`
        s = scenario.scale
        return 100.0 * s + (500.0 if s >= edge else 0.0)

    monkeypatch.setattr(reverse_module, "limit_metric", stepped)
    limit = expected_loss_budget(200.0)  # 100 s stays below 200; the step crosses it
    out = reverse_stress(runner, get_builtin("data_demand_slump"), limit, xtol=1e-5)
    assert out.breached
    assert out.metric_at_scale > limit.threshold
    assert edge <= out.scale <= edge + 1e-5
    assert out.method in {"brentq", "brentq_step"}
    lo, hi = out.bracket
    assert lo < edge <= hi


def test_progress_is_reported_per_evaluation(runner: StressRunner) -> None:
    seen: list[int] = []
    out = reverse_stress(
        runner,
        get_builtin("data_demand_slump"),
        expected_loss_budget(1e15),
        max_scale=2.0,
        scan_points=3,
        on_evaluation=seen.append,
    )
    assert seen == list(range(1, out.evaluations + 1))
    assert out.evaluations == 4
