"""Tables as CSV, Excel or Parquet, with the same columns in every format.

Each ``*_frame`` function returns a pandas DataFrame with named columns (dates as
``datetime64``, timestamps as naive UTC, amounts as floats in major units); `to_bytes`
writes it as CSV (UTF-8, ISO dates), Excel (openpyxl, one sheet named after the table)
or Parquet (pyarrow). `export_format` reads ``?format=`` or the ``Accept`` header, so
``GET ...?format=xlsx`` and ``Accept: application/vnd.openxmlformats-officedocument.
spreadsheetml.sheet`` give the same file. Reading the file back with pandas
(``read_csv`` / ``read_excel`` / ``read_parquet``) gives the same columns and values.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Query

ExportFormat = Literal["csv", "xlsx", "parquet"]
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")

FormatQuery = Annotated[
    Literal["csv", "xlsx", "parquet", "json"] | None,
    Query(
        description="Export as `csv`, `xlsx` or `parquet` (the same columns in each); default JSON, "
        "or the format named by `Accept`."
    ),
]
"""The ``?format=`` query parameter of the endpoints that export."""

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
_ACCEPT = {
    "text/csv": "csv",
    MEDIA_TYPES["xlsx"]: "xlsx",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}


def export_format(format_param: str | None, accept: str | None) -> ExportFormat | None:
    """The export asked for: ``?format=`` first (``json`` means none), else ``Accept``."""
    if format_param:
        fmt = format_param.lower()
        return fmt if fmt in EXPORT_FORMATS else None  # type: ignore[return-value]
    for part in (accept or "").lower().split(","):
        media = part.split(";", 1)[0].strip()
        if media in _ACCEPT:
            return _ACCEPT[media]  # type: ignore[return-value]
    return None


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def frame(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    dates: Sequence[str] = (),
    timestamps: Sequence[str] = (),
) -> pd.DataFrame:
    """A DataFrame of `rows` with exactly `columns`; `dates` and `timestamps` columns as
    ``datetime64`` (timestamps naive UTC)."""
    df = pd.DataFrame(
        [{c: _naive_utc(r.get(c)) for c in columns} for r in rows], columns=list(columns)
    )
    for c in dates:
        df[c] = pd.to_datetime(df[c])
    for c in timestamps:  # naive UTC, whole seconds (what every format writes alike)
        ts = pd.to_datetime(df[c], utc=True)
        df[c] = ts.dt.tz_localize(None).dt.floor("s")
    return df


def to_bytes(df: pd.DataFrame, fmt: ExportFormat, *, sheet: str = "data") -> bytes:
    """`df` as a CSV, Excel or Parquet file."""
    buf = io.BytesIO()
    if fmt == "csv":
        buf.write(_csv_ready(df).to_csv(index=False).encode("utf-8"))
    elif fmt == "xlsx":
        with pd.ExcelWriter(buf, engine="openpyxl") as writer:
            df.to_excel(writer, index=False, sheet_name=sheet[:31])
    elif fmt == "parquet":
        df.to_parquet(buf, engine="pyarrow", index=False)
    else:  # pragma: no cover - guarded by the routers' Literal
        raise ValueError(f"The `format` must be one of {', '.join(EXPORT_FORMATS)}. Got {fmt!r}.")
    return buf.getvalue()


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Date columns as ``YYYY-MM-DD``, timestamp columns as ``YYYY-MM-DDTHH:MM:SS`` (UTC)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            s = out[c].dropna()
            dated = not len(s) or bool((s == s.dt.normalize()).all())
            out[c] = out[c].dt.strftime("%Y-%m-%d" if dated else "%Y-%m-%dT%H:%M:%S")
    return out


def filename(stem: str, fmt: ExportFormat) -> str:
    return f"{stem}.{fmt}"


# ------------------------------------------------------------------ the exported tables

SCHEDULE_COLUMNS = ("loan_id", "date", "interest", "principal", "balance")
VALUATION_COLUMNS = (
    "id",
    "asset_id",
    "as_of",
    "currency",
    "value",
    "mean",
    "std",
    "p05",
    "p50",
    "p95",
    "weight_income",
    "weight_cost",
    "weight_market",
    "value_income",
    "value_cost",
    "value_market",
    "lending_value",
    "haircut",
    "model_version",
    "inputs_sha256",
    "seed",
    "paths",
    "created_at",
)
QUOTE_COLUMNS = (
    "id",
    "asset_id",
    "valuation_id",
    "category",
    "currency",
    "as_of",
    "valid_until",
    "mid",
    "bid",
    "ask",
    "lending_value",
    "haircut",
    "created_at",
)
PORTFOLIO_COLUMNS = (
    "row",
    "loan_id",
    "method",
    "confidence",
    "currency",
    "exposure",
    "expected_loss",
    "var",
    "es",
    "economic_capital",
)
STRESS_COLUMNS = ("run_id", "scenario", "kind", "id", "metric", "base", "stressed", "delta")


def schedule_frame(loan_id: int, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A loan's booked schedule: ``loan_id, date, interest, principal, balance``."""
    return frame([{**r, "loan_id": loan_id} for r in rows], SCHEDULE_COLUMNS, dates=("date",))


