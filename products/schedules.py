"""Scheduled cashflows of each asset of a pool: interest, principal, prepayments, balance.

The first layer of a deal's cashflows (`products.waterfall` aggregates them per scenario and
runs the priority of payments). `products.structure` uses it for the pool balance, so it
depends on the pool's attributes only (``loans``, ``receivables``, ``cut_off_date``,
``cpr``, ``recovery_lag_months``), never on the deal: the two import it, it imports neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from valuation._typing import FloatArray, IntArray
from valuation.errors import ConventionError

if TYPE_CHECKING:  # the type only: structure imports this module
    from products.pool import Pool


# ---------------------------------------------------------------------------------------------
# asset schedules
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetSchedules:
    """Per-asset scheduled cashflows of a performing asset, prepayments included.

    Arrays have shape ``(n_assets, n_periods + 1)``; column 0 is closing (balance only),
    column ``t`` is month ``t``. ``balance`` is at the end of the month.
    """

    asset_ids: tuple[str, ...]
    balance: FloatArray
    interest: FloatArray
    principal: FloatArray
    prepayment: FloatArray
    recovery_rate: FloatArray  # (n_assets,)
    pd: FloatArray  # (n_assets,) annual
    tenor_months: IntArray  # (n_assets,)
    recovery_lag_months: int

    @property
    def n_periods(self) -> int:
        """Return the number of monthly periods."""
        return int(self.balance.shape[1] - 1)

    @property
    def n_assets(self) -> int:
        """Return the number of assets."""
        return int(self.balance.shape[0])


def _loan_balance(
    balance: float, rate: float, n: int, amortization: str, horizon: int
) -> tuple[FloatArray, FloatArray]:
    """Scheduled (balance, interest) for months 0..horizon of one loan."""
    t = np.arange(horizon + 1, dtype=np.float64)
    r = rate / 12.0
    if amortization == "bullet":
        bal = np.where(t < n, balance, 0.0)
    elif amortization == "linear" or r < 1e-12:
        bal = balance * np.clip(1.0 - t / n, 0.0, None)
    else:
        lr = math.log1p(r)
        bal = balance * (math.expm1(n * lr) - np.expm1(np.minimum(t, n) * lr)) / math.expm1(n * lr)
    bal[n:] = 0.0
    interest = np.zeros(horizon + 1)
    interest[1:] = r * bal[:-1]
    return bal, interest


def _booked_loan_months(pool: Pool) -> tuple[FloatArray, FloatArray, IntArray]:
    """Outstanding balance at the cut-off and each loan's payments by deal month.

    Every loan's schedule comes from `credit.loans.schedules` (its principal from its start
    date -- the cut-off date for a loan without one -- its tenor, amortisation, frequency,
    day count and calendar, Modified Following). Deal month ``m`` collects the payments
    dated in ``(cut_off + m - 1 months, cut_off + m months]``; payments on or before the
    cut-off were made to the originator.

    Returns
    -------
    balance : FloatArray
        ``(n_loans, M + 1)`` outstanding after month ``m``, column 0 at the cut-off.
    interest : FloatArray
        ``(n_loans, M + 1)`` interest collected in month ``m`` (column 0 unused).
    last_month : IntArray
        Month of each loan's last payment (its remaining term), ``(n_loans,)``.
    """
    import pandas as pd

    from credit.loans import schedules
    from valuation.conventions import add_months

    cut = pool.cut_off_date
    assert cut is not None  # noqa: S101 - narrows a type the lines above guarantee
    frame = pd.DataFrame(
        {
            "loan_id": np.arange(len(pool.loans)),
            "principal": [float(x.balance) for x in pool.loans],
            "annual_rate": [float(x.annual_rate) for x in pool.loans],
            "start_date": [x.start_date or cut for x in pool.loans],
            "tenor_months": [int(x.tenor_months) for x in pool.loans],
            "amortization": [x.amortization for x in pool.loans],
            "frequency_months": [int(x.frequency_months) for x in pool.loans],
            "day_count": [x.day_count for x in pool.loans],
            "calendar": [x.calendar for x in pool.loans],
        }
    )
    rows = schedules(frame, dates_as="datetime64")
    owner = rows["loan_id"].to_numpy(dtype=np.int64)
    paid_on = rows["date"].to_numpy().astype("datetime64[D]")
    last = paid_on.max()
    n_months = 1
    while np.datetime64(add_months(cut, n_months)) < last:
        n_months += 1
    bounds = np.array([add_months(cut, m) for m in range(n_months + 1)], dtype="datetime64[D]")
    month = np.searchsorted(bounds, paid_on, side="left")  # bounds[m-1] < date <= bounds[m]
    n = len(pool.loans)
    principal = np.zeros((n, n_months + 1))
    interest = np.zeros((n, n_months + 1))
    np.add.at(principal, (owner, month), rows["principal"].to_numpy(dtype=np.float64))
    np.add.at(interest, (owner, month), rows["interest"].to_numpy(dtype=np.float64))
    outstanding = frame["principal"].to_numpy() - principal[:, 0]
    for i, loan in enumerate(pool.loans):
        if outstanding[i] <= 1e-9 * float(loan.balance):
            raise ConventionError(
                f"The `pool.loans[{i}]` ({loan.loan_id!r}) has no outstanding balance at the cut-off "
                f"date {cut.isoformat()}: it was repaid by then.",
                field=f"pool.loans[{i}]",
            )
    principal[:, 0] = 0.0
    interest[:, 0] = 0.0
    balance = outstanding[:, None] - np.cumsum(principal, axis=1)
    balance[np.abs(balance) <= 1e-9 * frame["principal"].to_numpy()[:, None]] = 0.0
    last_month = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_month, owner, month)
    return balance, interest, last_month


def asset_schedules(pool: Pool) -> AssetSchedules:
    """Scheduled cashflows of every asset in the pool over ``max term + recovery lag`` months.

    Loans: with a pool ``cut_off_date``, each loan's own schedule from `credit.loans`
    (`_booked_loan_months`: its frequency, day count, calendar and amortisation, at its
    outstanding balance on the cut-off date; a quarterly loan collects in its payment
    months only); without one, a monthly loan from month 1 paying ``rate / 12`` on its
    balance. Its term (the default window) runs to its last payment month.

    Prepayments: a constant monthly rate ``SMM = 1 - (1 - CPR)^(1/12)`` scales the
    performing schedule by ``q_t = (1 - SMM)^t``; the prepaid amount in month ``t`` is
    ``SMM x q_{t-1} x scheduled balance_t``.
    """
    booked = None
    if pool.cut_off_date is not None and pool.loans:
        booked = _booked_loan_months(pool)
        loan_terms = [int(x) for x in booked[2]]
    else:
        loan_terms = [x.tenor_months for x in pool.loans]
    terms = loan_terms + [len(r.cashflows) for r in pool.receivables]
    horizon = max(terms) + pool.recovery_lag_months
    n = len(terms)
    bal = np.zeros((n, horizon + 1))
    inte = np.zeros((n, horizon + 1))
    if booked is not None:
        width = booked[0].shape[1]
        bal[: len(pool.loans), :width] = booked[0]
        inte[: len(pool.loans), :width] = booked[1]
    else:
        for i, loan in enumerate(pool.loans):
            bal[i], inte[i] = _loan_balance(
                float(loan.balance),
                float(loan.annual_rate),
                loan.tenor_months,
                loan.amortization,
                horizon,
            )
    j = pool.discount_rate / 12.0
    for k, rec in enumerate(pool.receivables):
        i = len(pool.loans) + k
        c = np.asarray(rec.cashflows, dtype=np.float64)
        m = len(c)
        disc = (1.0 + j) ** -np.arange(1, m + 1)
        b = np.empty(m + 1)
        b[0] = float(c @ disc)
        for t in range(1, m + 1):
            b[t] = b[t - 1] * (1.0 + j) - c[t - 1]
        b[m] = 0.0
        bal[i, : m + 1] = np.maximum(b, 0.0)
        inte[i, 1 : m + 1] = np.minimum(c, j * b[:-1])
    prin = np.zeros_like(bal)
    # principal collected = cash - interest; for loans this equals the balance reduction
    cash = np.zeros_like(bal)
    n_loans = len(pool.loans)
    prin[:n_loans, 1:] = bal[:n_loans, :-1] - bal[:n_loans, 1:]
    for k, rec in enumerate(pool.receivables):
        i = len(pool.loans) + k
        m = len(rec.cashflows)
        cash[i, 1 : m + 1] = rec.cashflows
        prin[i, 1:] = cash[i, 1:] - inte[i, 1:]
    smm = 1.0 - (1.0 - pool.prepayment_rate) ** (1.0 / 12.0)
    q = (1.0 - smm) ** np.arange(horizon + 1)
    prepay = np.zeros_like(bal)
    prepay[:, 1:] = smm * q[:-1] * bal[:, 1:]
    ids = pool.asset_ids
    rr = np.array(
        [x.recovery_rate for x in pool.loans] + [r.recovery_rate for r in pool.receivables],
        dtype=np.float64,
    )
    pds = np.array([x.pd for x in pool.loans] + [r.pd for r in pool.receivables], dtype=np.float64)
    inte[:, 1:] *= q[:-1]
    prin[:, 1:] *= q[:-1]
    return AssetSchedules(
        asset_ids=ids,
        balance=bal * q,
        interest=inte,
        principal=prin,
        prepayment=prepay,
        recovery_rate=rr,
        pd=pds,
        tenor_months=np.asarray(terms, dtype=np.int64),
        recovery_lag_months=pool.recovery_lag_months,
    )
