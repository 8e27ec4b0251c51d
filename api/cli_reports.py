"""``datafin report KIND ID --out FILE`` and ``datafin export TABLE ... --out FILE``.

Reports: ``valuation`` (appraisal report), ``loan`` (collateral certificate), ``deal``
(securitization report), ``stress`` (stress report); HTML or PDF by the suffix of
``--out`` (or ``--format``). Exports: ``schedule LOAN_ID``, ``valuations ASSET_ID``,
``quotes``, ``portfolio-risk``, ``stress RUN_ID``, ``cashflows DEAL_ID`` as CSV, Excel or
Parquet by the suffix of ``--out`` (or ``--format``), the same columns as over HTTP.
Loans, deals and runs are read for ``--tenant`` (default ``demo``); another tenant's is
not found (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

report_app = typer.Typer(
    help="Documents: appraisal report, collateral certificate, deal and "
    "stress reports (HTML or PDF).",
    no_args_is_help=True,
)
export_app = typer.Typer(
    help="Tables as CSV, Excel or Parquet (the same columns in each).", no_args_is_help=True
)

TenantOption = Annotated[str, typer.Option(help="Tenant whose loans, deals and runs are read.")]
OutOption = Annotated[
    Path, typer.Option("--out", help="File to write; its suffix picks the format.", dir_okay=False)
]


def _format_of(out: Path, given: str | None, allowed: tuple[str, ...], default: str) -> str:
    from api import cli_common

    fmt = (given or out.suffix.lstrip(".") or default).lower()
    if fmt == "htm":
        fmt = "html"
    if fmt not in allowed:
        cli_common.fail(
            f"the format must be one of {', '.join(allowed)} (from --format or the suffix of "
            f"--out). Got {fmt!r}.",
            code=2,
        )
    return fmt


def _write(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(str(out))


@report_app.command("valuation")
def report_valuation(
    valuation_id: Annotated[int, typer.Argument(help="Id of the stored valuation.")],
    out: OutOption,
    format: Annotated[str | None, typer.Option(help="html or pdf (default: from --out).")] = None,
    tenant: TenantOption = "demo",
) -> None:
    """The appraisal report of a stored valuation."""
    _report("valuation", valuation_id, out, format, tenant)


@report_app.command("loan")
def report_loan(
    loan_id: Annotated[int, typer.Argument(help="Loan id.")],
    out: OutOption,
    format: Annotated[str | None, typer.Option(help="html or pdf (default: from --out).")] = None,
    tenant: TenantOption = "demo",
) -> None:
    """The collateral certificate of a loan."""
    _report("loan", loan_id, out, format, tenant)


@report_app.command("deal")
def report_deal(
    securitization_id: Annotated[int, typer.Argument(help="Securitization id.")],
    out: OutOption,
    format: Annotated[str | None, typer.Option(help="html or pdf (default: from --out).")] = None,
    tenant: TenantOption = "demo",
) -> None:
    """The deal report of a securitization."""
    _report("deal", securitization_id, out, format, tenant)


@report_app.command("stress")
def report_stress(
    run_id: Annotated[int, typer.Argument(help="Stress run id.")],
    out: OutOption,
    format: Annotated[str | None, typer.Option(help="html or pdf (default: from --out).")] = None,
    tenant: TenantOption = "demo",
) -> None:
    """The stress report of a run."""
    _report("stress", run_id, out, format, tenant)


def _report(kind: str, object_id: Any, out: Path, format: str | None, tenant: str) -> None:
    from api import cli_common
    from api.reports import documents
    from models import db

    fmt = _format_of(out, format, ("html", "pdf"), "html")
    with cli_common.current_engine() as engine, cli_common.reported_errors():
        factory = db.make_session_factory(engine)
        with factory() as session:
            data, _stem = documents.build(kind, session, object_id, tenant, fmt)  # type: ignore[arg-type]
    with cli_common.reported_errors():
        _write(out, data)


def _export(out: Path, format: str | None, make: Any) -> None:
    from api import cli_common
    from api.reports import exports
    from models import db

    fmt = _format_of(out, format, exports.EXPORT_FORMATS, "csv")
    with cli_common.current_engine() as engine, cli_common.reported_errors():
        factory = db.make_session_factory(engine)
        with factory() as session:
            df = make(session)
    with cli_common.reported_errors():
        _write(out, exports.to_bytes(df, fmt))  # type: ignore[arg-type]


FormatOption = Annotated[
    str | None, typer.Option(help="csv, xlsx or parquet (default: from --out).")
]


@export_app.command("schedule")
def export_schedule(
    loan_id: Annotated[int, typer.Argument(help="Loan id.")],
    out: OutOption,
    format: FormatOption = None,
    tenant: TenantOption = "demo",
) -> None:
    """A loan's booked schedule: loan_id, date, interest, principal, balance."""
    from api.reports import exports
    from api.services import loan_book as loan_book_service

    def make(session: Any) -> Any:
        loan = loan_book_service.get_loan(session, loan_id, tenant)
        return exports.schedule_frame(loan_id, loan_book_service.booked_schedule_rows(loan))

    _export(out, format, make)


