"""The output of a stress run: figures per variant, results per scenario, tables.

The figures of each variant (`VariantFigures`), a scenario's result per position and in
aggregate (`StressResult`), and the tables built from them (`results_frame`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from risk.inputs import METRICS, Variant
from risk.scenarios import Scenario
from valuation._typing import FloatArray


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True, eq=False)
class VariantFigures:
    """Per-position figures of every variant: ``metrics[kind][metric]`` is (V, n_kind)."""

    variants: tuple[Variant, ...]
    metrics: dict[str, dict[str, FloatArray]]


@dataclass(frozen=True, eq=False)
class StressResult:
    """Base and stressed figures of one scenario over a book.

    Attributes
    ----------
    scenario : Scenario
    aggregate : pandas.DataFrame
        Index ``metric``; columns ``base``, ``stressed``, ``delta``.
    record : dict
        Seed, paths, chunk sizes, executor, quantile confidence: what reproduces the run.
    positions : pandas.DataFrame
        Long table (built on first access): ``kind`` (asset, loan, tranche), ``id``,
        ``metric``, ``base``, ``stressed``, ``delta``.
    """

    scenario: Scenario
    aggregate: pd.DataFrame
    record: dict[str, Any] = field(default_factory=dict)
    _figures: VariantFigures | None = field(default=None, repr=False)
    _ids: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _pair: tuple[int, int] = (0, 0)

    @cached_property
    def positions(self) -> pd.DataFrame:
        """Return the long table of every position's figures."""
        if self._figures is None:
            return _positions_frame(VariantFigures((), {}), {}, 0, 0)
        return _positions_frame(self._figures, self._ids, *self._pair)

    def figures(self, kind: str, metric: str) -> tuple[FloatArray, FloatArray]:
        """Return the (base, stressed) arrays of one metric over the positions of one kind."""
        if self._figures is None or metric not in self._figures.metrics.get(kind, {}):
            raise KeyError((kind, metric))
        arr = self._figures.metrics[kind][metric]
        return arr[self._pair[0]], arr[self._pair[1]]

    def to_json(self, run_id: str | None = None) -> dict[str, Any]:
        """Return the API contract's shape (`results_document`) of this result."""
        agg: Iterable[ResultRow] = (
            ("aggregate", "", str(m), r.base, r.stressed, r.delta)
            for m, r in self.aggregate.iterrows()
        )
        columns = ["kind", "id", "metric", "base", "stressed", "delta"]
        rows = self.positions[columns].itertuples(index=False, name=None)
        return results_document(
            run_id=run_id,
            scenario=self.scenario.name,
            scenario_definition=self.scenario.as_dict(),
            record=self.record,
            rows=itertools.chain(agg, rows),
        )

    def to_csv(self) -> str:
        """Positions then aggregate rows (``kind`` = aggregate) as CSV text."""
        agg = self.aggregate.reset_index().assign(kind="aggregate", id="")
        table = pd.concat([self.positions, agg[self.positions.columns]], ignore_index=True)
        table.insert(0, "scenario", self.scenario.name)
        return str(table.to_csv(index=False, float_format="%.10g"))


ResultRow = tuple[str, str, str, float | None, float | None, float | None]
"""``(kind, id, metric, base, stressed, delta)``; kind ``aggregate`` for the book's figures."""


def results_document(
    *,
    run_id: Any,
    scenario: str,
    scenario_definition: Mapping[str, Any],
    record: Mapping[str, Any] | None,
    rows: Iterable[ResultRow],
) -> dict[str, Any]:
    """Return the API contract's stress-results shape, from a run in memory or its stored rows.

    ``{run_id, scenario, scenario_definition, record, aggregate: {METRIC: {base, stressed,
    delta}}, positions: [{kind, id, METRIC: {...}}]}``: rows of kind ``aggregate`` form
    ``aggregate``, the others a position each per run of equal ``(kind, id)``. Non-finite
    numbers (and missing ones) become null.
    """

    def num(x: Any) -> float | None:
        return None if x is None or not math.isfinite(float(x)) else float(x)

    aggregate: dict[str, Any] = {}
    positions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for kind, pid, metric, base, stressed, delta in rows:
        cell = {"base": num(base), "stressed": num(stressed), "delta": num(delta)}
        if kind == "aggregate":
            aggregate[str(metric)] = cell
            continue
        if current is None or current["kind"] != kind or current["id"] != pid:
            current = {"kind": kind, "id": pid}
            positions.append(current)
        current[str(metric)] = cell
    return {
        "run_id": run_id,
        "scenario": scenario,
        "scenario_definition": dict(scenario_definition),
        "record": record,
        "aggregate": aggregate,
        "positions": positions,
    }


