"""The data asset being valued: rights, quality, size and refresh profile.

`AssetProfile` is what every valuation method needs to know about the asset apart
from its signals, costs and comparables. It mirrors the registry's ``DataAsset``
(API contract: ``POST /v1/assets``): ``rights`` {holding, processing_use, product_operation,
exclusive, territory, cross_border}, ``quality`` (the six GB/T 36344 dimensions,
each 0..1), ``records`` and ``refresh_days``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from valuation.errors import ConventionError

QUALITY_DIMENSIONS: tuple[str, ...] = (
    "accuracy",
    "consistency",
    "completeness",
    "conformity",
    "timeliness",
    "accessibility",
)

# Default weights of the six quality dimensions in the quality coefficient (equal
# weights: GB/T 36344-2018 lists the six dimensions without ranking them). Callers
# override them through the cost approach's ``quality_weights``.
DEFAULT_QUALITY_WEIGHTS: Mapping[str, float] = dict.fromkeys(QUALITY_DIMENSIONS, 1.0 / 6.0)


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality scores of a data asset, the six dimensions of GB/T 36344, each in [0, 1]."""

    accuracy: float
    consistency: float
    completeness: float
    conformity: float
    timeliness: float
    accessibility: float

    def __post_init__(self) -> None:
        for name in QUALITY_DIMENSIONS:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0.0 <= v <= 1.0):
                raise ConventionError(
                    f"The `quality.{name}` of `AssetProfile` must be a number in [0, 1]. "
                    f"Got {v!r}.",
                    field=f"quality.{name}",
                )

    def score(self, weights: Mapping[str, float] | None = None) -> float:
        """Weighted quality score in [0, 1].

        Parameters
        ----------
        weights : mapping, optional
            Weight per dimension (non-negative, at least one positive); they are
            normalised to sum to one. Default `DEFAULT_QUALITY_WEIGHTS`.
        """
        w = dict(DEFAULT_QUALITY_WEIGHTS if weights is None else weights)
        unknown = set(w) - set(QUALITY_DIMENSIONS)
        if unknown:
            raise ConventionError(
                f"The `quality_weights` must name GB/T 36344 dimensions "
                f"{', '.join(QUALITY_DIMENSIONS)}. Got {sorted(unknown)!r}.",
                field="quality_weights",
            )
        total = sum(w.values())
        if any((not math.isfinite(v)) or v < 0 for v in w.values()) or total <= 0:
            raise ConventionError(
                f"The `quality_weights` must be non-negative with a positive sum. Got {w!r}.",
                field="quality_weights",
            )
        return float(sum(getattr(self, d) * w.get(d, 0.0) for d in QUALITY_DIMENSIONS) / total)

    def as_dict(self) -> dict[str, float]:
        """Return the quality scores as a plain dict."""
        return {d: float(getattr(self, d)) for d in QUALITY_DIMENSIONS}


@dataclass(frozen=True, slots=True)
class Rights:
    """Rights held over the data (CAS 2023: holding, processing-use, product-operation).

    Attributes
    ----------
    holding, processing_use, product_operation : bool
        The three rights of the Chinese data-property framework.
    exclusive : bool
        Whether the rights are exclusive.
    territory : str
        Where the rights apply (free text, e.g. ``"CN"``).
    cross_border : bool
        Whether the data may be transferred across borders.
    term_months : int or None
        Remaining term of the rights in months; ``None`` means no stated end.
    """

    holding: bool = True
    processing_use: bool = True
    product_operation: bool = True
    exclusive: bool = False
    territory: str = "CN"
    cross_border: bool = False
    term_months: int | None = None

    def __post_init__(self) -> None:
        for name in ("holding", "processing_use", "product_operation", "exclusive", "cross_border"):
            if not isinstance(getattr(self, name), bool):
                raise ConventionError(
                    f"The `rights.{name}` of `AssetProfile` must be true or false. "
                    f"Got {getattr(self, name)!r}.",
                    field=f"rights.{name}",
                )
        if self.term_months is not None and (
            isinstance(self.term_months, bool)
            or not isinstance(self.term_months, int)
            or self.term_months < 1
        ):
            raise ConventionError(
                f"The `rights.term_months` of `AssetProfile` must be a positive integer or null. "
                f"Got {self.term_months!r}.",
                field="rights.term_months",
            )

    def scope_score(self) -> float:
        """Breadth of the rights on the one scale shared with comparables (`rights_score`)."""
        return rights_score(
            holding=self.holding,
            processing_use=self.processing_use,
            product_operation=self.product_operation,
            exclusive=self.exclusive,
            cross_border=self.cross_border,
        )


