"""``datafin``: the command line (typer).

Commands: ``serve``, ``demo``, ``db upgrade``, ``keys create|list|revoke``, ``assets register``,
``signals import``, ``audit verify``, plus ``value`` (``api/cli_valuation.py``) and
``stress`` (``api/cli_risk.py``). All of them use the database named by
``DATABASE_URL`` (default ``sqlite:///datafin.db``). Results go to stdout, errors to
stderr with a non-zero exit status (1: the request failed; 2: bad usage).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from api import cli_reports, cli_risk
from api.cli_common import CLI_ACTOR, check_configuration, current_engine, fail, reported_errors

if TYPE_CHECKING:
    pass


class _Lazy:
    """A module imported on first attribute access (keeps ``datafin --help`` fast)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attr)


db = _Lazy("models.db")
registry = _Lazy("api.services.registry")
signal_service = _Lazy("api.services.signals")
schemas = _Lazy("api.schemas.registry")
security = _Lazy("models.security")
audit = _Lazy("models.audit")

#: Roles of an API key (models.security.ROLES; a test keeps the two equal).
ROLES = ("admin", "registrar", "bank", "fund_manager", "risk")
#: Seed of the demo's sample data (samples.data_assets.DEFAULT_SEED; a test keeps them equal).
DEFAULT_SEED = 20240601

#: Commands whose modules are heavy to import: name -> (module, attribute, one-line help).
#: They are imported only when run (or their own ``--help`` is asked for).
LAZY_COMMANDS = {
    "value": (
        "api.cli_valuation",
        "value",
        "Value a registered data asset (income, cost, market, Monte Carlo) and print "
        "the breakdown.",
    ),
}


class _LazyGroup(TyperGroup):
    """The top-level group: lists `LAZY_COMMANDS` by their help line, imports on use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import click

            return click.Command(
                cmd_name, short_help=LAZY_COMMANDS[cmd_name][2], help=LAZY_COMMANDS[cmd_name][2]
            )
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else None
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attr, _help = LAZY_COMMANDS[name]
            holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            holder.command(name)(getattr(importlib.import_module(module), attr))
            holder.command("_")(lambda: None)  # two commands: typer keeps the group
            group = typer.main.get_command(holder)
            self.add_command(group.commands[name], name)  # type: ignore[attr-defined]
        return super().resolve_command(ctx, args)


def _version_callback(value: bool) -> None:
    if value:
        from api.version import service_version  # metadata only: not the web app

        typer.echo(f"datafin {service_version()}")
        raise typer.Exit(0)


app = typer.Typer(
    cls=_LazyGroup,
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
app.command("stress")(cli_risk.stress)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_version_callback,
        ),
    ] = False,
) -> None:
    """datafin: register, value, lend against, securitize and stress data assets."""
    check_configuration()


# ------------------------------------------------------------------ serve, demo, db


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (uvicorn workers).")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the HTTP API with uvicorn, uvloop and httptools (docs at /docs, metrics at
    /metrics, JSON-line logs on stderr). Long work is run by `datafin worker`."""
    import os
    import tempfile

    import uvicorn

    from api.app import SchemaNotCurrentError, create_app
    from api.settings import Settings

    with reported_errors():
        settings = Settings()
    engine = db.make_engine(settings.database_url)
    try:  # refuse to start (one clear line) when the schema is behind, before forking
        create_app(engine=engine, settings=settings)
    except SchemaNotCurrentError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="datafin-metrics-")
    uvicorn.run(
        "api.server:application",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        log_level=log_level.lower(),
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Run the queued jobs, then exit.")] = False,
    lease: Annotated[
        float,
        typer.Option(
            min=5.0,
            help="Seconds without a heartbeat after which another worker retries a running job.",
        ),
    ] = 60.0,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls when idle.")] = 1.0,
) -> None:
    """Run the durable jobs (stress runs and other long work) queued by the API; start one
    or more beside `datafin serve` (on SQLite, one)."""
    from api import worker as job_worker

    with reported_errors():
        job_worker.main(lease_s=lease, poll_s=poll, once=once)


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
        plain, _row = security.create_api_key(session, role=role, tenant=tenant, label=label)
    typer.echo(plain)


# ------------------------------------------------------------------ assets


