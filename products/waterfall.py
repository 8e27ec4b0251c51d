"""Pool cashflows and the priority of payments, period by period.

Two layers, kept apart as the style guide asks:

* pool cashflows (`products.pool_cashflows`: `PoolCashflows`): each asset's scheduled
  interest, principal, prepayments and balance per month, then aggregated per scenario
  from survival weights (deterministic CDR, large-pool conditional survival) or from
  simulated default periods (copula Monte Carlo), with recoveries after a lag;
* the waterfall (this module): `run_waterfall_reference` (a plain loop over scenarios and periods, the
  specification) and `run_waterfall` (the same rules vectorised over scenarios); tests
  check they agree.

Priority of payments each month (``t = 1..T``), after Moody's and KBRA published
structures and the absbox conventions (tests after payments, ledgers per class):

1. collections ``C = interest + scheduled principal + prepayments + recoveries``; in the
   last period, and in the month a clean-up call is exercised (the pool balance at the
   start of the month at or below ``clean_up_call x`` its initial balance; the servicer
   buys the remaining pool at its balance plus the recoveries still due), the whole
   reserve and the call proceeds enter available funds and every later month is empty;
2. coverage (DSCR) over the trailing ``dscr_window`` payment dates (default 3): basis
   ``interest``: ``sum (interest collections - fees) / sum note interest``; basis
   ``cash``, for income collateral such as royalties and licences: ``sum (collections -
   fees) / sum (note interest + principal due to the borrowing base)``; infinite without
   debt service. It sets the cash trap / sweep share and, at or below the
   rapid-amortisation level, rapid amortisation for good;
3. reserve release: with no trap in force, reserve cash above its target enters the
   available funds here, at the top of the waterfall (never straight to the residual);
4. senior fees (``fee_rate / 12 x pool balance + fixed``, unpaid fees carried), then note
   interest by seniority (``balance x coupon / 12``, shortfalls carried without interest);
   shortfalls are drawn from the reserve;
5. principal: the notes are paid down to the borrowing base ``advance_rate x collateral
   value x pool balance / initial pool balance`` (to zero in rapid amortisation and at the
   end), sequentially or pro rata by the active rule; the cumulative-default trigger
   (defaults to date over the initial pool) switches to sequential for good at once;
6. OC test after the principal step, pool balance and notes at the same point: ``pool <
   oc_ratio x notes`` switches principal to sequential for good from the next month (with
   no defaults the notes amortise with the pool and the test never fails);
7. reserve top-up to its target;
8. losses: note balances above the cover (pool balance + reserve + recoveries still due)
   are written down from the most junior class up and debited to each class's principal
   deficiency ledger (PDL), but before the final month only as far as the pool's credit
   losses not yet written down (defaulted balances less recoveries received and still
   due). A shortfall of cover that comes from timing alone is not a loss: the principal
   step pays the notes down to the borrowing base from later excess spread;
9. PDL cure: the cash left is paid to the classes' PDLs in order of seniority (written-down
   principal reimbursed), before anything else;
10. excess cash: the swept share pays principal (all of it in rapid amortisation), the
    trapped share stays in the reserve, and the rest goes to the residual holder -- only
    once every PDL is cleared.

Every period conserves cash: ``C + call proceeds = fees + interest + principal + PDL cures
+ residual + (reserve_end - reserve_start)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from products.pool_cashflows import PoolCashflows
from products.structure import Deal
from valuation._typing import BoolArray, FloatArray
from valuation.errors import ConventionError

#: Note interest (major units) below which the DSCR is taken as infinite (no debt service).
MIN_INTEREST = 1e-9
#: Under-collateralisation below this fraction of the initial pool is round-off, not a loss
#: (nor an OC breach).
WRITEDOWN_EPS = 1e-12


# ---------------------------------------------------------------------------------------------
# waterfall
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaterfallResult:
    """Waterfall outputs.

    Per-tranche arrays are ``(n_scenarios, n_tranches, n_periods)``, deal-level arrays
    ``(n_scenarios, n_periods)``; tranches senior first.
    """

    collections: FloatArray  # pool collections (zero after a clean-up call)
    fees_paid: FloatArray
    interest_due: FloatArray  # current month's coupon on the balance (no carried shortfall)
    interest_paid: FloatArray
    interest_shortfall: FloatArray  # carried unpaid interest at month end
    principal_paid: FloatArray  # scheduled, turbo and swept principal (not PDL cures)
    writedown: FloatArray  # principal written down this month (debited to the class's PDL)
    note_balance: FloatArray  # at month end, after write-downs
    reserve_start: FloatArray
    reserve_end: FloatArray
    residual: FloatArray
    dscr: FloatArray  # on the trailing window
    trap_fraction: FloatArray
    sweep_fraction: FloatArray
    sequential: BoolArray  # principal rule used this month
    rapid_amortisation: BoolArray
    pdl_cure: FloatArray  # written-down principal reimbursed from excess spread this month
    pdl_balance: FloatArray  # written-down principal not yet reimbursed, at month end
    call_proceeds: FloatArray  # clean-up call price received this month
    called: BoolArray  # the month the clean-up call is exercised
    oc_breached: BoolArray  # OC test failed after this month's principal step

    def cash_imbalance(self) -> FloatArray:
        """Return the cash that the waterfall's ledgers leave unexplained (zero up to round-off).

        Collections + call proceeds - (fees + interest + principal + PDL cures + residual + change
        in reserve), (n_scenarios, n_periods): zero up to round-off.
        """
        out = (
            self.fees_paid
            + self.interest_paid.sum(axis=1)
            + self.principal_paid.sum(axis=1)
            + self.pdl_cure.sum(axis=1)
            + self.residual
            + self.reserve_end
            - self.reserve_start
        )
        return np.asarray(self.collections + self.call_proceeds - out, dtype=np.float64)


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


def run_waterfall_reference(
    deal: Deal, cf: PoolCashflows, index_rates: FloatArray | None = None
) -> WaterfallResult:
    """Run the waterfall as a plain loop over scenarios and months (the specification).

    It is the specification that `run_waterfall` is tested against. See the module docstring
    for the rules.
    """
    n, t_max = cf.n_scenarios, cf.n_periods
    k_n = len(deal.tranches)
    cpn = _coupons(deal, t_max, index_rates)
    tr = deal.triggers
    b0 = cf.initial_balance
    base = deal.advance_rate * deal.collateral_value / b0
    call = deal.clean_up_call
    cash_basis = tr.dscr_basis == "cash"
    res = {
        k: np.zeros((n, t_max))
        for k in ("coll", "fees", "rs", "re", "resid", "dscr", "trap", "sweep", "call")
    }
    flags = {k: np.zeros((n, t_max), dtype=bool) for k in ("seq", "rap", "called", "oc")}
    per = {
        k: np.zeros((n, k_n, t_max)) for k in ("due", "ip", "sf", "pp", "wd", "nb", "cure", "pdl")
    }
    for s in range(n):
        notes = [float(t.balance) for t in deal.tranches]
        short = [0.0] * k_n
        pdl = [0.0] * k_n
        reserve = float(deal.reserve.initial)
        fee_short = 0.0
        cumdef = 0.0
        credit_loss = 0.0  # defaulted balances less recoveries received, to date
        written = 0.0
        latched_seq = False
        oc_latched = False
        rapid = False
        ended = False
        b_start = b0
        ncf_hist: list[float] = []
        service_hist: list[float] = []
        for t in range(t_max):
            final = t == t_max - 1
            live = not ended
            inte = float(cf.interest[s, t]) if live else 0.0
            coll = (
                (
                    inte
                    + float(cf.scheduled_principal[s, t])
                    + float(cf.prepayments[s, t])
                    + float(cf.recoveries[s, t])
                )
                if live
                else 0.0
            )
            b_end = float(cf.balance[s, t]) if live else 0.0
            pending = float(cf.pending_recoveries[s, t]) if live else 0.0
            defaults = float(cf.defaults[s, t]) if live else 0.0
            recoveries = float(cf.recoveries[s, t]) if live else 0.0
            call_now = live and not final and call is not None and b_start <= call * b0
            end_now = final or call_now
            proceeds = b_end + pending if call_now else 0.0
            b_cover = 0.0 if call_now else b_end
            p_cover = 0.0 if call_now else pending
            res["coll"][s, t] = coll
            res["call"][s, t] = proceeds
            flags["called"][s, t] = call_now
            res["rs"][s, t] = reserve
            avail = coll + proceeds
            fee_cur = (
                (deal.senior_fee_rate / 12.0 * b_start + deal.senior_fee_fixed) if live else 0.0
            )
            cur = [notes[k] * cpn[k, t] / 12.0 for k in range(k_n)]
            sched_int = sum(cur)
            total = sum(notes)
            # coverage (DSCR) on the trailing window of payment dates
            if cash_basis:  # (collections - fees) / (note interest + principal to the base)
                ncf = coll - fee_cur
                service = sched_int + max(total - base * b_end, 0.0)
            else:  # interest coverage: (interest collections - fees) / note interest
                ncf = inte - fee_cur
                service = sched_int
            if live:
                ncf_hist.append(ncf)
                service_hist.append(service)
                num = sum(ncf_hist[-tr.dscr_window :])
                den = sum(service_hist[-tr.dscr_window :])
                dscr = num / den if den > MIN_INTEREST else math.inf
                if tr.rapid_amortisation(dscr):
                    rapid = True
                trap_f = tr.trap_fraction(dscr)
                sweep_f = 1.0 if rapid else tr.sweep_fraction(dscr)
            else:
                dscr, trap_f, sweep_f = math.inf, 0.0, 0.0
            # reserve: released into available funds (at the top of the waterfall)
            if end_now:
                avail += reserve
                reserve = 0.0
            elif trap_f == 0.0:
                top = float(deal.reserve.target(total, sched_int))
                if reserve > top:
                    avail += reserve - top
                    reserve = top
            fee_due = fee_cur + fee_short
            pay = min(avail, fee_due)
            avail -= pay
            draw = min(reserve, fee_due - pay)
            reserve -= draw
            pay += draw
            fee_short = fee_due - pay
            res["fees"][s, t] = pay
            for k in range(k_n):
                due = cur[k] + short[k]
                pay = min(avail, due)
                avail -= pay
                draw = min(reserve, due - pay)
                reserve -= draw
                pay += draw
                short[k] = due - pay
                per["due"][s, k, t] = cur[k]
                per["ip"][s, k, t] = pay
                per["sf"][s, k, t] = short[k]
            cumdef += defaults
            credit_loss += defaults - recoveries
            if tr.cumulative_default is not None and cumdef > tr.cumulative_default * b0:
                latched_seq = True
            sequential = deal.principal_rule == "sequential" or latched_seq or oc_latched or rapid
            alloc = _alloc_seq if sequential else _alloc_pro
            target = 0.0 if (rapid or end_now) else base * b_end
            pay = min(avail, max(total - target, 0.0))
            avail -= pay
            prin = alloc(pay, notes)
            notes = [b - x for b, x in zip(notes, prin, strict=True)]
            total = sum(notes)
            # OC test after the principal step: pool and notes at the same point (next month on)
            breach = (
                live
                and tr.oc_ratio is not None
                and total > 0.0
                and b_end < tr.oc_ratio * total - WRITEDOWN_EPS * b0
            )
            oc_latched = oc_latched or breach
            flags["oc"][s, t] = breach
            tgt = 0.0 if end_now else float(deal.reserve.target(total, sched_int))
            dep = min(avail, max(tgt - reserve, 0.0))
            reserve += dep
            avail -= dep
            # losses: write-downs from the most junior class up, debited to each class's PDL
            loss = total - (b_cover + reserve + p_cover)
            if not end_now:
                loss = min(loss, credit_loss - pending - written)
            loss = loss if loss > WRITEDOWN_EPS * b0 else 0.0
            for k in range(k_n - 1, -1, -1):
                w = min(loss, notes[k])
                notes[k] -= w
                pdl[k] += w
                loss -= w
                per["wd"][s, k, t] = w
                written += w
            # PDL cure from excess spread, senior first, before anything reaches the residual
            for k in range(k_n):
                c = min(avail, pdl[k])
                pdl[k] -= c
                avail -= c
                per["cure"][s, k, t] = c
            sweep = min(sweep_f * avail, sum(notes))
            avail -= sweep
            extra = alloc(sweep, notes)
            notes = [b - x for b, x in zip(notes, extra, strict=True)]
            prin = [a + b for a, b in zip(prin, extra, strict=True)]
            trap = 0.0 if end_now else trap_f * avail
            reserve += trap
            avail -= trap
            res["resid"][s, t] = avail
            res["re"][s, t] = reserve
            res["dscr"][s, t] = dscr
            res["trap"][s, t] = trap_f
            res["sweep"][s, t] = sweep_f
            flags["seq"][s, t] = sequential
            flags["rap"][s, t] = rapid
            for k in range(k_n):
                per["pp"][s, k, t] = prin[k]
                per["nb"][s, k, t] = notes[k]
                per["pdl"][s, k, t] = pdl[k]
            b_start = b_end
            ended = ended or call_now
    return WaterfallResult(
        collections=res["coll"],
        fees_paid=res["fees"],
        interest_due=per["due"],
        interest_paid=per["ip"],
        interest_shortfall=per["sf"],
        principal_paid=per["pp"],
        writedown=per["wd"],
        note_balance=per["nb"],
        reserve_start=res["rs"],
        reserve_end=res["re"],
        residual=res["resid"],
        dscr=res["dscr"],
        trap_fraction=res["trap"],
        sweep_fraction=res["sweep"],
        sequential=flags["seq"],
        rapid_amortisation=flags["rap"],
        pdl_cure=per["cure"],
        pdl_balance=per["pdl"],
        call_proceeds=res["call"],
        called=flags["called"],
        oc_breached=flags["oc"],
    )


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
    pro = np.where(
        tot[:, None] > 0.0, np.minimum(amount[:, None] * notes / safe[:, None], notes), 0.0
    )
    return np.where(sequential[:, None], seq, pro)


def run_waterfall(
    deal: Deal, cf: PoolCashflows, index_rates: FloatArray | None = None
) -> WaterfallResult:
    """Run the waterfall, vectorised over scenarios (a loop over months only).

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
    call = deal.clean_up_call
    notes = np.tile(np.array([float(t.balance) for t in deal.tranches]), (n, 1))
    short = np.zeros((n, k_n))
    pdl = np.zeros((n, k_n))
    reserve = np.full(n, float(deal.reserve.initial))
    fee_short = np.zeros(n)
    cumdef = np.zeros(n)
    credit_loss = np.zeros(n)  # defaulted balances less recoveries received, to date
    written = np.zeros(n)
    latched = np.zeros(n, dtype=bool)
    oc_latched = np.zeros(n, dtype=bool)
    rapid = np.zeros(n, dtype=bool)
    ended = np.zeros(n, dtype=bool)
    b_start = np.full(n, b0)
    w_n = tr.dscr_window
    ncf_hist = np.zeros((n, w_n))  # ring buffers of the trailing window
    service_hist = np.zeros((n, w_n))
    shape2, shape3 = (n, t_max), (n, k_n, t_max)
    coll_o, fees_o, rs_o, re_o, call_o = (np.zeros(shape2) for _ in range(5))
    resid_o, dscr_o, trap_o, sweep_o = (np.zeros(shape2) for _ in range(4))
    seq_o, rap_o, called_o, oc_o = (np.zeros(shape2, dtype=bool) for _ in range(4))
    due_o, ip_o, sf_o, pp_o, wd_o, nb_o, cure_o, pdl_o = (np.zeros(shape3) for _ in range(8))
    pro_rata = deal.principal_rule != "sequential"
    cash_basis = tr.dscr_basis == "cash"
    for t in range(t_max):
        final = t == t_max - 1
        live = ~ended
        inte = np.where(live, cf.interest[:, t], 0.0)
        coll = np.where(
            live,
            cf.interest[:, t]
            + cf.scheduled_principal[:, t]
            + cf.prepayments[:, t]
            + cf.recoveries[:, t],
            0.0,
        )
        b_end = np.where(live, cf.balance[:, t], 0.0)
        pending = np.where(live, cf.pending_recoveries[:, t], 0.0)
        defaults = np.where(live, cf.defaults[:, t], 0.0)
        recoveries = np.where(live, cf.recoveries[:, t], 0.0)
        if call is not None and not final:
            call_now = live & (b_start <= call * b0)
        else:
            call_now = np.zeros(n, dtype=bool)
        end_now = call_now | final
        proceeds = np.where(call_now, b_end + pending, 0.0)
        b_cover = np.where(call_now, 0.0, b_end)
        p_cover = np.where(call_now, 0.0, pending)
        coll_o[:, t] = coll
        call_o[:, t] = proceeds
        called_o[:, t] = call_now
        rs_o[:, t] = reserve
        avail = coll + proceeds
        fee_cur = np.where(live, deal.senior_fee_rate / 12.0 * b_start + deal.senior_fee_fixed, 0.0)
        cur = notes * cpn[:, t][None, :] / 12.0
        sched_int = np.zeros(n)
        for k in range(k_n):
            sched_int += cur[:, k]
        total = notes.sum(axis=1)
        if cash_basis:
            ncf = coll - fee_cur
            service = sched_int + np.maximum(total - base * b_end, 0.0)
        else:
            ncf = inte - fee_cur
            service = sched_int
        slot = t % w_n
        ncf_hist[:, slot] = np.where(live, ncf, 0.0)
        service_hist[:, slot] = np.where(live, service, 0.0)
        num = _window_sum(ncf_hist, t, w_n)
        den = _window_sum(service_hist, t, w_n)
        pos = den > MIN_INTEREST
        dscr = np.where(pos, num / np.where(pos, den, 1.0), np.inf)
        dscr = np.where(live, dscr, np.inf)
        if tr.rapid_amortisation_dscr is not None:
            rapid |= live & (dscr <= tr.rapid_amortisation_dscr)
        trap_f = np.where(live, _fractions(dscr, deal, "trap"), 0.0)
        sweep_f = np.where(live, np.where(rapid, 1.0, _fractions(dscr, deal, "sweep")), 0.0)
        avail = np.where(end_now, avail + reserve, avail)
        reserve = np.where(end_now, 0.0, reserve)
        top = np.asarray(deal.reserve.target(total, sched_int), dtype=np.float64)
        release = ~end_now & (trap_f == 0.0) & (reserve > top)
        avail = np.where(release, avail + (reserve - top), avail)
        reserve = np.where(release, top, reserve)
        fee_due = fee_cur + fee_short
        pay = np.minimum(avail, fee_due)
        avail -= pay
        draw = np.minimum(reserve, fee_due - pay)
        reserve -= draw
        pay += draw
        fee_short = fee_due - pay
        fees_o[:, t] = pay
        for k in range(k_n):
            due = cur[:, k] + short[:, k]
            pay = np.minimum(avail, due)
            avail -= pay
            draw = np.minimum(reserve, due - pay)
            reserve -= draw
            pay += draw
            short[:, k] = due - pay
            due_o[:, k, t] = cur[:, k]
            ip_o[:, k, t] = pay
            sf_o[:, k, t] = short[:, k]
        cumdef += defaults
        credit_loss += defaults - recoveries
        if tr.cumulative_default is not None:
            latched |= cumdef > tr.cumulative_default * b0
        sequential = (latched | oc_latched | rapid) if pro_rata else np.ones(n, dtype=bool)
        target = np.where(rapid | end_now, 0.0, base * b_end)
        pay = np.minimum(avail, np.maximum(total - target, 0.0))
        avail -= pay
        prin = _valloc(pay, notes, sequential)
        notes = notes - prin
        total = notes.sum(axis=1)
        if tr.oc_ratio is not None:
            breach = live & (total > 0.0) & (b_end < tr.oc_ratio * total - WRITEDOWN_EPS * b0)
            oc_latched |= breach
            oc_o[:, t] = breach
        tgt = np.where(end_now, 0.0, deal.reserve.target(total, sched_int))
        dep = np.minimum(avail, np.maximum(tgt - reserve, 0.0))
        reserve = reserve + dep
        avail -= dep
        loss = total - (b_cover + reserve + p_cover)
        loss = np.where(end_now, loss, np.minimum(loss, credit_loss - pending - written))
        loss = np.where(loss > WRITEDOWN_EPS * b0, loss, 0.0)
        for k in range(k_n - 1, -1, -1):
            w = np.minimum(loss, notes[:, k])
            notes[:, k] -= w
            pdl[:, k] += w
            loss -= w
            wd_o[:, k, t] = w
            written += w
        for k in range(k_n):
            c = np.minimum(avail, pdl[:, k])
            pdl[:, k] -= c
            avail -= c
            cure_o[:, k, t] = c
        sweep = np.minimum(sweep_f * avail, notes.sum(axis=1))
        avail -= sweep
        extra = _valloc(sweep, notes, sequential)
        notes = notes - extra
        prin = prin + extra
        trap = np.where(end_now, 0.0, trap_f * avail)
        reserve = reserve + trap
        avail -= trap
        resid_o[:, t] = avail
        re_o[:, t] = reserve
        dscr_o[:, t] = dscr
        trap_o[:, t] = trap_f
        sweep_o[:, t] = sweep_f
        seq_o[:, t] = sequential
        rap_o[:, t] = rapid
        pp_o[:, :, t] = prin
        nb_o[:, :, t] = notes
        pdl_o[:, :, t] = pdl
        b_start = b_end
        ended |= call_now
    return WaterfallResult(
        collections=coll_o,
        fees_paid=fees_o,
        interest_due=due_o,
        interest_paid=ip_o,
        interest_shortfall=sf_o,
        principal_paid=pp_o,
        writedown=wd_o,
        note_balance=nb_o,
        reserve_start=rs_o,
        reserve_end=re_o,
        residual=resid_o,
        dscr=dscr_o,
        trap_fraction=trap_o,
        sweep_fraction=sweep_o,
        sequential=seq_o,
        rapid_amortisation=rap_o,
        pdl_cure=cure_o,
        pdl_balance=pdl_o,
        call_proceeds=call_o,
        called=called_o,
        oc_breached=oc_o,
    )


def _window_sum(ring: FloatArray, t: int, w_n: int) -> FloatArray:
    """Sum the last ``min(t + 1, w_n)`` entries of a ring buffer, in time order.

    Sum of the last ``min(t + 1, w_n)`` entries of a ring buffer, in time order (so the float sum
    matches the reference loop's ``sum(hist[-w:])``).
    """
    first = max(0, t - w_n + 1)
    out = np.zeros(ring.shape[0])
    for u in range(first, t + 1):
        out = out + ring[:, u % w_n]
    return out