def _aggregate(
    metrics: dict[str, dict[str, FloatArray]], ead: FloatArray, notional: FloatArray, v: int
) -> dict[str, float]:
    agg: dict[str, float] = {}
    a, ln, tr = metrics.get("asset", {}), metrics.get("loan", {}), metrics.get("tranche", {})
    if a:
        agg["collateral_value"] = float(a["collateral_value"][v].sum())
        agg["lending_value"] = float(a["lending_value"][v].sum())
    if ln:
        tot = float(ead.sum())
        secured = ~np.isnan(ln["ltv"][v])
        coll = float(ln["collateral_value"][v][secured].sum())
        exposure = float(ead[secured].sum())
        agg["ltv"] = (exposure / coll if coll > 0 else math.inf) if secured.any() else math.nan
        agg["pd"] = float(np.dot(ln["pd"][v], ead) / tot)
        agg["lgd"] = float(np.dot(ln["lgd"][v], ead) / tot)
        agg["expected_loss"] = float(ln["expected_loss"][v].sum())
        agg["capital"] = float(ln["capital"][v].sum())
        agg["margin_calls"] = float(ln["margin_calls"][v].sum())
    tail = metrics.get("portfolio", {})
    if tail:
        agg["loss_var"] = float(tail["loss_var"][v])
        agg["loss_es"] = float(tail["loss_es"][v])
    if tr:
        agg["tranche_expected_loss"] = float(
            np.dot(tr["tranche_expected_loss"][v], notional) / notional.sum()
        )
        agg["price"] = float(np.dot(tr["price"][v], notional) / notional.sum())
    return agg


def _positions_frame(
    fig: VariantFigures, ids: dict[str, list[str]], b: int, s: int
) -> pd.DataFrame:
    """Long per-position table, ordered by kind, position, then metric."""
    frames = []
    for kind in ("asset", "loan", "tranche"):
        mets = fig.metrics.get(kind)
        if not mets:
            continue
        names = [m for m in METRICS if m in mets]
        n, k = len(ids[kind]), len(names)
        base = np.stack([mets[m][b] for m in names], axis=1).ravel()
        stressed = np.stack([mets[m][s] for m in names], axis=1).ravel()
        frames.append(
            pd.DataFrame(
                {
                    "kind": pd.Categorical.from_codes(
                        np.zeros(n * k, dtype=np.int8), pd.Index([kind])
                    ),
                    "id": np.repeat(np.asarray(ids[kind], dtype=object), k),
                    "metric": pd.Categorical.from_codes(
                        np.tile(np.arange(k, dtype=np.int16), n), pd.Index(names)
                    ),
                    "base": base,
                    "stressed": stressed,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {"kind": [], "id": [], "metric": [], "base": [], "stressed": [], "delta": []}
        )
    pos = pd.concat(frames, ignore_index=True)
    pos["kind"] = pos["kind"].astype(str)
    pos["metric"] = pos["metric"].astype(str)
    with np.errstate(invalid="ignore"):
        pos["delta"] = pos["stressed"] - pos["base"]
    return pos


def results_frame(results: Sequence[StressResult]) -> pd.DataFrame:
    """Aggregate tables of several scenarios side by side (index scenario, metric)."""
    return pd.concat({r.scenario.name: r.aggregate for r in results}, names=["scenario"])
