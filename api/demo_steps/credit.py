"""Demo step: quote and originate loans against sample assets, print the quote, the schedule
head, the risk figures and the book's portfolio risk.

Goes through ``api.services.credit``, the same code as ``POST /v1/loans/quote``,
``POST /v1/loans``, ``GET /v1/loans/{id}/schedule``, ``GET /v1/loans/{id}/risk``,
``POST /v1/loans/{id}/revalue`` and ``GET /v1/portfolio/risk``. Leaves the loan ids in
``ctx.state["loan_ids"]`` for the products step to pool.
"""

from __future__ import annotations

from typing import Any

from api.demo_steps import DemoContext
from api.errors import ApiError
from api.schemas.credit import LoanCreateIn, LoanQuoteIn, RevalueIn
from api.services import credit as service
from api.services import loan_book as loan_book_service
from api.services import origination
from valuation.errors import ValuationError

ACTOR = "demo"
#: Loans written by the demo: (amortization, frequency, tenor, rating or revenue-based, share of max).
DEMO_LOANS: tuple[tuple[str, int, int, dict[str, Any], float], ...] = (
    ("annuity", 1, 12, {"name": "Sensor Data Co.", "rating": "BBB"}, 0.8),
    ("linear", 3, 24, {"name": "Geo Tiles Ltd.", "revenue_based": True, "revenue_share": 0.6}, 0.7),
    ("bullet", 6, 12, {"name": "Ledger Analytics", "rating": "BB"}, 0.9),
    ("annuity", 1, 36, {"name": "Footfall Insights", "rating": "B"}, 0.6),
)
PATHS = 2000


def _fmt(x: float) -> str:
    return f"{x:,.2f}"


def run(ctx: DemoContext) -> None:
    """Write a few loans against the sample assets and print what a collateral desk sees."""
    asset_ids = list(ctx.state.get("asset_ids", []))
    if not asset_ids:
        ctx.out("credit: no sample assets registered; skipped")
        return
    loan_ids: list[int] = []
    with ctx.session_factory() as session:
        for i, (amort, freq, tenor, borrower, share) in enumerate(DEMO_LOANS):
            if i >= len(asset_ids):
                break
            base = {
                "asset_ids": [asset_ids[i]],
                "currency": "CNY",
                "tenor_months": tenor,
                "amortization": amort,
                "frequency_months": freq,
                "day_count": "ACT/365F",
                "calendar": "China",
                "borrower": borrower,
                "as_of": ctx.as_of.isoformat(),
            }
            try:
                quote = service.quote_loan(session, LoanQuoteIn.model_validate(base))
                principal = round(quote["max_principal"] * share, 2)
                loan, _, warnings = origination.originate_loan(
                    session,
                    LoanCreateIn.model_validate({**base, "principal": principal}),
                    tenant=ctx.tenant,
                    actor=ACTOR,
                    idempotency_key=f"demo-loan-{i}",
                )
            except (ApiError, ValuationError) as exc:
                ctx.out(f"credit: asset {asset_ids[i]} not financed: {exc}")
                continue
            loan_ids.append(int(loan.id))  # type: ignore[arg-type]
            if i == 0:
                _print_first(ctx, session, quote, loan, warnings)
        ctx.state["loan_ids"] = loan_ids
        ctx.out(f"\ncredit: {len(loan_ids)} loans booked: ids {loan_ids}")
        for lid in loan_ids:
            ln = loan_book_service.get_loan(session, lid, ctx.tenant)
            ctx.out(
                f"  loan {lid}: {ln.borrower:<20} {_fmt(float(ln.principal)):>16} {ln.currency} "
                f"{ln.amortization:<8} {ln.tenor_months:>3}m rate {ln.annual_rate:.2%} "
                f"PD {ln.pd:.2%} LGD {ln.lgd:.1%} LTV {ln.ltv:.1%}"
            )
        if loan_ids:
            first = loan_book_service.get_loan(session, loan_ids[0], ctx.tenant)
            reval = loan_book_service.revalue_loan(
                session,
                first,
                RevalueIn(as_of=ctx.as_of, collateral_value=float(first.principal) / 0.72),
                actor=ACTOR,
            )
            ctx.out(
                f"\nrevaluation of loan {first.id} (collateral marked down): LTV {reval['ltv']:.1%}, "
                f"events {[e['kind'] for e in reval['events']]}"
            )
            for method in ("recursion", "lhp", "mc"):
                try:
                    risk = loan_book_service.portfolio_risk_view(
                        session,
                        ctx.tenant,
                        confidence=0.999,
                        method=method,
                        paths=20_000,
                        seed=ctx.seed,
                    )
                except ValuationError as exc:  # lhp: the demo book is not granular
                    ctx.out(f"portfolio risk ({method:>9}, 99.9%): refused - {exc}")
                    continue
                ctx.out(
                    f"portfolio risk ({method:>9}, 99.9%): EL {_fmt(risk['expected_loss'])}  "
                    f"VaR {_fmt(risk['var'])}  ES {_fmt(risk['es'])}  "
                    f"EC {_fmt(risk['economic_capital'])} {risk['currency']}"
                )


def _print_first(
    ctx: DemoContext, session: Any, quote: dict[str, Any], loan: Any, warnings: list[str]
) -> None:
    out = ctx.out
    out(
        f"\ncredit: quote for asset {quote['assets'][0]['asset_id']} ({quote['assets'][0]['category']}), "
        f"{quote['currency']}, as of {quote['as_of']}"
    )
    out(
        f"  collateral value {_fmt(quote['collateral_value'])}  haircut {quote['haircut']:.1%}  "
        f"lending value {_fmt(quote['lending_value'])}  max principal {_fmt(quote['max_principal'])}"
    )
    out(
        f"  PD {quote['pd']:.3%} ({quote['pd_source']})  LGD economic {quote['lgd']:.1%} / regulatory "
        f"{quote['lgd_regulatory']:.0%}  EL {_fmt(quote['expected_loss'])}  capital {_fmt(quote['capital'])}  "
        f"RWA {_fmt(quote['rwa'])}"
    )
    r = quote["rate"]
    out(
        f"  rate {r['total']:.3%} = funding {r['funding']:.3%} + EL {r['expected_loss']:.3%} + capital "
        f"{r['capital']:.3%} + costs {r['costs']:.3%}"
    )
    out(
        f"loan {loan.id} booked: principal {_fmt(float(loan.principal))} at {loan.annual_rate:.3%}"
        + (f"; warnings: {warnings}" if warnings else "")
    )
    sched = loan_book_service.loan_schedule(loan).head(5)
    out("  schedule head:")
    out(f"  {'date':<12}{'interest':>14}{'principal':>16}{'balance':>18}")
    for d, i_, p, b in sched[["date", "interest", "principal", "balance"]].itertuples(index=False):
        out(f"  {d.isoformat():<12}{_fmt(i_):>14}{_fmt(p):>16}{_fmt(b):>18}")
    risk = loan_book_service.loan_risk(session, loan)
    out(
        f"  risk: EAD {_fmt(risk['ead'])}  EL {_fmt(risk['expected_loss'])}  K {risk['capital_k']:.2%}  "
        f"RWA {_fmt(risk['rwa'])}  LTV {risk['ltv']:.1%}  correlation {risk['asset_correlation']:.3f}"
    )
