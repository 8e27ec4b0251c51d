"""Reading stored valuations and quotes: the API's views, a valuation's history, the latest public quotes, the quote stream.

A stored valuation is immutable: its view (`valuation_public`) is read from the document
its row stores, which is also what the request that wrote it answered. Public quotes are
the exchange's (valued by the asset's registrar or an admin); a tenant's own valuations
are visible to it alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from api.errors import NotFoundError
from api.services import registry
from models.valuation import AssetQuote, Valuation


def quote_public(quote: AssetQuote | SimpleNamespace) -> dict[str, Any]:
    return {
        "id": quote.id,
        "asset_id": quote.asset_id,
        "valuation_id": quote.valuation_id,
        "category": quote.category,
        "mid": float(quote.mid),
        "bid": float(quote.bid),
        "ask": float(quote.ask),
        "lending_value": float(quote.lending_value),
        "haircut": float(quote.haircut),
        "currency": quote.currency,
        "as_of": quote.as_of,
        "valid_until": quote.valid_until,
        "created_at": quote.created_at,
        "public": quote.public,
    }


def valuation_public(
    row: Valuation, quote: AssetQuote, document: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The API's view of a stored valuation; ``document`` is its stored result when the
    caller has it at hand (the request that wrote it), else it is read from the row."""
    doc = json.loads(row.result_json) if document is None else document
    return {
        "id": row.id,
        "asset_id": row.asset_id,
        "as_of": row.as_of,
        "currency": row.currency,
        "value": float(row.value),
        "distribution": {k: float(getattr(row, k)) for k in ("mean", "std", "p05", "p50", "p95")},
        "methods": doc["methods"],
        "weights": doc["weights"],
        "quote": quote_public(quote),
        "seed": row.seed,
        "paths": row.paths,
        "model_version": row.model_version,
        "inputs_sha256": row.inputs_sha256,
        "created_at": row.created_at,
        "notes": doc.get("notes", []),
        "simulation": doc.get("simulation"),
        "warnings": doc.get("warnings", []),
        "reconciliation": doc.get("reconciliation"),
        "sensitivities": doc.get("sensitivities", []),
        "model": doc.get("model"),
        "histogram": _readable_histogram(doc.get("histogram")),
        "haircut_basis": doc.get("quote", {}).get("parameters"),
    }


def _readable_histogram(histogram: Any) -> dict[str, list[float]] | None:
    """The stored histogram, or None when it holds non-numbers (valuations stored before
    degenerate histograms were fixed): one bad figure never breaks a read."""
    if not isinstance(histogram, dict):
        return None
    for key in ("edges", "density"):
        values = histogram.get(key)
        if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
            return None
    return histogram


def _quote_of(session: Session, valuation_id: int) -> AssetQuote:
    quote = session.exec(select(AssetQuote).where(AssetQuote.valuation_id == valuation_id)).first()
    if quote is None:  # pragma: no cover - written in the same transaction
        raise NotFoundError(f"The valuation {valuation_id} has no quote.")
    return quote


def get_valuation(session: Session, valuation_id: int) -> dict[str, Any]:
    row = session.get(Valuation, valuation_id)
    if row is None:
        raise NotFoundError(f"No valuation with id {valuation_id}.")
    return valuation_public(row, _quote_of(session, valuation_id))


def list_valuations(
    session: Session, asset_id: int, *, limit: int, after_id: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """Valuation history of an asset, newest first; paginated by id."""
    registry.get_asset(session, asset_id)
    query = select(Valuation).where(Valuation.asset_id == asset_id)
    if after_id is not None:
        query = query.where(col(Valuation.id) < after_id)
    rows = list(session.exec(query.order_by(col(Valuation.id).desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return [valuation_public(r, _quote_of(session, r.id)) for r in rows], more  # type: ignore[arg-type]


def latest_quote(session: Session, asset_id: int) -> dict[str, Any]:
    """The asset's latest public quote (`quote_public`'s shape).

    The hot read of the API: one indexed Core query, no ORM identity map; the asset is
    looked up only when it has no quote (to tell an unknown asset from an unvalued one).
    """
    t = AssetQuote.__table__  # type: ignore[attr-defined]
    row = (
        session.execute(
            sa.select(t)
            .where(t.c.asset_id == asset_id, t.c.public)
            .order_by(t.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        registry.get_asset(session, asset_id)
        raise NotFoundError(f"The asset {asset_id} has no quote yet: value it first.")
    quote = dict(row)
    created = quote["created_at"]
    if isinstance(created, datetime) and created.utcoffset() is None:
        quote["created_at"] = created.replace(tzinfo=UTC)  # stored in UTC (SQLite drops the zone)
    return quote_public(SimpleNamespace(**quote))


def list_latest_quotes(
    session: Session, *, category: str | None, limit: int, after_asset_id: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """The latest quote of every quoted asset (optionally one category), by asset id."""
    latest = (
        select(func.max(AssetQuote.id).label("qid"))
        .where(col(AssetQuote.public))
        .group_by(col(AssetQuote.asset_id))
        .subquery()
    )
    query = select(AssetQuote).join(latest, col(AssetQuote.id) == latest.c.qid)
    if category is not None:
        query = query.where(AssetQuote.category == category)
    if after_asset_id is not None:
        query = query.where(col(AssetQuote.asset_id) > after_asset_id)
    rows = list(session.exec(query.order_by(col(AssetQuote.asset_id)).limit(limit + 1)).all())
    more = len(rows) > limit
    return [quote_public(q) for q in rows[:limit]], more


def quotes_after(session: Session, last_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    """Public quotes with id > ``last_id``, oldest first (the SSE stream's poll)."""
    rows = session.exec(
        select(AssetQuote)
        .where(col(AssetQuote.id) > last_id, col(AssetQuote.public))
        .order_by(col(AssetQuote.id))
        .limit(limit)
    ).all()
    return [quote_public(q) for q in rows]


def last_quote_id(session: Session) -> int:
    value = session.exec(select(func.max(AssetQuote.id)).where(col(AssetQuote.public))).first()
    return int(value or 0)
