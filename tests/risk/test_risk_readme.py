"""The README's risk Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_risk_example_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    section = README.read_text(encoding="utf-8").split("\n## Risk\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)  # noqa: S102
    brk = namespace["brk"]
    assert brk.breached
    assert brk.metric_at_scale == pytest.approx(2e4, rel=1e-4)
    assert "collateral_value" in capsys.readouterr().out