def valuations_frame(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Valuation history, one row per valuation (API ``ValuationOut`` items, newest first)."""
    rows = []
    for v in items:
        weights = v.get("weights") or {}
        methods = v.get("methods") or {}
        quote = v.get("quote") or {}
        dist = v.get("distribution") or {}
        rows.append(
            {
                **{
                    k: v.get(k)
                    for k in (
                        "id",
                        "asset_id",
                        "as_of",
                        "currency",
                        "value",
                        "model_version",
                        "inputs_sha256",
                        "seed",
                        "paths",
                        "created_at",
                    )
                },
                **{k: dist.get(k) for k in ("mean", "std", "p05", "p50", "p95")},
                **{f"weight_{m}": weights.get(m) for m in ("income", "cost", "market")},
                **{
                    f"value_{m}": (methods.get(m) or {}).get("value")
                    for m in ("income", "cost", "market")
                },
                "lending_value": quote.get("lending_value"),
                "haircut": quote.get("haircut"),
            }
        )
    df = frame(rows, VALUATION_COLUMNS, dates=("as_of",), timestamps=("created_at",))
    for c in (
        "weight_income",
        "weight_cost",
        "weight_market",
        "value_income",
        "value_cost",
        "value_market",
    ):
        df[c] = df[c].astype("float64")
    return df


def quotes_frame(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Quotes: ``id, asset_id, valuation_id, category, currency, as_of, valid_until, mid, bid,
    ask, lending_value, haircut, created_at``."""
    return frame(items, QUOTE_COLUMNS, dates=("as_of", "valid_until"), timestamps=("created_at",))


def portfolio_frame(view: Mapping[str, Any]) -> pd.DataFrame:
    """Portfolio risk: one ``portfolio`` row with the totals, then one ``loan`` row per loan
    with its Euler contributions (VaR and ES blank where not computed)."""
    common = {k: view.get(k) for k in ("method", "confidence", "currency")}
    rows = [
        {
            "row": "portfolio",
            "loan_id": None,
            **common,
            "exposure": view.get("exposure"),
            "expected_loss": view.get("expected_loss"),
            "var": view.get("var"),
            "es": view.get("es"),
            "economic_capital": view.get("economic_capital"),
        }
    ]
    for c in view.get("contributions") or []:
        rows.append(
            {
                "row": "loan",
                "loan_id": c.get("loan_id"),
                **common,
                "exposure": None,
                "expected_loss": c.get("expected_loss"),
                "var": c.get("var"),
                "es": c.get("es"),
                "economic_capital": None,
            }
        )
    df = frame(rows, PORTFOLIO_COLUMNS)
    df["loan_id"] = df["loan_id"].astype("Int64")
    for c in ("confidence", "exposure", "expected_loss", "var", "es", "economic_capital"):
        df[c] = df[c].astype("float64")
    return df


def stress_frame(csv_text: str) -> pd.DataFrame:
    """Stress results (the rows of ``GET /v1/stress-runs/{id}/results`` as CSV)."""
    df = pd.read_csv(
        io.StringIO(csv_text),
        dtype={"run_id": str, "scenario": str, "kind": str, "id": str, "metric": str},
    )
    df["id"] = df["id"].fillna("")
    return df[list(STRESS_COLUMNS)]


def response(df: pd.DataFrame, fmt: ExportFormat, stem: str) -> Any:
    """An HTTP response carrying `df` as a `fmt` file named ``<stem>.<fmt>``."""
    from fastapi.responses import Response

    return Response(
        to_bytes(df, fmt, sheet=stem),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename(stem, fmt)}"'},
    )