#: Weight of each right in the breadth score (the holding right carries the disposal power
#: a buyer pays most for). Library defaults, documented in README's table of defaults.
RIGHT_WEIGHTS: Mapping[str, float] = {
    "holding": 0.4,
    "processing_use": 0.3,
    "product_operation": 0.3,
}
#: Factor of a non-exclusive grant and of rights confined to one territory (no cross-border
#: transfer); exclusive, cross-border rights count in full.
NON_EXCLUSIVE_FACTOR = 0.8
DOMESTIC_FACTOR = 0.9
#: Floor of the score, so that a ratio of two scores stays finite.
MIN_RIGHTS_SCORE = 0.05


def rights_score(
    *,
    holding: bool,
    processing_use: bool,
    product_operation: bool,
    exclusive: bool,
    cross_border: bool,
) -> float:
    """Breadth of a bundle of data rights in (0, 1], one scale for assets and comparables.

    ``(0.4 holding + 0.3 processing_use + 0.3 product_operation)``, times 0.8 unless
    exclusive and 0.9 unless cross-border transfer is allowed, floored at 0.05. The
    market approach adjusts each comparable's price by the ratio of the asset's score to
    the comparable's (`valuation.market_approach.scope_score` reads a comparable's
    ``rights_scope`` onto this scale). The weights are this library's documented
    defaults, not a published standard.
    """
    s = (
        RIGHT_WEIGHTS["holding"] * holding
        + RIGHT_WEIGHTS["processing_use"] * processing_use
        + RIGHT_WEIGHTS["product_operation"] * product_operation
    )
    s *= 1.0 if exclusive else NON_EXCLUSIVE_FACTOR
    s *= 1.0 if cross_border else DOMESTIC_FACTOR
    return max(s, MIN_RIGHTS_SCORE)


@dataclass(frozen=True, slots=True)
class AssetProfile:
    """A registered data asset as the valuation methods see it.

    Attributes
    ----------
    id : str
        Registry id.
    name : str
        Display name.
    category : str
        E.g. consumer, industrial, geospatial, financial, healthcare.
    rights : Rights
        Rights held.
    quality : Quality
        GB/T 36344 quality scores.
    records : int
        Size of the data set in records (rows), >= 0; 0 means unknown (the market
        approach then makes no volume adjustment).
    refresh_days : float
        How often the data is refreshed, in days (> 0; 1 = daily).
    """

    id: str
    name: str
    category: str
    rights: Rights
    quality: Quality
    records: int
    refresh_days: float

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not self.category:
            raise ConventionError(
                f"The `category` of `AssetProfile` must be a non-empty string. Got {self.category!r}.",
                field="category",
            )
        if not isinstance(self.rights, Rights):
            raise ConventionError(
                "The `rights` of `AssetProfile` must be a `Rights`.", field="rights"
            )
        if not isinstance(self.quality, Quality):
            raise ConventionError(
                "The `quality` of `AssetProfile` must be a `Quality`.", field="quality"
            )
        if isinstance(self.records, bool) or not isinstance(self.records, int) or self.records < 0:
            raise ConventionError(
                f"The `records` of `AssetProfile` must be a non-negative integer (0: unknown). "
                f"Got {self.records!r}.",
                field="records",
            )
        if (
            isinstance(self.refresh_days, bool)
            or not isinstance(self.refresh_days, int | float)
            or not math.isfinite(self.refresh_days)
            or self.refresh_days <= 0
        ):
            raise ConventionError(
                f"The `refresh_days` of `AssetProfile` must be a positive number of days. "
                f"Got {self.refresh_days!r}.",
                field="refresh_days",
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AssetProfile:
        """Build from plain data (``rights`` and ``quality`` as mappings), as the registry stores it."""
        rights_in = dict(data.get("rights") or {})
        known = {f.name for f in fields(Rights)}
        rights = Rights(**{k: v for k, v in rights_in.items() if k in known})
        quality_in = data.get("quality") or {}
        missing = [d for d in QUALITY_DIMENSIONS if d not in quality_in]
        if missing:
            raise ConventionError(
                f"The `quality` of `AssetProfile` must give all six GB/T 36344 dimensions. "
                f"Missing {missing!r}.",
                field=f"quality.{missing[0]}",
            )
        quality = Quality(**{d: quality_in[d] for d in QUALITY_DIMENSIONS})
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            category=data.get("category", ""),
            rights=rights,
            quality=quality,
            records=data.get("records", 0),
            refresh_days=data.get("refresh_days", 0),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (the inverse of `from_mapping`)."""
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "rights": {f.name: getattr(self.rights, f.name) for f in fields(Rights)},
            "quality": self.quality.as_dict(),
            "records": self.records,
            "refresh_days": float(self.refresh_days),
        }
