"""Credit tables: loans, pledges of data assets to loans, loan events.

Follows the SQLModel idiom ``XBase / X(table=True) / XPublic``. Booked amounts are
``Decimal`` rounded to the currency's minor unit once, by the service, when the row is
written; rates, probabilities and ratios are floats (decimals, 0.05 = 5 %).

Pledge capacity: the live pledges of an asset (``Pledge.status == "live"``) never add
up to more than the asset's lending value. Origination checks and writes this inside
one transaction after locking the pledged ``data_asset`` rows (see
`lock_assets_for_pledge`), so two concurrent originations against one asset are
serialised and the second sees the first's pledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

import models.db  # noqa: F401  (sets the constraint naming convention first)
from models.db import utc_now
from models.registry import DataAsset


class LoanStatus(StrEnum):
    """Life cycle of a loan: live until repaid, or defaulted and then liquidated."""

    LIVE = "live"
    REPAID = "repaid"
    DEFAULTED = "defaulted"
    LIQUIDATED = "liquidated"


class PledgeStatus(StrEnum):
    """A pledge holds its asset's lending value while live."""

    LIVE = "live"
    RELEASED = "released"


LOAN_STATUSES = tuple(s.value for s in LoanStatus)
PLEDGE_STATUSES = tuple(s.value for s in PledgeStatus)
EVENT_KINDS = ("origination", "revaluation", "warning", "margin_call", "liquidation")


class LoanBase(SQLModel):
    borrower: str = Field(max_length=200, description="Borrower name.")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code.")
    principal: Decimal = Field(gt=0, max_digits=20, decimal_places=4, description="Major units.")
    start_date: date
    tenor_months: int = Field(ge=1)
    amortization: str = Field(max_length=10)
    frequency_months: int = Field(ge=1, le=12)
    day_count: str = Field(max_length=10)
    calendar: str | None = Field(default=None, max_length=40)
    annual_rate: float = Field(description="All-in annual rate, decimal.")
    rate_funding: float
    rate_expected_loss: float
    rate_capital: float
    rate_costs: float
    pd: float = Field(description="One-year PD used for EL and capital, decimal.")
    pd_source: str = Field(max_length=20, description="rating or revenue.")
    rating: str | None = Field(default=None, max_length=10)
    lgd: float = Field(description="LGD used for EL (economic unless overridden), decimal.")
    lgd_economic: float
    lgd_regulatory: float
    ead: Decimal = Field(max_digits=20, decimal_places=4)
    expected_loss: Decimal = Field(max_digits=20, decimal_places=4)
    capital: Decimal = Field(max_digits=20, decimal_places=4)
    rwa: Decimal = Field(max_digits=20, decimal_places=4)
    capital_k: float
    collateral_value: Decimal = Field(max_digits=20, decimal_places=4)
    lending_value: Decimal = Field(max_digits=20, decimal_places=4)
    haircut: float
    ltv: float = Field(description="Outstanding / collateral value at the last revaluation.")
    asset_correlation: float
    status: str = Field(default=LoanStatus.LIVE.value, max_length=20)
    paths: int
    seed: int
    as_of: date
    valuation_id: int | None = Field(
        default=None,
        foreign_key="valuation.id",
        index=True,
        description="The stored valuation relied on (first pledged asset's).",
    )
    combined_ltv: float | None = Field(
        default=None,
        description="(principal + earlier live pledges on the assets) / collateral value at origination.",
    )
    effective_maturity_years: float | None = Field(
        default=None, description="Basel effective maturity used for capital, years."
    )
    policy_exception: str | None = Field(
        default=None,
        max_length=500,
        description="Reason of an accepted principal above the policy LTV.",
    )


class Loan(LoanBase, table=True):
    __tablename__ = "loan"
    __table_args__ = (sa.UniqueConstraint("tenant", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now)


class LoanPublic(LoanBase):
    id: int
    created_at: datetime


class Pledge(SQLModel, table=True):
    """A data asset pledged to a loan; ``amount`` is the part of its lending value used."""

    __tablename__ = "loan_pledge"

    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="loan.id", ondelete="CASCADE", index=True)
    asset_id: int = Field(foreign_key="data_asset.id", index=True)
    amount: Decimal = Field(max_digits=20, decimal_places=4)
    asset_value: Decimal = Field(max_digits=20, decimal_places=4)
    lending_value: Decimal = Field(max_digits=20, decimal_places=4)
    haircut: float
    currency: str = Field(max_length=3)
    status: str = Field(default=PledgeStatus.LIVE.value, max_length=20)
    valuation_id: int | None = Field(
        default=None,
        foreign_key="valuation.id",
        index=True,
        description="The stored valuation these figures come from.",
    )
    created_at: datetime = Field(default_factory=utc_now)


class LoanEvent(SQLModel, table=True):
    """Origination, revaluation and the LTV events it raises (warning, margin call, liquidation)."""

    __tablename__ = "loan_event"

    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="loan.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=20)
    as_of: date
    ltv: float
    threshold: float | None = None
    collateral_value: Decimal = Field(max_digits=20, decimal_places=4)
    outstanding: Decimal = Field(max_digits=20, decimal_places=4)
    cure_amount: Decimal = Field(default=Decimal("0"), max_digits=20, decimal_places=4)
    created_at: datetime = Field(default_factory=utc_now)


