"""A securitization declared as data: tranches, fees, reserve, principal rule, triggers.

The pool is `products.pool`. `products.spec.deal_from_dict` reads the JSON form (the API
body); every object here validates itself, and every error is a `ConventionError` whose
``field`` is the dotted path of the offending input, for example ``tranches[1].attach``.

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

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from products.pool import Pool, _choice, _fail, _integer, _number
from products.schedules import asset_schedules

PrincipalRule = Literal["sequential", "pro_rata"]
DscrAction = Literal["trap", "sweep"]

PRINCIPAL_RULES: tuple[str, ...] = ("sequential", "pro_rata")
#: Trailing periods of the DSCR test (a quarter of monthly payment dates).
DEFAULT_DSCR_WINDOW = 3
# ---------------------------------------------------------------------------------------------
# tranches, fees, reserve, triggers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Guarantee:
    """A guarantee wrap on a tranche.

    The guarantor pays the tranche's interest shortfalls and write-downs while it survives
    (its PD is substituted for the tranche's risk).

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
        """Tell whether the class pays a floating coupon (index + spread)."""
        return self.spread_bp is not None

    @property
    def market_spread_bp(self) -> float:
        """Return the class's spread over the curve in basis points."""
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
    """A DSCR tier: the share of excess cash trapped or swept below a threshold.

    Below ``threshold`` (strictly: the published wording is 'below'), ``fraction`` of the excess
    cash is trapped or swept.
    """

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
        """Return the share of excess cash trapped or swept at this DSCR (0 without a tier)."""
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
        """Return the share of excess cash trapped at this DSCR."""
        return max((d.fraction(dscr) for d in self.dscr if d.action == "trap"), default=0.0)

    def sweep_fraction(self, dscr: float) -> float:
        """Return the share of excess cash swept at this DSCR."""
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
        """Return the collateral value backing the borrowing base."""
        v = self.pool.collateral_value
        return float(v) if v is not None else self.pool_balance

    @property
    def note_balance(self) -> float:
        """Return the initial balance of the notes."""
        return float(sum(t.balance for t in self.tranches))
