"""The command line as an operator meets it: --version, a fast --help, configuration errors
as one line with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import cli
from api.cli import app

runner = CliRunner()
DATAFIN = Path(sys.executable).with_name("datafin")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ENVIRONMENT", "SECRET_KEY", "DATABASE_URL")
    }
    return subprocess.run(
        [str(DATAFIN), *args], capture_output=True, text=True, timeout=60, env={**base, **env}
    )


def test_version_and_help() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.output.startswith("datafin ")
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for command in ("serve", "worker", "value", "stress", "keys", "report"):
        assert command in r.output, command


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_no_numerical_or_web_stack(option: str) -> None:
    """``datafin --help`` and ``--version`` stay fast because they import neither pandas,
    scipy, QuantLib, FastAPI nor SQLAlchemy (checked by module, not by timing; --version
    once imported the web app and took 1.2 s)."""
    code = (
        "import sys; from api.cli import app; "
        f"from typer.testing import CliRunner; CliRunner().invoke(app, [{option!r}]); "
        "print(','.join(m for m in ('pandas', 'scipy', 'QuantLib', 'fastapi', 'sqlalchemy', "
        "'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert out == ""


def test_the_cli_copies_of_constants_match_their_sources() -> None:
    from models.security import ROLES
    from samples.data_assets import DEFAULT_SEED

    assert cli.ROLES == ROLES
    assert cli.DEFAULT_SEED == DEFAULT_SEED


def test_a_configuration_error_is_one_line_and_exit_2(tmp_path) -> None:
    r = _run(
        "db", "upgrade", ENVIRONMENT="production", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}"
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert "SECRET_KEY" in r.stderr
    assert "Traceback" not in r.stderr
    r = _run("keys", "create", "--role", "admin", "--tenant", "t", DATABASE_URL="not-a-url")
    assert r.returncode == 2
    assert "DATABASE_URL" in r.stderr
    assert r.stderr.count("\n") == 1


def test_lazy_commands_still_run_and_show_their_help() -> None:
    r = runner.invoke(app, ["value", "--help"])
    assert r.exit_code == 0
    assert "--as-of" in r.output
