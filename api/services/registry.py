"""Registry services: register data assets, record signals, costs and comparables.

Used by the HTTP routers (``api/routers/assets.py``, ``api/routers/comparables.py``), the
CLI and the demo, so every path applies the same rules. Each writing function is one
unit of work: it validates everything first, writes the rows and an audit entry
(``models.audit.record_audit``) in the same transaction and commits; on any error
nothing is written.

Who may write (the API contract): registering needs a registrar (checked by the caller);
changing an asset's signals or costs needs the asset's owner tenant, so these
functions take the caller's ``tenant`` and answer `NotFoundError` for another
tenant's asset (never revealing that it exists).

Reading helpers for the other areas: `signals_frame`, `costs_frame`,
`comparables_frame` and `asset_profile_dict` return what ``valuation.value_asset``
takes (pandas frames with the documented columns).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import IO, Any

import pandas as pd
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import ConflictError, InvalidInputError, NotFoundError
from api.schemas.registry import (
    SIGNAL_METRICS,
    AssetPublic,
    AssetRegister,
    ComparableIn,
    CostRecordIn,
    Quality,
    Rights,
)
from models.audit import record_audit
from models.db import row_id
from models.registry import (
    QUALITY_FIELDS,
    RIGHTS_FIELDS,
    AssetStatus,
    Comparable,
    CostRecord,
    DataAsset,
    Signal,
    issue_certificate_no,
)
from valuation.conventions import round_money

MAX_SIGNAL_ROWS = 100_000
MAX_COMPARABLES_PER_REQUEST = 1_000
"""Comparables recorded in one request (all or none); larger sets go in several requests."""
"""Largest signal batch accepted in one import."""

MAX_REPORTED_ERRORS = 50
"""At most this many row errors are listed in one rejection."""

SIGNAL_COLUMNS = ("month", "metric", "value")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])(?:-01)?$")

EARLIEST_DATE = date(1901, 1, 1)
LATEST_DATE = date(2199, 12, 31)
"""Dates the registry accepts (signal months, cost and trade dates): QuantLib's date range,
so that every recorded date can later be used by the valuation engine."""


@dataclass(frozen=True, slots=True)
class SignalImport:
    """Counts of an import: new rows, rows whose value changed, rows already equal."""

    inserted: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


@dataclass(frozen=True, slots=True)
class SignalValue:
    """One validated signal row."""

    metric: str
    month: date
    value: float


# ------------------------------------------------------------------ assets


def fingerprint_stream(stream: IO[bytes], chunk_size: int = 1 << 20) -> str:
    """SHA-256 (lower-case hex) of a binary stream, read in chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(chunk_size):
        digest.update(chunk)
    return digest.hexdigest()


def asset_public(asset: DataAsset) -> AssetPublic:
    """The API view of an asset (``rights`` and ``quality`` nested)."""
    return AssetPublic(
        id=int(asset.id or 0),
        certificate_no=asset.certificate_no,
        name=asset.name,
        category=asset.category,
        rights=Rights(**asset.rights()),
        quality=Quality(**asset.quality()),
        records=asset.records,
        refresh_days=asset.refresh_days,
        fingerprint_sha256=asset.fingerprint_sha256,
        owner_tenant=asset.owner_tenant,
        status=asset.status,
        created_at=asset.created_at,
    )


def register_asset(session: Session, data: AssetRegister, *, tenant: str, actor: str) -> DataAsset:
    """Register a data asset for `tenant`; issue its certificate number; audit; commit.

    Raises
    ------
    ConflictError
        An asset with the same content fingerprint is already registered.
    """
    existing = session.exec(
        select(DataAsset).where(DataAsset.fingerprint_sha256 == data.fingerprint_sha256)
    ).first()
    if existing is not None:
        raise ConflictError(
            f"Content with fingerprint {data.fingerprint_sha256} is already registered "
            f"as {existing.certificate_no} (asset {existing.id})."
        )
    flat: dict[str, Any] = {
        "name": data.name,
        "category": data.category,
        "records": data.records,
        "refresh_days": data.refresh_days,
        "fingerprint_sha256": data.fingerprint_sha256,
    }
    flat.update({name: getattr(data.rights, name) for name in RIGHTS_FIELDS})
    flat.update({name: getattr(data.quality, name) for name in QUALITY_FIELDS})
    asset = DataAsset(**flat, certificate_no=issue_certificate_no(session), owner_tenant=tenant)
    session.add(asset)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="asset.register",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={"certificate_no": asset.certificate_no, **data.model_dump(mode="json")},
    )
    session.commit()
    return asset