@keys_app.command("list")
def keys_list(
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant's keys (default: every tenant).")
    ] = None,
) -> None:
    """Print the API keys, one per line: id, prefix, role, tenant, status, label (never a secret)."""
    from sqlmodel import select

    with (
        current_engine() as engine,
        reported_errors(),
        db.make_session_factory(engine)() as session,
    ):
        query = select(security.ApiKey).order_by(security.ApiKey.id)
        if tenant is not None:
            query = query.where(security.ApiKey.tenant == tenant)
        rows = list(session.exec(query).all())
    for row in rows:
        status = (
            f"revoked {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}"
            if row.revoked and row.revoked_at
            else ("revoked" if row.revoked else "active")
        )
        typer.echo(f"{row.id}\t{row.prefix}\t{row.role}\t{row.tenant}\t{status}\t{row.label or ''}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (datafin keys list).")],
) -> None:
    """Revoke an API key (audited); the service refuses it from then on."""
    with (
        current_engine() as engine,
        reported_errors(),
        db.make_session_factory(engine)() as session,
    ):
        row = security.revoke_api_key(session, key_id, actor=CLI_ACTOR)
        if row is None:
            fail(f"no API key {key_id}")
        session.commit()
    typer.echo(f"revoked key {key_id} ({row.prefix}, {row.role}, {row.tenant})")


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
        typer.Argument(
            help="JSON file with the POST /v1/assets body.", exists=True, dir_okay=False
        ),
    ] = None,
    content: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Content file: its SHA-256 becomes the fingerprint.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Asset name (without a JSON file).")] = None,
    category: Annotated[
        str | None,
        typer.Option(help="consumer, industrial, geospatial, financial, healthcare, other."),
    ] = None,
    records: Annotated[int | None, typer.Option(help="Number of records.")] = None,
    refresh_days: Annotated[int | None, typer.Option(help="Days between refreshes.")] = None,
    fingerprint: Annotated[
        str | None, typer.Option(help="SHA-256 of the content (64 hex).")
    ] = None,
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
            n
            for n, v in (
                ("--name", name),
                ("--category", category),
                ("--records", records),
                ("--refresh-days", refresh_days),
                ("--quality", quality),
            )
            if v is None
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
                (
                    "accuracy",
                    "consistency",
                    "completeness",
                    "conformity",
                    "timeliness",
                    "accessibility",
                ),
                quality,
            ),
        }
    if fingerprint is not None:
        body["fingerprint_sha256"] = fingerprint
    with current_engine() as engine, reported_errors():
        if content is not None:
            meta = schemas.AssetMetadata.model_validate(
                {k: v for k, v in body.items() if k != "fingerprint_sha256"}
            )
            with content.open("rb") as stream:
                digest = registry.fingerprint_stream(stream)
            data = schemas.AssetRegister(**meta.model_dump(), fingerprint_sha256=digest)
        else:
            data = schemas.AssetRegister.model_validate(body)
        factory = db.make_session_factory(engine)
        with factory() as session:
            asset = registry.register_asset(session, data, tenant=tenant, actor=CLI_ACTOR)
            typer.echo(registry.asset_public(asset).model_dump_json(indent=2))


# ------------------------------------------------------------------ signals


@signals_app.command("import")
def signals_import(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with the header month,metric,value.", exists=True, dir_okay=False),
    ],
    asset: Annotated[int, typer.Option("--asset", help="Id of the asset.")],
    tenant: Annotated[str, typer.Option(help="Owner tenant of the asset.")],
) -> None:
    """Import signals from CSV (idempotent; one bad row rejects the file); print the counts."""
    with current_engine() as engine, reported_errors():
        rows = signal_service.parse_signals_csv(file.read_text(encoding="utf-8-sig"))
        factory = db.make_session_factory(engine)
        with factory() as session:
            result = signal_service.import_signals(
                session, asset, rows, tenant=tenant, actor=CLI_ACTOR, from_text=True
            )
    typer.echo(json.dumps(result.as_dict()))


# ------------------------------------------------------------------ audit


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain and re-derive every audited row's state; exit 1 naming each
    bad entry and each row that differs from its last audited state."""
    from models.audit_state import verify_states

    with current_engine() as engine, reported_errors():
        factory = db.make_session_factory(engine)
        with factory() as session:
            outcome = audit.verify_chain(session)
            states = verify_states(session)
    checkpoint = "-" if outcome.checkpoint_seq is None else f"seq {outcome.checkpoint_seq}"
    rows = f"{states.checked} audited rows match their last audited state" + (
        f", {states.unchecked} not checkable (audited before state digests, or under an id "
        "of an earlier scheme)"
        if states.unchecked
        else ""
    )
    for problem in outcome.problems:
        typer.echo(f"bad entry at seq {problem.seq}: {problem.reason}", err=True)
    for changed in states.problems:
        typer.echo(f"changed row: {changed}", err=True)
    if not outcome.ok:
        assert outcome.broken is not None
        fail(
            f"audit chain broken at seq {outcome.broken.seq}: {outcome.broken.reason} "
            f"({len(outcome.problems)} problem(s); {outcome.checked} entries verified; "
            f"newest checkpoint {checkpoint}; {len(states.problems)} changed row(s))"
        )
    if not states.ok:
        fail(
            f"audit chain ok ({outcome.checked} entries, newest checkpoint {checkpoint}), but "
            f"{len(states.problems)} row(s) differ from their last audited state; first: {states.problems[0]}"
        )
    typer.echo(
        f"audit chain ok: {outcome.checked} entries, head seq {outcome.head_seq or '-'} "
        f"{outcome.head_hash or '-'}, newest checkpoint {checkpoint}; {rows}"
    )


def main() -> None:
    """Console-script entry point (``datafin``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
