"""The products demo step: pools the demo loans (or, without them, the sample assets'
receivables) into a three-tranche deal, prices it and prints the tranche table."""

from __future__ import annotations

from sqlmodel import select

from api.demo_steps import DemoContext
from api.demo_steps import products as products_step
from api.demo_steps import registry as registry_step
from models.products import Securitization, SecuritizationPricing


def test_demo_step_prints_the_tranche_table(session_factory) -> None:
    lines: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="demo", out=lines.append)
    registry_step.run(ctx)
    lines.clear()
    products_step.run(ctx)
    ids = ctx.state["securitization_ids"]
    assert len(ids) == 1
    text = "\n".join(lines)
    assert "class" in text
    assert "spread bp" in text
    for name in ("A", "B", "C"):
        assert any(line.strip().startswith(name + " ") for line in lines), text
    with session_factory() as session:
        row = session.get(Securitization, ids[0])
        assert row is not None
        assert row.tenant == "demo"
        runs = session.exec(select(SecuritizationPricing)).all()
        assert len(runs) == 1
        assert runs[0].seed == ctx.seed


def test_demo_step_pools_the_demo_loans_at_the_demo_date(session_factory) -> None:
    from decimal import Decimal

    from models.credit import Loan

    lines: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="demo", out=lines.append)
    zero = Decimal("0")
    ids = []
    with session_factory() as session:
        for i, (principal, freq) in enumerate(((6e6, 1), (9e6, 3), (12e6, 3))):
            loan = Loan(
                tenant="demo",
                borrower=f"b{i}",
                currency="CNY",
                principal=Decimal(str(principal)),
                start_date=ctx.as_of,
                tenor_months=12,
                amortization="annuity",
                frequency_months=freq,
                day_count="ACT/365F",
                calendar="China",
                annual_rate=0.06,
                rate_funding=0.03,
                rate_expected_loss=0.01,
                rate_capital=0.01,
                rate_costs=0.01,
                pd=0.02,
                pd_source="rating",
                lgd=0.45,
                lgd_economic=0.45,
                lgd_regulatory=0.45,
                ead=Decimal(str(principal)),
                expected_loss=zero,
                capital=zero,
                rwa=zero,
                capital_k=0.08,
                collateral_value=zero,
                lending_value=zero,
                haircut=0.4,
                ltv=0.5,
                asset_correlation=0.15,
                paths=100,
                seed=1,
                as_of=ctx.as_of,
            )
            session.add(loan)
            session.commit()
            ids.append(loan.id)
    ctx.state["loan_ids"] = ids
    products_step.run(ctx)
    assert "3 demo loans" in "\n".join(lines)
    with session_factory() as session:
        row = session.get(Securitization, ctx.state["securitization_ids"][0])
        assert row is not None
        assert row.pool_dict()["cut_off_date"] == ctx.as_of.isoformat()
        assert [x["frequency_months"] for x in row.pool_dict()["loans"]] == [1, 3, 3]
        assert row.pool_balance == 27e6  # new loans enter at their principal on the demo date
