"""Request and response models of the credit endpoints (loans, revaluation, portfolio risk).

Rates, probabilities and ratios are decimals (0.05 = 5 %); amounts are in major units of
``currency``; dates are ISO ``YYYY-MM-DD``. Day count and calendar names are checked by
the core (`credit.loans`), which reports the offending field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas.admin import UtcDatetime
from models.credit import LoanStatus, PledgeStatus

#: Dates the calendars and curves cover (QuantLib: 1901..2199), leaving room for a
#: 50-year tenor: as_of and start_date must fall in 1901-01-01 .. 2149-12-31.
EARLIEST_DATE = date(1901, 1, 1)
LATEST_DATE = date(2149, 12, 31)


def _in_range(value: date | None) -> date | None:
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(
            f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


BoundedDate = Annotated[date | None, AfterValidator(_in_range)]
#: Largest amount accepted (major units): far above any loan or collateral, far below overflow.
MAX_AMOUNT = 1e15


class BorrowerIn(BaseModel):
    """The borrower: a master-scale ``rating``, ``revenue_based`` (PD from the pledged
    assets' simulated revenue against the loan's debt service), or a one-year ``pd`` the
    bank already has."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="borrower", min_length=1, max_length=200)
    rating: str | None = Field(
        default=None, max_length=10, description="AAA, AA, A, BBB, BB, B or CCC."
    )
    revenue_based: bool = Field(
        strict=True, default=False, description="PD = P(DSCR < 1 within the tenor)."
    )
    pd: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        gt=0.0,
        lt=1.0,
        description="One-year PD, decimal.",
    )
    revenue_share: float = Field(
        strict=True,
        allow_inf_nan=False,
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Part of the simulated data cash flow available for debt service.",
    )
    financial_institution: bool = Field(
        strict=True, default=False, description="Regulatory LGD 45 % instead of 40 %."
    )
    sales_meur: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        gt=0.0,
        description="Annual sales, EUR million (IRB SME adjustment).",
    )
    cash_buffer: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        ge=0.0,
        le=MAX_AMOUNT,
        description="Cash the borrower holds against thin months (liquidity default); default 3 months "
        "of the loan's average debt service.",
    )
    cure_months: int = Field(
        strict=True,
        default=3,
        ge=1,
        le=24,
        description="Consecutive months in arrears that make a default (90 days past due: 3).",
    )

    @model_validator(mode="after")
    def _one_pd_source(self) -> BorrowerIn:
        if (self.rating is not None) + bool(self.revenue_based) + (self.pd is not None) != 1:
            raise ValueError("give exactly one of `rating`, `pd` or `revenue_based: true`")
        return self


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warning: float = Field(strict=True, allow_inf_nan=False, default=0.60, gt=0.0)
    margin_call: float = Field(strict=True, allow_inf_nan=False, default=0.70, gt=0.0)
    liquidation: float = Field(strict=True, allow_inf_nan=False, default=0.85, gt=0.0)


