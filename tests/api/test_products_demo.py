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
    assert "class" in text and "spread bp" in text
    for name in ("A", "B", "C"):
        assert any(line.strip().startswith(name + " ") for line in lines), text
    with session_factory() as session:
        row = session.get(Securitization, ids[0])
        assert row is not None and row.tenant == "demo"
        runs = session.exec(select(SecuritizationPricing)).all()
        assert len(runs) == 1 and runs[0].seed == ctx.seed
