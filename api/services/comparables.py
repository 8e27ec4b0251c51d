"""Comparable transactions: recording, correcting and retiring them, and the market approach's frame.

Comparables are shared evidence of a category (any tenant's valuation of an asset in the
category uses them), so every change is audited and none is ever silently rewritten: a
correction keeps the old row's history in the audit chain, a deletion retires it.
`comparables_frame` gives the valuation engine its ``comparables`` frame.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlmodel import Session, col, select

from api.errors import InvalidInputError, NotFoundError
from api.schemas.registry import ComparableIn
from api.services.registry import check_dates, money_decimal
from models.audit import record_audit
from models.registry import Comparable
from valuation.results import COMPARABLE_FRAME_COLUMNS

MAX_COMPARABLES_PER_REQUEST = 1_000


"""Comparables recorded in one request (all or none); larger sets go in several requests."""


def add_comparables(
    session: Session, records: Iterable[ComparableIn], *, tenant: str, actor: str
) -> list[Comparable]:
    """Record exchange transactions (comparables) reported by `tenant`; audit; commit."""
    items = list(records)
    if not items:
        raise InvalidInputError("Send at least one comparable.", field="body")
    if len(items) > MAX_COMPARABLES_PER_REQUEST:
        raise InvalidInputError(
            f"At most {MAX_COMPARABLES_PER_REQUEST} comparables per request; got {len(items)}.",
            field="body",
        )
    check_dates([r.traded_on for r in items], "traded_on")
    prices = [money_decimal(r.price, r.currency) for r in items]
    for index, price in enumerate(prices):
        if price <= 0:
            raise InvalidInputError(
                f"The `price` must be above zero after rounding to the currency's minor unit "
                f"(got {items[index].price!r}, booked as {price}).",
                field=f"{index}.price" if len(items) > 1 else "price",
            )
    rows = [
        Comparable(
            category=r.category,
            price=price,
            currency=r.currency,
            traded_on=r.traded_on,
            records=r.records,
            quality_score=r.quality_score,
            rights_scope=r.rights_scope,
            annual_revenue=None
            if r.annual_revenue is None
            else money_decimal(r.annual_revenue, r.currency),
            tenant=tenant,
        )
        for r, price in zip(items, prices, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="comparables.add",
        entity="comparable",
        entity_id=str(rows[0].id) if len(rows) == 1 else f"{rows[0].id}-{rows[-1].id}",
        payload={
            "ids": [r.id for r in rows],
            "records": [r.model_dump(mode="json") for r in items],
        },
        state_ids=[int(r.id) for r in rows],  # type: ignore[arg-type]
    )
    session.commit()
    return rows


def list_comparables(
    session: Session, *, category: str | None = None, limit: int = 50, after_id: int | None = None
) -> tuple[list[Comparable], bool]:
    """Comparables ordered by id, optionally of one category."""
    query = select(Comparable)
    if category is not None:
        query = query.where(Comparable.category == category)
    if after_id is not None:
        query = query.where(col(Comparable.id) > after_id)
    rows = list(session.exec(query.order_by(col(Comparable.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


def _audited(row: Comparable) -> dict[str, object]:
    """A stored comparable as its audit entries record it (amounts as exact strings)."""
    return {
        "category": row.category,
        "price": str(row.price),
        "currency": row.currency,
        "traded_on": row.traded_on.isoformat(),
        "records": row.records,
        "quality_score": row.quality_score,
        "rights_scope": row.rights_scope,
        "annual_revenue": None if row.annual_revenue is None else str(row.annual_revenue),
    }


def correct_comparable(
    session: Session,
    comparable_id: int,
    record: ComparableIn,
    *,
    tenant: str,
    is_admin: bool,
    actor: str,
) -> Comparable:
    """Replace a comparable recorded by `tenant` (an admin may correct any) with ``record``,
    validated as a new one (the price above zero after rounding); audited with the figures
    before and after; commit. Another tenant's comparable is a 404, as if it did not exist.
    """
    row = session.get(Comparable, comparable_id)
    if row is None or (row.tenant != tenant and not is_admin):
        raise NotFoundError(f"No comparable {comparable_id}.")
    check_dates([record.traded_on], "traded_on")
    price = money_decimal(record.price, record.currency)
    if price <= 0:
        raise InvalidInputError(
            f"The `price` must be above zero after rounding to the currency's minor unit "
            f"(got {record.price!r}, booked as {price}).",
            field="price",
        )
    before = _audited(row)
    row.category, row.price, row.currency = record.category, price, record.currency
    row.traded_on, row.records, row.quality_score = (
        record.traded_on,
        record.records,
        record.quality_score,
    )
    row.rights_scope = record.rights_scope
    row.annual_revenue = (
        None
        if record.annual_revenue is None
        else money_decimal(record.annual_revenue, record.currency)
    )
    session.add(row)
    record_audit(
        session,
        actor=actor,
        tenant=row.tenant,
        action="comparables.correct",
        entity="comparable",
        entity_id=str(comparable_id),
        payload={"before": before, "after": record.model_dump(mode="json")},
    )
    session.commit()
    return row


def delete_comparable(
    session: Session, comparable_id: int, *, tenant: str, is_admin: bool, actor: str
) -> Comparable:
    """Remove a comparable recorded by `tenant` (an admin may remove any); audited; commit.

    Comparables are curated market evidence: the tenant that reported a transaction, or an
    admin, can withdraw it. Another tenant's comparable is a 404, as if it did not exist.
    """
    row = session.get(Comparable, comparable_id)
    if row is None or (row.tenant != tenant and not is_admin):
        raise NotFoundError(f"No comparable {comparable_id}.")
    payload = _audited(row)
    session.delete(row)  # the entry records the state the deletion leaves
    record_audit(
        session,
        actor=actor,
        tenant=row.tenant,
        action="comparables.delete",
        entity="comparable",
        entity_id=str(comparable_id),
        payload=payload,
    )
    session.commit()
    return row


def comparables_frame(session: Session, *, category: str | None = None) -> pd.DataFrame:
    """Comparables: ``category, price, currency, traded_on, records, quality_score, rights_scope,
    annual_revenue`` (NaN where not recorded)."""
    # A row whose booked price is not positive (recorded before prices were checked after
    # rounding) is not evidence of value; it never reaches the market approach.
    query = select(Comparable).where(col(Comparable.price) > 0).order_by(col(Comparable.id))
    if category is not None:
        query = query.where(Comparable.category == category)
    rows = session.exec(query).all()
    return pd.DataFrame(
        {
            "category": [r.category for r in rows],
            "price": [float(r.price) for r in rows],
            "currency": [r.currency for r in rows],
            "traded_on": [r.traded_on for r in rows],
            "records": [int(r.records) for r in rows],
            "quality_score": [float(r.quality_score) for r in rows],
            "rights_scope": [r.rights_scope for r in rows],
            "annual_revenue": [
                float("nan") if r.annual_revenue is None else float(r.annual_revenue) for r in rows
            ],
        },
        columns=list(COMPARABLE_FRAME_COLUMNS),
    )