def get_asset(session: Session, asset_id: int) -> DataAsset:
    """Any registered asset (the public record); `NotFoundError` if there is none."""
    asset = session.get(DataAsset, asset_id)
    if asset is None:
        raise NotFoundError(f"There is no data asset with id {asset_id}.")
    return asset


def get_owned_asset(session: Session, asset_id: int, tenant: str) -> DataAsset:
    """An asset owned by `tenant`; another tenant's asset is reported as not found."""
    asset = session.get(DataAsset, asset_id)
    if asset is None or asset.owner_tenant != tenant:
        raise NotFoundError(f"There is no data asset with id {asset_id}.")
    return asset


def set_asset_status(
    session: Session, asset_id: int, status: str, *, tenant: str, actor: str
) -> DataAsset:
    """Change the status of an asset of `tenant` (``registered``, ``active``, ``suspended``,
    ``retired``); audit; commit. Setting the current status again writes nothing."""
    asset = get_owned_asset(session, asset_id, tenant)
    if asset.status == status:
        return asset
    previous, asset.status = asset.status, AssetStatus(status).value
    session.add(asset)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="asset.status",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={"from": previous, "to": status},
    )
    session.commit()
    return asset


def list_assets(
    session: Session, *, category: str | None = None, limit: int = 50, after_id: int | None = None
) -> tuple[list[DataAsset], bool]:
    """Assets ordered by id after `after_id`; returns ``(page, more_pages)``."""
    query = select(DataAsset).order_by(col(DataAsset.id))
    if category is not None:
        query = query.where(DataAsset.category == category)
    if after_id is not None:
        query = query.where(col(DataAsset.id) > after_id)
    rows = list(session.exec(query.limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------ signals


def parse_signals_csv(text: str) -> list[dict[str, Any]]:
    """Read ``month,metric,value`` CSV (header required, any column order) into row dicts.

    Values stay strings; `validate_signal_rows` checks them. Blank lines are skipped.

    Raises
    ------
    InvalidInputError
        The header lacks a column or names an unknown one.
    """
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))  # \n, \r\n or \r line ends
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for record in _csv_records(reader):
        if not record or all(not cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            missing = [c for c in SIGNAL_COLUMNS if c not in header]
            unknown = [c for c in header if c not in SIGNAL_COLUMNS]
            if missing or unknown or len(set(header)) != len(header):
                raise InvalidInputError(
                    "The CSV header must name the columns month, metric, value (once each). "
                    f"Got {','.join(header)!r}.",
                    field="header",
                )
            continue
        if len(record) != len(header):
            rows.append({"__cells__": len(record)})
            continue
        rows.append({name: cell.strip() for name, cell in zip(header, record, strict=True)})
    if header is None:
        raise InvalidInputError(
            "The CSV is empty: it needs a header `month,metric,value` and rows.", field="header"
        )
    return rows


def _csv_records(reader: Any) -> Iterable[list[str]]:
    """The reader's records; a CSV the parser cannot read is a 422 naming the line."""
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInputError(
                f"The CSV cannot be read at line {reader.line_num}: {exc}.", field="body"
            ) from None
        yield record


def _row_error(row_no: int, field: str, message: str) -> dict[str, str]:
    return {"field": f"rows[{row_no}].{field}", "message": f"Row {row_no}: {message}"}


def _parse_month(raw: Any) -> date | None:
    if not isinstance(raw, str):
        return None
    match = _MONTH.match(raw.strip())
    if match is None:
        return None
    month = date(max(int(match.group(1)), 1), int(match.group(2)), 1)
    return month if EARLIEST_DATE <= month <= LATEST_DATE else None


def _parse_value(raw: Any, *, from_text: bool) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif from_text and isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) and value >= 0.0 else None


