"""Request and response models of the products endpoints (securitizations, data notes).

The request models check types only; the rules (contiguous tranches, attach < detach,
known loan ids, borrowing base, ...) are checked by `products.spec.deal_from_dict`,
whose errors come back as 422 problems naming the field in the same dotted form
(``tranches.1.attach``, ``pool.loan_ids.2``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Dates the pricing can handle: QuantLib's calendar ends in 2199 and a deal runs up to 50
#: years, so closing, cut-off and start dates lie in 1901..2149 (as the loans API).
MIN_DATE = date(1901, 1, 1)
MAX_DATE = date(2149, 12, 31)


class LoanIn(_Strict):
    """A loan given inline (instead of by id)."""

    loan_id: str
    balance: float
    annual_rate: float
    tenor_months: int = Field(
        ...,
        validation_alias=AliasChoices("tenor_months", "term_months"),
        description="Tenor in months (the name every loan uses). `term_months` is read as "
        "`tenor_months` for clients written before the names were unified; it is deprecated.",
    )
    amortization: Literal["annuity", "linear", "bullet"] = "annuity"
    pd: float = 0.02
    recovery_rate: float = 0.4
    start_date: date | None = Field(
        None,
        ge=MIN_DATE,
        le=MAX_DATE,
        description="A booked loan: disbursement date; `balance` is then its principal and "
        "`tenor_months` its tenor, and it is pooled at its balance on the cut-off date.",
    )
    frequency_months: int = Field(1, description="Payment frequency in months: 1, 3, 6 or 12.")
    day_count: str = Field("ACT/365F", description="ACT/365F, ACT/360, 30/360 or ACT/ACT.")
    calendar: str | None = Field(None, description="Payment-date calendar, e.g. China.")


class ReceivableIn(_Strict):
    """A data-licence receivable: projected monthly collections from one obligor."""

    receivable_id: str
    cashflows: list[float]
    pd: float = 0.02
    recovery_rate: float = 0.0


class PoolIn(_Strict):
    """The pool: ``loan_ids`` of the caller's loans, inline ``loans`` and/or ``receivables``."""

    loan_ids: list[str | int] | None = None
    loans: list[LoanIn] | None = None
    receivables: list[ReceivableIn] | None = None
    discount_rate: float = Field(
        0.0, description="Annual rate carrying receivables at PV (decimal)."
    )
    prepayment_rate: float = Field(0.0, description="Annual CPR, decimal.")
    recovery_lag_months: int = 0
    collateral_value: float | None = Field(
        None, description="Appraised value for the borrowing base."
    )
    cut_off_date: date | None = Field(
        None,
        ge=MIN_DATE,
        le=MAX_DATE,
        description="Date the loans are pooled at (their outstanding balance then); "
        "default today (UTC) when the pool names `loan_ids`.",
    )


class GuaranteeIn(_Strict):
    guarantor_pd: float
    guarantor_recovery: float = 0.4


class TrancheIn(_Strict):
    """A class of notes (senior first): ``balance`` or ``attach``/``detach``; ``coupon`` or
    ``spread_bp``."""

    name: str
    balance: float | None = None
    attach: float | None = None
    detach: float | None = None
    coupon: float | None = Field(None, description="Fixed annual coupon, decimal.")
    spread_bp: float | None = Field(None, description="Floating spread over the index, bp.")
    discount_spread_bp: float | None = None
    guarantee: GuaranteeIn | None = None
    equity: bool = Field(
        False, description="Most junior class only: it also takes the residual cash."
    )


class ReserveIn(_Strict):
    initial: float = 0.0
    target_rate: float = 0.0
    interest_months: int = 0


class DscrTierIn(_Strict):
    threshold: float
    fraction: float


class DscrTriggerIn(_Strict):
    action: Literal["trap", "sweep"]
    tiers: list[DscrTierIn]


class TriggersIn(_Strict):
    oc_ratio: float | None = None
    cumulative_default: float | None = None
    dscr: list[DscrTriggerIn] = Field(default_factory=list)
    rapid_amortisation_dscr: float | None = None
    dscr_basis: Literal["interest", "cash"] = "interest"
    dscr_window: int = Field(
        3, description="Trailing payment dates the DSCR test sums over (1..24)."
    )


class SecuritizationCreate(_Strict):
    """POST /v1/securitizations."""

    name: str = Field("securitization", max_length=120)
    currency: str = "CNY"
    pool: PoolIn
    tranches: list[TrancheIn]
    senior_fee_rate: float = 0.0
    senior_fee_fixed: float = 0.0
    reserve: ReserveIn = Field(default_factory=ReserveIn)
    principal_rule: Literal["sequential", "pro_rata"] = "sequential"
    triggers: TriggersIn = Field(default_factory=TriggersIn)
    advance_rate: float = 1.0
    clean_up_call: float | None = Field(
        None,
        description="Clean-up call: the pool is bought back once its balance is at or below "
        "this fraction of the initial balance (e.g. 0.1).",
    )


class TrancheOut(BaseModel):
    name: str
    seniority: int
    attach: float
    detach: float
    balance: float
    coupon: float | None = None
    spread_bp: float | None = None


class SecuritizationPublic(BaseModel):
    id: int
    name: str
    currency: str
    pool_balance: float
    note_balance: float
    assets: int
    tranches: list[TrancheOut]
    created_at: datetime


class SecuritizationList(BaseModel):
    items: list[SecuritizationPublic]
    next_cursor: str | None = None