class PolicyExceptionIn(BaseModel):
    """Why a loan above the policy LTV is accepted (stored on the loan and audited)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class LoanQuoteIn(BaseModel):
    """``POST /v1/loans/quote``: how much, at what rate, with what risk."""

    model_config = ConfigDict(extra="forbid")

    asset_ids: list[Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]] = Field(
        min_length=1, max_length=20, description="Data assets to pledge."
    )
    principal: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        gt=0.0,
        le=MAX_AMOUNT,
        description="Requested principal; default the maximum.",
    )
    currency: str = Field(min_length=3, max_length=3)
    tenor_months: int = Field(strict=True, ge=1, le=600)
    amortization: Literal["annuity", "linear", "bullet"]
    frequency_months: Literal[1, 3, 6, 12] = 1
    day_count: str = "ACT/365F"
    calendar: str | None = None
    borrower: BorrowerIn
    as_of: BoundedDate = Field(default=None, description="Valuation date; default today (UTC).")
    start_date: BoundedDate = Field(default=None, description="Disbursement date; default as_of.")
    valuation_id: int | None = Field(
        strict=True,
        default=None,
        ge=1,
        le=2**63 - 1,
        description="The stored valuation relied on for the asset it values; default each asset's "
        "latest on or before as_of. Collateral figures (value, haircut, lending value, "
        "paths) come from the record, never from the request.",
    )
    lgd: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        ge=0.0,
        le=1.0,
        description="Override of the regulatory LGD used for capital.",
    )
    funding_rate: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        gt=-0.05,
        lt=1.0,
        description="Annual funding rate; default from the currency's curve.",
    )
    hurdle_rate: float = Field(strict=True, allow_inf_nan=False, default=0.12, ge=0.0, lt=1.0)
    cost_rate: float = Field(strict=True, allow_inf_nan=False, default=0.005, ge=0.0, lt=1.0)
    downturn_lgd: bool = Field(
        strict=True, default=False, description="Apply the downturn mapping to the economic LGD."
    )
    distressed_discount: float = Field(
        strict=True,
        allow_inf_nan=False,
        default=0.30,
        ge=0.0,
        le=1.0,
        description="Discount of a forced sale of the data asset to its value.",
    )
    workout_cost: float = Field(
        strict=True,
        allow_inf_nan=False,
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Collection and legal costs, share of EAD.",
    )
    time_to_recover_months: int = Field(
        strict=True,
        default=12,
        ge=0,
        le=120,
        description="Months from default to the recovery cash (discounted at 10 %).",
    )
    lgd_floor: float = Field(
        strict=True,
        allow_inf_nan=False,
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Floor of the economic LGD (Basel III A-IRB floor for other physical "
        "collateral, a conservative analogue).",
    )
    tax_rate: float = Field(
        strict=True,
        allow_inf_nan=False,
        default=0.25,
        ge=0.0,
        lt=1.0,
        description="Tax on the lender's profit; the hurdle is grossed up to hurdle / (1 - tax).",
    )
    policy_exception: PolicyExceptionIn | None = Field(
        default=None,
        description="Accept a principal above the policy LTV, with the reason (stored, audited).",
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_upper(cls, value: object) -> object:
        """ISO 4217 codes are compared in capitals: ``"cny"`` and ``"CNY"`` are one request
        (an idempotent replay with either is the same loan)."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("frequency_months", mode="before")
    @classmethod
    def _frequency_is_a_number(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be one of 1, 3, 6, 12 (a JSON number)")
        return value

    @model_validator(mode="after")
    def _distinct_assets(self) -> LoanQuoteIn:
        if len(set(self.asset_ids)) != len(self.asset_ids):
            raise ValueError("`asset_ids` must not repeat an asset")
        return self


class LoanCreateIn(LoanQuoteIn):
    """``POST /v1/loans``: originate; ``principal`` is required."""

    principal: float = Field(strict=True, allow_inf_nan=False, gt=0.0, le=MAX_AMOUNT)


class RevalueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: BoundedDate = Field(
        default=None,
        description="Revaluation date: each asset's latest stored "
        "valuation on or before it; default today.",
    )
    collateral_value: float | None = Field(
        strict=True,
        allow_inf_nan=False,
        default=None,
        ge=0.0,
        le=MAX_AMOUNT,
        description="Use this value instead of revaluing the assets.",
    )
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)


class RatePartsOut(BaseModel):
    funding: float
    expected_loss: float
    capital: float
    costs: float
    total: float


class AssetCollateralOut(BaseModel):
    asset_id: int
    valuation_id: int = Field(description="The stored valuation these figures come from.")
    category: str
    value: float
    haircut: float
    lending_value: float
    advance_rate: float
    max_loan: float
    pledged: float
    available_capacity: float


class LoanQuoteOut(BaseModel):
    currency: str
    as_of: date
    principal: float
    lending_value: float
    haircut: float
    max_principal: float
    collateral_value: float
    ltv: float
    pd: float
    pd_source: str
    pd_std_error: float | None
    lgd: float
    lgd_regulatory: float
    ead: float
    expected_loss: float
    capital: float
    capital_k: float
    rwa: float
    asset_correlation: float
    rate: RatePartsOut
    valuation_id: int = Field(
        description="The valuation relied on (the first pledged asset's; "
        "each asset's is in `assets`)."
    )
    combined_ltv: float = Field(
        description="(principal + live pledges on the assets) / collateral value."
    )
    policy_ltv: float = Field(
        description="The policy's combined LTV limit (advance rate x value, capped by "
        "the lending value, over the collateral value)."
    )
    policy_exception: str | None = Field(description="Reason of an accepted policy exception.")
    effective_maturity_years: float = Field(
        description="Basel effective maturity sum(t CF) / sum(CF), 1..5 years."
    )
    pd_tenor: float = Field(description="PD over the tenor from the one-year PD's hazard.")
    expected_loss_tenor: float = Field(description="PD over the tenor x LGD x EAD.")
    lgd_unfloored: float = Field(description="Workout LGD before the floor.")
    lgd_floor: float
    pd_definition: str
    lgd_definition: str
    rate_basis: dict[str, str] = Field(description="What each part of `rate` is.")
    assets: list[AssetCollateralOut]
    warnings: list[str]
    paths: int = Field(description="Monte Carlo paths of the valuation relied on.")
    seed: int = Field(description="Seed of the valuation relied on.")


