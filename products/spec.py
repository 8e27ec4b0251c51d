"""The JSON form of a securitization, read and validated into a deal and a pool.

The JSON form is the API body: `deal_from_dict` and `pool_from_dict` read and validate it
into a `products.structure.Deal` and a `products.pool.Pool`; every error is a
`ConventionError` whose ``field`` is the dotted path of the offending input, for example
``tranches[1].attach`` or ``pool.loan_ids[3]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from products.pool import (
    Pool,
    PoolLoan,
    Receivable,
    _check_loan,
    _check_receivable,
    _choice,
    _fail,
    _integer,
    _number,
)
from products.schedules import asset_schedules
from products.structure import (
    DEFAULT_DSCR_WINDOW,
    PRINCIPAL_RULES,
    Deal,
    DscrTier,
    DscrTrigger,
    Guarantee,
    Reserve,
    Tranche,
    Triggers,
)
from valuation.conventions import parse_currency, parse_date

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
    """Read a pool loan from its JSON form.

    A loan from JSON: ``balance`` and ``tenor_months``, or for a booked loan (with a ``start_date``)
    equally ``principal`` instead of ``balance``. ``term_months``, the name of a loan's tenor in
    specs stored before the loan vocabulary was unified, is read as ``tenor_months``.
    """
    m = dict(_mapping(d, path))
    for alias, key in (("principal", "balance"), ("term_months", "tenor_months")):
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
        for k in ("loan_id", "balance", "annual_rate", "tenor_months"):
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
