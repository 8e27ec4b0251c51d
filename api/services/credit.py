"""Credit services: loan quotes.

Beside this module: origination with pledge capacity (`api.services.origination`), the
collateral of a request (`api.services.collateral`), pledge consents
(`api.services.consents`), and booked loans: reading, revaluation, the portfolio
risk view (`api.services.loan_book`).

The routers (`api.routers.loans`) and the demo step call these functions. The numbers
come from the pure library (`credit.*`) fed by `valuation.value_asset`:

1. Each pledged asset's figures come from the record: the valuation the loan relies on
   (``valuation_id`` in the request for that asset, else the asset's latest stored
   valuation on or before ``as_of``), with its value, haircut and lending value as
   stored (the project's one haircut, `valuation.haircut`, in the asset's quote). Its
   Monte Carlo paths, needed for PD and LGD, are re-drawn with the valuation's own
   date, seed, paths and assumptions (a request cannot choose them) and scaled to the
   stored value. The maximum loan is the category's advance rate x value, capped by
   the lending value, less what live loans already use.
   Pledges: LTV, capacity and LGD use every live pledge on the assets (combined LTV);
   a principal above the policy maximum (advance-rate room left) is a 422 naming
   ``principal`` unless the request sets ``policy_exception`` with a reason, which the
   loan stores and the audit records.
2. PD: the borrower's master-scale rating, or a liquidity default on the pledged
   assets' simulated cash flow (times ``revenue_share``): a cash buffer (default 3
   months of average debt service) must be exhausted and arrears last the cure period
   (default 3 months) before a path defaults (`credit.recovery.liquidity_default`); a
   bullet's final principal is left out of the debt service (it is refinanced or met
   from the collateral: that is LGD's business). Annualised for capital.
3. LGD: economic after a workout (`credit.recovery.workout_lgd`): the collateral's value
   at the default month on the same paths (wrong-way risk), after a distressed-sale
   discount, liquidation and workout costs and the time to recover, behind prior pledges,
   floored at 15 %; regulatory (F-IRB, data not eligible: 40 %, 45 % for financial
   institutions) for capital unless the request overrides it.
4. EL = PD x LGD(economic) x EAD (one year), and over the tenor from the hazard; capital
   K from the IRB formula with the regulatory LGD and Basel's effective maturity
   ``M = sum t CF / sum CF`` (1..5 years); RWA = 12.5 K EAD.
5. Rate = funding (flat curve of the currency, or given) + EL spread over the tenor
   (hazard on the surviving balance) + K x (hurdle / (1 - tax) - funding) + costs.

Origination writes the loan, its pledges, an ``origination`` event and an audit entry in
one transaction, after locking the pledged asset rows (`models.credit.lock_assets_for_pledge`)
and checking that live pledges plus the new one stay within each asset's lending value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from api.clock import today
from api.errors import ConflictError, InvalidInputError
from api.schemas.credit import LoanQuoteIn
from api.services.collateral import AssetCollateral, assess_assets
from credit.capital import asset_correlation, irb_capital, risk_weighted_assets
from credit.collateral import origination_warnings
from credit.lgd import downturn_lgd, regulatory_lgd
from credit.loans import loan_terms, terms_schedule
from credit.pd import annualise_pd, pd_from_rating
from credit.pricing import (
    effective_maturity,
    funding_rate_from_discount_factor,
    price_loan,
    tenor_expected_loss,
)
from credit.recovery import DEFAULT_WORKOUT_RATE, liquidity_default, workout_lgd
from models.db import row_id
from valuation.conventions import (
    Compounding,
    DayCount,
    month_index,
    parse_currency,
)
from valuation.errors import ValuationError
from valuation.haircut import DEFAULT_LIQUIDATION_COST, DEFAULT_LIQUIDATION_HORIZON_MONTHS
from valuation.market import MarketData, currency_defaults

#: Liquidation horizon and cost of a data asset: the quote defaults of `valuation.haircut`
#: (the haircut itself comes from the stored valuation's quote).
LIQUIDATION_HORIZON_MONTHS = DEFAULT_LIQUIDATION_HORIZON_MONTHS
LIQUIDATION_COST = DEFAULT_LIQUIDATION_COST
#: Basel PD floor applied to every PD used for EL and capital.
PD_FLOOR = 0.0005
PORTFOLIO_MC_PATHS = 50_000
#: What each part of the quoted rate is (shown with every quote).
RATE_BASIS = {
    "funding": "the bank's funding rate to maturity (given, or the currency's flat curve)",
    "expected_loss": "EL spread: hazard of the one-year PD over the payment periods x economic LGD, "
    "on the surviving balance",
    "capital": "IRB K (regulatory LGD, effective maturity) x (hurdle / (1 - tax) - funding)",
    "costs": "operating costs per year",
}
MAX_RECURSION_CONTRIBUTIONS = 150


def funding_curve(as_of: date, currency: str) -> MarketData:
    """A bank's default funding curve: the currency's risk-free rate plus the funding spread
    (`valuation.market.DEFAULT_MARKET_DATA`); a 422 naming ``funding_rate`` when the table
    has no row for the currency."""
    rate = currency_defaults(currency, field="funding_rate").funding_rate
    return MarketData.flat_rate(
        as_of, rate, currency=currency, day_count=DayCount.ACT_365F, compounding=Compounding.ANNUAL
    )


# ----------------------------------------------------------------------------- analytics


@dataclass
class LoanAnalytics:
    principal: float
    currency: str
    as_of: date
    start_date: date
    collateral: list[AssetCollateral]
    schedule: pd.DataFrame
    pd: float
    pd_source: str
    pd_std_error: float | None
    lgd: float
    lgd_economic: float
    lgd_regulatory: float
    ead: float
    expected_loss: float
    capital_k: float
    capital: float
    rwa: float
    correlation: float
    rate: dict[str, float]
    warnings: list[str]
    paths: int
    seed: int
    effective_maturity_years: float = 1.0
    pd_tenor: float = 0.0
    expected_loss_tenor: float = 0.0
    lgd_unfloored: float = 0.0
    lgd_floor: float = 0.0
    prior_pledged: float = 0.0
    policy_exception: str | None = None
    pd_definition: str = ""
    lgd_definition: str = ""

    @property
    def combined_ltv(self) -> float:
        """(This loan + every live pledge on the assets) / collateral value."""
        v = self.collateral_value
        return (self.principal + self.prior_pledged) / v if v > 0 else math.inf

    @property
    def policy_ltv(self) -> float:
        """The policy's combined LTV limit: the assets' maximum loans / collateral value."""
        v = self.collateral_value
        return sum(c.max_loan for c in self.collateral) / v if v > 0 else 0.0

    @property
    def collateral_value(self) -> float:
        return sum(c.value for c in self.collateral)

    @property
    def valuation_id(self) -> int:
        """The valuation relied on for the first pledged asset (each asset's is in ``collateral``)."""
        return self.collateral[0].valuation_id

    @property
    def lending_value(self) -> float:
        return sum(c.lending_value for c in self.collateral)

    @property
    def max_principal(self) -> float:
        return max_principal(self.collateral)

    @property
    def haircut(self) -> float:
        v = self.collateral_value
        return 1.0 - self.lending_value / v if v > 0 else 1.0


def max_principal(
    collateral: Sequence[AssetCollateral], pledged: dict[int, Decimal] | None = None
) -> float:
    """Policy maximum: the advance-rate room left on every asset, ``sum max(0, adv x LV - pledged)``,
    each no more than the owner's consent left on another tenant's asset."""
    total = 0.0
    for c in collateral:
        used = c.pledged if pledged is None else float(pledged.get(int(c.asset.id), Decimal(0)))  # type: ignore[arg-type]
        room = max(0.0, c.max_loan - used)
        if c.consent is not None:
            room = min(room, max(0.0, c.consent - c.pledged_own))
        total += room
    return total


def analyze(session: Session, body: LoanQuoteIn, tenant: str | None = None) -> LoanAnalytics:
    """Everything a quote shows; writes nothing."""
    currency = parse_currency(body.currency)
    as_of = body.as_of or today()
    start = body.start_date or as_of
    if start < as_of:
        raise InvalidInputError("The `start_date` must not be before `as_of`.", field="start_date")
    # validate the loan terms before any heavy work (errors name the field)
    probe = loan_terms(
        1.0,
        0.05,
        start,
        body.tenor_months,
        body.amortization,
        body.frequency_months,
        body.day_count,
        body.calendar,
    )
    if body.borrower.rating is not None:
        try:
            rating_pd: float | None = pd_from_rating(body.borrower.rating)
        except ValuationError as exc:
            raise InvalidInputError(str(exc), field="borrower.rating") from None
        given_source = "rating"
    elif body.borrower.pd is not None:
        rating_pd, given_source = float(body.borrower.pd), "given"
    else:
        rating_pd, given_source = None, "revenue"
    collateral = assess_assets(
        session,
        body.asset_ids,
        as_of=as_of,
        currency=currency,
        valuation_id=body.valuation_id,
        tenant=tenant,
    )
    room = max_principal(collateral)
    prior = sum(c.pledged for c in collateral)
    principal = float(body.principal) if body.principal is not None else room
    if principal <= 0:
        raise ConflictError("The pledged assets have no lending capacity left.")
    exception = body.policy_exception.reason if body.policy_exception is not None else None
    value_total = sum(c.value for c in collateral)
    if principal > room * (1 + 1e-12) + 0.005 and exception is None:
        limit_ltv = sum(c.max_loan for c in collateral) / value_total
        raise InvalidInputError(
            f"The `principal` {principal:,.2f} exceeds the policy maximum {room:,.2f}: combined LTV "
            f"{(principal + prior) / value_total:.2%} (with {prior:,.2f} already pledged on these assets) "
            f"is above the policy LTV {limit_ltv:.2%} (advance rate x value, capped by the lending value). "
            "Lower it, or set `policy_exception` with a reason.",
            field="principal",
        )
    maturity = probe.maturity_date
    t_mat = max((maturity - as_of).days / 365.0, 1.0 / 365.0)
    if body.funding_rate is not None:
        funding = float(body.funding_rate)
    else:
        df = float(funding_curve(as_of, currency).discount_factors([maturity])[0])
        funding = funding_rate_from_discount_factor(df, t_mat)
    # the contractual rate depends on PD and LGD, which for a revenue-based borrower depend
    # on the debt service, which depends on the rate: iterate to a fixed point
    rate = funding + 0.03
    lgd_reg = regulatory_lgd(
        financial_institution=body.borrower.financial_institution, override=body.lgd
    )
    revenue = np.asarray(
        sum(c.revenue for c in collateral) * body.borrower.revenue_share, dtype=np.float64
    )
    months_sim = revenue.shape[1]
    for _ in range(6):
        sched = terms_schedule(
            loan_terms(
                principal,
                rate,
                start,
                body.tenor_months,
                body.amortization,
                body.frequency_months,
                body.day_count,
                body.calendar,
            )
        )
        pay_month = np.array([month_index(d) - month_index(as_of) for d in sched["date"]])
        if pay_month.max() > months_sim:
            raise InvalidInputError(
                f"The `tenor_months` reaches beyond the {months_sim}-month valuation horizon.",
                field="tenor_months",
            )
        ds = np.zeros(int(pay_month.max()))
        service_due = (sched["interest"] + sched["principal"]).to_numpy()
        if body.amortization == "bullet":
            service_due = sched["interest"].to_numpy()
        np.add.at(ds, pay_month - 1, service_due)
        opening = np.concatenate([[principal], sched["balance"].to_numpy()[:-1]])
        # outstanding (EAD) at each month: the opening balance of the period the month falls in
        period_of_month = np.searchsorted(pay_month, np.arange(1, ds.size + 1), side="left")
        month_ead = opening[np.minimum(period_of_month, opening.size - 1)]
        liq = liquidity_default(
            revenue,
            ds,
            cash_buffer=body.borrower.cash_buffer,
            cure_months=body.borrower.cure_months,
        )
        default_month = liq.default_month  # 0-based month column, -1 none
        if rating_pd is not None:
            pd_1y, pd_source, pd_se = rating_pd, given_source, None
        else:
            pd_1y = annualise_pd(min(liq.pd, 0.999), max(ds.size, 1))
            pd_source, pd_se = "revenue", liq.std_error
        pd_1y = max(pd_1y, PD_FLOOR)
        # collateral at default on each path (value at the default month), EAD at that month
        months_at = np.where(default_month >= 0, default_month + 1, min(ds.size, months_sim - 1))
        coll = np.zeros(revenue.shape[0])
        for m in np.unique(months_at):
            sel = months_at == m
            coll[sel] = sum(c.value_paths(int(m))[sel] for c in collateral)
        ead_path = month_ead[np.clip(months_at - 1, 0, ds.size - 1)]
        if rating_pd is not None:
            # rating-based PD: default paths are the worst revenue paths in PD proportion
            k = max(1, int(round(pd_1y * revenue.shape[0])))
            order = np.argsort(liq.min_dscr, kind="stable")
            defaulted = np.zeros(revenue.shape[0], dtype=np.bool_)
            defaulted[order[:k]] = True
        else:
            defaulted = liq.defaulted
        workout = workout_lgd(
            ead_path,
            coll,
            defaulted,
            prior_claims=prior,
            distressed_discount=body.distressed_discount,
            liquidation_cost=LIQUIDATION_COST,
            workout_cost=body.workout_cost,
            time_to_recover_months=body.time_to_recover_months,
            lgd_floor=body.lgd_floor,
        )
        lgd_econ = downturn_lgd(workout.lgd) if body.downturn_lgd else workout.lgd
        t_pay = np.array([(d - as_of).days / 365.0 for d in sched["date"]])
        m_eff = effective_maturity(t_pay, (sched["interest"] + sched["principal"]).to_numpy())
        k_cap = float(irb_capital(pd_1y, lgd_reg, m_eff, body.borrower.sales_meur))
        pd_tenor, el_rate = tenor_expected_loss(pd_1y, lgd_econ, t_pay, opening)
        pricing = price_loan(
            pd_1y,
            lgd_econ,
            k_cap,
            funding,
            hurdle_rate=body.hurdle_rate,
            cost_rate=body.cost_rate,
            tax_rate=body.tax_rate,
            expected_loss_rate=el_rate,
        )
        if abs(pricing.total - rate) < 1e-10:
            break
        rate = pricing.total
    ead = principal
    warnings = list(origination_warnings(principal, value_total, body.tenor_months))
    if exception is not None and principal > room * (1 + 1e-12):
        warnings.append(
            f"principal {principal:,.2f} exceeds the policy maximum {room:,.2f}: policy exception "
            f"({exception})"
        )
    if workout.n_default_paths == 0 and rating_pd is None:
        warnings.append(
            "no simulated path defaults: LGD is the workout formula over every path, floored"
        )
    if prior > 0:
        warnings.append(
            f"{prior:,.2f} already pledged on these assets ranks ahead of this loan in recovery"
        )
    if rating_pd is None:
        buffer = (
            "given" if body.borrower.cash_buffer is not None else "3 months of average debt service"
        )
        pd_definition = (
            f"liquidity default on the revenue paths: cash buffer ({buffer}) exhausted and arrears "
            f"for {body.borrower.cure_months} months (cure period); PD over the tenor annualised at "
            "a constant hazard"
        )
    else:
        pd_definition = (
            f"one-year PD from the {pd_source}; for LGD the default paths are the worst "
            f"{pd_1y:.2%} of revenue paths by their lowest monthly debt-service coverage"
        )
    lgd_definition = (
        f"workout LGD on the default paths: collateral at default x (1 - distressed discount "
        f"{body.distressed_discount:.0%}) x (1 - liquidation cost {LIQUIDATION_COST:.0%}) discounted over "
        f"{body.time_to_recover_months} months at {DEFAULT_WORKOUT_RATE:.0%}, behind prior pledges, less workout cost "
        f"{body.workout_cost:.0%} of EAD; floor {body.lgd_floor:.0%} (Basel III A-IRB floor for other "
        "physical collateral, a conservative analogue: data is not eligible collateral)"
        + ("; downturn mapping applied" if body.downturn_lgd else "")
    )
    return LoanAnalytics(
        principal=principal,
        currency=currency,
        as_of=as_of,
        start_date=start,
        collateral=collateral,
        schedule=sched,
        pd=pd_1y,
        pd_source=pd_source,
        pd_std_error=pd_se,
        lgd=lgd_econ,
        lgd_economic=lgd_econ,
        lgd_regulatory=lgd_reg,
        ead=ead,
        expected_loss=pd_1y * lgd_econ * ead,
        capital_k=k_cap,
        capital=k_cap * ead,
        rwa=risk_weighted_assets(k_cap, ead),
        correlation=float(asset_correlation(pd_1y, body.borrower.sales_meur)),
        rate=pricing.as_dict(),
        warnings=warnings,
        paths=collateral[0].paths,
        seed=collateral[0].seed,
        effective_maturity_years=m_eff,
        pd_tenor=pd_tenor,
        expected_loss_tenor=pd_tenor * lgd_econ * ead,
        lgd_unfloored=workout.unfloored,
        lgd_floor=workout.floor,
        prior_pledged=prior,
        policy_exception=exception,
        pd_definition=pd_definition,
        lgd_definition=lgd_definition,
    )


def quote_view(a: LoanAnalytics) -> dict[str, Any]:
    """The quote response (the API contract fields plus per-asset detail)."""
    v = a.collateral_value
    return {
        "currency": a.currency,
        "as_of": a.as_of,
        "principal": a.principal,
        "lending_value": a.lending_value,
        "haircut": a.haircut,
        "max_principal": a.max_principal,
        "collateral_value": v,
        "ltv": a.principal / v if v > 0 else math.inf,
        "pd": a.pd,
        "pd_source": a.pd_source,
        "pd_std_error": a.pd_std_error,
        "lgd": a.lgd,
        "lgd_regulatory": a.lgd_regulatory,
        "ead": a.ead,
        "expected_loss": a.expected_loss,
        "capital": a.capital,
        "capital_k": a.capital_k,
        "rwa": a.rwa,
        "asset_correlation": a.correlation,
        "rate": a.rate,
        "valuation_id": a.valuation_id,
        "combined_ltv": a.combined_ltv,
        "policy_ltv": a.policy_ltv,
        "policy_exception": a.policy_exception,
        "effective_maturity_years": a.effective_maturity_years,
        "pd_tenor": a.pd_tenor,
        "expected_loss_tenor": a.expected_loss_tenor,
        "lgd_unfloored": a.lgd_unfloored,
        "lgd_floor": a.lgd_floor,
        "pd_definition": a.pd_definition,
        "lgd_definition": a.lgd_definition,
        "rate_basis": RATE_BASIS,
        "assets": [
            {
                "asset_id": row_id(c.asset),
                "valuation_id": c.valuation_id,
                "category": c.asset.category,
                "value": c.value,
                "haircut": c.haircut,
                "lending_value": c.lending_value,
                "advance_rate": c.advance_rate,
                "max_loan": c.max_loan,
                "pledged": c.pledged_own,
                "available_capacity": c.available,
            }
            for c in a.collateral
        ],
        "warnings": a.warnings,
        "paths": a.paths,
        "seed": a.seed,
    }


def quote_loan(session: Session, body: LoanQuoteIn, tenant: str | None = None) -> dict[str, Any]:
    """``POST /v1/loans/quote``: read-only."""
    try:
        return quote_view(analyze(session, body, tenant))
    finally:
        session.rollback()


# ----------------------------------------------------------------------------- origination
