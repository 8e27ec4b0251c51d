"""``datafin``: the command line (typer).

Commands: ``serve``, ``demo``, ``db upgrade``, ``keys create``, ``assets register``,
``signals import``, ``audit verify``, plus ``value`` (``api/cli_valuation.py``) and
``stress`` (``api/cli_risk.py``). All of them use the database named by
``DATABASE_URL`` (default ``sqlite:///datafin.db``). Results go to stdout, errors to
stderr with a non-zero exit status (1: the request failed; 2: bad usage).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api import cli_reports, cli_risk, cli_valuation
from api.errors import ApiError
from api.schemas.registry import AssetMetadata, AssetRegister
from api.services import registry
from models import db
from models.audit import verify_chain
from models.security import ROLES, create_api_key
from valuation.errors import ValuationError
from valuation.samples import DEFAULT_SEED

app = typer.Typer(
    name="datafin",
    help="datafin: register, value, lend against, securitize and stress data assets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
assets_app = typer.Typer(help="Registered data assets.", no_args_is_help=True)
signals_app = typer.Typer(help="Monthly usage and revenue signals.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(assets_app, name="assets")
app.add_typer(signals_app, name="signals")
app.add_typer(audit_app, name="audit")
app.add_typer(cli_reports.report_app, name="report")
app.add_typer(cli_reports.export_app, name="export")
app.command("value")(cli_valuation.value)
app.command("stress")(cli_risk.stress)

CLI_ACTOR = "cli"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError) and exc.errors:
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        return f"{exc.detail} [{fields}]" if fields not in exc.detail else exc.detail
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the expected failures into a one-line message on stderr and exit status 1."""
    try:
        yield
    except (ApiError, ValuationError, ValidationError, ValueError, db.SchemaOutOfDate) as exc:
        fail(_describe(exc))
    except OverflowError as exc:  # e.g. an id beyond SQLite's 64-bit integers
        fail(f"a number is out of range: {exc}")
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except OSError as exc:
        fail(str(exc))


@contextmanager
def current_engine() -> Iterator[Engine]:
    """An engine on ``DATABASE_URL`` whose schema is current (else exit 1 naming the fix)."""
    with reported_errors():
        engine = db.make_engine()
    try:
        with reported_errors():
            db.ensure_schema_current(engine)
        yield engine
    finally:
        engine.dispose()


# ------------------------------------------------------------------ serve, demo, db


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the HTTP API with uvicorn (docs at /docs)."""
    import uvicorn

    from api.app import SchemaNotCurrentError, create_app
    from api.settings import Settings

    with reported_errors():
        settings = Settings()
    engine = db.make_engine(settings.database_url)
    try:
        application = create_app(engine=engine, settings=settings)
    except SchemaNotCurrentError as exc:
        engine.dispose()
        fail(str(exc))
    uvicorn.run(application, host=host, port=port)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the sample data.")] = DEFAULT_SEED,
) -> None:
    """Build the demo from an empty database: registry, then valuation, credit, products, risk."""
    from api.demo import DemoError, run_demo

    with reported_errors():
        try:
            run_demo(seed=seed)
        except DemoError as exc:
            fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the latest migration."""
    with reported_errors():
        engine = db.make_engine()
        try:
            db.upgrade(engine)
            current, _head = db.schema_status(engine)
        finally:
            engine.dispose()
    typer.echo(f"database schema at revision {current}")


# ------------------------------------------------------------------ keys


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    tenant: Annotated[str, typer.Option(help="Tenant the key acts for.")],
    label: Annotated[str | None, typer.Option(help="Free-text note kept with the key.")] = None,
) -> None:
    """Create an API key and print it (only the key, once; it is stored hashed)."""
    with current_engine() as engine, reported_errors(), db.session_scope(engine) as session:
        plain, _row = create_api_key(session, role=role, tenant=tenant, label=label)
    typer.echo(plain)


# ------------------------------------------------------------------ assets


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        fail(f"{path} is not JSON: {exc}")


