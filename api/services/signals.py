"""An asset's monthly signals: parsing CSV and JSON rows, validating them, importing them.

One import is one unit of work: every row is validated first (a rejection lists up to
`MAX_REPORTED_ERRORS` row errors, each naming the row, the field and the rule), then the
rows are inserted or updated with an audit entry in one transaction; on any error nothing
is written. Only the asset's owner tenant may change its signals. `signals_frame` gives
the valuation engine its ``signals`` frame.
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
from typing import Any

import pandas as pd
from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import ConflictError, InvalidInputError
from api.schemas.registry import SIGNAL_METRICS
from api.services.registry import EARLIEST_DATE, LATEST_DATE, get_asset, get_owned_asset
from models.audit import record_audit
from models.db import row_id
from models.registry import Signal

MAX_SIGNAL_ROWS = 100_000
"""Largest signal batch accepted in one import."""


MAX_REPORTED_ERRORS = 50


"""At most this many row errors are listed in one rejection."""


SIGNAL_COLUMNS = ("month", "metric", "value")


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])(?:-01)?$")


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
