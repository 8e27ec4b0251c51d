"""Income approach: the four forms of the CAS 2023 guidance, on a forecast of revenue.

Notes
-----
For months ``k = 1..L`` after ``as_of`` (``L`` the economic life):

``V = sum_k CF_k * 0.5 ** (k / H) * DF(as_of, d_k)``,  ``CF_k = kappa * E[R_k]``

- ``E[R_k]``: the forecast mean revenue of month ``k`` (`valuation.forecast`);
- ``0.5 ** (k / H)``: obsolescence, ``H = half_life_months``;
- ``d_k``: with ``timing="end"`` the date ``k`` calendar months after ``as_of``
  (`valuation.conventions.add_months`); with ``timing="mid"`` the middle of that month;
- ``DF``: with ``discount_rate`` given, ``(1 + r) ** -t`` on the ACT/365F year fraction
  ``t`` from ``as_of`` to ``d_k`` (annual effective rate, annual compounding; the curve
  and risk premium are then not used); otherwise the market curve spreaded by
  ``risk_premium`` (`valuation.market.MarketData`);
- ``kappa`` by ``income_form`` (``s`` = revenue_share, ``c`` = cost_ratio, ``tau`` =
  tax_rate, ``CAC`` = contributory_charge_rate), floored at 0; every form is post-tax:

  - ``excess_earnings`` (default): ``s (1 - c)(1 - tau) - CAC``, ``s`` default 1: the
    multi-period excess earnings method, the after-tax operating margin less the
    return on the contributory assets (working capital, fixed assets, workforce, other
    intangibles) that produce the revenue with the data, as a share of revenue
    (default 0.10);
  - ``direct``:           ``s (1 - c)(1 - tau)``, ``s`` default 1 (the revenue is the data's own);
  - ``split``:            ``s (1 - c)(1 - tau)``, ``s`` default 0.25 (the "25 % rule" of
    profit-split practice);
  - ``incremental``:      ``s (1 - without_revenue_ratio)(1 - c)(1 - tau)``: profit with the
    data minus profit without it, ``s`` default 1;
  - ``royalty``:          ``s x royalty_rate x (1 - tau)``: relief from royalty, the
    after-tax licence fee the holder saves by owning the data (``royalty_rate``
    default 0.10 of revenue, flagged as a default assumption).

- Rights: without ``product_operation`` the holder may not sell data products to third
  parties, so the income approach cannot credit such revenue: it values the holder's
  own use, by the ``incremental`` form unless ``royalty`` is asked for; asking for
  ``direct``, ``split`` or ``excess_earnings`` is an error naming ``assumptions.income_form``.
- ``L``: ``economic_life_months`` when given, else the shorter of the decay horizon
  (months until ``0.5 ** (k / H)`` falls below 5 %) and ``max_life_months`` (default
  60: five years, the useful life appraisers and accounting practice give data sets
  and software, CAS 2023 asks for a life supported by the rights and by obsolescence);
  in both cases capped by the rights term (``asset.rights.term_months``) and
  ``contract_term_months`` when these are set.

Defaults: ``tax_rate`` 0.25 (PRC enterprise income tax, Enterprise Income Tax Law
art. 4), so cash flows are after tax and the rate is a post-tax rate; ``cost_ratio``
from the recurring cost records (monthly run-rate over the first forecast year's mean
monthly revenue, clipped to [0, 0.9]) or 0.30 without them; ``risk_premium`` 0.08
over the curve (post-tax discount rates of 10-15 % are common in Chinese data-asset
appraisals; the CNY curve adds 1.5-2.5 %).

References
----------
China Appraisal Society, *Guidance on Data Asset Appraisal* (2023), income approach:
direct income, revenue split, excess earnings and incremental income methods.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

import numpy as np

from valuation._typing import FloatArray
from valuation.conventions import add_months
from valuation.cost import cost_occurrences
from valuation.errors import CalibrationError, ConventionError
from valuation.forecast import (
    TrendFit,
    decay_factors,
    decay_horizon_months,
    default_half_life_months,
    revenue_forecast,
)
from valuation.market import MarketData, flat_annual_discount_factors
from valuation.params import MIN_HALF_LIFE_MONTHS, Constraint, Number, OneOf, check_params
from valuation.results import MethodResult, ValuationInputs
from valuation.signals import CleanSignals, clean_signals

INCOME_FORMS = ("excess_earnings", "direct", "split", "incremental", "royalty")
DEFAULT_INCOME_FORM = "excess_earnings"
#: Forms that value the holder's own use of the data (allowed without product_operation).
OWN_USE_FORMS = ("incremental", "royalty")
DEFAULT_REVENUE_SHARE = {
    "direct": 1.0,
    "split": 0.25,
    "excess_earnings": 1.0,
    "incremental": 1.0,
    "royalty": 1.0,
}
DEFAULT_TAX_RATE = 0.25
DEFAULT_ROYALTY_RATE = 0.10
DEFAULT_COST_RATIO = 0.30
MAX_COST_RATIO = 0.90
DEFAULT_RISK_PREMIUM = 0.08
DEFAULT_CONTRIBUTORY_CHARGE_RATE = 0.10
DEFAULT_WITHOUT_REVENUE_RATIO = 0.60
MAX_LIFE_MONTHS = 600
DEFAULT_MAX_LIFE_MONTHS = 60
DEFAULT_TREND_DAMPING = 0.95


@dataclass(frozen=True, slots=True)
class IncomePlan:
    """The deterministic income schedule, shared with the Monte Carlo engine.

    Attributes
    ----------
    dates : tuple of date
        Payment date of each month's cash flow, length ``L``.
    expected_revenue : FloatArray, shape (L,)
        Forecast mean revenue per month, major units.
    kappa : float
        Cash flow per unit of revenue (form, share, cost ratio, tax).
    decay : FloatArray, shape (L,)
        ``0.5 ** (k / H)``.
    discount_factors : FloatArray, shape (L,)
        Discount factors from ``as_of`` to ``dates``.
    fit : TrendFit
        The revenue model.
    half_life_months : float
    assumptions : mapping
        Every assumption used.
    """

    dates: tuple[date, ...]
    expected_revenue: FloatArray
    kappa: float
    decay: FloatArray
    discount_factors: FloatArray
    fit: TrendFit
    half_life_months: float
    assumptions: Mapping[str, Any]

    @property
    def months(self) -> int:
        """Return the number of months of the plan."""
        return len(self.dates)

    @property
    def cash_flows(self) -> FloatArray:
        """Expected attributable cash flow per month after decay, shape (L,)."""
        return self.kappa * self.expected_revenue * self.decay

    @property
    def value(self) -> float:
        """Return the plan's present value, major units."""
        return float(self.cash_flows @ self.discount_factors)


