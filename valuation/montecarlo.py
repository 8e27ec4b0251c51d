"""Monte Carlo revenue paths and the value distribution they imply.

Model, per path and month ``k = 1..L`` (``L`` the economic life of the income plan):

``CF_k = c_k * exp(sigma W_k - k sigma^2 / 2) * g_k * J_k``

- ``c_k = kappa * E[R_k] * 0.5 ** (k / H)``: the income plan's expected cash flow
  (fitted drift incl. seasonality and damping, obsolescence, attributable share);
- ``W_k = Z_1 + ... + Z_k``, ``Z`` standard normal, ``sigma`` the fit's residual
  volatility per month (times ``volatility_multiplier``): log revenue is a random walk
  around the fitted path and ``E[exp(sigma W_k - k sigma^2/2)] = 1``;
- obsolescence jump: at an exponential time ``tau`` with hazard ``h`` per month revenue
  drops by ``jump_loss`` for good (``J_k = 1 - jump_loss`` for ``k >= tau``). Part
  ``jump_share`` of the obsolescence decay rate ``ln 2 / H`` is carried by the jump,
  ``h = jump_share * ln 2 / (H * jump_loss)``, and the gradual factor
  ``g_k = 1 / E[J_k] = 1 / (1 - jump_loss (1 - exp(-h k)))`` compensates, so that
  ``E[CF_k] = c_k``: the simulation's mean reproduces the deterministic income value
  and only adds dispersion. ``extra_hazard_per_month`` (a stress) raises the jump
  hazard without compensation and so lowers the mean;
- antithetic variates: within each block of paths, the second half uses ``-Z`` and
  ``1 - U``; the standard error is computed from the pair means.

Value per path: ``V = sum_k CF_k DF_k`` with the income plan's discount factors.

The paths themselves come from `valuation.paths`, the project's one revenue-path
generator (this module chooses the plan's mean, volatility and jump; that one draws).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import numpy as np

from valuation._typing import FloatArray
from valuation.errors import ConventionError
from valuation.income import IncomePlan, IncomeValuer
from valuation.market import MarketData
from valuation.params import Constraint, Number, OneOf, check_params
from valuation.paths import discount_paths, draw_normals, simulate_cash_flows
from valuation.results import MethodResult, ValuationInputs

MAX_PATHS = 1_000_000
DEFAULT_PATHS = 10_000
CHUNK_PATHS = 50_000  # paths drawn per block (about 48 MB at 120 months)
MAX_STORED_CELLS = 24_000_000  # revenue paths kept in memory up to ~190 MB, else replayed
DEFAULT_JUMP_SHARE = 0.5
DEFAULT_JUMP_LOSS = 0.5


def weighted_quantile(
    values: FloatArray, weights: FloatArray | None, q: float | Sequence[float]
) -> FloatArray:
    """Quantiles of weighted samples (inverse of the weighted empirical distribution).

    Sample ``i`` (sorted) sits at ``p_i = S_i / (W - w_last)``, ``S_i`` the weight of the
    samples below it and ``W`` the total, and quantiles interpolate linearly between
    those points: with equal weights this is exactly ``numpy.quantile`` (its default,
    linear method).
    """
    v = np.asarray(values, dtype=np.float64)
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if weights is None:
        return np.quantile(v, qs)
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 1:
        return np.full(qs.shape, v[0])
    below = np.cumsum(w) - w
    return np.interp(qs, below / below[-1], v)


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of a value distribution, major units."""

    mean: float
    std: float
    p05: float
    p50: float
    p95: float

    @classmethod
    def of(cls, values: FloatArray) -> Distribution:
        """Summarise equally weighted samples."""
        v = np.asarray(values, dtype=np.float64)
        q = np.quantile(v, [0.05, 0.5, 0.95])
        return cls(
            mean=float(v.mean()),
            std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
            p05=float(q[0]),
            p50=float(q[1]),
            p95=float(q[2]),
        )

    @classmethod
    def of_weighted(cls, values: FloatArray, weights: FloatArray) -> Distribution:
        """Summary of weighted samples (a mixture): weighted mean, std and quantiles."""
        v = np.asarray(values, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        w = w / w.sum()
        mean = float(w @ v)
        std = float(np.sqrt(max(float(w @ (v - mean) ** 2), 0.0)))
        q = weighted_quantile(v, w, (0.05, 0.5, 0.95))
        return cls(mean=mean, std=std, p05=float(q[0]), p50=float(q[1]), p95=float(q[2]))

    @classmethod
    def point(cls, value: float) -> Distribution:
        """Return the distribution of a certain value."""
        return cls(value, 0.0, value, value, value)

    def as_dict(self) -> dict[str, float]:
        """Return the summary as a plain dict."""
        return {
            "mean": self.mean,
            "std": self.std,
            "p05": self.p05,
            "p50": self.p50,
            "p95": self.p95,
        }

    def __getitem__(self, key: str) -> float:
        """Mapping-style access, ``distribution["p05"]`` (the API contract shows it as an object)."""
        if key not in ("mean", "std", "p05", "p50", "p95"):
            raise KeyError(key)
        return float(getattr(self, key))

    def keys(self) -> tuple[str, ...]:
        """Return the summary's keys (mapping-style access)."""
        return ("mean", "std", "p05", "p50", "p95")


@dataclass(frozen=True, slots=True, eq=False)
class MonteCarloResult:
    """Simulated paths of one asset (the arrays are read-only).

    Attributes
    ----------
    seed : int
        Seed of the ``numpy.random.Generator`` (PCG64) that drew the paths.
    n_paths : int
    months : int
    values : FloatArray, shape (n_paths,)
        Present value at ``as_of`` per path, major units.
    revenue : FloatArray, shape (n_paths, months)
        (property) Simulated monthly attributable cash flows (revenue x share x
        (1 - cost ratio) ..., after obsolescence and jumps), major units per month;
        column ``k - 1`` is paid on ``dates[k - 1]``. Kept in memory up to
        `MAX_STORED_CELLS` cells; larger simulations replay their seed to rebuild it
        (the same numbers, chunk by chunk).
    discount_factors : FloatArray, shape (months,)
    dates : tuple of date
    std_error : float
        Standard error of the mean value.
    antithetic : bool
    parameters : mapping
        sigma, hazards, jump loss, kappa, ... as used.
    """

    seed: int
    n_paths: int
    months: int
    values: FloatArray
    discount_factors: FloatArray
    dates: tuple[date, ...]
    std_error: float
    antithetic: bool = True
    parameters: Mapping[str, Any] = field(default_factory=dict)
    stored_revenue: FloatArray | None = field(default=None, repr=False)
    replay: Callable[[], Iterator[FloatArray]] | None = field(default=None, repr=False)

    def revenue_chunks(self) -> Iterator[FloatArray]:
        """Return the revenue paths in consecutive blocks of paths, shape (n_chunk, months) each."""
        if self.stored_revenue is not None:
            yield self.stored_revenue
        elif self.replay is not None:
            yield from self.replay()
        else:  # pragma: no cover - built by simulate_plan with one or the other
            raise ConventionError("This simulation kept no revenue paths.")

    @property
    def revenue(self) -> FloatArray:
        """Return the revenue paths, shape (n_paths, months)."""
        if self.stored_revenue is not None:
            return self.stored_revenue
        out = np.concatenate([np.array(c) for c in self.revenue_chunks()], axis=0)
        out.flags.writeable = False
        return out

    def horizon_value(self, horizon_months: int) -> FloatArray:
        """Value at the horizon per path: cash flows after month ``h`` discounted to month ``h``.

        ``V_h = sum_{k > h} CF_k DF_k / DF_h`` (``DF_0 = 1``), shape (n_paths,), same paths
        as `revenue`. ``h >= months`` gives zeros.
        """
        h = int(horizon_months)
        if h < 0:
            raise ConventionError(
                f"The `horizon_months` must be >= 0. Got {horizon_months!r}.",
                field="horizon_months",
            )
        if h >= self.months:
            return np.zeros(self.n_paths)
        df_h = 1.0 if h == 0 else float(self.discount_factors[h - 1])
        dfs = self.discount_factors[h:] / df_h
        return np.concatenate([discount_paths(c[:, h:], dfs) for c in self.revenue_chunks()])

    def remaining_value(self, horizon_months: int) -> FloatArray:
        """Today's value of the cash flows after month ``h``, per path: ``sum_{k > h} CF_k DF_k``.

        What a buyer at the end of a liquidation horizon of ``h`` months would pay for
        the cash flows still to come, discounted to today (``V_h DF_h``); ``h = 0`` gives
        `values`. Shape (n_paths,).
        """
        h = int(horizon_months)
        if h <= 0:
            return np.asarray(self.values)
        if h >= self.months:
            return np.zeros(self.n_paths)
        df_h = float(self.discount_factors[h - 1])
        return self.horizon_value(h) * df_h

    def distribution(self) -> Distribution:
        """Return the distribution of the path values."""
        return Distribution.of(self.values)

    def gross_revenue(self) -> FloatArray:
        """Return the simulated monthly revenue before the share, cost ratio and tax.

        Simulated monthly revenue before the attributable share, cost ratio and tax.

        ``revenue / kappa`` (``kappa`` in `parameters`), shape (n_paths, months); it keeps
        the obsolescence decay and jumps. Zeros when ``kappa`` is 0.
        """
        kappa = float(self.parameters.get("kappa", 1.0))
        if kappa <= 0.0:
            return np.zeros((self.n_paths, self.months))
        return self.revenue / kappa


def standard_error(values: FloatArray, *, antithetic: bool) -> float:
    """Return the standard error of the mean; with antithetic pairs, from the pair means."""
    n = values.shape[0]
    if n < 2:
        return 0.0
    if antithetic and n >= 4:
        half = n // 2
        first = values[:half]
        second = values[(n + 1) // 2 : (n + 1) // 2 + half]
        pairs = 0.5 * (first + second)
        return float(pairs.std(ddof=1) / math.sqrt(half))
    return float(values.std(ddof=1) / math.sqrt(n))


def trend_uncertainty(plan: IncomePlan) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Parameter uncertainty of the fitted trend, as a log error per forecast month.

    The fit's level and growth are estimates: their error is approximated by the
    intercept and slope of a least-squares line on the same ``n`` consecutive months
    with residual deviation ``s`` (``sigma_resid``): ``e_k = e_0 + e_1 d_k`` with
    ``e_0 ~ N(0, s^2 / n)``, ``e_1 ~ N(0, s^2 / S_xx)``, ``S_xx = n (n^2 - 1) / 12`` and
    ``d_k`` the distance of forecast month ``k`` from the middle of the data (beyond the
    last observed month the slope's effect is damped like the trend itself).

    Returns
    -------
    (sd0, sd1_d, var) : arrays of shape (months,)
        Level deviation (constant), slope deviation times distance, and the total
        variance ``s^2 (1/n + d_k^2 / S_xx)`` per month.
    """
    fit = plan.fit
    months = plan.months
    n = max(int(fit.n), 2)
    s = float(fit.sigma_resid)
    s_xx = n * (n * n - 1) / 12.0
    t_bar = fit.last_t - (n - 1) / 2.0
    first = fit.month_offset(plan.dates[0]) if plan.dates else fit.last_t + 1
    t = first + np.arange(months, dtype=np.float64)
    beyond = np.maximum(t - fit.last_t, 0.0)
    if fit.damping < 1.0:
        steps = np.power(
            fit.damping, np.arange(1, int(beyond.max(initial=0.0)) + 1, dtype=np.float64)
        )
        cum = np.concatenate([[0.0], np.cumsum(steps)])
        beyond = cum[beyond.astype(np.int64)]
    d = np.minimum(t, fit.last_t) - t_bar + beyond
    sd0 = np.full(months, s / math.sqrt(n))
    sd1_d = s / math.sqrt(s_xx) * d
    return sd0, sd1_d, sd0 * sd0 + sd1_d * sd1_d


def _chunk_sizes(n_paths: int) -> list[int]:
    full, rest = divmod(n_paths, CHUNK_PATHS)
    return [CHUNK_PATHS] * full + ([rest] if rest else [])


def simulate_plan(
    plan: IncomePlan,
    *,
    n_paths: int,
    seed: int,
    antithetic: bool = True,
    jump_share: float = DEFAULT_JUMP_SHARE,
    jump_loss: float = DEFAULT_JUMP_LOSS,
    extra_hazard_per_month: float = 0.0,
    volatility_multiplier: float = 1.0,
    parameter_uncertainty: bool = True,
) -> MonteCarloResult:
    """Simulate an income plan (see the module docstring).

    Paths are drawn in blocks of `CHUNK_PATHS` from one generator seeded with ``seed``
    (antithetic pairs inside each block), so memory stays bounded; the revenue paths are
    kept when they fit in `MAX_STORED_CELLS` and replayed from the seed otherwise.

    With ``parameter_uncertainty`` (default) each path also draws the error of the
    fitted trend's level and growth (`trend_uncertainty`, from a second generator
    seeded with ``(seed, 1)``) and multiplies its cash flows by
    ``exp(e_k - var_k / 2)``: the mean is unchanged, the spread includes what the
    history cannot pin down.
    """
    sigma = plan.fit.sigma_month * volatility_multiplier
    h_comp = (
        jump_share * math.log(2.0) / (plan.half_life_months * jump_loss) if jump_loss > 0 else 0.0
    )
    hazard = h_comp + extra_hazard_per_month
    expected = plan.cash_flows
    sizes = _chunk_sizes(n_paths)
    sd0, sd1_d, var = trend_uncertainty(plan)

    def chunks() -> Iterator[FloatArray]:
        rng = np.random.default_rng(seed)
        prng = np.random.default_rng([seed, 1])
        for size in sizes:
            cf = simulate_cash_flows(
                expected,
                sigma,
                size,
                rng,
                antithetic=antithetic,
                jump_hazard=hazard,
                jump_loss=jump_loss,
                compensated_hazard=h_comp,
            )
            if parameter_uncertainty and plan.months > 0:
                e = draw_normals(prng, 2, size, antithetic=antithetic)
                shift = e[0][:, None] * sd0[None, :] + e[1][:, None] * sd1_d[None, :]
                shift -= 0.5 * var[None, :]
                np.exp(shift, out=shift)
                cf *= shift
            cf.flags.writeable = False
            yield cf

    keep = n_paths * plan.months <= MAX_STORED_CELLS
    values_parts: list[FloatArray] = []
    pair_means: list[FloatArray] = []
    stored: list[FloatArray] = []
    for cf in chunks():
        v = discount_paths(cf, plan.discount_factors)
        values_parts.append(v)
        m = v.shape[0]
        if antithetic and m >= 2:
            half = m // 2
            start = (m + 1) // 2
            pair_means.append(0.5 * (v[:half] + v[start : start + half]))
        if keep:
            stored.append(cf)
    values = np.concatenate(values_parts)
    values.flags.writeable = False
    pairs = np.concatenate(pair_means) if pair_means else np.empty(0)
    if antithetic and pairs.size >= 2:
        std_error = float(pairs.std(ddof=1) / math.sqrt(pairs.size))
    else:
        std_error = standard_error(values, antithetic=False)
    revenue: FloatArray | None = None
    if keep:
        revenue = stored[0] if len(stored) == 1 else np.concatenate(stored, axis=0)
        revenue.flags.writeable = False
    dfs = plan.discount_factors.copy()
    dfs.flags.writeable = False
    return MonteCarloResult(
        seed=seed,
        n_paths=n_paths,
        months=plan.months,
        values=values,
        discount_factors=dfs,
        dates=plan.dates,
        std_error=std_error,
        antithetic=antithetic,
        parameters={
            "sigma_month": sigma,
            "volatility_multiplier": volatility_multiplier,
            "jump_share": jump_share,
            "jump_loss": jump_loss,
            "jump_hazard_per_month": hazard,
            "compensated_hazard_per_month": h_comp,
            "extra_hazard_per_month": extra_hazard_per_month,
            "kappa": plan.kappa,
            "half_life_months": plan.half_life_months,
            "chunk_paths": CHUNK_PATHS,
            "parameter_uncertainty": parameter_uncertainty,
            "trend_sd_first_month": float(math.sqrt(var[0])) if plan.months else 0.0,
            "trend_sd_last_month": float(math.sqrt(var[-1])) if plan.months else 0.0,
        },
        stored_revenue=revenue,
        replay=None if keep else chunks,
    )


class MonteCarloValuer:
    """Monte Carlo income value: the mean over simulated revenue paths.

    Parameters
    ----------
    paths : int
        Number of paths, 1..1,000,000. Default 10,000.
    seed : int
        Seed of the generator, >= 0 (recorded in the result).
    antithetic : bool
        Antithetic variates. Default True.
    jump_share : float
        Share of the obsolescence decay carried by the jump, [0, 1). Default 0.5.
    jump_loss : float
        Fraction of revenue lost at an obsolescence jump, [0, 1). Default 0.5.
    extra_hazard_per_month : float
        Uncompensated extra jump hazard (stress), >= 0. Default 0.
    volatility_multiplier : float
        Scales the fitted volatility, >= 0. Default 1.
    income : mapping or None
        Hyperparameters of the `IncomeValuer` that builds the plan.
    """

    params_schema: ClassVar[Mapping[str, Constraint]] = {
        "paths": Number(1, MAX_PATHS, integer=True),
        "seed": Number(0, 2**63 - 1, integer=True),
        "antithetic": OneOf((True, False)),
        "jump_share": Number(0.0, 1.0, hi_open=True),
        "jump_loss": Number(0.0, 1.0, hi_open=True),
        "extra_hazard_per_month": Number(0.0, 1.0),
        "volatility_multiplier": Number(0.0, 100.0),
    }

    def __init__(
        self,
        *,
        paths: int = DEFAULT_PATHS,
        seed: int = 0,
        antithetic: bool = True,
        jump_share: float = DEFAULT_JUMP_SHARE,
        jump_loss: float = DEFAULT_JUMP_LOSS,
        extra_hazard_per_month: float = 0.0,
        volatility_multiplier: float = 1.0,
        income: Mapping[str, Any] | None = None,
    ) -> None:
        self.paths = paths
        self.seed = seed
        self.antithetic = antithetic
        self.jump_share = jump_share
        self.jump_loss = jump_loss
        self.extra_hazard_per_month = extra_hazard_per_month
        self.volatility_multiplier = volatility_multiplier
        self.income = income

    def simulate(
        self,
        inputs: ValuationInputs,
        *,
        as_of: date,
        market: MarketData,
        plan: IncomePlan | None = None,
    ) -> MonteCarloResult:
        """Simulate the asset's cash-flow paths (builds the income plan unless given)."""
        p = check_params(self)
        if plan is None:
            plan = IncomeValuer(**dict(self.income or {})).plan(inputs, as_of=as_of, market=market)
        return simulate_plan(
            plan,
            n_paths=int(p["paths"]),
            seed=int(p["seed"]),
            antithetic=bool(p["antithetic"]),
            jump_share=float(p["jump_share"]),
            jump_loss=float(p["jump_loss"]),
            extra_hazard_per_month=float(p["extra_hazard_per_month"]),
            volatility_multiplier=float(p["volatility_multiplier"]),
        )

    def value(self, inputs: ValuationInputs, *, as_of: date, market: MarketData) -> MethodResult:
        """Mean simulated value, with the distribution and standard error in the diagnostics."""
        sim = self.simulate(inputs, as_of=as_of, market=market)
        dist = sim.distribution()
        return MethodResult(
            "monte_carlo",
            max(dist.mean, 0.0),
            inputs.currency,
            as_of,
            assumptions={"paths": sim.n_paths, "seed": sim.seed, **dict(sim.parameters)},
            diagnostics={"distribution": dist.as_dict(), "std_error": sim.std_error},
        )