def validate_signal_rows(
    rows: Sequence[Mapping[str, Any]], *, from_text: bool = False
) -> list[SignalValue]:
    """Check every row; return them parsed, or raise one error listing the bad rows.

    Rules: ``month`` is ``YYYY-MM`` (``YYYY-MM-01`` accepted); ``metric`` is one of
    `SIGNAL_METRICS`; ``value`` is a finite number >= 0 (in CSV a decimal string; in JSON
    a number); no two rows share (metric, month). Rows are numbered from 1 (the first data
    row; in a CSV the header is row 0).

    Raises
    ------
    InvalidInputError
        422 with ``errors`` ``[{"field": "rows[3].value", "message": "Row 3: ..."}]``.
    """
    if not rows:
        raise InvalidInputError("The signal batch is empty: send at least one row.", field="rows")
    if len(rows) > MAX_SIGNAL_ROWS:
        raise InvalidInputError(
            f"A signal batch holds at most {MAX_SIGNAL_ROWS} rows. Got {len(rows)}.", field="rows"
        )
    errors: list[dict[str, str]] = []
    parsed: list[SignalValue] = []
    seen: dict[tuple[str, date], int] = {}
    for row_no, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            errors.append(_row_error(row_no, "row", "must be an object with month, metric, value."))
            continue
        if "__cells__" in row:
            errors.append(
                _row_error(
                    row_no,
                    "row",
                    f"must have 3 cells (month,metric,value). Got {row['__cells__']}.",
                )
            )
            continue
        missing = [c for c in SIGNAL_COLUMNS if c not in row]
        unknown = sorted(str(k) for k in row if k not in SIGNAL_COLUMNS)
        for name in missing:
            errors.append(_row_error(row_no, name, f"the `{name}` is missing."))
        for name in unknown:
            errors.append(
                _row_error(row_no, name, f"`{name}` is not a signal field (month, metric, value).")
            )
        if missing or unknown:
            continue
        month = _parse_month(row["month"])
        metric = row["metric"]
        value = _parse_value(row["value"], from_text=from_text)
        ok = True
        if month is None:
            errors.append(
                _row_error(
                    row_no,
                    "month",
                    f"the `month` must be YYYY-MM between {EARLIEST_DATE:%Y-%m} and "
                    f"{LATEST_DATE:%Y-%m}. Got {row['month']!r}.",
                )
            )
            ok = False
        if not isinstance(metric, str) or metric.strip() not in SIGNAL_METRICS:
            errors.append(
                _row_error(
                    row_no,
                    "metric",
                    f"the `metric` must be one of {', '.join(SIGNAL_METRICS)}. Got {metric!r}.",
                )
            )
            ok = False
        if value is None:
            errors.append(
                _row_error(
                    row_no,
                    "value",
                    f"the `value` must be a finite number >= 0. Got {row['value']!r}.",
                )
            )
            ok = False
        if not ok:
            continue
        assert month is not None
        assert value is not None
        key = (metric.strip(), month)
        if key in seen:
            errors.append(
                _row_error(
                    row_no,
                    "month",
                    f"repeats row {seen[key]} (same metric {key[0]} and month {month:%Y-%m}).",
                )
            )
            continue
        seen[key] = row_no
        parsed.append(SignalValue(metric=key[0], month=month, value=value))
    if errors:
        shown = errors[:MAX_REPORTED_ERRORS]
        raise InvalidInputError(
            f"{shown[0]['message']} The batch was rejected ({len(errors)} problem(s)); "
            "nothing was written.",
            errors=shown,
        )
    return parsed