def payment_dates(as_of: date, months: int, timing: str) -> tuple[date, ...]:
    """Payment date of months ``1..months``: ``end`` = k months after as_of, ``mid`` = halfway."""
    ends = [add_months(as_of, k) for k in range(1, months + 1)]
    if timing == "end":
        return tuple(ends)
    starts = [as_of, *ends[:-1]]
    return tuple(s + timedelta(days=(e - s).days // 2) for s, e in zip(starts, ends, strict=True))


class IncomeValuer:
    """Income approach (direct, split, excess earnings, incremental).

    Parameters
    ----------
    income_form : {"excess_earnings", "direct", "split", "incremental", "royalty"} or None
        None: ``"excess_earnings"``, or ``"incremental"`` without a product-operation right.
    revenue_share : float or None
        Part of revenue earned by the data asset, in [0, 1]; None: the form's default.
    tax_rate : float
        Income tax rate, decimal in [0, 1). Default 0.25 (PRC enterprise income tax).
    cost_ratio : float or None
        Operating costs as a fraction of revenue, [0, 1]; None: from recurring costs.
    economic_life_months : int or None
        Months of cash flow, >= 1; None: the decay horizon. Capped by rights and contract terms.
    contract_term_months : int or None
        Remaining term of the licence contracts, months.
    half_life_months : float or None
        Obsolescence half-life in months, > 0; None: from timeliness and refresh profile.
    discount_rate : float or None
        Flat annual effective rate (ACT/365F, annual compounding), in (-1, 1); replaces
        the curve and the risk premium when given.
    risk_premium : float or None
        Spread over the market curve, decimal; None: 0.08.
    timing : {"end", "mid"}
        When month ``k``'s cash flow is paid. Default ``"end"``.
    royalty_rate : float or None
        Royalty form: licence fee as a fraction of revenue, [0, 1]; None: 0.10 (flagged).
    contributory_charge_rate : float
        Excess earnings: contributory-asset charges as a fraction of revenue, [0, 1].
    without_revenue_ratio : float
        Incremental: revenue without the data as a fraction of revenue with it, [0, 1].
    trend_damping : float
        Monthly damping of forecast growth beyond the data, (0, 1]. Default 0.95.
    max_life_months : int
        Cap on a defaulted economic life (not on a given one), months. Default 60.
    """

    params_schema: ClassVar[Mapping[str, Constraint]] = {
        "income_form": OneOf(INCOME_FORMS, optional=True),
        "royalty_rate": Number(0.0, 1.0, optional=True),
        "revenue_share": Number(0.0, 1.0, optional=True),
        "tax_rate": Number(0.0, 1.0, hi_open=True),
        "cost_ratio": Number(0.0, 1.0, optional=True),
        "economic_life_months": Number(1, MAX_LIFE_MONTHS, integer=True, optional=True),
        "contract_term_months": Number(1, MAX_LIFE_MONTHS, integer=True, optional=True),
        "half_life_months": Number(MIN_HALF_LIFE_MONTHS, optional=True),
        "discount_rate": Number(-1.0, 1.0, lo_open=True, hi_open=True, optional=True),
        "risk_premium": Number(-1.0, 1.0, lo_open=True, hi_open=True, optional=True),
        "timing": OneOf(("end", "mid")),
        "contributory_charge_rate": Number(0.0, 1.0),
        "without_revenue_ratio": Number(0.0, 1.0),
        "trend_damping": Number(0.0, 1.0, lo_open=True),
        "max_life_months": Number(1, MAX_LIFE_MONTHS, integer=True),
    }

    def __init__(
        self,
        *,
        income_form: str | None = None,
        royalty_rate: float | None = None,
        revenue_share: float | None = None,
        tax_rate: float = DEFAULT_TAX_RATE,
        cost_ratio: float | None = None,
        economic_life_months: int | None = None,
        contract_term_months: int | None = None,
        half_life_months: float | None = None,
        discount_rate: float | None = None,
        risk_premium: float | None = None,
        timing: str = "end",
        contributory_charge_rate: float = DEFAULT_CONTRIBUTORY_CHARGE_RATE,
        without_revenue_ratio: float = DEFAULT_WITHOUT_REVENUE_RATIO,
        trend_damping: float = DEFAULT_TREND_DAMPING,
        max_life_months: int = DEFAULT_MAX_LIFE_MONTHS,
    ) -> None:
        self.income_form = income_form
        self.royalty_rate = royalty_rate
        self.revenue_share = revenue_share
        self.tax_rate = tax_rate
        self.cost_ratio = cost_ratio
        self.economic_life_months = economic_life_months
        self.contract_term_months = contract_term_months
        self.half_life_months = half_life_months
        self.discount_rate = discount_rate
        self.risk_premium = risk_premium
        self.timing = timing
        self.contributory_charge_rate = contributory_charge_rate
        self.without_revenue_ratio = without_revenue_ratio
        self.trend_damping = trend_damping
        self.max_life_months = max_life_months

    def plan(
        self,
        inputs: ValuationInputs,
        *,
        as_of: date,
        market: MarketData,
        clean: CleanSignals | None = None,
    ) -> IncomePlan:
        """Build the deterministic schedule (forecast, life, decay, discounting).

        ``clean``: the signals already cleaned (`valuation.signals.clean_signals` of
        ``inputs.signals`` at ``as_of`` in the valuation currency), so that a valuation
        cleans them once; default: cleaned here.

        Raises
        ------
        InsufficientDataError
            Not enough revenue (or usage and revenue) history to forecast.
        ConventionError
            A bad hyperparameter, or a market curve in another currency or at another date.
        """
        p = check_params(self)
        if p["discount_rate"] is None and market.currency != inputs.currency:
            raise ConventionError(
                f"The `market.currency` must be the valuation currency {inputs.currency}. "
                f"Got {market.currency}.",
                field="currency",
            )
        if clean is None:
            clean = clean_signals(inputs.signals, as_of=as_of, currency=inputs.currency)
        fit = revenue_forecast(clean, method="income").with_damping(p["trend_damping"])
        asset = inputs.asset
        form = _income_form(p["income_form"], asset)
        if p["half_life_months"] is None:
            half_life = default_half_life_months(asset)
            hl_source = "timeliness and refresh profile"
        else:
            half_life = float(p["half_life_months"])
            hl_source = "given"
        limits: dict[str, int] = {}
        if p["economic_life_months"] is not None:
            limits["economic_life_months"] = int(p["economic_life_months"])
        else:
            limits["decay_horizon"] = decay_horizon_months(half_life)
            limits["max_life"] = int(p["max_life_months"])
        if asset.rights.term_months is not None:
            limits["rights_term"] = asset.rights.term_months
        if p["contract_term_months"] is not None:
            limits["contract_term"] = int(p["contract_term_months"])
        life = min(limits.values())
        binding = min(limits, key=lambda k: (limits[k], k))
        expected = fit.expected_revenue(as_of, life)
        if p["cost_ratio"] is None:
            occ = cost_occurrences(inputs.costs, as_of=as_of, currency=inputs.currency)
            first_year = float(expected[: min(12, life)].mean())
            if occ.monthly_run_rate > 0 and first_year > 0:
                cost_ratio = min(max(occ.monthly_run_rate / first_year, 0.0), MAX_COST_RATIO)
                cr_source = "run-rate of recurring costs over the 12 months before as_of / first-year mean revenue"
            else:
                cost_ratio = DEFAULT_COST_RATIO
                cr_source = "default"
        else:
            cost_ratio = float(p["cost_ratio"])
            cr_source = "given"
        share = (
            float(p["revenue_share"])
            if p["revenue_share"] is not None
            else DEFAULT_REVENUE_SHARE[form]
        )
        base = share * (1.0 - cost_ratio) * (1.0 - p["tax_rate"])
        royalty_rate = (
            DEFAULT_ROYALTY_RATE if p["royalty_rate"] is None else float(p["royalty_rate"])
        )
        if form == "excess_earnings":
            kappa = base - p["contributory_charge_rate"]
        elif form == "incremental":
            kappa = base * (1.0 - p["without_revenue_ratio"])
        elif form == "royalty":
            kappa = share * royalty_rate * (1.0 - p["tax_rate"])
        else:
            kappa = base
        kappa = max(kappa, 0.0)
        dates = payment_dates(as_of, life, p["timing"])
        assumptions: dict[str, Any] = {
            "income_form": form,
            "income_form_source": (
                "given"
                if p["income_form"] is not None
                else "default"
                if asset.rights.product_operation
                else "no product_operation right: the holder's own use"
            ),
            "revenue_share": share,
            "tax_rate": p["tax_rate"],
            "cash_flows": "post-tax" if p["tax_rate"] > 0 else "pre-tax (tax_rate 0)",
            "cost_ratio": cost_ratio,
            "cost_ratio_source": cr_source,
            "max_life_months": int(p["max_life_months"]),
            "economic_life_months": life,
            "economic_life_binding": binding,
            "half_life_months": half_life,
            "half_life_source": hl_source,
            "timing": p["timing"],
            "trend_damping": p["trend_damping"],
            "forecast": fit.source,
        }
        if form == "excess_earnings":
            assumptions["contributory_charge_rate"] = p["contributory_charge_rate"]
        if form == "incremental":
            assumptions["without_revenue_ratio"] = p["without_revenue_ratio"]
        if form == "royalty":
            assumptions["royalty_rate"] = royalty_rate
            assumptions["royalty_rate_source"] = "default" if p["royalty_rate"] is None else "given"
            del assumptions["cost_ratio"], assumptions["cost_ratio_source"]
        if p["discount_rate"] is not None:
            dfs = flat_annual_discount_factors(as_of, dates, float(p["discount_rate"]))
            assumptions["discount_rate"] = float(p["discount_rate"])
            assumptions["discounting"] = "flat annual effective, ACT/365F, annual compounding"
        else:
            premium = (
                DEFAULT_RISK_PREMIUM if p["risk_premium"] is None else float(p["risk_premium"])
            )
            curve = market.with_risk_premium(premium)
            dfs = curve.discount_factors(dates, from_date=as_of)
            assumptions["risk_premium"] = premium
            assumptions["discounting"] = "market curve + risk premium"
            assumptions["curve"] = market.as_dict()
        return IncomePlan(
            dates=dates,
            expected_revenue=expected,
            kappa=kappa,
            decay=decay_factors(life, half_life),
            discount_factors=dfs,
            fit=fit,
            half_life_months=half_life,
            assumptions=assumptions,
        )

    def value(self, inputs: ValuationInputs, *, as_of: date, market: MarketData) -> MethodResult:
        """Deterministic income-approach value (see the module Notes for the formula)."""
        return self.value_plan(self.plan(inputs, as_of=as_of, market=market), inputs, as_of=as_of)

    def value_plan(self, plan: IncomePlan, inputs: ValuationInputs, *, as_of: date) -> MethodResult:
        """Value a plan built by `plan` (the engine builds it once and simulates the same one).

        The income-approach value of a plan built by `plan` (the engine builds it once and simulates
        the same one).
        """
        value = plan.value
        if not math.isfinite(value):
            raise CalibrationError(
                "The income approach produced a non-finite value; check the forecast "
                f"({plan.fit.model}) and the discounting.",
                field="signals",
            )
        diagnostics = {
            "fit": plan.fit.describe(),
            "first_year_revenue": float(plan.expected_revenue[:12].sum()),
            "kappa": plan.kappa,
            "undiscounted_cash_flows": float(plan.cash_flows.sum()),
            "first_payment_date": plan.dates[0].isoformat(),
            "last_payment_date": plan.dates[-1].isoformat(),
            "warnings": income_warnings(plan),
        }
        return MethodResult("income", value, inputs.currency, as_of, plan.assumptions, diagnostics)


def _income_form(given: str | None, asset: Any) -> str:
    """Choose the income form: the given one, else the default.

    Own-use forms only without a product-operation right (see the module Notes).
    """
    if asset.rights.product_operation:
        return DEFAULT_INCOME_FORM if given is None else given
    if given is None:
        return "incremental"
    if given not in OWN_USE_FORMS:
        raise ConventionError(
            f"The `assumptions.income_form` must be one of {', '.join(OWN_USE_FORMS)} for an asset "
            "without `rights.product_operation`: its holder may not sell data products to third "
            f"parties, so their revenue cannot be credited to the data. Got {given!r}.",
            field="assumptions.income_form",
        )
    return given


def income_warnings(plan: IncomePlan) -> list[dict[str, str]]:
    """Return the ``level_shift`` and ``default_assumption`` warnings of a plan.

    ``level_shift`` when the forecast follows a shift in the latest months; ``default_assumption``
    when the cost ratio fell back to its default.
    """
    out: list[dict[str, str]] = []
    shift = plan.fit.level_shift
    if shift:
        k = int(shift["months"])
        ratio = float(shift["ratio"])
        out.append(
            {
                "code": "level_shift",
                "message": f"The last {k} month(s) of {plan.fit.source} lie at {ratio:.0%} of the fitted "
                "trend; the forecast starts from that new level.",
            }
        )
    a = plan.assumptions
    if a.get("income_form_source", "").startswith("no product_operation"):
        out.append(
            {
                "code": "default_assumption",
                "message": "income_form: the asset holds no product-operation right, so third-party "
                "revenue is not credited; the income approach values the holder's own use "
                "by the incremental form.",
            }
        )
    if a.get("royalty_rate_source") == "default":
        out.append(
            {
                "code": "default_assumption",
                "message": f"royalty_rate: no royalty rate was given; the default "
                f"{a['royalty_rate']:.0%} of revenue is used.",
            }
        )
    if plan.assumptions.get("cost_ratio_source") == "default":
        out.append(
            {
                "code": "default_assumption",
                "message": f"cost_ratio: no recurring cost was active in the 12 months before as_of; "
                f"the default {plan.assumptions['cost_ratio']:.0%} is used.",
            }
        )
    return out


def annuity_factor(rate: float, periods: int) -> float:
    """Present value of 1 per period for ``periods`` periods at ``rate`` per period, in arrears.

    ``(1 - (1 + r) ** -n) / r`` (``n`` when ``r = 0``); used as an identity check of the
    discounting kernel.
    """
    if rate == 0.0:
        return float(periods)
    return float((1.0 - (1.0 + rate) ** -periods) / rate)


def present_value(cash_flows: FloatArray, t_years: FloatArray, rate: float) -> float:
    """``sum cf_i (1 + rate) ** -t_i`` (annual effective rate, year fractions ``t``)."""
    return float(np.asarray(cash_flows) @ np.power(1.0 + rate, -np.asarray(t_years)))