def lock_assets_for_pledge(session: Session, asset_ids: Sequence[int]) -> list[DataAsset]:
    """Lock the pledged assets' rows for the rest of the transaction, in id order.

    PostgreSQL: ``SELECT ... FOR UPDATE`` (a second origination on the same asset
    waits until the first commits or rolls back, then reads its pledges). SQLite has
    no row locks: a no-op ``UPDATE`` of the same rows takes the database write lock
    first, which serialises writers the same way (the busy timeout makes the second
    wait). Ids are locked in ascending order so two transactions cannot deadlock.
    """
    ids = sorted({int(i) for i in asset_ids})
    if not ids:
        return []
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        table = DataAsset.__table__  # type: ignore[attr-defined]
        session.execute(sa.update(table).where(table.c.id.in_(ids)).values(id=table.c.id))
        rows = session.exec(
            select(DataAsset).where(col(DataAsset.id).in_(ids)).order_by(col(DataAsset.id))
        ).all()
    else:
        rows = session.exec(
            select(DataAsset)
            .where(col(DataAsset.id).in_(ids))
            .order_by(col(DataAsset.id))
            .with_for_update()
        ).all()
    return list(rows)


class PledgeConsent(SQLModel, table=True):
    """The owner's consent that a lender tenant may pledge its asset, up to ``amount``
    (lending value, in ``currency``) until ``expires_on`` (inclusive)."""

    __tablename__ = "pledge_consent"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: int = Field(foreign_key="data_asset.id", index=True)
    owner_tenant: str = Field(max_length=80)
    lender_tenant: str = Field(max_length=80, index=True)
    amount: Decimal = Field(max_digits=20, decimal_places=4)
    currency: str = Field(max_length=3)
    expires_on: date
    created_at: datetime = Field(default_factory=utc_now)
    created_by: str = Field(max_length=120)


def consented_amount(
    session: Session, asset_id: int, lender_tenant: str, on: date, currency: str
) -> Decimal | None:
    """The largest amount in ``currency`` the asset's owner consented for ``lender_tenant``
    still valid on ``on``, or None when there is no such consent (a consent in another
    currency is not one: amounts are never converted)."""
    value = session.execute(
        sa.select(sa.func.max(PledgeConsent.amount)).where(
            col(PledgeConsent.asset_id) == asset_id,
            col(PledgeConsent.lender_tenant) == lender_tenant,
            col(PledgeConsent.currency) == currency,
            col(PledgeConsent.expires_on) >= on,
        )
    ).scalar_one_or_none()
    return None if value is None else Decimal(str(value))


def pledged_by_tenant(
    session: Session, asset_ids: Sequence[int], tenant: str
) -> dict[int, Decimal]:
    """Live pledge amounts per asset of the loans of one tenant (a lender's own exposure)."""
    if not asset_ids:
        return {}
    stmt = (
        sa.select(col(Pledge.asset_id), sa.func.sum(Pledge.amount))
        .join(Loan, col(Loan.id) == col(Pledge.loan_id))
        .where(
            col(Pledge.asset_id).in_(list(asset_ids)),
            col(Pledge.status) == PledgeStatus.LIVE.value,
            col(Loan.tenant) == tenant,
        )
        .group_by(col(Pledge.asset_id))
    )
    return {int(a): Decimal(str(s)) for a, s in session.execute(stmt).all()}


def pledged_amounts(session: Session, asset_ids: Sequence[int]) -> dict[int, Decimal]:
    """Sum of live pledge amounts per asset (assets without pledges are absent)."""
    if not asset_ids:
        return {}
    stmt = (
        sa.select(col(Pledge.asset_id), sa.func.sum(Pledge.amount))
        .where(col(Pledge.asset_id).in_(list(asset_ids)), col(Pledge.status) == "live")
        .group_by(col(Pledge.asset_id))
    )
    return {int(a): Decimal(str(s)) for a, s in session.execute(stmt).all()}


def live_loans(
    session: Session,
    tenant: str,
    *,
    ids: Sequence[int] | None = None,
    currency: str | None = None,
) -> list[Loan]:
    """The tenant's live loans by id, only those of ``ids`` and ``currency`` when given
    (filtered in SQL)."""
    query = select(Loan).where(Loan.tenant == tenant, Loan.status == LoanStatus.LIVE.value)
    if ids is not None:
        query = query.where(col(Loan.id).in_([int(i) for i in ids]))
    if currency is not None:
        query = query.where(Loan.currency == currency)
    return list(session.exec(query.order_by(col(Loan.id).asc())).all())


def live_pledges(session: Session, loan_ids: Sequence[int]) -> list[Pledge]:
    """The live pledges of the given loans by id (filtered in SQL)."""
    if not loan_ids:
        return []
    query = select(Pledge).where(
        col(Pledge.loan_id).in_([int(i) for i in loan_ids]),
        col(Pledge.status) == PledgeStatus.LIVE.value,
    )
    return list(session.exec(query.order_by(col(Pledge.id).asc())).all())