def import_signals(
    session: Session,
    asset_id: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    tenant: str,
    actor: str,
    from_text: bool = False,
) -> SignalImport:
    """Validate and upsert a batch of signals for an asset of `tenant`; idempotent.

    Rows already stored with the same value are left alone, so importing the same file
    twice changes nothing (no rows, no audit entry) the second time.

    Parameters
    ----------
    rows : sequence of mappings
        ``{"month": "2025-01", "metric": "revenue", "value": 1200.0}`` each
        (from CSV with ``from_text=True``: the value may be a decimal string).

    Raises
    ------
    NotFoundError
        Unknown asset, or one of another tenant.
    InvalidInputError
        Any bad row (the whole batch is rejected).
    """
    asset = get_owned_asset(session, asset_id, tenant)
    values = validate_signal_rows(rows, from_text=from_text)
    metrics = sorted({v.metric for v in values})
    existing = {
        (s.metric, s.month): s
        for s in session.exec(
            select(Signal).where(Signal.asset_id == asset.id, col(Signal.metric).in_(metrics))
        ).all()
    }
    inserted = updated = unchanged = 0
    for v in values:
        current = existing.get((v.metric, v.month))
        if current is None:
            session.add(
                Signal(asset_id=row_id(asset), metric=v.metric, month=v.month, value=v.value)
            )
            inserted += 1
        elif current.value != v.value:
            current.value = v.value
            session.add(current)
            updated += 1
        else:
            unchanged += 1
    result = SignalImport(inserted=inserted, updated=updated, unchanged=unchanged)
    if inserted == 0 and updated == 0:
        session.rollback()
        return result
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(
            f"Signals of asset {asset_id} were changed concurrently; retry the import."
        ) from exc
    months = sorted(v.month for v in values)
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="signals.import",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={
            **result.as_dict(),
            "metrics": metrics,
            "first_month": f"{months[0]:%Y-%m}",
            "last_month": f"{months[-1]:%Y-%m}",
            "rows_sha256": hashlib.sha256(
                "\n".join(f"{v.metric},{v.month:%Y-%m},{v.value!r}" for v in values).encode()
            ).hexdigest(),
        },
    )
    session.commit()
    return result


def list_signals(
    session: Session,
    asset_id: int,
    *,
    metric: str | None = None,
    limit: int = 50,
    after: tuple[str, date] | None = None,
) -> tuple[list[Signal], bool]:
    """An asset's signals ordered by (metric, month), after the key `after`."""
    get_asset(session, asset_id)
    query = select(Signal).where(Signal.asset_id == asset_id)
    if metric is not None:
        query = query.where(Signal.metric == metric)
    if after is not None:
        query = query.where(tuple_(col(Signal.metric), col(Signal.month)) > tuple_(*after))
    query = query.order_by(col(Signal.metric), col(Signal.month)).limit(limit + 1)
    rows = list(session.exec(query).all())
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------ costs


def _check_dates(dates: Sequence[date], name: str) -> None:
    """422 naming ``<index>.<name>`` for every date outside `EARLIEST_DATE`..`LATEST_DATE`."""
    errors = [
        {
            "field": f"{i}.{name}",
            "message": f"The `{name}` must be between {EARLIEST_DATE} and {LATEST_DATE}. Got {d}.",
        }
        for i, d in enumerate(dates)
        if not EARLIEST_DATE <= d <= LATEST_DATE
    ]
    if errors:
        raise InvalidInputError(errors[0]["message"], errors=errors)


def add_costs(
    session: Session,
    asset_id: int,
    records: Iterable[CostRecordIn],
    *,
    tenant: str,
    actor: str,
) -> list[CostRecord]:
    """Record cost records for an asset of `tenant`; audit; commit."""
    asset = get_owned_asset(session, asset_id, tenant)
    items = list(records)
    if not items:
        raise InvalidInputError("Send at least one cost record.", field="body")
    _check_dates([r.incurred_on for r in items], "incurred_on")
    rows = [
        CostRecord(
            asset_id=row_id(asset),
            category=r.category,
            amount=_decimal(r.amount, r.currency),
            currency=r.currency,
            incurred_on=r.incurred_on,
            recurring_months=r.recurring_months,
        )
        for r in items
    ]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor=actor,
        tenant=tenant,
        action="costs.add",
        entity="data_asset",
        entity_id=str(asset.id),
        payload={
            "ids": [r.id for r in rows],
            "records": [r.model_dump(mode="json") for r in items],
        },
    )
    session.commit()
    return rows