@assets_app.command("register")
def assets_register(
    tenant: Annotated[str, typer.Option(help="Owner tenant of the asset.")],
    json_file: Annotated[
        Path | None,
        typer.Argument(help="JSON file with the POST /v1/assets body.", exists=True, dir_okay=False),
    ] = None,
    content: Annotated[
        Path | None,
        typer.Option("--file", help="Content file: its SHA-256 becomes the fingerprint.", exists=True, dir_okay=False),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Asset name (without a JSON file).")] = None,
    category: Annotated[str | None, typer.Option(help="consumer, industrial, geospatial, financial, healthcare, other.")] = None,
    records: Annotated[int | None, typer.Option(help="Number of records.")] = None,
    refresh_days: Annotated[int | None, typer.Option(help="Days between refreshes.")] = None,
    fingerprint: Annotated[str | None, typer.Option(help="SHA-256 of the content (64 hex).")] = None,
    quality: Annotated[
        float | None, typer.Option(help="Score in [0, 1] used for all six GB/T 36344 dimensions.")
    ] = None,
    territory: Annotated[str, typer.Option(help="Territory of the rights.")] = "CN",
    holding: Annotated[bool, typer.Option(help="Holding right held.")] = True,
    processing_use: Annotated[bool, typer.Option(help="Processing-use right held.")] = True,
    product_operation: Annotated[bool, typer.Option(help="Product-operation right held.")] = False,
    exclusive: Annotated[bool, typer.Option(help="Rights are exclusive.")] = False,
    cross_border: Annotated[bool, typer.Option(help="Cross-border transfer allowed.")] = False,
) -> None:
    """Register a data asset from a JSON file (the API body) or from options; print it as JSON."""
    if json_file is not None:
        body = _load_json(json_file)
        if not isinstance(body, dict):
            fail(f"{json_file} must hold a JSON object.")
    else:
        missing = [
            n for n, v in (("--name", name), ("--category", category), ("--records", records),
                           ("--refresh-days", refresh_days), ("--quality", quality)) if v is None
        ]
        if missing:
            fail(f"without a JSON file, give {', '.join(missing)}.", code=2)
        body = {
            "name": name,
            "category": category,
            "records": records,
            "refresh_days": refresh_days,
            "rights": {
                "holding": holding,
                "processing_use": processing_use,
                "product_operation": product_operation,
                "exclusive": exclusive,
                "territory": territory,
                "cross_border": cross_border,
            },
            "quality": dict.fromkeys(
                ("accuracy", "consistency", "completeness", "conformity", "timeliness", "accessibility"),
                quality,
            ),
        }
    if fingerprint is not None:
        body["fingerprint_sha256"] = fingerprint
    with current_engine() as engine, reported_errors():
        if content is not None:
            meta = AssetMetadata.model_validate({k: v for k, v in body.items() if k != "fingerprint_sha256"})
            with content.open("rb") as stream:
                digest = registry.fingerprint_stream(stream)
            data = AssetRegister(**meta.model_dump(), fingerprint_sha256=digest)
        else:
            data = AssetRegister.model_validate(body)
        factory = db.make_session_factory(engine)
        with factory() as session:
            asset = registry.register_asset(session, data, tenant=tenant, actor=CLI_ACTOR)
            typer.echo(registry.asset_public(asset).model_dump_json(indent=2))


# ------------------------------------------------------------------ signals


@signals_app.command("import")
def signals_import(
    file: Annotated[Path, typer.Argument(help="CSV with the header month,metric,value.", exists=True, dir_okay=False)],
    asset: Annotated[int, typer.Option("--asset", help="Id of the asset.")],
    tenant: Annotated[str, typer.Option(help="Owner tenant of the asset.")],
) -> None:
    """Import signals from CSV (idempotent; one bad row rejects the file); print the counts."""
    with current_engine() as engine, reported_errors():
        rows = registry.parse_signals_csv(file.read_text(encoding="utf-8-sig"))
        factory = db.make_session_factory(engine)
        with factory() as session:
            result = registry.import_signals(
                session, asset, rows, tenant=tenant, actor=CLI_ACTOR, from_text=True
            )
    typer.echo(json.dumps(result.as_dict()))


# ------------------------------------------------------------------ audit


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain; exit 1 and print the first broken link to stderr if any."""
    with current_engine() as engine, reported_errors():
        factory = db.make_session_factory(engine)
        with factory() as session:
            outcome = verify_chain(session)
    if not outcome.ok:
        assert outcome.broken is not None
        fail(
            f"audit chain broken at seq {outcome.broken.seq}: {outcome.broken.reason} "
            f"({outcome.checked} entries before it verified)"
        )
    typer.echo(f"audit chain ok: {outcome.checked} entries, head {outcome.head_hash or '-'}")


def main() -> None:
    """Console-script entry point (``datafin``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
