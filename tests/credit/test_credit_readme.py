"""The README's credit Python example runs as written and prints what it says."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_credit_example_runs(capsys) -> None:
    section = README.read_text(encoding="utf-8").split("\n## Credit\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out.split() == ["0.9232", "60", "0.029116", "True"]
