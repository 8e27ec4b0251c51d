"""Products tables: securitizations, their tranches and pricing results.

Follows the SQLModel idiom ``XBase / X(table=True) / XPublic``.

- ``securitization``: a tenant's deal. ``spec`` is the deal JSON as posted (the API contract field
  names); ``pool_snapshot`` the pool as resolved at creation (loan terms copied from the
  tenant's loans, or the receivables), so a price can always be reproduced from the row
  even if the loans change later. Ids are integers, as everywhere in the API.
- ``securitization_tranche``: one row per class, ``seniority`` 0 for the most senior;
  ``attach`` / ``detach`` fractions of the initial pool, ``balance`` in major units,
  ``coupon`` (decimal) or ``spread_bp``.
- ``securitization_pricing``: one priced run: method, paths, seed, correlation, as_of,
  and the per-tranche figures as JSON (``result``), so a run can be read back whole.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from models.db import utc_now


class SecuritizationBase(SQLModel):
    name: str = Field(max_length=120)
    currency: str = Field(max_length=3)
    pool_balance: float = Field(description="Initial pool balance, major units.")
    note_balance: float = Field(description="Sum of the tranche balances, major units.")


class Securitization(SecuritizationBase, table=True):
    __tablename__ = "securitization"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80)
    spec: str = Field(sa_type=sa.Text, description="Deal JSON as posted.")
    pool_snapshot: str = Field(sa_type=sa.Text, description="Resolved pool JSON.")
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utc_now, sa_type=sa.DateTime(timezone=True))

    def spec_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.spec))

    def pool_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.pool_snapshot))


class SecuritizationTranche(SQLModel, table=True):
    __tablename__ = "securitization_tranche"
    __table_args__ = (sa.UniqueConstraint("securitization_id", "seniority"),)

    id: int | None = Field(default=None, primary_key=True)
    securitization_id: int = Field(foreign_key="securitization.id", ondelete="CASCADE", index=True)
    seniority: int
    name: str = Field(max_length=40)
    attach: float
    detach: float
    balance: float
    coupon: float | None = None
    spread_bp: float | None = None


class SecuritizationPricing(SQLModel, table=True):
    __tablename__ = "securitization_pricing"

    id: int | None = Field(default=None, primary_key=True)
    securitization_id: int = Field(foreign_key="securitization.id", ondelete="CASCADE", index=True)
    tenant: str = Field(index=True, max_length=80)
    method: str = Field(max_length=20)
    paths: int
    seed: int
    correlation: float
    as_of: date
    result: str = Field(sa_type=sa.Text, description="Per-tranche figures as JSON.")
    created_by: str = Field(max_length=80)
    created_at: datetime = Field(default_factory=utc_now, sa_type=sa.DateTime(timezone=True))
    job_id: int | None = Field(
        default=None,
        sa_column_kwargs={"unique": True},
        description="The job that made this run (a retried job finds it).",
    )

    def result_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.result))


def securitizations_of(session: Session, tenant: str) -> list[Securitization]:
    """The tenant's securitizations by id (filtered in SQL)."""
    query = select(Securitization).where(Securitization.tenant == tenant)
    return list(session.exec(query.order_by(col(Securitization.id).asc())).all())


def tranches_by_securitization(
    session: Session, securitization_ids: list[int]
) -> dict[int, list[SecuritizationTranche]]:
    """The tranches of the given securitizations, senior first, by securitization id."""
    out: dict[int, list[SecuritizationTranche]] = {int(i): [] for i in securitization_ids}
    if not securitization_ids:
        return out
    query = select(SecuritizationTranche).where(
        col(SecuritizationTranche.securitization_id).in_(securitization_ids)
    )
    for t in session.exec(query.order_by(col(SecuritizationTranche.seniority).asc())).all():
        out[int(t.securitization_id)].append(t)
    return out
