"""README.md's HTTP examples work as written.

The ``sh`` blocks of the "Registry API" section are replayed against the application:
heredocs become files, every ``curl`` becomes the same request through the TestClient
(``$KEY`` a registrar key, ``http://127.0.0.1:8000`` the app), and where a ``# {...}``
comment shows the answer, the answer must say the same. The problem document the README
shows for a rejected signal batch is reproduced exactly.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = "http://127.0.0.1:8000"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[tuple[str, str | None]]:
    """(command, the `# ...` comment that follows it) for every line of the sh blocks;
    heredocs are returned as ("HEREDOC <file>\\n<content>", None)."""
    out: list[tuple[str, str | None]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines = block.split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            heredoc = re.match(r"cat > (\S+) <<'(\w+)'", line)
            if heredoc:
                end = lines.index(heredoc.group(2), i + 1)
                out.append(
                    (f"HEREDOC {heredoc.group(1)}\n" + "\n".join(lines[i + 1 : end]) + "\n", None)
                )
                i = end + 1
                continue
            command = line
            while command.endswith("\\") or command.count("'") % 2:
                i += 1
                command = command.rstrip("\\") + ("\n" if command.count("'") % 2 else "") + lines[i]
            i += 1
            comment = None
            if i < len(lines) and lines[i].lstrip().startswith("#"):
                comment = lines[i].lstrip()[1:].strip()
            if command.strip() and not command.lstrip().startswith("#"):
                out.append((command.strip(), comment))
    return out


def _curl(
    client,
    command: str,
    key_headers: dict[str, str],
    files: dict[str, bytes],
    asset_id: int | None = None,
):
    argv = shlex.split(command.replace("$KEY", key_headers["Authorization"].split()[1]))
    assert argv[0] == "curl", argv
    method, headers, body, url = None, {}, None, None
    form: list[str] = []
    it = iter(argv[1:])
    for arg in it:
        if arg == "-s":
            continue
        if arg == "-X":
            method = next(it)
        elif arg == "-H":
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = next(it).encode()
        elif arg == "--data-binary":
            ref = next(it)
            body = files[ref[1:]] if ref.startswith("@") else ref.encode()
        elif arg == "-F":
            form.append(next(it))
        else:
            url = arg
    assert url is not None, command
    assert url.startswith(BASE), command
    if asset_id is not None:  # the README's asset 1 is the one its first example registered
        url = url.replace("/v1/assets/1/", f"/v1/assets/{asset_id}/")
    if form:  # curl -F: `name=<file` sends the file's text, `name=@file` uploads it
        data, uploads = {}, {}
        for field in form:
            name, _, value = field.partition("=")
            if value.startswith("<"):
                data[name] = files[value[1:]].decode()
            elif value.startswith("@"):
                uploads[name] = (value[1:], files[value[1:]])
            else:
                data[name] = value
        return client.request(
            method or "POST", url[len(BASE) :], data=data, files=uploads, headers=headers
        )
    method = method or ("POST" if body is not None else "GET")
    return client.request(method, url[len(BASE) :], content=body, headers=headers)


def _matches(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    for k, v in expected.items():
        if k in ("version", "database"):  # depend on the install and on DATABASE_URL
            continue
        assert actual.get(k) == v, (k, v, actual.get(k))


def test_registry_api_examples_run_as_written(client, make_key) -> None:
    key = make_key("registrar", "acme")
    files: dict[str, bytes] = {}
    ran = checked = 0
    asset_id: int | None = None
    for command, comment in _commands(_section("Registry API")):
        if command.startswith("HEREDOC "):
            head, content = command.split("\n", 1)
            files[head.split()[1]] = content.encode()
            continue
        if not command.startswith("curl"):
            continue  # export / datafin / serve: run by hand against the real server
        r = _curl(client, command, key, files, asset_id)
        if r is None:
            continue
        ran += 1
        if asset_id is None and r.request.method == "POST" and r.request.url.path == "/v1/assets":
            asset_id = r.json()["id"]
        assert r.status_code < 400, (command, r.status_code, r.text)
        if comment:
            status = re.match(r"(\d{3}) ", comment)
            if status:
                assert r.status_code == int(status.group(1)), (command, r.status_code)
                comment = comment[4:]
            shown = re.match(r"(\{.*?\})(\s|$)", comment)
            if shown and "..." not in shown.group(1):
                _matches(json.loads(shown.group(1)), r.json())
                checked += 1
                again = re.search(r"\(again: (\{.*?\})\)", comment)
                if again:  # the same request a second time
                    _matches(
                        json.loads(again.group(1)),
                        _curl(client, command, key, files, asset_id).json(),
                    )
            elif comment.startswith("{"):
                # e.g. `{"id": 1, "certificate_no": "DA-2026-000001", ..., "status": "registered"}`
                for k, v in re.findall(r'"(\w+)": ("[^"]*"|\d+)', comment):
                    if k == "id":  # ids depend on what the database issued before
                        assert isinstance(r.json()[k], int)
                    elif k == "certificate_no":  # DA-<year>-<6 digits>
                        assert re.fullmatch(r"DA-\d{4}-\d{6}", r.json()[k])
                        assert re.fullmatch(r"DA-\d{4}-\d{6}", json.loads(v))
                    else:
                        assert r.json()[k] == json.loads(v), (k, v)
                checked += 1
    assert ran >= 7, (ran, checked)
    assert checked >= 3, (ran, checked)


def test_registry_readme_problem_document_is_reproduced(client, make_key) -> None:
    section = _section("Registry API")
    shown = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    key = make_key("registrar", "acme")
    body = {
        "name": "x",
        "category": "consumer",
        "rights": {
            "holding": True,
            "processing_use": True,
            "product_operation": False,
            "exclusive": False,
            "territory": "CN",
            "cross_border": False,
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
            0.9,
        ),
        "records": 1,
        "refresh_days": 7,
        "fingerprint_sha256": "ef" * 32,
    }
    aid = client.post("/v1/assets", json=body, headers=key).json()["id"]
    csv = "month,metric,value\n2025-01,revenue,1\n2025-02,revenue,2\n2025-03,revenue,-5\n"
    r = client.put(
        f"/v1/assets/{aid}/signals", content=csv, headers={**key, "Content-Type": "text/csv"}
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json() == shown


def test_products_python_example_runs_as_written() -> None:
    """The Products section's example (no test of its own elsewhere) runs, and the figure
    its comment shows (SEC-SA 9.538, i.e. 954 %) is what it computes."""
    import ast

    code = re.search(r"```python\n(.*?)```", _section("Products"), re.S).group(1)
    namespace: dict[str, Any] = {}
    values = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.Expr):
            values.append(eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace))  # noqa: S307
        else:
            exec(compile(ast.Module([node], []), "README.md", "exec"), namespace)  # noqa: S102
    assert round(values[0], 3) == 9.538
    classes = values[1]
    assert [c[0] for c in classes] == ["A", "B", "C"]
    assert classes[0][1] <= classes[1][1] <= classes[2][1]  # losses grow down the structure
    assert 0.0 < values[2] < 1.0  # break-even CDR, a decimal
