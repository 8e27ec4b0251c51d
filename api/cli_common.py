"""What every command of the CLI shares: the configuration check, one-line errors with an
exit status, the actor of the audit log, and an engine whose schema is current.

The command modules (`api.cli`, `api.cli_risk`, `api.cli_reports`, `api.cli_valuation`)
import this one and none imports another's helpers, so the CLI has no import cycle. Heavy
modules are imported inside the functions, which keeps ``datafin --help`` fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def check_configuration() -> None:
    """Read the configuration (`api.settings.Settings`) once before any command; a bad
    value is one line on stderr naming the variable, and exit status 2."""
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            ("{}: ".format(".".join(str(p) for p in e["loc"]).upper()) if e["loc"] else "")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        fail(f"configuration error: {problems}", code=2)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from models.audit import configure_audit_key

    configure_audit_key(settings.audit_key)
    try:
        make_url(settings.database_url)
    except ArgumentError:
        fail(
            f"configuration error: DATABASE_URL is not a database URL "
            f"(e.g. sqlite:///datafin.db): {settings.database_url!r}",
            code=2,
        )


CLI_ACTOR = "cli"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _describe(exc: BaseException) -> str:
    from pydantic import ValidationError

    from api.errors import ApiError

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
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from api.errors import ApiError
    from models.db import SchemaOutOfDate
    from valuation.errors import ValuationError

    try:
        yield
    except (ApiError, ValuationError, ValidationError, ValueError, SchemaOutOfDate) as exc:
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
    from models import db

    with reported_errors():
        engine = db.make_engine()
    try:
        with reported_errors():
            db.ensure_schema_current(engine)
        yield engine
    finally:
        engine.dispose()
