"""A securitization declared as data: pool, tranches, fees, reserve, principal rule, triggers.

`deal_from_dict` reads the JSON form (the API body) and validates it; every error is a
`ConventionError` whose ``field`` is the dotted path of the offending input, for example
``tranches[1].attach`` or ``pool.loan_ids[3]``.

Units: balances and amounts in major currency units; rates, shares, thresholds and PDs
as decimals (0.05, not 5); spreads in basis points (``_bp``); periods are months.

Market structures encoded as presets (see `MUSIC_ROYALTY_DSCR_TRAP`, `WHOLE_BUSINESS_SWEEP`):

* music-royalty ABS (KBRA, Hi-Fi Music IP Issuer II Series 2022-1): notes at 65 % of the
  catalogue valuation (35 % overcollateralisation), a 12-month interest reserve, DSCR cash
  traps of 50 % below 1.40x and 100 % below 1.30x;
* whole-business securitisation (KBRA, HOA Funding LLC 2021-1): cash sweeps of 25 / 50 /
  75 % below DSCR 2.00x / 1.75x / 1.50x, rapid amortisation at or below 1.20x.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np

from products.schedules import asset_schedules
from valuation.conventions import DayCount, calendar, parse_currency, parse_date
from valuation.errors import ConventionError, ValuationError

Amortization = Literal["annuity", "linear", "bullet"]
PrincipalRule = Literal["sequential", "pro_rata"]
DscrAction = Literal["trap", "sweep"]

AMORTIZATIONS: tuple[str, ...] = ("annuity", "linear", "bullet")
#: Loan payment frequencies in months (as `credit.loans.FREQUENCIES_MONTHS`).
FREQUENCIES_MONTHS: tuple[int, ...] = (1, 3, 6, 12)
PRINCIPAL_RULES: tuple[str, ...] = ("sequential", "pro_rata")
MAX_TERM_MONTHS = 600
#: Trailing periods of the DSCR test (a quarter of monthly payment dates).
DEFAULT_DSCR_WINDOW = 3


def _fail(message: str, path: str) -> ConventionError:
    return ConventionError(message, field=path)


def _number(
    value: object,
    path: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    what: str = "a number",
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"The `{path}` must be {what}. Got {value!r}.", path)
    v = float(value)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        bound = f"> {lo}" if lo_open else f">= {lo}"
        raise _fail(f"The `{path}` must be {bound}. Got {value!r}.", path)
    if hi is not None and v > hi:
        raise _fail(f"The `{path}` must be <= {hi}. Got {value!r}.", path)
    return v


def _integer(value: object, path: str, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(f"The `{path}` must be an integer in [{lo}, {hi}]. Got {value!r}.", path)
    return int(value)


def _choice(value: object, path: str, options: Sequence[str]) -> str:
    if value not in options:
        raise _fail(
            f"The `{path}` must be one of {', '.join(map(repr, options))}. Got {value!r}.", path
        )
    return str(value)


# ---------------------------------------------------------------------------------------------
# pool
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolLoan:
    """One loan in the pool.

    Parameters
    ----------
    loan_id : str
        Identifier (the loan book's id).
    balance : float
        Outstanding principal at closing, major units, > 0.
    annual_rate : float
        Fixed contractual rate, decimal, paid monthly on the outstanding balance (rate / 12).
    term_months : int
        Remaining term in months, 1..600.
    amortization : {"annuity", "linear", "bullet"}
        Repayment profile.
    pd : float
        Annual probability of default, decimal in [0, 1); the hazard is ``-ln(1 - pd)``.
    recovery_rate : float
        Recovered share of the defaulted balance, decimal 0..1.
    start_date : date or None
        A booked loan: its disbursement date. ``balance`` is then the principal lent on that
        date and ``term_months`` the tenor from it; the loan's own schedule
        (`credit.loans.schedules`: its frequency, day count, calendar, amortisation) gives
        its payments, and it enters the pool at its outstanding balance at the pool's
        ``cut_off_date``, collecting only the payments after it. ``None``: the loan starts at
        the cut-off (if the pool has one, on that schedule too) or, without a cut-off date,
        pays monthly ``rate / 12`` on its balance from month 1.
    frequency_months : {1, 3, 6, 12}
        Payment frequency (a multiple of it must make ``term_months``).
    day_count : str
        Interest day count of the schedule (``ACT/365F``, ``ACT/360``, ``30/360``, ``ACT/ACT``).
    calendar : str or None
        Business-day calendar of the payment dates (Modified Following), None = none.
    """

    loan_id: str
    balance: float
    annual_rate: float
    term_months: int
    amortization: Amortization = "annuity"
    pd: float = 0.02
    recovery_rate: float = 0.4
    start_date: date | None = None
    frequency_months: int = 1
    day_count: str = "ACT/365F"
    calendar: str | None = None

    def __post_init__(self) -> None:
        _check_loan(self, "loan")


def _check_loan(loan: PoolLoan, path: str) -> None:
    if not isinstance(loan.loan_id, str) or not loan.loan_id:
        raise _fail(
            f"The `{path}.loan_id` must be a non-empty string. Got {loan.loan_id!r}.",
            f"{path}.loan_id",
        )
    _number(loan.balance, f"{path}.balance", lo=0.0, lo_open=True, what="a positive amount")
    _number(loan.annual_rate, f"{path}.annual_rate", lo=0.0, hi=1.0, what="a decimal rate")
    _integer(loan.term_months, f"{path}.term_months", lo=1, hi=MAX_TERM_MONTHS)
    _choice(loan.amortization, f"{path}.amortization", AMORTIZATIONS)
    pd = _number(loan.pd, f"{path}.pd", lo=0.0, what="a decimal probability")
    if pd >= 1.0:
        raise _fail(f"The `{path}.pd` must be below 1. Got {pd!r}.", f"{path}.pd")
    _number(loan.recovery_rate, f"{path}.recovery_rate", lo=0.0, hi=1.0, what="a decimal share")
    if loan.start_date is not None and not isinstance(loan.start_date, date):
        raise _fail(
            f"The `{path}.start_date` must be a date. Got {loan.start_date!r}.",
            f"{path}.start_date",
        )
    freq = _integer(loan.frequency_months, f"{path}.frequency_months", lo=1, hi=12)
    if freq not in FREQUENCIES_MONTHS:
        raise _fail(
            f"The `{path}.frequency_months` must be one of {FREQUENCIES_MONTHS}. Got {freq!r}.",
            f"{path}.frequency_months",
        )
    if loan.term_months % freq:
        raise _fail(
            f"The `{path}.term_months` must be a whole number of payment periods "
            f"({freq} months). Got {loan.term_months!r}.",
            f"{path}.term_months",
        )
    try:
        DayCount.parse(loan.day_count)
    except ValuationError:
        raise _fail(
            f"The `{path}.day_count` must be one of "
            f"{', '.join(repr(d.value) for d in DayCount)}. Got {loan.day_count!r}.",
            f"{path}.day_count",
        ) from None
    if loan.calendar is not None:
        try:
            calendar(loan.calendar)
        except ValuationError:
            raise _fail(
                f"The `{path}.calendar` must name a known calendar. Got {loan.calendar!r}.",
                f"{path}.calendar",
            ) from None


@dataclass(frozen=True, slots=True)
class Receivable:
    """A data-licence receivable: projected monthly collections from one obligor.

    The receivable is carried at the present value of its projected collections at the
    pool's ``discount_rate`` (monthly compounding); each collection splits into interest
    (balance x rate / 12) and principal, so a receivable behaves like a loan with a custom
    repayment profile.

    Parameters
    ----------
    receivable_id : str
        Identifier.
    cashflows : tuple of float
        Projected collections for months 1, 2, ... (major units, each >= 0, at least one > 0).
    pd : float
        Annual obligor PD, decimal in [0, 1).
    recovery_rate : float
        Recovered share of the outstanding balance on default, decimal 0..1.
    """

    receivable_id: str
    cashflows: tuple[float, ...]
    pd: float = 0.02
    recovery_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_receivable(self, "receivable")


def _check_receivable(rec: Receivable, path: str) -> None:
    if not isinstance(rec.receivable_id, str) or not rec.receivable_id:
        raise _fail(
            f"The `{path}.receivable_id` must be a non-empty string.", f"{path}.receivable_id"
        )
    if not isinstance(rec.cashflows, tuple) or not 1 <= len(rec.cashflows) <= MAX_TERM_MONTHS:
        raise _fail(
            f"The `{path}.cashflows` must list 1..{MAX_TERM_MONTHS} monthly amounts.",
            f"{path}.cashflows",
        )
    for j, c in enumerate(rec.cashflows):
        _number(c, f"{path}.cashflows[{j}]", lo=0.0, what="a non-negative amount")
    if not any(c > 0 for c in rec.cashflows):
        raise _fail(f"The `{path}.cashflows` must contain a positive amount.", f"{path}.cashflows")
    pd = _number(rec.pd, f"{path}.pd", lo=0.0, what="a decimal probability")
    if pd >= 1.0:
        raise _fail(f"The `{path}.pd` must be below 1. Got {pd!r}.", f"{path}.pd")
    _number(rec.recovery_rate, f"{path}.recovery_rate", lo=0.0, hi=1.0, what="a decimal share")


@dataclass(frozen=True, slots=True)
class Pool:
    """The collateral: loans and/or receivables, with pool-wide behaviour.

    Parameters
    ----------
    loans, receivables : tuple
        The assets; at least one in total, ids unique.
    discount_rate : float
        Annual rate (decimal, monthly compounding) carrying receivables at present value.
    prepayment_rate : float
        Constant annual prepayment rate (CPR), decimal in [0, 1).
    recovery_lag_months : int
        Months between a default and its recovery, 0..120.
    collateral_value : float or None
        Appraised value of the collateral for the borrowing base (e.g. a catalogue or data
        product valuation); ``None`` means the pool balance.
    cut_off_date : date or None
        The date the loans are pooled at: month ``m`` of the deal is ``(cut_off + m - 1
        months, cut_off + m months]``, each loan enters at its outstanding balance after its
        last payment on or before the cut-off and collects its scheduled payments in the
        months they fall in. Required when a loan has a ``start_date``.
    """

    loans: tuple[PoolLoan, ...] = ()
    receivables: tuple[Receivable, ...] = ()
    discount_rate: float = 0.0
    prepayment_rate: float = 0.0
    recovery_lag_months: int = 0
    collateral_value: float | None = None
    cut_off_date: date | None = None

    def __post_init__(self) -> None:
        if not self.loans and not self.receivables:
            raise _fail("The `pool` must hold at least one loan or receivable.", "pool")
        seen: set[str] = set()
        for i, loan in enumerate(self.loans):
            _check_loan(loan, f"pool.loans[{i}]")
            if loan.loan_id in seen:
                raise _fail(
                    f"The `pool.loans[{i}].loan_id` must be unique. Got {loan.loan_id!r} twice.",
                    f"pool.loans[{i}].loan_id",
                )
            seen.add(loan.loan_id)
        for i, rec in enumerate(self.receivables):
            _check_receivable(rec, f"pool.receivables[{i}]")
            if rec.receivable_id in seen:
                raise _fail(
                    f"The `pool.receivables[{i}].receivable_id` must be unique.",
                    f"pool.receivables[{i}].receivable_id",
                )
            seen.add(rec.receivable_id)
        _number(self.discount_rate, "pool.discount_rate", lo=0.0, hi=1.0, what="a decimal rate")
        cpr = _number(self.prepayment_rate, "pool.prepayment_rate", lo=0.0, what="a decimal rate")
        if cpr >= 1.0:
            raise _fail(
                f"The `pool.prepayment_rate` must be below 1. Got {cpr!r}.", "pool.prepayment_rate"
            )
        _integer(self.recovery_lag_months, "pool.recovery_lag_months", lo=0, hi=120)
        if self.collateral_value is not None:
            _number(
                self.collateral_value,
                "pool.collateral_value",
                lo=0.0,
                lo_open=True,
                what="a positive amount",
            )
        if self.cut_off_date is not None and not isinstance(self.cut_off_date, date):
            raise _fail(
                f"The `pool.cut_off_date` must be a date. Got {self.cut_off_date!r}.",
                "pool.cut_off_date",
            )
        for i, loan in enumerate(self.loans):
            if loan.start_date is None:
                if self.cut_off_date is None and loan.frequency_months != 1:
                    raise _fail(
                        f"The `pool.loans[{i}].frequency_months` other than monthly needs "
                        "a `start_date` or the pool's `cut_off_date`.",
                        f"pool.loans[{i}].frequency_months",
                    )
                continue
            if self.cut_off_date is None:
                raise _fail(
                    f"The `pool.cut_off_date` is required: loan {loan.loan_id!r} has a "
                    "start date, and it enters the pool at its balance on the cut-off "
                    "date.",
                    "pool.cut_off_date",
                )
            if loan.start_date > self.cut_off_date:
                raise _fail(
                    f"The `pool.loans[{i}].start_date` must be on or before the cut-off "
                    f"date {self.cut_off_date.isoformat()}. Got "
                    f"{loan.start_date.isoformat()}.",
                    f"pool.loans[{i}].start_date",
                )

    @property
    def asset_ids(self) -> tuple[str, ...]:
        return tuple(x.loan_id for x in self.loans) + tuple(
            r.receivable_id for r in self.receivables
        )


# ---------------------------------------------------------------------------------------------
# tranches, fees, reserve, triggers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A guarantee wrap on a tranche: the guarantor pays the tranche's interest shortfalls and
    write-downs while it survives (its PD is substituted for the tranche's risk).

    Parameters
    ----------
    guarantor_pd : float
        Guarantor's annual PD, decimal in [0, 1).
    guarantor_recovery : float
        Share of the guaranteed claims recovered if the guarantor defaults, decimal 0..1.
    """

    guarantor_pd: float
    guarantor_recovery: float = 0.4

    def __post_init__(self) -> None:
        pd = _number(self.guarantor_pd, "guarantee.guarantor_pd", lo=0.0)
        if pd >= 1.0:
            raise _fail("The `guarantee.guarantor_pd` must be below 1.", "guarantee.guarantor_pd")
        _number(self.guarantor_recovery, "guarantee.guarantor_recovery", lo=0.0, hi=1.0)


@dataclass(frozen=True, slots=True)
class Tranche:
    """A class of notes, by seniority.

    Parameters
    ----------
    name : str
        Class name ("A", "B", ...).
    balance : float
        Initial principal, major units, > 0.
    attach, detach : float
        Attachment and detachment as fractions of the initial pool balance.
    coupon : float or None
        Fixed annual coupon, decimal (paid monthly, coupon / 12 on the balance).
    spread_bp : float or None
        Floating: index rate plus this spread in basis points. Exactly one of ``coupon`` and
        ``spread_bp`` is set.
    discount_spread_bp : float or None
        Market spread over the curve used to price the tranche; ``None`` means the tranche's
        own ``spread_bp`` for floating notes and 0 for fixed ones.
    guarantee : Guarantee or None
        Optional wrap.
    equity : bool
        The most junior class only: it also receives the residual cash (excess spread
        released after the waterfall), as an equity or residual note does.
    """

    name: str
    balance: float
    attach: float
    detach: float
    coupon: float | None = None
    spread_bp: float | None = None
    discount_spread_bp: float | None = None
    guarantee: Guarantee | None = None
    equity: bool = False

    def __post_init__(self) -> None:
        _number(self.balance, "tranche.balance", lo=0.0, lo_open=True)
        if (self.coupon is None) == (self.spread_bp is None):
            raise _fail(
                f"Tranche {self.name!r} needs exactly one of `coupon` and `spread_bp`.",
                "tranche.coupon",
            )

    @property
    def is_floating(self) -> bool:
        return self.spread_bp is not None

    @property
    def market_spread_bp(self) -> float:
        if self.discount_spread_bp is not None:
            return float(self.discount_spread_bp)
        return float(self.spread_bp) if self.spread_bp is not None else 0.0


@dataclass(frozen=True, slots=True)
class Reserve:
    """Reserve account: funded at closing, drawn for fees and interest, topped up to a target.

    Target each month: ``max(target_rate x note balance, interest_months x monthly note
    interest)``; 12 interest months is the music-royalty interest reserve. With neither
    set, the reserve is a fixed liquidity reserve: its target is the initial amount (it is
    topped back up after draws and released only in the last month).
    """

    initial: float = 0.0
    target_rate: float = 0.0
    interest_months: int = 0

    def __post_init__(self) -> None:
        _number(self.initial, "reserve.initial", lo=0.0)
        _number(self.target_rate, "reserve.target_rate", lo=0.0, hi=1.0)
        _integer(self.interest_months, "reserve.interest_months", lo=0, hi=60)

    def target(self, note_balance: Any, note_interest: Any) -> Any:
        """Target balance for a month (floats or arrays of note balance and note interest)."""
        if self.target_rate == 0.0 and self.interest_months == 0:
            return note_balance * 0.0 + self.initial
        return np.maximum(self.target_rate * note_balance, self.interest_months * note_interest)


@dataclass(frozen=True, slots=True)
class DscrTier:
    """Below ``threshold`` (strictly: the published wording is 'below'), ``fraction`` of the
    excess cash is trapped or swept."""

    threshold: float
    fraction: float


@dataclass(frozen=True, slots=True)
class DscrTrigger:
    """DSCR tiers: the largest fraction whose threshold the DSCR is strictly below applies.

    DSCR on the basis set in `Triggers` (interest coverage by default).
    ``action`` "trap" holds the cash in the reserve account (released when the test is
    passed again), "sweep" pays it to the notes as principal.
    """

    action: DscrAction
    tiers: tuple[DscrTier, ...]

    def __post_init__(self) -> None:
        _choice(self.action, "triggers.dscr.action", ("trap", "sweep"))
        if not self.tiers:
            raise _fail(
                "The `triggers.dscr.tiers` must list at least one tier.", "triggers.dscr.tiers"
            )
        for j, t in enumerate(self.tiers):
            _number(t.threshold, f"triggers.dscr.tiers[{j}].threshold", lo=0.0, lo_open=True)
            _number(t.fraction, f"triggers.dscr.tiers[{j}].fraction", lo=0.0, hi=1.0)

    def fraction(self, dscr: float) -> float:
        """The share of excess cash trapped or swept at this DSCR (0 when no tier applies)."""
        return max((t.fraction for t in self.tiers if dscr < t.threshold), default=0.0)


@dataclass(frozen=True, slots=True)
class Triggers:
    """Performance triggers.

    Parameters
    ----------
    oc_ratio : float or None
        Pool balance / note balance below this switches principal to sequential for good.
    cumulative_default : float or None
        Cumulative defaults / initial pool balance above this switches to sequential for good.
    dscr : tuple of DscrTrigger
        Cash trap and/or sweep tiers.
    rapid_amortisation_dscr : float or None
        DSCR at or below this starts rapid amortisation for good: sequential, all excess cash
        to principal.
    dscr_basis : {"interest", "cash"}
        ``interest``: (interest collections - senior fees) / note interest, an interest
        coverage ratio for loan pools. ``cash``: (all collections - senior fees) / (note
        interest + principal due to the borrowing base), the debt-service coverage of
        income collateral (royalties, licence receivables, whole-business cash flows).
    dscr_window : int
        Periods the DSCR sums over (numerator and denominator each over the trailing
        window ending on the payment date, fewer at the start), 1..24, default 3: as KBRA
        whole-business and royalty deals test DSCR on the trailing quarter, so a payment
        rolled into the next month does not empty a month and trip the test.
    """

    oc_ratio: float | None = None
    cumulative_default: float | None = None
    dscr: tuple[DscrTrigger, ...] = ()
    rapid_amortisation_dscr: float | None = None
    dscr_basis: Literal["interest", "cash"] = "interest"
    dscr_window: int = DEFAULT_DSCR_WINDOW

    def __post_init__(self) -> None:
        _choice(self.dscr_basis, "triggers.dscr_basis", ("interest", "cash"))
        _integer(self.dscr_window, "triggers.dscr_window", lo=1, hi=24)
        if self.oc_ratio is not None:
            _number(self.oc_ratio, "triggers.oc_ratio", lo=0.0, lo_open=True)
        if self.cumulative_default is not None:
            _number(self.cumulative_default, "triggers.cumulative_default", lo=0.0, hi=1.0)
        if self.rapid_amortisation_dscr is not None:
            _number(self.rapid_amortisation_dscr, "triggers.rapid_amortisation_dscr", lo=0.0)

    def trap_fraction(self, dscr: float) -> float:
        return max((d.fraction(dscr) for d in self.dscr if d.action == "trap"), default=0.0)

    def sweep_fraction(self, dscr: float) -> float:
        return max((d.fraction(dscr) for d in self.dscr if d.action == "sweep"), default=0.0)

    def rapid_amortisation(self, dscr: float) -> bool:
        """'At or below' the threshold (inclusive), as the published wording says."""
        return self.rapid_amortisation_dscr is not None and dscr <= self.rapid_amortisation_dscr


#: Music-royalty ABS cash trap (KBRA, Hi-Fi Music IP Issuer II 2022-1): 50 % below 1.40x,
#: 100 % below 1.30x.
MUSIC_ROYALTY_DSCR_TRAP = DscrTrigger("trap", (DscrTier(1.40, 0.5), DscrTier(1.30, 1.0)))
#: Whole-business cash sweep (KBRA, HOA Funding 2021-1): 25 / 50 / 75 % below 2.00x / 1.75x /
#: 1.50x; rapid amortisation at or below 1.20x (`WHOLE_BUSINESS_RAPID_AMORTISATION_DSCR`).
WHOLE_BUSINESS_SWEEP = DscrTrigger(
    "sweep", (DscrTier(2.00, 0.25), DscrTier(1.75, 0.50), DscrTier(1.50, 0.75))
)
WHOLE_BUSINESS_RAPID_AMORTISATION_DSCR = 1.20
#: Music-royalty advance rate: notes at 65 % of the valuation (35 % overcollateralisation).
MUSIC_ROYALTY_ADVANCE_RATE = 0.65
#: Music-royalty interest reserve: 12 months of note interest.
MUSIC_ROYALTY_RESERVE_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Deal:
    """A securitization: pool, tranches (senior first), fees, reserve, rule and triggers.

    Parameters
    ----------
    pool : Pool
    tranches : tuple of Tranche
        Ordered senior first; contiguous attachment points; total within the borrowing base.
    senior_fee_rate : float
        Annual servicing/trustee fee on the pool balance, decimal (paid fee_rate / 12 monthly).
    senior_fee_fixed : float
        Fixed fee per month, major units.
    reserve : Reserve
    principal_rule : {"sequential", "pro_rata"}
    triggers : Triggers
    advance_rate : float
        Notes may not exceed ``advance_rate x collateral value`` (borrowing base); each month
        principal pays the notes down to the borrowing base of the remaining pool.
    currency : str
        ISO code of every amount.
    clean_up_call : float or None
        Optional clean-up call: once the pool balance at the start of a month is at or
        below this fraction of its initial balance (0 < x < 1; 10 % is usual), the
        servicer buys the remaining pool at its balance (plus the recoveries still due) at
        the end of that month and the notes are repaid from the proceeds; ``None``: no call.
    """

    pool: Pool
    tranches: tuple[Tranche, ...]
    senior_fee_rate: float = 0.0
    senior_fee_fixed: float = 0.0
    reserve: Reserve = field(default_factory=Reserve)
    principal_rule: PrincipalRule = "sequential"
    triggers: Triggers = field(default_factory=Triggers)
    advance_rate: float = 1.0
    currency: str = "CNY"
    clean_up_call: float | None = None

    def __post_init__(self) -> None:
        if self.clean_up_call is not None:
            _number(
                self.clean_up_call,
                "clean_up_call",
                lo=0.0,
                hi=0.99,
                lo_open=True,
                what="a fraction of the initial pool balance",
            )
        if not self.tranches:
            raise _fail("The `tranches` must list at least one tranche.", "tranches")
        _number(self.senior_fee_rate, "senior_fee_rate", lo=0.0, hi=1.0)
        _number(self.senior_fee_fixed, "senior_fee_fixed", lo=0.0)
        _choice(self.principal_rule, "principal_rule", PRINCIPAL_RULES)
        _number(self.advance_rate, "advance_rate", lo=0.0, hi=1.0, lo_open=True)
        names = [t.name for t in self.tranches]
        for i, t in enumerate(self.tranches[:-1]):
            if t.equity:
                raise _fail(
                    f"The `tranches[{i}].equity` flag is only for the most junior class.",
                    f"tranches[{i}].equity",
                )
        for i, t in enumerate(self.tranches):
            if names.index(t.name) != i:
                raise _fail(
                    f"The `tranches[{i}].name` must be unique. Got {t.name!r} twice.",
                    f"tranches[{i}].name",
                )
            if i + 1 < len(self.tranches):
                below = self.tranches[i + 1]
                if below.detach > t.attach + 1e-12:
                    raise _fail(
                        f"The `tranches[{i + 1}].detach` must not exceed `tranches[{i}].attach` "
                        f"(tranches overlap). Got {below.detach!r} > {t.attach!r}.",
                        f"tranches[{i + 1}].detach",
                    )
                if below.detach < t.attach - 1e-12:
                    raise _fail(
                        f"The `tranches[{i + 1}].detach` must equal `tranches[{i}].attach` "
                        f"(no gaps between classes). Got {below.detach!r} < {t.attach!r}.",
                        f"tranches[{i + 1}].detach",
                    )
        limit = self.advance_rate * self.collateral_value
        if self.note_balance > limit * (1.0 + 1e-9):
            raise _fail(
                f"The `tranches` must total at most the borrowing base advance_rate x collateral "
                f"value = {limit:.2f}. Got {self.note_balance:.2f}.",
                "tranches",
            )

    @property
    def pool_balance(self) -> float:
        """Initial pool balance (loans at par, receivables at present value)."""
        return float(asset_schedules(self.pool).balance[:, 0].sum())

    @property
    def collateral_value(self) -> float:
        v = self.pool.collateral_value
        return float(v) if v is not None else self.pool_balance

    @property
    def note_balance(self) -> float:
        return float(sum(t.balance for t in self.tranches))


# ---------------------------------------------------------------------------------------------
# JSON form
# ---------------------------------------------------------------------------------------------

_TRANCHE_KEYS = {
    "name",
    "balance",
    "attach",
    "detach",
    "coupon",
    "spread_bp",
    "discount_spread_bp",
    "guarantee",
    "equity",
}


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(f"The `{path}` must be an object. Got {type(value).__name__}.", path)
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(f"The `{path}` must be a list. Got {type(value).__name__}.", path)
    return list(value)


def _loan_from(d: object, path: str) -> PoolLoan:
    """A loan from JSON: ``balance`` and ``term_months``, or for a booked loan (with a
    ``start_date``) equally ``principal`` and ``tenor_months``."""
    m = dict(_mapping(d, path))
    for alias, key in (("principal", "balance"), ("tenor_months", "term_months")):
        if alias in m:
            if key in m:
                raise _fail(
                    f"The `{path}` must give `{key}` or `{alias}`, not both.", f"{path}.{alias}"
                )
            m[key] = m.pop(alias)
    try:
        loan = PoolLoan.__new__(PoolLoan)
        for k, default in (
            ("amortization", "annuity"),
            ("pd", 0.02),
            ("recovery_rate", 0.4),
            ("frequency_months", 1),
            ("day_count", "ACT/365F"),
            ("calendar", None),
        ):
            object.__setattr__(loan, k, m.get(k, default))
        start = m.get("start_date")
        object.__setattr__(
            loan,
            "start_date",
            None if start is None else parse_date(start, field=f"{path}.start_date"),
        )
        for k in ("loan_id", "balance", "annual_rate", "term_months"):
            if k not in m:
                raise _fail(f"The `{path}.{k}` is required.", f"{path}.{k}")
            object.__setattr__(loan, k, m[k])
    except AttributeError as exc:  # pragma: no cover - slots guard
        raise _fail(str(exc), path) from None
    _check_loan(loan, path)
    return loan


def _receivable_from(d: object, path: str) -> Receivable:
    m = _mapping(d, path)
    for k in ("receivable_id", "cashflows"):
        if k not in m:
            raise _fail(f"The `{path}.{k}` is required.", f"{path}.{k}")
    cfs = tuple(_list(m["cashflows"], f"{path}.cashflows"))
    rec = Receivable.__new__(Receivable)
    object.__setattr__(rec, "receivable_id", m["receivable_id"])
    object.__setattr__(rec, "cashflows", cfs)
    object.__setattr__(rec, "pd", m.get("pd", 0.02))
    object.__setattr__(rec, "recovery_rate", m.get("recovery_rate", 0.0))
    _check_receivable(rec, path)
    return rec


def pool_from_dict(
    spec: Mapping[str, Any], loan_book: Mapping[str, PoolLoan] | None = None
) -> Pool:
    """Build the `Pool` from its JSON form.

    ``loan_ids`` name loans of ``loan_book`` (the caller's loans); ``loans`` give loans
    inline; ``receivables`` give projected collections. An id missing from the book is a
    `ConventionError` on ``pool.loan_ids[i]``.
    """
    spec = _mapping(spec, "pool")
    loans: list[PoolLoan] = []
    if "loan_ids" in spec:
        ids = _list(spec["loan_ids"], "pool.loan_ids")
        book = loan_book or {}
        for i, lid in enumerate(ids):
            if not isinstance(lid, str) or lid not in book:
                raise _fail(
                    f"The `pool.loan_ids[{i}]` must name a known loan. Got {lid!r}.",
                    f"pool.loan_ids[{i}]",
                )
            loans.append(book[lid])
    for i, d in enumerate(_list(spec.get("loans", []), "pool.loans")):
        loans.append(_loan_from(d, f"pool.loans[{i}]"))
    recs = [
        _receivable_from(d, f"pool.receivables[{i}]")
        for i, d in enumerate(_list(spec.get("receivables", []), "pool.receivables"))
    ]
    return Pool(
        loans=tuple(loans),
        receivables=tuple(recs),
        discount_rate=spec.get("discount_rate", 0.0),
        prepayment_rate=spec.get("prepayment_rate", 0.0),
        recovery_lag_months=spec.get("recovery_lag_months", 0),
        collateral_value=spec.get("collateral_value"),
        cut_off_date=(
            None
            if spec.get("cut_off_date") is None
            else parse_date(spec["cut_off_date"], field="pool.cut_off_date")
        ),
    )


def _dscr_from(d: object, path: str) -> DscrTrigger:
    m = _mapping(d, path)
    action = _choice(m.get("action"), f"{path}.action", ("trap", "sweep"))
    tiers = []
    for j, t in enumerate(_list(m.get("tiers", []), f"{path}.tiers")):
        tm = _mapping(t, f"{path}.tiers[{j}]")
        th = _number(tm.get("threshold"), f"{path}.tiers[{j}].threshold", lo=0.0, lo_open=True)
        fr = _number(tm.get("fraction"), f"{path}.tiers[{j}].fraction", lo=0.0, hi=1.0)
        tiers.append(DscrTier(th, fr))
    if not tiers:
        raise _fail(f"The `{path}.tiers` must list at least one tier.", f"{path}.tiers")
    return DscrTrigger(action, tuple(tiers))  # type: ignore[arg-type]


def _opt_number(m: Mapping[str, Any], key: str, path: str, **kw: Any) -> float | None:
    if m.get(key) is None:
        return None
    return _number(m[key], path, **kw)


def deal_from_dict(
    spec: Mapping[str, Any], loan_book: Mapping[str, PoolLoan] | None = None
) -> Deal:
    """Build and validate a `Deal` from its JSON form.

    Tranches are listed senior first, each with either ``balance`` (attachment points are
    then derived from the top: the senior class detaches at 1 and the most junior attaches
    at ``1 - notes / pool``, the overcollateralisation below it taking the first loss) or
    ``attach`` and ``detach`` (fractions of the initial pool balance, the senior class
    detaching at 1; the balance is ``(detach - attach) x pool balance``), and with
    ``coupon`` (fixed, decimal) or ``spread_bp`` (floating). Losses reach the notes once
    they exceed the overcollateralisation, so a class's attachment is where its losses
    start, as SEC-SA reads it.

    Raises
    ------
    ConventionError
        With ``field`` the dotted path of the first bad input: overlapping tranches,
        ``attach > detach``, an unknown loan id, a negative balance, ...
    """
    spec = _mapping(spec, "deal")
    pool = pool_from_dict(spec.get("pool", {}), loan_book)
    pool_balance = float(asset_schedules(pool).balance[:, 0].sum())
    raw = _list(spec.get("tranches"), "tranches") if "tranches" in spec else []
    if not raw:
        raise _fail("The `tranches` must list at least one tranche.", "tranches")
    parsed: list[dict[str, Any]] = []
    by_balance = None
    for i, t in enumerate(raw):
        p = f"tranches[{i}]"
        m = _mapping(t, p)
        unknown = set(m) - _TRANCHE_KEYS
        if unknown:
            raise _fail(
                f"The `{p}` has unknown keys {sorted(unknown)}.", f"{p}.{sorted(unknown)[0]}"
            )
        name = m.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"The `{p}.name` must be a non-empty string. Got {name!r}.", f"{p}.name")
        has_bal = m.get("balance") is not None
        has_ad = m.get("attach") is not None or m.get("detach") is not None
        if by_balance is None:
            by_balance = has_bal and not has_ad
        if has_bal and has_ad:
            raise _fail(
                f"The `{p}` must give either `balance` or `attach`/`detach`, not both.",
                f"{p}.balance",
            )
        if by_balance != (has_bal and not has_ad):
            raise _fail(
                "The `tranches` must all use `balance` or all use `attach`/`detach`.",
                f"{p}.balance" if not has_bal else f"{p}.attach",
            )
        entry: dict[str, Any] = {"name": name}
        if by_balance:
            entry["balance"] = _number(
                m["balance"], f"{p}.balance", lo=0.0, lo_open=True, what="a positive amount"
            )
        else:
            a = _number(m.get("attach"), f"{p}.attach", lo=0.0, hi=1.0, what="a fraction 0..1")
            d = _number(m.get("detach"), f"{p}.detach", lo=0.0, hi=1.0, what="a fraction 0..1")
            if a >= d:
                raise _fail(
                    f"The `{p}.attach` must be below `{p}.detach`. Got {a!r} >= {d!r}.",
                    f"{p}.attach",
                )
            entry["attach"], entry["detach"] = a, d
        coupon = _opt_number(m, "coupon", f"{p}.coupon", lo=-0.05, hi=1.0, what="a decimal rate")
        spread = _opt_number(m, "spread_bp", f"{p}.spread_bp", lo=-500.0, hi=10_000.0)
        if (coupon is None) == (spread is None):
            raise _fail(
                f"The `{p}` needs exactly one of `coupon` (fixed) and `spread_bp` (floating).",
                f"{p}.coupon",
            )
        entry["coupon"], entry["spread_bp"] = coupon, spread
        entry["discount_spread_bp"] = _opt_number(
            m, "discount_spread_bp", f"{p}.discount_spread_bp", lo=-500.0, hi=10_000.0
        )
        g = m.get("guarantee")
        if g is not None:
            gm = _mapping(g, f"{p}.guarantee")
            gpd = _number(
                gm.get("guarantor_pd"), f"{p}.guarantee.guarantor_pd", lo=0.0, hi=0.999999
            )
            grec = _number(
                gm.get("guarantor_recovery", 0.4),
                f"{p}.guarantee.guarantor_recovery",
                lo=0.0,
                hi=1.0,
            )
            entry["guarantee"] = Guarantee(gpd, grec)
        eq = m.get("equity", False)
        if not isinstance(eq, bool):
            raise _fail(f"The `{p}.equity` must be true or false. Got {eq!r}.", f"{p}.equity")
        entry["equity"] = eq
        entry["_index"] = i
        parsed.append(entry)
    if by_balance:
        level = 1.0
        for e in parsed:  # senior first, from the top of the capital structure down
            e["detach"] = level
            level -= e["balance"] / pool_balance
            e["attach"] = max(level, 0.0)
    else:
        # any listing order is accepted; the classes are ordered senior first by attachment,
        # and errors keep the index the caller used
        order = sorted(range(len(parsed)), key=lambda i: -parsed[i]["attach"])
        for upper, lower in zip(order, order[1:], strict=False):
            hi, lo = parsed[upper], parsed[lower]
            if lo["detach"] > hi["attach"] + 1e-12:
                raise _fail(
                    f"The `tranches[{lower}].detach` must not exceed `tranches[{upper}].attach` "
                    f"(tranches overlap). Got {lo['detach']!r} > {hi['attach']!r}.",
                    f"tranches[{lower}].detach",
                )
            if lo["detach"] < hi["attach"] - 1e-12:
                raise _fail(
                    f"The `tranches[{lower}].detach` must equal `tranches[{upper}].attach` "
                    f"(no gaps between classes). Got {lo['detach']!r} < {hi['attach']!r}.",
                    f"tranches[{lower}].detach",
                )
        top = order[0]
        if abs(parsed[top]["detach"] - 1.0) > 1e-12:
            raise _fail(
                f"The `tranches[{top}].detach` must be 1: the most senior class takes the top of "
                f"the capital structure (list every class, a retained one too). "
                f"Got {parsed[top]['detach']!r}.",
                f"tranches[{top}].detach",
            )
        parsed = [parsed[i] for i in order]
        for e in parsed:
            e["balance"] = (e["detach"] - e["attach"]) * pool_balance
    for j, e in enumerate(parsed):
        if e["equity"] and j != len(parsed) - 1:
            raise _fail(
                "The `equity` flag is only for the most junior class.",
                f"tranches[{e['_index']}].equity",
            )
    tranches = tuple(Tranche(**{k: v for k, v in e.items() if k != "_index"}) for e in parsed)
    fee_rate = _number(spec.get("senior_fee_rate", 0.0), "senior_fee_rate", lo=0.0, hi=1.0)
    fee_fixed = _number(spec.get("senior_fee_fixed", 0.0), "senior_fee_fixed", lo=0.0)
    r = _mapping(spec.get("reserve", {}), "reserve")
    reserve = Reserve(
        initial=_number(r.get("initial", 0.0), "reserve.initial", lo=0.0),
        target_rate=_number(r.get("target_rate", 0.0), "reserve.target_rate", lo=0.0, hi=1.0),
        interest_months=_integer(
            r.get("interest_months", 0), "reserve.interest_months", lo=0, hi=60
        ),
    )
    tr = _mapping(spec.get("triggers", {}), "triggers")
    triggers = Triggers(
        oc_ratio=_opt_number(tr, "oc_ratio", "triggers.oc_ratio", lo=0.0, lo_open=True),
        cumulative_default=_opt_number(
            tr, "cumulative_default", "triggers.cumulative_default", lo=0.0, hi=1.0
        ),
        dscr=tuple(
            _dscr_from(d, f"triggers.dscr[{j}]")
            for j, d in enumerate(_list(tr.get("dscr", []), "triggers.dscr"))
        ),
        rapid_amortisation_dscr=_opt_number(
            tr, "rapid_amortisation_dscr", "triggers.rapid_amortisation_dscr", lo=0.0
        ),
        dscr_basis=_choice(
            tr.get("dscr_basis", "interest"),
            "triggers.dscr_basis",  # type: ignore[arg-type]
            ("interest", "cash"),
        ),
        dscr_window=_integer(
            tr.get("dscr_window", DEFAULT_DSCR_WINDOW), "triggers.dscr_window", lo=1, hi=24
        ),
    )
    rule = _choice(spec.get("principal_rule", "sequential"), "principal_rule", PRINCIPAL_RULES)
    adv = _number(spec.get("advance_rate", 1.0), "advance_rate", lo=0.0, hi=1.0, lo_open=True)
    currency = spec.get("currency", "CNY")
    parse_currency(currency, field="currency")
    return Deal(
        pool=pool,
        tranches=tranches,
        senior_fee_rate=fee_rate,
        senior_fee_fixed=fee_fixed,
        reserve=reserve,
        principal_rule="pro_rata" if rule == "pro_rata" else "sequential",
        triggers=triggers,
        advance_rate=adv,
        currency=currency,
        clean_up_call=_opt_number(
            spec,
            "clean_up_call",
            "clean_up_call",
            lo=0.0,
            hi=0.99,
            lo_open=True,
            what="a fraction of the initial pool balance",
        ),
    )
