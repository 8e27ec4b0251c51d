"""The API contract's command line: every command has ``--help``; errors go to stderr with a non-zero
exit status and no traceback; ``keys create`` prints only the key."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app

COMMANDS = [
    "serve",
    "demo",
    "db upgrade",
    "keys create",
    "assets register",
    "signals import",
    "value",
    "stress",
    "audit verify",
]


def _url(engine) -> str:
    url = engine.url
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def cli(engine, session_factory, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", _url(engine))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command) -> None:
    r = cli(*command.split(), "--help")
    assert r.exit_code == 0, r.output
    assert "Usage" in r.stdout


def test_keys_create_prints_only_the_key(cli) -> None:
    r = cli("keys", "create", "--role", "bank", "--tenant", "acme")
    assert r.exit_code == 0, r.output
    assert re.fullmatch(r"\S+\n", r.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "create", "--role", "nope", "--tenant", "acme"],
        ["value", "987654"],
        ["value", "99999999999999999999999"],
        ["value", "1", "--as-of", "2025-02-30"],
        ["value", "1", "--as-of", "9999-12-31"],
        ["value", "1", "--currency", "ZZZ"],
        ["value", "1", "--paths", "0"],
        ["value", "1", "--assumptions", "{bad"],
        ["signals", "import", "no-such-file.csv", "--asset", "1", "--tenant", "acme"],
        ["signals", "import", "{csv}", "--asset", "99999999999999999999999", "--tenant", "acme"],
        ["signals", "import", "{csv}", "--asset", "987654", "--tenant", "acme"],
        ["assets", "register", "no-such-file.json", "--tenant", "acme"],
        ["assets", "register", "{bad_json}", "--tenant", "acme"],
        ["stress", "no_such_scenario", "--tenant", "acme"],
    ],
    ids=lambda a: " ".join(a),
)
def test_errors_go_to_stderr_with_a_non_zero_exit(cli, tmp_path, args) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("month,metric,value\n2025-01,revenue,1\n")
    bad_json = tmp_path / "a.json"
    bad_json.write_text('{"name": 1}')
    args = [a.replace("{csv}", str(csv)).replace("{bad_json}", str(bad_json)) for a in args]
    r = cli(*args)
    assert r.exit_code != 0, r.stdout
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.stdout == ""
    assert r.stderr.strip()
    assert "Traceback" not in r.stderr
