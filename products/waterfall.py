"""Pool cashflows and the priority of payments, period by period.

Two layers, kept apart as the style guide asks:

* pool cashflows (`AssetSchedules`, `PoolCashflows`): each asset's scheduled interest,
  principal, prepayments and balance per month, then aggregated per scenario from
  survival weights (deterministic CDR, large-pool conditional survival) or from simulated
  default periods (copula Monte Carlo), with recoveries after a lag;
* the waterfall: `run_waterfall_reference` (a plain loop over scenarios and periods, the
  specification) and `run_waterfall` (the same rules vectorised over scenarios); tests
  check they agree.

Priority of payments each month (``t = 1..T``):

1. collections ``C = interest + scheduled principal + prepayments + recoveries``; in the
   last period the whole reserve is released into available funds;
2. senior fees (``fee_rate / 12 x pool balance + fixed``, unpaid fees carried), then note
   interest by seniority (``balance x coupon / 12``, shortfalls carried without interest);
   shortfalls are drawn from the reserve;
3. triggers: OC ratio and cumulative defaults switch principal to sequential for good;
   DSCR (basis ``interest``: ``(interest collections - fees) / note interest``; basis
   ``cash``, for income collateral such as royalties and licences: ``(collections - fees)
   / (note interest + principal due to the borrowing base)``; infinite without debt
   service) sets the cash trap / sweep share
   and, at or below the rapid-amortisation level, rapid amortisation for good;
4. principal: the notes are paid down to the borrowing base ``advance_rate x collateral
   value x pool balance / initial pool balance`` (to zero in rapid amortisation),
   sequentially or pro rata by the active rule;
5. reserve top-up to its target (reserve cash above target is released into available
   funds when no trap applies), then excess cash: the swept share pays principal (all of
   it in rapid amortisation), the trapped share stays in the reserve, and the rest goes to
   the residual holder;
6. losses: note balances above the cover (pool balance + reserve + recoveries still due)
   are written down from the most junior class up, but before the final month only as far
   as the pool's credit losses not yet written down (defaulted balances less recoveries
   received and still due). A shortfall of cover that comes from timing alone (principal
   collections used for fees, interest or the reserve in a month when interest
   collections fall short) is a principal deficiency, not a loss: later excess spread
   cures it through the principal step (the notes are paid down to the borrowing base
   before any residual), and whatever is left uncured is written down in the final month.

Every period conserves cash: ``C = fees + interest + principal + residual + (reserve_end -
reserve_start)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from products.structure import Deal, Pool
from valuation._typing import BoolArray, FloatArray, IntArray
from valuation.errors import ConventionError

#: Note interest (major units) below which the DSCR is taken as infinite (no debt service).
MIN_INTEREST = 1e-9
#: Under-collateralisation below this fraction of the initial pool is round-off, not a loss.
WRITEDOWN_EPS = 1e-12

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
    term_months: IntArray  # (n_assets,)
    recovery_lag_months: int

    @property
    def n_periods(self) -> int:
        return int(self.balance.shape[1] - 1)

    @property
    def n_assets(self) -> int:
        return int(self.balance.shape[0])


def _loan_balance(balance: float, rate: float, n: int, amortization: str, horizon: int) -> tuple[FloatArray, FloatArray]:
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
    assert cut is not None
    frame = pd.DataFrame({
        "loan_id": np.arange(len(pool.loans)),
        "principal": [float(x.balance) for x in pool.loans],
        "annual_rate": [float(x.annual_rate) for x in pool.loans],
        "start_date": [x.start_date or cut for x in pool.loans],
        "tenor_months": [int(x.term_months) for x in pool.loans],
        "amortization": [x.amortization for x in pool.loans],
        "frequency_months": [int(x.frequency_months) for x in pool.loans],
        "day_count": [x.day_count for x in pool.loans],
        "calendar": [x.calendar for x in pool.loans],
    })
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
                f"date {cut.isoformat()}: it was repaid by then.", field=f"pool.loans[{i}]")
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
        loan_terms = [x.term_months for x in pool.loans]
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
            bal[i], inte[i] = _loan_balance(float(loan.balance), float(loan.annual_rate),
                                            loan.term_months, loan.amortization, horizon)
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
    rr = np.array([x.recovery_rate for x in pool.loans] + [r.recovery_rate for r in pool.receivables],
                  dtype=np.float64)
    pds = np.array([x.pd for x in pool.loans] + [r.pd for r in pool.receivables], dtype=np.float64)
    inte[:, 1:] *= q[:-1]
    prin[:, 1:] *= q[:-1]
    return AssetSchedules(
        asset_ids=ids, balance=bal * q, interest=inte, principal=prin, prepayment=prepay,
        recovery_rate=rr, pd=pds, term_months=np.asarray(terms, dtype=np.int64),
        recovery_lag_months=pool.recovery_lag_months,
    )


# ---------------------------------------------------------------------------------------------
# pool cashflows per scenario
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolCashflows:
    """Aggregate pool cashflows per scenario, arrays ``(n_scenarios, n_periods)`` (month 1..T).

    ``weights`` (n_scenarios,) are scenario probabilities (1/n for Monte Carlo paths);
    ``pending_recoveries[:, t]`` are recoveries on defaults up to month ``t`` still to come.
    """

    interest: FloatArray
    scheduled_principal: FloatArray
    prepayments: FloatArray
    defaults: FloatArray
    recoveries: FloatArray
    balance: FloatArray
    pending_recoveries: FloatArray
    initial_balance: float
    weights: FloatArray

    @property
    def n_scenarios(self) -> int:
        return int(self.interest.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.interest.shape[1])

    @property
    def collections(self) -> FloatArray:
        return self.interest + self.scheduled_principal + self.prepayments + self.recoveries

    def net_loss(self) -> FloatArray:
        """Pool loss per scenario: defaults minus recoveries (n_scenarios,)."""
        return self.defaults.sum(axis=1) - self.recoveries.sum(axis=1)


def _pending(recoveries: FloatArray, lag: int) -> FloatArray:
    n, t_max = recoveries.shape
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(recoveries, axis=1)], axis=1)
    idx = np.arange(1, t_max + 1)
    hi = np.minimum(idx + lag, t_max)
    return c[:, hi] - c[:, idx]


def pool_cashflows_from_survival(sched: AssetSchedules, survival: FloatArray,
                                 weights: FloatArray | None = None) -> PoolCashflows:
    """Aggregate pool cashflows from performing probabilities.

    Parameters
    ----------
    sched : AssetSchedules
    survival : FloatArray
        ``(n_scenarios, n_periods + 1)`` -- the same for every asset (a CDR vector) -- or
        ``(n_scenarios, n_assets, n_periods + 1)`` -- per asset (large-pool conditional
        survival); column 0 must be 1. Entry ``t`` is the share still performing after month
        ``t`` (it paid month ``t``).
    weights : FloatArray, optional
        Scenario probabilities; equal weights by default.
    """
    s = np.asarray(survival, dtype=np.float64)
    lag = sched.recovery_lag_months
    if s.ndim == 2:
        tot_i = sched.interest.sum(axis=0)
        tot_p = sched.principal.sum(axis=0)
        tot_pp = sched.prepayment.sum(axis=0)
        tot_b = sched.balance.sum(axis=0)
        tot_rb = sched.recovery_rate @ sched.balance
        drop = s[:, :-1] - s[:, 1:]
        interest = s[:, 1:] * tot_i[1:]
        principal = s[:, 1:] * tot_p[1:]
        prepay = s[:, 1:] * tot_pp[1:]
        balance = s[:, 1:] * tot_b[1:]
        defaults = drop * tot_b[:-1]
        rec_at_default = drop * tot_rb[:-1]
    else:
        interest = np.einsum("sit,it->st", s[:, :, 1:], sched.interest[:, 1:])
        principal = np.einsum("sit,it->st", s[:, :, 1:], sched.principal[:, 1:])
        prepay = np.einsum("sit,it->st", s[:, :, 1:], sched.prepayment[:, 1:])
        balance = np.einsum("sit,it->st", s[:, :, 1:], sched.balance[:, 1:])
        drop = s[:, :, :-1] - s[:, :, 1:]
        defaults = np.einsum("sit,it->st", drop, sched.balance[:, :-1])
        rec_at_default = np.einsum("sit,it->st", drop, sched.recovery_rate[:, None] * sched.balance[:, :-1])
    recoveries = np.zeros_like(defaults)
    t_max = defaults.shape[1]
    if lag < t_max:
        recoveries[:, lag:] = rec_at_default[:, : t_max - lag]
    n = defaults.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    return PoolCashflows(interest, principal, prepay, defaults, recoveries, balance,
                         _pending(recoveries, lag), float(sched.balance[:, 0].sum()), w)


def pool_cashflows_from_default_periods(sched: AssetSchedules, default_period: IntArray) -> PoolCashflows:
    """Aggregate pool cashflows from simulated default months.

    Parameters
    ----------
    default_period : IntArray
        ``(n_paths, n_assets)``: the month ``1..T`` in which each asset defaults (it pays
        nothing from that month on; its balance at the start of the month is the default
        amount), or 0 if it does not default.

    Notes
    -----
    Full-pool totals minus what the defaulted assets no longer pay: the defaults form a
    sparse (path x asset) matrix, so the cost grows with the number of defaults, not with
    paths x assets x months.
    """
    d = np.asarray(default_period, dtype=np.int64)
    n, m = d.shape
    t_max = sched.n_periods
    lag = sched.recovery_lag_months
    x = np.stack([sched.interest, sched.principal, sched.prepayment, sched.balance], axis=-1)
    tot = x[:, 1:, :].sum(axis=0)  # (T, 4)
    out = np.empty((n, t_max, 4))
    out[:] = tot
    rows, cols = np.nonzero(d)
    dv = d[rows, cols]
    defaults = np.zeros(n * t_max)
    rec = np.zeros(n * t_max)
    if rows.size:
        indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int64)
        data = np.zeros(rows.size)
        mat = sparse.csr_matrix((data, cols, indptr), shape=(n, m))
        first = int(dv.min())
        for t in range(first, t_max + 1):
            mat.data = (dv <= t).astype(np.float64)
            out[:, t - 1, :] -= mat @ x[:, t, :]
        amount = sched.balance[cols, dv - 1]
        defaults = np.bincount(rows * t_max + (dv - 1), weights=amount, minlength=n * t_max)
        ok = dv + lag <= t_max
        rec = np.bincount(rows[ok] * t_max + (dv[ok] - 1 + lag),
                          weights=amount[ok] * sched.recovery_rate[cols[ok]], minlength=n * t_max)
    defaults = defaults.reshape(n, t_max)
    recoveries = rec.reshape(n, t_max)
    # clean tiny negative round-off from the subtraction
    out = np.where(np.abs(out) < 1e-9 * max(float(sched.balance[:, 0].sum()), 1.0), 0.0, out)
    return PoolCashflows(out[:, :, 0], out[:, :, 1], out[:, :, 2], defaults, recoveries,
                         out[:, :, 3], _pending(recoveries, lag), float(sched.balance[:, 0].sum()),
                         np.full(n, 1.0 / n))


def pool_cashflows_reference(sched: AssetSchedules, default_period: IntArray) -> PoolCashflows:
    """Plain loop version of `pool_cashflows_from_default_periods` (the specification)."""
    d = np.asarray(default_period, dtype=np.int64)
    n, m = d.shape
    t_max = sched.n_periods
    lag = sched.recovery_lag_months
    arr = {k: np.zeros((n, t_max)) for k in ("i", "p", "pp", "b", "d", "r")}
    for s in range(n):
        for a in range(m):
            da = int(d[s, a])
            for t in range(1, t_max + 1):
                if da == 0 or t < da:
                    arr["i"][s, t - 1] += sched.interest[a, t]
                    arr["p"][s, t - 1] += sched.principal[a, t]
                    arr["pp"][s, t - 1] += sched.prepayment[a, t]
                    arr["b"][s, t - 1] += sched.balance[a, t]
                elif t == da:
                    amount = sched.balance[a, t - 1]
                    arr["d"][s, t - 1] += amount
                    if t + lag <= t_max:
                        arr["r"][s, t - 1 + lag] += amount * sched.recovery_rate[a]
    return PoolCashflows(arr["i"], arr["p"], arr["pp"], arr["d"], arr["r"], arr["b"],
                         _pending(arr["r"], lag), float(sched.balance[:, 0].sum()),
                         np.full(n, 1.0 / n))


# ---------------------------------------------------------------------------------------------
# waterfall
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaterfallResult:
    """Waterfall outputs. Per-tranche arrays are ``(n_scenarios, n_tranches, n_periods)``,
    deal-level arrays ``(n_scenarios, n_periods)``; tranches senior first."""

    collections: FloatArray
    fees_paid: FloatArray
    interest_due: FloatArray  # current month's coupon on the balance (no carried shortfall)
    interest_paid: FloatArray
    interest_shortfall: FloatArray  # carried unpaid interest at month end
    principal_paid: FloatArray
    writedown: FloatArray
    note_balance: FloatArray  # at month end, after write-downs
    reserve_start: FloatArray
    reserve_end: FloatArray
    residual: FloatArray
    dscr: FloatArray
    trap_fraction: FloatArray
    sweep_fraction: FloatArray
    sequential: BoolArray
    rapid_amortisation: BoolArray

    def cash_imbalance(self) -> FloatArray:
        """Collections - (fees + interest + principal + residual + change in reserve),
        (n_scenarios, n_periods): zero up to round-off."""
        out = (self.fees_paid + self.interest_paid.sum(axis=1) + self.principal_paid.sum(axis=1)
               + self.residual + self.reserve_end - self.reserve_start)
        return self.collections - out


def _coupons(deal: Deal, n_periods: int, index_rates: FloatArray | None) -> FloatArray:
    """Annual coupon per tranche and month, (n_tranches, n_periods)."""
    idx = np.zeros(n_periods) if index_rates is None else np.asarray(index_rates, dtype=np.float64)
    if idx.shape != (n_periods,):
        raise ConventionError(
            f"The `index_rates` must have one rate per month ({n_periods}). Got shape {idx.shape}.",
            field="index_rates",
        )
    out = np.empty((len(deal.tranches), n_periods))
    for k, tr in enumerate(deal.tranches):
        if tr.coupon is not None:
            out[k] = tr.coupon
        else:
            out[k] = idx + float(tr.spread_bp or 0.0) / 1e4
    return out


def _alloc_seq(amount: float, bal: list[float]) -> list[float]:
    out = []
    for b in bal:
        x = min(amount, b)
        out.append(x)
        amount -= x
    return out


def _alloc_pro(amount: float, bal: list[float]) -> list[float]:
    tot = sum(bal)
    if tot <= 0.0:
        return [0.0] * len(bal)
    return [min(amount * b / tot, b) for b in bal]


def run_waterfall_reference(deal: Deal, cf: PoolCashflows,
                            index_rates: FloatArray | None = None) -> WaterfallResult:
    """The waterfall as a plain loop over scenarios and months: the specification that
    `run_waterfall` is tested against. See the module docstring for the rules."""
    n, t_max = cf.n_scenarios, cf.n_periods
    k_n = len(deal.tranches)
    cpn = _coupons(deal, t_max, index_rates)
    tr = deal.triggers
    b0 = cf.initial_balance
    base = deal.advance_rate * deal.collateral_value / b0
    cash_basis = tr.dscr_basis == "cash"
    res = {k: np.zeros((n, t_max)) for k in ("coll", "fees", "rs", "re", "resid", "dscr", "trap", "sweep")}
    seq_out = np.zeros((n, t_max), dtype=bool)
    rap_out = np.zeros((n, t_max), dtype=bool)
    per = {k: np.zeros((n, k_n, t_max)) for k in ("due", "ip", "sf", "pp", "wd", "nb")}
    for s in range(n):
        notes = [float(t.balance) for t in deal.tranches]
        short = [0.0] * k_n
        reserve = float(deal.reserve.initial)
        fee_short = 0.0
        cumdef = 0.0
        credit_loss = 0.0  # defaulted balances less recoveries received, to date
        written = 0.0
        latched_seq = False
        rapid = False
        b_start = b0
        for t in range(t_max):
            final = t == t_max - 1
            inte = float(cf.interest[s, t])
            coll = inte + float(cf.scheduled_principal[s, t]) + float(cf.prepayments[s, t]) \
                + float(cf.recoveries[s, t])
            res["coll"][s, t] = coll
            res["rs"][s, t] = reserve
            avail = coll
            if final:
                avail += reserve
                reserve = 0.0
            fee_cur = deal.senior_fee_rate / 12.0 * b_start + deal.senior_fee_fixed
            fee_due = fee_cur + fee_short
            pay = min(avail, fee_due)
            avail -= pay
            draw = min(reserve, fee_due - pay)
            reserve -= draw
            pay += draw
            fee_short = fee_due - pay
            res["fees"][s, t] = pay
            sched_int = 0.0
            for k in range(k_n):
                cur = notes[k] * cpn[k, t] / 12.0
                sched_int += cur
                due = cur + short[k]
                pay = min(avail, due)
                avail -= pay
                draw = min(reserve, due - pay)
                reserve -= draw
                pay += draw
                short[k] = due - pay
                per["due"][s, k, t] = cur
                per["ip"][s, k, t] = pay
                per["sf"][s, k, t] = short[k]
            b_end = float(cf.balance[s, t])
            total = sum(notes)
            cumdef += float(cf.defaults[s, t])
            credit_loss += float(cf.defaults[s, t]) - float(cf.recoveries[s, t])
            if tr.oc_ratio is not None and total > 0.0 and b_end < tr.oc_ratio * total:
                latched_seq = True
            if tr.cumulative_default is not None and cumdef > tr.cumulative_default * b0:
                latched_seq = True
            if cash_basis:  # (collections - fees) / (note interest + principal to the base)
                ncf = coll - fee_cur
                service = sched_int + max(total - base * b_end, 0.0)
            else:  # interest coverage: (interest collections - fees) / note interest
                ncf = inte - fee_cur
                service = sched_int
            dscr = ncf / service if service > MIN_INTEREST else math.inf
            if tr.rapid_amortisation(dscr):
                rapid = True
            trap_f = tr.trap_fraction(dscr)
            sweep_f = 1.0 if rapid else tr.sweep_fraction(dscr)
            sequential = deal.principal_rule == "sequential" or latched_seq or rapid
            alloc = _alloc_seq if sequential else _alloc_pro
            target = 0.0 if rapid else base * b_end
            pay = min(avail, max(total - target, 0.0))
            avail -= pay
            prin = alloc(pay, notes)
            notes = [b - x for b, x in zip(notes, prin, strict=True)]
            total = sum(notes)
            tgt = 0.0 if final else deal.reserve.target(total, sched_int)
            dep = min(avail, max(tgt - reserve, 0.0))
            reserve += dep
            avail -= dep
            if not final and trap_f == 0.0 and reserve > tgt:
                avail += reserve - tgt  # reserve above target is released when no trap applies
                reserve = tgt
            sweep = min(sweep_f * avail, total)
            avail -= sweep
            extra = alloc(sweep, notes)
            notes = [b - x for b, x in zip(notes, extra, strict=True)]
            prin = [a + b for a, b in zip(prin, extra, strict=True)]
            trap = 0.0 if final else trap_f * avail
            reserve += trap
            avail -= trap
            res["resid"][s, t] = avail
            res["re"][s, t] = reserve
            res["dscr"][s, t] = dscr
            res["trap"][s, t] = trap_f
            res["sweep"][s, t] = sweep_f
            seq_out[s, t] = sequential
            rap_out[s, t] = rapid
            cover = b_end + reserve + float(cf.pending_recoveries[s, t])
            loss = sum(notes) - cover
            if not final:
                loss = min(loss, credit_loss - float(cf.pending_recoveries[s, t]) - written)
            loss = loss if loss > WRITEDOWN_EPS * b0 else 0.0
            for k in range(k_n - 1, -1, -1):
                w = min(loss, notes[k])
                notes[k] -= w
                loss -= w
                per["wd"][s, k, t] = w
                written += w
            for k in range(k_n):
                per["pp"][s, k, t] = prin[k]
                per["nb"][s, k, t] = notes[k]
            b_start = b_end
    return WaterfallResult(res["coll"], res["fees"], per["due"], per["ip"], per["sf"], per["pp"],
                           per["wd"], per["nb"], res["rs"], res["re"], res["resid"], res["dscr"],
                           res["trap"], res["sweep"], seq_out, rap_out)


def _fractions(dscr: FloatArray, deal: Deal, action: str) -> FloatArray:
    out = np.zeros_like(dscr)
    for trig in deal.triggers.dscr:
        if trig.action != action:
            continue
        for tier in trig.tiers:
            out = np.where(dscr < tier.threshold, np.maximum(out, tier.fraction), out)
    return out


def _valloc(amount: FloatArray, notes: FloatArray, sequential: BoolArray) -> FloatArray:
    """Allocate ``amount`` (n,) over ``notes`` (n, K): sequential or pro rata per row."""
    seq = np.empty_like(notes)
    rem = amount.copy()
    for k in range(notes.shape[1]):
        seq[:, k] = np.minimum(rem, notes[:, k])
        rem -= seq[:, k]
    tot = notes.sum(axis=1)
    safe = np.where(tot > 0.0, tot, 1.0)
    pro = np.where(tot[:, None] > 0.0, np.minimum(amount[:, None] * notes / safe[:, None], notes), 0.0)
    return np.where(sequential[:, None], seq, pro)


def run_waterfall(deal: Deal, cf: PoolCashflows, index_rates: FloatArray | None = None) -> WaterfallResult:
    """The waterfall vectorised over scenarios (a loop over months only).

    Parameters
    ----------
    deal : Deal
    cf : PoolCashflows
        Pool cashflows ``(n_scenarios, n_periods)``.
    index_rates : FloatArray, optional
        Annual index rate per month (decimal) for floating tranches, shape ``(n_periods,)``;
        zero by default.

    Returns
    -------
    WaterfallResult
        Identical (to round-off) to `run_waterfall_reference`.
    """
    n, t_max = cf.n_scenarios, cf.n_periods
    k_n = len(deal.tranches)
    cpn = _coupons(deal, t_max, index_rates)
    tr = deal.triggers
    b0 = cf.initial_balance
    base = deal.advance_rate * deal.collateral_value / b0
    notes = np.tile(np.array([float(t.balance) for t in deal.tranches]), (n, 1))
    short = np.zeros((n, k_n))
    reserve = np.full(n, float(deal.reserve.initial))
    fee_short = np.zeros(n)
    cumdef = np.zeros(n)
    credit_loss = np.zeros(n)  # defaulted balances less recoveries received, to date
    written = np.zeros(n)
    latched = np.zeros(n, dtype=bool)
    rapid = np.zeros(n, dtype=bool)
    b_start = np.full(n, b0)
    shape2, shape3 = (n, t_max), (n, k_n, t_max)
    coll_o, fees_o, rs_o, re_o = (np.zeros(shape2) for _ in range(4))
    resid_o, dscr_o, trap_o, sweep_o = (np.zeros(shape2) for _ in range(4))
    seq_o = np.zeros(shape2, dtype=bool)
    rap_o = np.zeros(shape2, dtype=bool)
    due_o, ip_o, sf_o, pp_o, wd_o, nb_o = (np.zeros(shape3) for _ in range(6))
    pro_rata = deal.principal_rule != "sequential"
    cash_basis = tr.dscr_basis == "cash"
    for t in range(t_max):
        final = t == t_max - 1
        inte = cf.interest[:, t]
        coll = inte + cf.scheduled_principal[:, t] + cf.prepayments[:, t] + cf.recoveries[:, t]
        coll_o[:, t] = coll
        rs_o[:, t] = reserve
        avail = coll.copy()
        if final:
            avail += reserve
            reserve = np.zeros(n)
        fee_cur = deal.senior_fee_rate / 12.0 * b_start + deal.senior_fee_fixed
        fee_due = fee_cur + fee_short
        pay = np.minimum(avail, fee_due)
        avail -= pay
        draw = np.minimum(reserve, fee_due - pay)
        reserve -= draw
        pay += draw
        fee_short = fee_due - pay
        fees_o[:, t] = pay
        sched_int = np.zeros(n)
        for k in range(k_n):
            cur = notes[:, k] * cpn[k, t] / 12.0
            sched_int += cur
            due = cur + short[:, k]
            pay = np.minimum(avail, due)
            avail -= pay
            draw = np.minimum(reserve, due - pay)
            reserve -= draw
            pay += draw
            short[:, k] = due - pay
            due_o[:, k, t] = cur
            ip_o[:, k, t] = pay
            sf_o[:, k, t] = short[:, k]
        b_end = cf.balance[:, t]
        total = notes.sum(axis=1)
        cumdef += cf.defaults[:, t]
        credit_loss += cf.defaults[:, t] - cf.recoveries[:, t]
        if tr.oc_ratio is not None:
            latched |= (total > 0.0) & (b_end < tr.oc_ratio * total)
        if tr.cumulative_default is not None:
            latched |= cumdef > tr.cumulative_default * b0
        if cash_basis:
            ncf = coll - fee_cur
            service = sched_int + np.maximum(total - base * b_end, 0.0)
        else:
            ncf = inte - fee_cur
            service = sched_int
        pos = service > MIN_INTEREST
        dscr = np.where(pos, ncf / np.where(pos, service, 1.0), np.inf)
        if tr.rapid_amortisation_dscr is not None:
            rapid |= dscr <= tr.rapid_amortisation_dscr
        trap_f = _fractions(dscr, deal, "trap")
        sweep_f = np.where(rapid, 1.0, _fractions(dscr, deal, "sweep"))
        sequential = latched | rapid if pro_rata else np.ones(n, dtype=bool)
        target = np.where(rapid, 0.0, base * b_end)
        pay = np.minimum(avail, np.maximum(total - target, 0.0))
        avail -= pay
        prin = _valloc(pay, notes, sequential)
        notes = notes - prin
        total = notes.sum(axis=1)
        tgt = np.zeros(n) if final else deal.reserve.target(total, sched_int)
        dep = np.minimum(avail, np.maximum(tgt - reserve, 0.0))
        reserve = reserve + dep
        avail -= dep
        if not final:
            release = (trap_f == 0.0) & (reserve > tgt)
            avail = np.where(release, avail + (reserve - tgt), avail)
            reserve = np.where(release, tgt, reserve)
        sweep = np.minimum(sweep_f * avail, total)
        avail -= sweep
        extra = _valloc(sweep, notes, sequential)
        notes = notes - extra
        prin = prin + extra
        trap = np.zeros(n) if final else trap_f * avail
        reserve = reserve + trap
        avail -= trap
        resid_o[:, t] = avail
        re_o[:, t] = reserve
        dscr_o[:, t] = dscr
        trap_o[:, t] = trap_f
        sweep_o[:, t] = sweep_f
        seq_o[:, t] = sequential
        rap_o[:, t] = rapid
        cover = b_end + reserve + cf.pending_recoveries[:, t]
        loss = notes.sum(axis=1) - cover
        if not final:
            loss = np.minimum(loss, credit_loss - cf.pending_recoveries[:, t] - written)
        loss = np.where(loss > WRITEDOWN_EPS * b0, loss, 0.0)
        for k in range(k_n - 1, -1, -1):
            w = np.minimum(loss, notes[:, k])
            notes[:, k] -= w
            loss -= w
            wd_o[:, k, t] = w
            written += w
        pp_o[:, :, t] = prin
        nb_o[:, :, t] = notes
        b_start = b_end
    return WaterfallResult(coll_o, fees_o, due_o, ip_o, sf_o, pp_o, wd_o, nb_o, rs_o, re_o, resid_o,
                           dscr_o, trap_o, sweep_o, seq_o, rap_o)
