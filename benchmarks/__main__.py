"""Run benchmarks: ``python -m benchmarks [NAME ...]`` prints one JSON document per benchmark.

Each benchmark is a module ``benchmarks/<name>.py`` with a ``run() -> dict`` function that
measures its target and, in the same run, the baseline it is compared against, and returns
plain JSON-serialisable figures (timings, ratios, peak memory).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys

import benchmarks


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if not m.name.startswith("_")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {available()})"
    )
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; available: {available()}", file=sys.stderr)
        return 2
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        result = module.run()
        print(json.dumps({"benchmark": name, **result}, indent=2, default=float))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
