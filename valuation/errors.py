"""Error and warning hierarchy shared by the numerical core.

Every message has one shape: "The `x` of `Obj` must be <constraint>. Got <value>."
plus, where it helps, a hint at the fix. The shell maps `ValuationError` to HTTP 422.
"""

from __future__ import annotations


class ValuationError(Exception):
    """Base of every error the numerical core raises on bad input or failed models.

    ``field`` names the offending input (dotted path) when one is known, so that
    the API can report it in its problem+json ``errors`` list.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConventionError(ValuationError, ValueError):
    """An input breaks a convention: unit, range, currency, day count, date."""


class InsufficientDataError(ValuationError):
    """A method cannot run on the data given (too short a history, too few comparables)."""


class CalibrationError(ValuationError, RuntimeError):
    """A fit or a solver did not converge."""


class NoMethodError(InsufficientDataError):
    """No valuation method can run; ``reasons`` maps each method to what it lacks.

    ``fields`` maps each method to the input it lacks (``signals``, ``costs``,
    ``comparables``) so the shell can list one problem per input.
    """

    def __init__(
        self, message: str, *, reasons: dict[str, str], fields: dict[str, str | None]
    ) -> None:
        super().__init__(message, field=None)
        self.reasons = dict(reasons)
        self.fields = dict(fields)
