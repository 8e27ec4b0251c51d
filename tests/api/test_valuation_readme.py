"""The README's valuation example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_valuation_example_runs(capsys) -> None:
    section = (
        README.read_text(encoding="utf-8").split("\n## Valuation\n", 1)[1].split("\n## ", 1)[0]
    )
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "income" in out
    assert "market" in out
    result = namespace["result"]
    assert result.methods["income"].assumptions["discount_rate"] == 0.12
    assert namespace["paths"].values.shape == (10_000,)
