"""A book of positions to stress: data assets, the loans they secure, and tranches.

Plain frozen dataclasses; the shell builds them from the database (a tenant's assets,
loans and securitizations), the benchmark builds them synthetically, and an adapter
(`risk.adapters`) builds an asset position from a `valuation` Monte Carlo result.

Units: money in major units of the book's currency; rates, shares, probabilities and
hazards are decimals; hazards and growth rates are per year; months are calendar months.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from credit.collateral import DEFAULT_LIQUIDATION_COST as _CREDIT_LIQUIDATION_COST
from credit.monitoring import MonitoringThresholds
from valuation._typing import FloatArray
from valuation.conventions import parse_currency
from valuation.errors import ConventionError

#: Default liquidation cost and margin-call LTV: the credit layer's (`credit.collateral.
#: DEFAULT_LIQUIDATION_COST`, 10 % of value; `credit.monitoring.MonitoringThresholds`,
#: margin call at an LTV of 70 %), so that stress and monitoring agree.
DEFAULT_LIQUIDATION_COST = _CREDIT_LIQUIDATION_COST
DEFAULT_MARGIN_CALL_LTV = MonitoringThresholds().margin_call
#: Default asset correlation of a securitized pool when none is given: the middle of
#: Basel's corporate IRB range (12 %-24 %, CRE31.5).
DEFAULT_POOL_CORRELATION = 0.18


def _bad(obj: str, name: str, rule: str, value: object, where: str = "") -> ConventionError:
    f = f"{where}{name}"
    return ConventionError(f"The `{name}` of `{obj}` must be {rule}. Got {value!r}.", field=f)


def _finite(
    obj: str,
    name: str,
    value: object,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(obj, name, "a finite number", value)
    v = float(value)
    if v < lo or v > hi or (lo_open and v == lo):
        rel = ">" if lo_open else ">="
        raise _bad(obj, name, f"{rel} {lo} and <= {hi}", value)
    return v


@dataclass(frozen=True, slots=True, eq=False)
class AssetPosition:
    """A data asset held as collateral, with the inputs of its revaluation.

    The asset earns a monthly cash flow (the part of revenue attributable to the data,
    after costs) ``R_k = revenue_0 * exp((growth_rate - volatility**2 / 2) t_k +
    volatility W(t_k)) * 0.5 ** (k / half_life_months)`` for months ``k = 1..
    economic_life_months`` until a sudden obsolescence at an exponential time with annual
    hazard ``obsolescence_hazard``, discounted on the risk-free curve plus ``risk_premium``.
    When ``revenue_paths`` is given (e.g. from `valuation`'s Monte Carlo) those paths are
    used instead of simulating.

    Parameters
    ----------
    id : str
        Asset id.
    category : str
        Data category (``consumer``, ``industrial``, ``geospatial``, ``financial``, ...).
    currency : str
        ISO 4217 code.
    revenue_0 : float
        Current monthly attributable cash flow, major units (>= 0).
    growth_rate : float
        Annual log growth of the cash flow, decimal.
    volatility : float
        Annual volatility of log cash flow, decimal (>= 0).
    obsolescence_hazard : float
        Annual hazard of sudden obsolescence, decimal per year (>= 0).
    half_life_months : float
        Obsolescence half-life in months (> 0; ``inf`` for none).
    economic_life_months : int
        Months of remaining economic life (>= 1).
    risk_premium : float
        Continuously compounded spread over the risk-free zero curve, decimal.
    cross_border : bool
        Whether the asset holds the cross-border transfer right.
    liquidation_cost : float
        Cost of a forced sale, share of value (decimal in [0, 1)).
    revenue_paths : array (n_paths, n_months), optional
        Simulated monthly attributable cash flows; overrides the parametric model.
    """

    id: str
    category: str
    currency: str
    revenue_0: float
    growth_rate: float = 0.0
    volatility: float = 0.0
    obsolescence_hazard: float = 0.0
    half_life_months: float = math.inf
    economic_life_months: int = 60
    risk_premium: float = 0.0
    cross_border: bool = False
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST
    revenue_paths: FloatArray | None = None

    def __post_init__(self) -> None:
        o = "AssetPosition"
        if not isinstance(self.id, str) or not self.id:
            raise _bad(o, "id", "a non-empty string", self.id)
        if not isinstance(self.category, str) or not self.category:
            raise _bad(o, "category", "a non-empty string", self.category)
        parse_currency(self.currency)
        _finite(o, "revenue_0", self.revenue_0, 0.0)
        _finite(o, "growth_rate", self.growth_rate, -1.0, 1.0)
        _finite(o, "volatility", self.volatility, 0.0, 3.0)
        _finite(o, "obsolescence_hazard", self.obsolescence_hazard, 0.0, 10.0)
        if not (isinstance(self.half_life_months, int | float) and self.half_life_months > 0):
            raise _bad(o, "half_life_months", "> 0 months (inf for none)", self.half_life_months)
        if (
            isinstance(self.economic_life_months, bool)
            or not isinstance(self.economic_life_months, int)
            or not 1 <= self.economic_life_months <= 600
        ):
            raise _bad(o, "economic_life_months", "an integer in 1..600", self.economic_life_months)
        _finite(o, "risk_premium", self.risk_premium, -0.5, 1.0)
        if not isinstance(self.cross_border, bool):
            raise _bad(o, "cross_border", "a boolean", self.cross_border)
        _finite(o, "liquidation_cost", self.liquidation_cost, 0.0, 0.99)
        if self.revenue_paths is not None:
            paths = np.array(self.revenue_paths, dtype=np.float64)
            if (
                paths.ndim != 2
                or paths.size == 0
                or not np.all(np.isfinite(paths))
                or np.any(paths < 0)
            ):
                raise _bad(
                    o,
                    "revenue_paths",
                    "a finite non-negative (n_paths, n_months) array",
                    getattr(paths, "shape", paths),
                )
            paths.setflags(write=False)
            object.__setattr__(self, "revenue_paths", paths)


@dataclass(frozen=True, slots=True)
class LoanPosition:
    """A loan secured by (shares of) data assets.

    Parameters
    ----------
    id : str
        Loan id.
    currency : str
        ISO 4217 code.
    principal : float
        Outstanding principal, major units (> 0).
    pd : float
        One-year probability of default, decimal in (0, 1].
    lgd : float
        Long-run loss given default, decimal in [0, 1] (the regulatory floor, e.g. 0.40
        unsecured: data is not eligible IRB collateral).
    annual_rate : float
        Contractual rate, decimal (continuous-equivalent for valuation).
    maturity_years : float
        Remaining maturity in years (> 0).
    collateral : mapping of str to float
        ``{asset_id: share}``: share of each asset's value pledged to this loan (0..1].
        Empty shares are filled pro rata to principal by `Book` (``None`` values).
    category : str
        Borrower or collateral category, for reporting.
    ead : float, optional
        Exposure at default; the principal when not given.
    margin_call_ltv : float
        LTV above which a margin call is raised (decimal, > 0).
    sales_meur : float, optional
        Borrower's annual sales in EUR million (IRB SME adjustment).
    lgd_regulatory : float, optional
        Regulatory LGD for capital (e.g. Basel's unsecured 40-45 %: data is not eligible
        IRB collateral). Capital then uses ``max(lgd_regulatory, stressed LGD)``; without it,
        the stressed LGD.
    """

    id: str
    currency: str
    principal: float
    pd: float
    lgd: float
    annual_rate: float
    maturity_years: float
    collateral: Mapping[str, float | None] = field(default_factory=dict)
    category: str = ""
    ead: float | None = None
    margin_call_ltv: float = DEFAULT_MARGIN_CALL_LTV
    sales_meur: float | None = None
    lgd_regulatory: float | None = None

    def __post_init__(self) -> None:
        o = "LoanPosition"
        if not isinstance(self.id, str) or not self.id:
            raise _bad(o, "id", "a non-empty string", self.id)
        parse_currency(self.currency)
        _finite(o, "principal", self.principal, 0.0, lo_open=True)
        _finite(o, "pd", self.pd, 0.0, 1.0, lo_open=True)
        _finite(o, "lgd", self.lgd, 0.0, 1.0)
        _finite(o, "annual_rate", self.annual_rate, -0.5, 1.0)
        _finite(o, "maturity_years", self.maturity_years, 0.0, 50.0, lo_open=True)
        _finite(o, "margin_call_ltv", self.margin_call_ltv, 0.0, 100.0, lo_open=True)
        if self.ead is not None:
            _finite(o, "ead", self.ead, 0.0)
        if self.sales_meur is not None:
            _finite(o, "sales_meur", self.sales_meur, 0.0, lo_open=True)
        if self.lgd_regulatory is not None:
            _finite(o, "lgd_regulatory", self.lgd_regulatory, 0.0, 1.0)
        for k, v in dict(self.collateral).items():
            if v is not None:
                _finite(o, f"collateral.{k}", v, 0.0, 1.0, lo_open=True)

    @property
    def exposure(self) -> float:
        """EAD (the principal unless given)."""
        return float(self.principal if self.ead is None else self.ead)


@dataclass(frozen=True, slots=True)
class TranchePosition:
    """A tranche of a securitization of loans of the book.

    Parameters
    ----------
    id : str
        Tranche id.
    securitization_id : str
        The deal it belongs to; tranches of one deal share ``loan_ids``.
    name : str
        Tranche name (``senior``, ``mezzanine``, ``equity``, ...).
    attach, detach : float
        Attachment and detachment as fractions of the pool's EAD (0 <= attach < detach <= 1).
    notional : float
        Tranche notional held, major units (> 0).
    coupon : float
        Annual coupon, decimal (paid monthly).
    maturity_years : float
        Legal final maturity in years (> 0); pool PDs are cumulated over it.
    loan_ids : tuple of str
        Loans in the pool.
    correlation : float
        Asset correlation of the pool (decimal in [0, 1)).
    """

    id: str
    securitization_id: str
    name: str
    attach: float
    detach: float
    notional: float
    coupon: float
    maturity_years: float
    loan_ids: tuple[str, ...]
    correlation: float = DEFAULT_POOL_CORRELATION

    def __post_init__(self) -> None:
        o = "TranchePosition"
        if not isinstance(self.id, str) or not self.id:
            raise _bad(o, "id", "a non-empty string", self.id)
        a = _finite(o, "attach", self.attach, 0.0, 1.0)
        d = _finite(o, "detach", self.detach, 0.0, 1.0)
        if not d > a:
            raise _bad(o, "detach", f"> attach ({a})", d)
        _finite(o, "notional", self.notional, 0.0, lo_open=True)
        _finite(o, "coupon", self.coupon, -0.5, 1.0)
        _finite(o, "maturity_years", self.maturity_years, 0.0, 50.0, lo_open=True)
        _finite(o, "correlation", self.correlation, 0.0, 0.999)
        object.__setattr__(self, "loan_ids", tuple(self.loan_ids))
        if not self.loan_ids:
            raise _bad(o, "loan_ids", "a non-empty pool of loans", self.loan_ids)


@dataclass(frozen=True, slots=True, eq=False)
class Book:
    """Assets, loans and tranches in one currency.

    Validates that ids are unique, that every pledge names an asset of the book and that
    no asset is pledged beyond its whole value; pledges without a share get the asset's
    unallocated share pro rata to the loans' principal.
    """

    currency: str
    assets: tuple[AssetPosition, ...] = ()
    loans: tuple[LoanPosition, ...] = ()
    tranches: tuple[TranchePosition, ...] = ()

    def __post_init__(self) -> None:
        parse_currency(self.currency)
        assets, loans, tranches = tuple(self.assets), tuple(self.loans), tuple(self.tranches)
        groups: list[tuple[str, Sequence[AssetPosition | LoanPosition | TranchePosition]]] = [
            ("assets", assets),
            ("loans", loans),
            ("tranches", tranches),
        ]
        for kind, items in groups:
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    raise ConventionError(
                        f"The `{kind}[{i}].id` of `Book` must be unique. Got {item.id!r} twice.",
                        field=f"{kind}[{i}].id",
                    )
                seen.add(item.id)
                if isinstance(item, TranchePosition):
                    continue
                if item.currency != self.currency:
                    raise ConventionError(
                        f"The `{kind}[{i}].currency` of `Book` must be the book's currency "
                        f"{self.currency}; amounts in different currencies never add. "
                        f"Got {item.currency!r}.",
                        field=f"{kind}[{i}].currency",
                    )
        asset_ids = {a.id for a in assets}
        loan_ids = {ln.id for ln in loans}
        fixed: dict[str, float] = defaultdict(float)
        open_: dict[str, list[int]] = defaultdict(list)
        for i, ln in enumerate(loans):
            for aid, share in ln.collateral.items():
                if aid not in asset_ids:
                    raise ConventionError(
                        f"The `loans[{i}].collateral` of `Book` must name assets of the book. "
                        f"Got {aid!r}.",
                        field=f"loans[{i}].collateral",
                    )
                if share is None:
                    open_[aid].append(i)
                else:
                    fixed[aid] += share
        for aid, total in fixed.items():
            if total > 1.0 + 1e-9:
                raise ConventionError(
                    f"The pledged shares of asset {aid!r} must not exceed its whole value (1). "
                    f"Got {total:.6g}.",
                    field="loans.collateral",
                )
        if open_:
            new = list(loans)
            for aid, idx in open_.items():
                left = max(0.0, 1.0 - fixed.get(aid, 0.0))
                weight = sum(loans[i].principal for i in idx)
                for i in idx:
                    coll = dict(new[i].collateral)
                    coll[aid] = left * loans[i].principal / weight
                    new[i] = replace(new[i], collateral=coll)
            loans = tuple(new)
        for i, t in enumerate(tranches):
            missing = [x for x in t.loan_ids if x not in loan_ids]
            if missing:
                raise ConventionError(
                    f"The `tranches[{i}].loan_ids` of `Book` must name loans of the book. "
                    f"Got {missing[0]!r}.",
                    field=f"tranches[{i}].loan_ids",
                )
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "loans", loans)
        object.__setattr__(self, "tranches", tranches)

    @classmethod
    def build(
        cls,
        currency: str,
        assets: Sequence[AssetPosition] = (),
        loans: Sequence[LoanPosition] = (),
        tranches: Sequence[TranchePosition] = (),
    ) -> Book:
        """Build a book from its positions, each checked."""
        return cls(
            currency=currency, assets=tuple(assets), loans=tuple(loans), tranches=tuple(tranches)
        )

    @property
    def n_positions(self) -> int:
        """Return the number of positions."""
        return len(self.assets) + len(self.loans) + len(self.tranches)