class PriceRequest(_Strict):
    """POST /v1/securitizations/{id}/price."""

    paths: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Copula paths (`mc`, `stratified`). Above 200,000 the pricing is "
        "a durable job: the answer is 202 with the job to poll.",
    )
    seed: int = Field(0, ge=0, le=2**63 - 1)
    correlation: float = Field(0.15, ge=0.0, lt=1.0)
    method: Literal["mc", "stratified", "lhp", "recursion"] = Field(
        "mc",
        description="`mc` plain copula Monte Carlo; `stratified` the same stratified on the "
        "common factor with the recursion's maturity-only tranche loss as a "
        "control variate (unbiased, lower standard error); `lhp` large pool; "
        "`recursion` deterministic loss paths (exact for maturity-only loss "
        "allocation only).",
    )
    as_of: date | None = Field(
        None,
        ge=MIN_DATE,
        le=MAX_DATE,
        description="Pricing date; default the pool's cut-off date, else today (UTC).",
    )
    discount_rate: float | None = Field(
        None,
        gt=-1.0,
        lt=1.0,
        description="Flat zero rate (annual, ACT/365F) of the curve; default the deal "
        "currency's risk-free rate (1.5 % for CNY).",
    )
    k_sa: float = Field(0.08, ge=0.0, le=1.0, description="SEC-SA pool capital.")
    w: float = Field(0.0, ge=0.0, le=1.0, description="SEC-SA delinquent share.")
    break_even: bool = Field(True, description="Also solve each class's break-even default rate.")
    discount_margin_bp: float | dict[str, float] | None = Field(
        None,
        description="Discount margin over the curve (bp, continuously compounded zero spread): "
        "one for every class or by class name; default each class's spread "
        "(floating) or coupon over the curve's par rate (fixed).",
    )
    market_price: float | dict[str, float] | None = Field(
        None,
        description="Market price per 100 by class name (or one for all): the class's "
        "discount margin is solved from it.",
    )


class TrancheFigures(BaseModel):
    name: str
    attach: float
    detach: float
    balance: float
    expected_loss: float
    prob_loss: float
    price: float
    fair_spread_bp: float | None
    wal_years: float
    duration: float | None
    yield_rate: float | None = Field(None, alias="yield")
    risk_weight: float
    expected_loss_std_error: float
    break_even_cdr: float | None = Field(
        None, description="Constant annual default rate at which the class first loses principal."
    )
    discount_margin_bp: float = Field(
        0.0, description="Discount margin the price is taken at (bp)."
    )
    market_price: float | None = Field(
        None, description="The market price the margin was solved from."
    )
    principal_expected_loss: float = Field(
        0.0, description="Undiscounted write-downs net of PDL cures over the face."
    )
    modified_duration: float | None = None
    duration_basis: str = Field(
        "modified",
        description="`effective` (curve bump, floating classes) or `modified` (at the yield).",
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class PriceResult(BaseModel):
    id: int
    securitization_id: int
    method: str
    paths: int
    seed: int
    correlation: float
    as_of: date
    pool_expected_loss: float
    expected_loss_basis: str = Field("", description="What `expected_loss` measures.")
    discount_rate: float | None = Field(
        None,
        description="Flat zero rate (annual, ACT/365F) the run discounted at: the one given, "
        "else the currency's default risk-free rate. None for runs stored before it was "
        "recorded.",
    )
    k_sa: float | None = Field(None, description="SEC-SA pool capital the run used.")
    w: float | None = Field(None, description="SEC-SA delinquent share the run used.")
    tranches: list[TrancheFigures]


class PriceResultList(BaseModel):
    """``GET /v1/securitizations/{id}/prices``: stored pricing runs, newest first."""

    items: list[PriceResult]
    next_cursor: str | None = None


class DataNotePriceRequest(_Strict):
    """POST /v1/data-notes/price."""

    asset_id: int = Field(..., ge=-(2**63), le=2**63 - 1)
    share: float = Field(..., description="Share of monthly revenue paid, decimal (0, 1].")
    term_months: int
    cap: float | None = Field(None, description="Monthly payment cap, major units.")
    floor: float | None = Field(None, description="Monthly payment floor, major units.")
    issuer_hazard: float = Field(
        0.0, description="Issuer default intensity per year, besides the revenue-linked default."
    )
    recovery_rate: float = 0.4
    default_threshold: float = Field(
        0.25,
        description="The issuer defaults in the first month its revenue falls below this "
        "fraction of the first month's mean revenue (0: never).",
    )
    paths: int = Field(2_000, ge=1, le=100_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    as_of: date | None = Field(None, ge=MIN_DATE, le=MAX_DATE)
    currency: str = "CNY"
    discount_rate: float | None = Field(
        None,
        gt=-1.0,
        lt=1.0,
        description="Flat zero rate (annual, ACT/365F); default the currency's risk-free "
        "rate (1.5 % for CNY).",
    )


class DataNotePriceResult(BaseModel):
    asset_id: int
    currency: str
    price: float
    std_error: float
    distribution: dict[str, float]
    yield_rate: float | None = Field(None, alias="yield")
    default_probability: float
    paths: int
    seed: int
    as_of: date
    income_value: float | None = Field(
        None,
        description="The asset's income value on the same paths at the same rate (mean of "
        "the simulation's path values): a 100 % note without cap never exceeds it.",
    )
    basis: str = ""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
