"""Declarative hyperparameter constraints for the ``...Valuer`` classes (STYLE.md section 4).

A valuer stores its keyword-only hyperparameters exactly as given; its
``params_schema`` maps each name to a constraint below, and `check_params` (called
at the start of ``value()``) raises one standard message:
"The `name` of `Valuer` must be <constraint>. Got <value>."
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from valuation.errors import ConventionError

#: The shortest half-life (months) a decay assumption may take: about three days. Shorter
#: ones only underflow every later month to nothing (and 1e-300 overflowed the division).
MIN_HALF_LIFE_MONTHS = 0.1


@dataclass(frozen=True, slots=True)
class Number:
    """A real (or integer) number within bounds; ``optional`` allows None."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        """Describe the rule for error messages."""
        kind = "an integer" if self.integer else "a finite number"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        text = kind + (" " + " and ".join(parts) if parts else "")
        return text + (" or None" if self.optional else "")

    def ok(self, v: Any) -> bool:
        """Tell whether ``v`` satisfies the rule."""
        if v is None:
            return self.optional
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if self.integer and not (isinstance(v, int) or float(v).is_integer()):
            return False
        if not math.isfinite(v):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))


@dataclass(frozen=True, slots=True)
class OneOf:
    """One of a fixed set of options."""

    options: tuple[Any, ...]
    optional: bool = False

    def describe(self) -> str:
        """Describe the rule for error messages."""
        return (
            "one of "
            + ", ".join(repr(o) for o in self.options)
            + (" or None" if self.optional else "")
        )

    def ok(self, v: Any) -> bool:
        """Tell whether ``v`` satisfies the rule."""
        return (v is None and self.optional) or v in self.options


@dataclass(frozen=True, slots=True)
class WeightMap:
    """A mapping from allowed keys to non-negative finite weights (or None)."""

    keys: tuple[str, ...]
    optional: bool = True

    def describe(self) -> str:
        """Describe the rule for error messages."""
        return f"a mapping of {', '.join(self.keys)} to non-negative numbers with a positive sum"

    def ok(self, v: Any) -> bool:
        """Tell whether ``v`` satisfies the rule."""
        if v is None:
            return self.optional
        if not isinstance(v, Mapping) or not v or set(v) - set(self.keys):
            return False
        vals = list(v.values())
        if any(isinstance(x, bool) or not isinstance(x, int | float) for x in vals):
            return False
        return all(math.isfinite(x) and x >= 0 for x in vals) and sum(vals) > 0


Constraint = Number | OneOf | WeightMap


def check_params(obj: object) -> dict[str, Any]:
    """Validate ``obj``'s hyperparameters against its ``params_schema``; return them as a dict."""
    schema: Mapping[str, Constraint] = type(obj).params_schema  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for name, rule in schema.items():
        value = getattr(obj, name)
        if not rule.ok(value):
            raise ConventionError(
                f"The `{name}` of `{type(obj).__name__}` must be {rule.describe()}. Got {value!r}.",
                field=f"assumptions.{name}",
            )
        out[name] = dict(value) if isinstance(value, Mapping) else value
    return out


def get_params(obj: object) -> dict[str, Any]:
    """Hyperparameters exactly as stored (sklearn's ``get_params``)."""
    return {name: getattr(obj, name) for name in type(obj).params_schema}  # type: ignore[attr-defined]
