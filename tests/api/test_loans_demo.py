"""The credit demo step books loans against sample assets and prints quote, schedule head and risk."""

from __future__ import annotations

from sqlmodel import select

from api.demo_steps import DemoContext
from api.demo_steps import credit as credit_step
from api.demo_steps import registry as registry_step
from api.demo_steps import valuation as valuation_step
from models.credit import Loan, LoanEvent, Pledge


def test_demo_step_books_loans_and_prints_figures(session_factory) -> None:
    lines: list[str] = []
    ctx = DemoContext(session_factory=session_factory, tenant="demo", out=lines.append)
    registry_step.run(ctx)
    valuation_step.run(ctx)  # loans rely on the stored valuations
    lines.clear()
    credit_step.run(ctx)
    ids = ctx.state["loan_ids"]
    assert len(ids) == len(credit_step.DEMO_LOANS)
    text = "\n".join(lines)
    for needle in (
        "lending value",
        "max principal",
        "rate",
        "schedule head",
        "RWA",
        "portfolio risk",
    ):
        assert needle in text, needle
    with session_factory() as session:
        loans = session.exec(select(Loan)).all()
        assert sorted(x.id for x in loans) == sorted(ids)
        assert all(x.tenant == "demo" for x in loans)
        assert len(session.exec(select(Pledge)).all()) == len(ids)
        kinds = [e.kind for e in session.exec(select(LoanEvent)).all()]
        assert kinds.count("origination") == len(ids)
        assert "margin_call" in kinds