@export_app.command("valuations")
def export_valuations(
    asset_id: Annotated[int, typer.Argument(help="Asset id.")],
    out: OutOption,
    format: FormatOption = None,
) -> None:
    """The valuation history of an asset, one row per valuation."""
    from api.reports import exports
    from api.services import quotes as quote_service

    def make(session: Any) -> Any:
        items, _more = quote_service.list_valuations(
            session, asset_id, limit=100_000, after_id=None
        )
        return exports.valuations_frame(items)

    _export(out, format, make)


@export_app.command("quotes")
def export_quotes(
    out: OutOption,
    format: FormatOption = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
) -> None:
    """The latest quote of every quoted asset."""
    from api.reports import exports
    from api.services import quotes as quote_service

    def make(session: Any) -> Any:
        items, _more = quote_service.list_latest_quotes(
            session, category=category, limit=100_000, after_asset_id=None
        )
        return exports.quotes_frame(items)

    _export(out, format, make)


@export_app.command("portfolio-risk")
def export_portfolio_risk(
    out: OutOption,
    format: FormatOption = None,
    tenant: TenantOption = "demo",
    confidence: Annotated[float, typer.Option(help="VaR / ES confidence.")] = 0.999,
    method: Annotated[str, typer.Option(help="recursion, lhp or mc.")] = "recursion",
) -> None:
    """Portfolio risk: the portfolio row, then each loan's contributions."""
    from api.reports import exports
    from api.services import loan_book as loan_book_service

    def make(session: Any) -> Any:
        return exports.portfolio_frame(
            loan_book_service.portfolio_risk_view(
                session, tenant, confidence=confidence, method=method
            )
        )

    _export(out, format, make)


@export_app.command("stress")
def export_stress(
    run_id: Annotated[int, typer.Argument(help="Stress run id.")],
    out: OutOption,
    format: FormatOption = None,
    tenant: TenantOption = "demo",
) -> None:
    """The results of a stress run (aggregate and per position)."""
    from api.reports import exports
    from api.services import risk

    def make(session: Any) -> Any:
        run = risk.get_run(session, run_id, tenant=tenant)
        return exports.stress_frame(risk.results_csv(session, run))

    _export(out, format, make)


@export_app.command("cashflows")
def export_cashflows(
    securitization_id: Annotated[int, typer.Argument(help="Securitization id.")],
    out: OutOption,
    format: FormatOption = None,
    tenant: TenantOption = "demo",
) -> None:
    """Base-case cash flows per class and period of a securitization."""
    from api.reports.deal import cashflow_frame

    _export(out, format, lambda session: cashflow_frame(session, securitization_id, tenant))
