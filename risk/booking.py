"""A stress book from what the credit and structuring areas booked.

The records here are plain, typed copies of the booked rows (a loan with its terms and
booked risk figures, a pledge, a securitization with its tranches); `assemble_book` turns
them, with the asset positions, into a `risk.book.Book` at a date, and says what it left
out and why. Nothing here reads a database: the service reads the rows (tenant filtered
in SQL, `models.credit`, `models.products`) and hands the records over, and a script can
build the same book from its own records.

Rules (each one a note when it leaves something out):

* the book's currency is the currency of most of its loans (CNY when there are none); a
  loan in another currency is left out, amounts in different currencies never add;
* a loan enters at its outstanding balance and remaining maturity at ``as_of``, from its
  contractual schedule (`credit.loans.schedules`): the balance after the last payment dated
  on or before ``as_of`` (the full principal before the first), the remaining maturity to
  its last payment date (ACT/365F, at least one month); a loan that has matured is left
  out; a loan whose terms cannot be scheduled keeps its booked principal and tenor;
* a pledge backs its loan with the share of the asset's value it consumed, ``amount /
  lending value`` (clipped to (0, 1]; the shares of one asset are scaled down when rounding
  takes their sum above 1); a pledge on an asset outside the book is dropped;
* a securitization's tranches enter when its pool holds loans of the book (those loans
  only), with the longest remaining maturity of the pooled loans; the coupon of a floating
  tranche is its spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from credit.loans import balance_at, schedules
from risk.book import AssetPosition, Book, LoanPosition, TranchePosition
from valuation.errors import ConventionError, ValuationError

#: Currency of a book with no loans.
DEFAULT_BOOK_CURRENCY = "CNY"


@dataclass(frozen=True, slots=True)
class LoanRecord:
    """A live loan as booked: its terms and the risk figures the credit area recorded."""

    id: str
    currency: str
    principal: float
    annual_rate: float
    start_date: date
    tenor_months: int
    amortization: str
    frequency_months: int
    day_count: str
    calendar: str | None
    ead: float
    pd: float
    lgd: float
    lgd_regulatory: float
    expected_loss: float
    capital: float


@dataclass(frozen=True, slots=True)
class PledgeRecord:
    """A live pledge: ``amount`` of the asset's ``lending_value`` backs loan ``loan_id``."""

    loan_id: str
    asset_id: str
    amount: float
    lending_value: float


@dataclass(frozen=True, slots=True)
class TrancheRecord:
    """A class of notes as booked (``coupon`` fixed, else ``spread_bp`` over the index)."""

    name: str
    attach: float
    detach: float
    balance: float
    coupon: float | None = None
    spread_bp: float | None = None


@dataclass(frozen=True, slots=True)
class SecuritizationRecord:
    """A securitization: the loans of its pool and its tranches, senior first."""

    id: str
    loan_ids: tuple[str, ...]
    tranches: tuple[TrancheRecord, ...]


@dataclass
class BookBuild:
    """A book, the notes on what was left out, and the figures booked on its loans.

    ``booked`` holds ``ead``, ``expected_loss`` and ``capital`` summed over the loans in
    the book, as the credit area recorded them, so a reader can set the stress
    base (the stress engine's own revaluation at the run's as-of) against what is on the
    books.
    """

    book: Book
    notes: list[str] = field(default_factory=list)
    booked: dict[str, float] = field(default_factory=dict)


def book_currency(loans: Sequence[LoanRecord]) -> str:
    """Return the currency of most loans (ties: the first in sorted order); CNY with none."""
    if not loans:
        return DEFAULT_BOOK_CURRENCY
    counts: dict[str, int] = {}
    for ln in loans:
        counts[ln.currency] = counts.get(ln.currency, 0) + 1
    return max(sorted(counts), key=lambda c: counts[c])


def pledge_shares(pledges: Sequence[PledgeRecord]) -> dict[str, dict[str, float | None]]:
    """Return, per loan and asset, the share of the asset's value backing the loan.

    Per loan, per asset: the share of the asset's value backing the loan (None when the asset has no
    lending value left to measure it by).
    """
    out: dict[str, dict[str, float | None]] = {}
    per_asset: dict[str, float] = {}
    for p in pledges:
        share = p.amount / p.lending_value if p.lending_value > 0 else None
        if share is not None:
            share = min(1.0, max(share, 1e-9))
            per_asset[p.asset_id] = per_asset.get(p.asset_id, 0.0) + share
        out.setdefault(p.loan_id, {})[p.asset_id] = share
    for shares in out.values():  # rounding may push an asset a hair above 1
        for aid, share in shares.items():
            if share is not None and per_asset.get(aid, 0.0) > 1.0:
                shares[aid] = share / per_asset[aid]
    return out