def list_costs(
    session: Session, asset_id: int, *, limit: int = 50, after_id: int | None = None
) -> tuple[list[CostRecord], bool]:
    """An asset's cost records ordered by id."""
    get_asset(session, asset_id)
    query = select(CostRecord).where(CostRecord.asset_id == asset_id)
    if after_id is not None:
        query = query.where(col(CostRecord.id) > after_id)
    rows = list(session.exec(query.order_by(col(CostRecord.id)).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit


# ------------------------------------------------------------------ comparables


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
    _check_dates([r.traded_on for r in items], "traded_on")
    prices = [_decimal(r.price, r.currency) for r in items]
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
            else _decimal(r.annual_revenue, r.currency),
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
    _check_dates([record.traded_on], "traded_on")
    price = _decimal(record.price, record.currency)
    if price <= 0:
        raise InvalidInputError(
            f"The `price` must be above zero after rounding to the currency's minor unit "
            f"(got {record.price!r}, booked as {price}).",
            field="price",
        )
    before = {
        "price": str(row.price),
        "currency": row.currency,
        "traded_on": row.traded_on.isoformat(),
        "records": row.records,
        "quality_score": row.quality_score,
        "rights_scope": row.rights_scope,
        "category": row.category,
        "annual_revenue": None if row.annual_revenue is None else str(row.annual_revenue),
    }
    row.category, row.price, row.currency = record.category, price, record.currency
    row.traded_on, row.records, row.quality_score = (
        record.traded_on,
        record.records,
        record.quality_score,
    )
    row.rights_scope = record.rights_scope
    row.annual_revenue = (
        None if record.annual_revenue is None else _decimal(record.annual_revenue, record.currency)
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
    payload = {
        "category": row.category,
        "price": str(row.price),
        "currency": row.currency,
        "traded_on": row.traded_on.isoformat(),
        "records": row.records,
        "quality_score": row.quality_score,
        "rights_scope": row.rights_scope,
        "annual_revenue": None if row.annual_revenue is None else str(row.annual_revenue),
    }
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


def _decimal(amount: float, currency: str) -> Decimal:
    """Amounts are booked rounded to the currency's minor unit, once (the API contract; the column
    keeps 4 decimals)."""
    return round_money(float(amount), currency)


# ------------------------------------------------------------------ frames for the core


def signals_frame(session: Session, asset_id: int) -> pd.DataFrame:
    """All signals of an asset: ``month`` (Timestamp, month start), ``metric``, ``value``."""
    get_asset(session, asset_id)
    rows = session.exec(
        select(Signal)
        .where(Signal.asset_id == asset_id)
        .order_by(col(Signal.metric), col(Signal.month))
    ).all()
    return pd.DataFrame(
        {
            "month": pd.to_datetime([r.month for r in rows]),
            "metric": [r.metric for r in rows],
            "value": [float(r.value) for r in rows],
        },
        columns=["month", "metric", "value"],
    )


def costs_frame(session: Session, asset_id: int) -> pd.DataFrame:
    """Cost records of an asset: ``category, amount, currency, incurred_on, recurring_months``."""
    get_asset(session, asset_id)
    rows = session.exec(
        select(CostRecord).where(CostRecord.asset_id == asset_id).order_by(col(CostRecord.id))
    ).all()
    return pd.DataFrame(
        {
            "category": [r.category for r in rows],
            "amount": [float(r.amount) for r in rows],
            "currency": [r.currency for r in rows],
            "incurred_on": [r.incurred_on for r in rows],
            "recurring_months": [int(r.recurring_months) for r in rows],
        },
        columns=["category", "amount", "currency", "incurred_on", "recurring_months"],
    )


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
        columns=[
            "category",
            "price",
            "currency",
            "traded_on",
            "records",
            "quality_score",
            "rights_scope",
            "annual_revenue",
        ],
    )


def asset_profile_dict(asset: DataAsset) -> dict[str, Any]:
    """The asset's registration data as plain values (id, name, category, rights, quality,
    records, refresh_days), for building ``valuation.asset.AssetProfile``."""
    return {
        "id": str(asset.id),
        "name": asset.name,
        "category": asset.category,
        "rights": asset.rights(),
        "quality": asset.quality(),
        "records": asset.records,
        "refresh_days": asset.refresh_days,
    }