class ScheduleRowOut(BaseModel):
    date: date
    interest: float
    principal: float
    balance: float


class LoanEventOut(BaseModel):
    id: int
    kind: str
    as_of: date
    ltv: float
    threshold: float | None
    collateral_value: float
    outstanding: float
    cure_amount: float


class PledgeOut(BaseModel):
    """A pledge of a loan: the asset, the amount of its lending value it takes, and the
    valuation the figures come from."""

    asset_id: int
    amount: float
    asset_value: float
    lending_value: float
    haircut: float
    status: PledgeStatus
    valuation_id: int | None = None


class LoanOut(BaseModel):
    """A loan as booked (``GET /v1/loans/{id}``): its terms, the priced rate in parts, the
    risk figures at origination and its pledges. Amounts in the loan's currency."""

    id: int
    borrower: str
    currency: str
    principal: float
    start_date: date
    tenor_months: int
    amortization: str
    frequency_months: int
    day_count: str
    calendar: str | None = None
    annual_rate: float
    rate_funding: float
    rate_expected_loss: float
    rate_capital: float
    rate_costs: float
    rate: RatePartsOut
    pd: float
    pd_source: str
    rating: str | None = None
    lgd: float
    lgd_economic: float
    lgd_regulatory: float
    ead: float
    expected_loss: float
    capital: float
    rwa: float
    capital_k: float
    collateral_value: float
    lending_value: float
    haircut: float
    ltv: float
    asset_correlation: float
    status: LoanStatus
    paths: int
    seed: int
    as_of: date
    valuation_id: int | None = None
    combined_ltv: float | None = None
    effective_maturity_years: float | None = None
    policy_exception: str | None = None
    created_at: UtcDatetime
    pledges: list[PledgeOut]


class LoanCreatedOut(LoanOut):
    """``POST /v1/loans``: the loan, and what the caller should know about it."""

    warnings: list[str] = Field(default_factory=list)


class LoanList(BaseModel):
    """``GET /v1/loans``: a page of the caller's loans, oldest first."""

    items: list[LoanOut]
    next_cursor: str | None = None


class LoanRiskOut(BaseModel):
    """``GET /v1/loans/{id}/risk``: the loan's risk figures and its monitoring events."""

    loan_id: int
    currency: str
    pd: float
    pd_source: str
    lgd: float
    lgd_regulatory: float
    ead: float
    expected_loss: float
    capital: float
    capital_k: float
    rwa: float
    asset_correlation: float
    ltv: float
    haircut: float
    lending_value: float
    collateral_value: float
    rate: RatePartsOut
    events: list[LoanEventOut]


class LoanEventList(BaseModel):
    """``GET /v1/loans/{id}/events``: a page of events, oldest first."""

    items: list[LoanEventOut]
    next_cursor: str | None = None


class RevalueOut(BaseModel):
    loan_id: int
    as_of: date
    ltv: float
    previous_ltv: float
    collateral_value: float
    outstanding: float
    events: list[LoanEventOut]


class ContributionOut(BaseModel):
    loan_id: int
    expected_loss: float
    var: float | None
    es: float | None


class PortfolioRiskOut(BaseModel):
    method: str
    confidence: float
    currency: str | None
    n_loans: int
    exposure: float
    expected_loss: float
    var: float
    es: float
    economic_capital: float
    contributions: list[ContributionOut]
    seed: int | None = None
    paths: int | None = None


class ConsentIn(BaseModel):
    """``POST /v1/assets/{asset_id}/consents``: the owner lets a lender tenant pledge the asset."""

    model_config = ConfigDict(extra="forbid")

    lender_tenant: str = Field(
        min_length=1,
        max_length=80,
        pattern=r"^\S(.*\S)?$",
        description="The tenant whose loans may pledge the asset.",
    )
    amount: float = Field(
        strict=True,
        allow_inf_nan=False,
        gt=0.0,
        le=MAX_AMOUNT,
        description="Most of the asset's lending value that tenant may pledge.",
    )
    currency: str = Field(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")
    expires_on: Annotated[date, AfterValidator(_in_range)] = Field(
        description="Last day the consent holds (YYYY-MM-DD)."
    )

    @field_validator("currency", mode="before")
    @classmethod
    def _currency_upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class ConsentOut(BaseModel):
    id: int
    asset_id: int
    owner_tenant: str
    lender_tenant: str
    amount: float
    currency: str
    expires_on: date
    created_at: datetime