def outstanding_at(
    loans: Sequence[LoanRecord], as_of: date, notes: list[str]
) -> dict[str, tuple[float, float] | None]:
    """Return each loan's outstanding share of principal and remaining years at ``as_of``.

    Per loan id: (outstanding share of the principal, remaining years) at ``as_of``, or None when
    the loan has matured; a loan that cannot be scheduled is absent (noted).
    """
    out: dict[str, tuple[float, float] | None] = {}
    for ln in loans:
        frame = pd.DataFrame(
            [
                {
                    "loan_id": ln.id,
                    "principal": ln.principal,
                    "annual_rate": ln.annual_rate,
                    "start_date": ln.start_date,
                    "tenor_months": ln.tenor_months,
                    "amortization": ln.amortization,
                    "frequency_months": ln.frequency_months,
                    "day_count": ln.day_count,
                    "calendar": ln.calendar,
                }
            ]
        )
        try:
            rows = schedules(frame)
        except (ValuationError, TypeError, ValueError) as exc:
            notes.append(f"loan {ln.id}: booked exposure and tenor kept (no schedule: {exc})")
            continue
        dates = list(rows["date"])
        if not dates or dates[-1] <= as_of:
            out[ln.id] = None
            continue
        balance = balance_at(rows, as_of, ln.principal)
        share = balance / ln.principal if ln.principal > 0 else 1.0
        out[ln.id] = (min(1.0, max(share, 0.0)), (dates[-1] - as_of).days / 365.0)
    return out


def loan_positions(
    loans: Sequence[LoanRecord],
    shares: dict[str, dict[str, float | None]],
    asset_ids: set[str],
    currency: str,
    as_of: date,
    notes: list[str],
) -> list[LoanPosition]:
    """Return the loans of the book at ``as_of`` (see the module's rules)."""
    outstanding = outstanding_at(loans, as_of, notes)
    out: list[LoanPosition] = []
    for ln in loans:
        if ln.id in outstanding and outstanding[ln.id] is None:
            notes.append(f"loan {ln.id} left out: matured before {as_of}")
            continue
        share, remaining = outstanding.get(ln.id) or (1.0, None)
        collateral = {a: s for a, s in shares.get(ln.id, {}).items() if a in asset_ids}
        try:
            if ln.currency != currency:
                raise ConventionError(f"currency {ln.currency} is not the book's {currency}")
            maturity = remaining if remaining is not None else ln.tenor_months / 12.0
            out.append(
                LoanPosition(
                    id=ln.id,
                    currency=currency,
                    principal=ln.principal * share,
                    ead=ln.ead * share,
                    pd=ln.pd,
                    lgd=ln.lgd,
                    annual_rate=ln.annual_rate,
                    maturity_years=max(maturity, 1.0 / 12.0),
                    collateral=collateral,
                    lgd_regulatory=ln.lgd_regulatory,
                )
            )
        except (ValuationError, TypeError, ValueError) as exc:
            notes.append(f"loan {ln.id} left out: {exc}")
    return out


def tranche_positions(
    securitizations: Sequence[SecuritizationRecord],
    loans: Sequence[LoanPosition],
    notes: list[str],
) -> list[TranchePosition]:
    """Return the tranches of the securitizations whose pools hold loans of the book."""
    by_id = {x.id: x for x in loans}
    out: list[TranchePosition] = []
    for sec in securitizations:
        pool = [x for x in sec.loan_ids if x in by_id]
        if not pool:
            notes.append(f"securitization {sec.id} left out: no pooled loan in the book")
            continue
        maturity = max(by_id[x].maturity_years for x in pool)
        try:
            out.extend(
                TranchePosition(
                    id=f"{sec.id}:{t.name}",
                    securitization_id=sec.id,
                    name=t.name,
                    attach=t.attach,
                    detach=t.detach,
                    notional=t.balance,
                    coupon=t.coupon if t.coupon is not None else (t.spread_bp or 0.0) / 1e4,
                    maturity_years=maturity,
                    loan_ids=tuple(pool),
                )
                for t in sec.tranches
            )
        except (TypeError, ValueError, ValuationError) as exc:
            notes.append(f"securitization {sec.id} left out: {exc}")
    return out


def assemble_book(
    *,
    as_of: date,
    currency: str,
    assets: Sequence[AssetPosition],
    loans: Sequence[LoanRecord],
    pledges: Sequence[PledgeRecord],
    securitizations: Sequence[SecuritizationRecord] = (),
    notes: list[str] | None = None,
) -> BookBuild:
    """Assemble the stress book at ``as_of`` from asset positions and booked records.

    The book at ``as_of`` in ``currency`` (`book_currency` of the loans, usually) from asset
    positions and booked records; ``notes`` (appended to) say what was left out.

    Examples
    --------
    >>> from datetime import date
    >>> loan = LoanRecord("1", "CNY", 1e6, 0.06, date(2025, 1, 1), 24, "annuity", 1,
    ...                   "ACT/365F", None, 1e6, 0.02, 0.4, 0.45, 8e3, 9e4)
    >>> built = assemble_book(as_of=date(2025, 7, 1), currency="CNY", assets=(),
    ...                       loans=[loan], pledges=())
    >>> round(built.book.loans[0].principal / 1e6, 3), built.booked["ead"]
    (0.761, 1000000.0)
    """
    notes = [] if notes is None else notes
    shares = pledge_shares(pledges)
    asset_ids = {a.id for a in assets}
    loan_pos = loan_positions(loans, shares, asset_ids, currency, as_of, notes)
    in_book = {x.id for x in loan_pos}
    booked: dict[str, float] = {}
    for ln in loans:
        if ln.id in in_book:
            booked["ead"] = booked.get("ead", 0.0) + ln.ead
            booked["expected_loss"] = booked.get("expected_loss", 0.0) + ln.expected_loss
            booked["capital"] = booked.get("capital", 0.0) + ln.capital
    tranches = tranche_positions(securitizations, loan_pos, notes)
    return BookBuild(Book.build(currency, assets, loan_pos, tranches), notes, booked)
