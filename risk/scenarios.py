"""Stress scenarios as data: a named set of shocks, parsed from JSON, composed and scaled.

A scenario reads, in JSON (field names are the public API contract)::

    {"name": "demand_slump", "extends": "rates_up_200bp", "horizon_months": 12,
     "shocks": {"revenue_multiplier": 0.7, "rate_shift_bp": 200,
                "key_rate_shifts_bp": {"1Y": 25, "5Y": 50},
                "downturn_lgd": true,
                "rights_events": [{"category": "consumer", "cross_border": false,
                                   "value_factor": 0.6}]}}

Every shock is optional; an absent shock (``None`` in `Shocks`) means "no shock". The
neutral value of each shock is documented on its field; a shock equal to its neutral
value changes nothing, bit for bit.

Composition: a scenario that ``extends`` another takes the parent's shocks and overrides
them field by field with its own; the two mapping fields (``revenue_multiplier_by_category``
and ``key_rate_shifts_bp``) are merged key by key, the child winning, and ``rights_events``
are merged by ``(category, cross_border)``, the child winning. A missing
``horizon_months`` is inherited. Cycles are rejected.

Scaling (`Scenario.scaled`): scale ``s`` turns every shock into a shock of ``s`` times
its size: multiplicative shocks ``m`` become ``m ** s`` (always positive, ``s = 0`` is
neutral, ``s = 1`` is the shock, monotone in ``s``), additive shocks ``x`` become ``s * x``,
and ``downturn_lgd`` becomes an LGD add-on of ``s`` times the downturn add-on. Reverse
stress searches over ``s``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from valuation.errors import ConventionError

#: Points added to the long-run LGD by ``downturn_lgd`` (capped at an LGD of 1). The
#: Federal Reserve's 2006 proposal for US Basel II (the "supervisory mapping function"
#: LGD_downturn = 0.08 + 0.92 * ELGD) adds about 5-13 points in the 20-60% ELGD range,
#: and the EBA's 2019 downturn-LGD guidelines (EBA/GL/2019/03) leave institutions with
#: add-ons typically between 10 and 20 points for unsecured exposures where no downturn
#: is observed; 15 points is the middle of that range and the value the API documents.
DOWNTURN_LGD_ADD = 0.15

#: Largest multiplicative shock accepted (and largest factor after scaling): a hundredfold
#: move is far beyond any historical stress and keeps every figure finite.
MAX_MULTIPLIER = 100.0

_MULTIPLIERS = (
    "revenue_multiplier",
    "usage_multiplier",
    "volatility_multiplier",
    "pd_multiplier",
    "half_life_multiplier",
)
_ADDITIVE = (
    "growth_shift",
    "obsolescence_hazard_add",
    "rate_shift_bp",
    "credit_spread_shift_bp",
    "lgd_add",
    "correlation_shift",
    "liquidation_cost_add",
)
_SHOCK_KEYS = (
    *_MULTIPLIERS,
    *_ADDITIVE,
    "revenue_multiplier_by_category",
    "key_rate_shifts_bp",
    "downturn_lgd",
    "rights_events",
)
_SCENARIO_KEYS = ("name", "extends", "horizon_months", "shocks", "description")
_TENOR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([DWMY])\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[\w.\- ]{1,80}$")  # letters of any script, digits, _ . - and spaces


def _fail(field_name: str, rule: str, value: object) -> ConventionError:
    return ConventionError(
        f"The `{field_name}` of `Scenario` must be {rule}. Got {value!r}.", field=field_name
    )


def _number(value: object, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(field_name, "a finite number", value)
    return float(value)


def tenor_years(tenor: str, *, field_name: str = "shocks.key_rate_shifts_bp") -> float:
    """Year fraction of a tenor label such as ``"3M"``, ``"1Y"``, ``"2W"``, ``"30D"``.

    Parameters
    ----------
    tenor : str
        A number followed by D (days, /365), W (weeks, 7/365), M (months, /12) or Y (years).

    Returns
    -------
    float
        The tenor in years (> 0).
    """
    match = _TENOR.match(tenor) if isinstance(tenor, str) else None
    if match is None or float(match.group(1)) <= 0.0:
        raise _fail(field_name, "keyed by tenors such as '3M', '1Y', '10Y' (positive)", tenor)
    n, unit = float(match.group(1)), match.group(2).upper()
    return {"D": n / 365.0, "W": 7.0 * n / 365.0, "M": n / 12.0, "Y": n}[unit]


@dataclass(frozen=True, slots=True)
class RightsEvent:
    """A category-wide change of rights, e.g. cross-border transfer barred.

    Parameters
    ----------
    category : str
        Data category affected (``consumer``, ``healthcare``, ``geospatial``, ...).
    cross_border : bool
        The cross-border right the category holds after the event. ``False`` bars transfer:
        assets of the category that held the cross-border right lose it.
    value_factor : float
        Factor (0..1 for a loss, decimal) applied to the revenue, hence the value, of every
        asset whose right changes. 1 is neutral.
    """

    category: str
    cross_border: bool
    value_factor: float

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not self.category:
            raise _fail("shocks.rights_events.category", "a non-empty category name", self.category)
        if not isinstance(self.cross_border, bool):
            raise _fail("shocks.rights_events.cross_border", "a boolean", self.cross_border)
        v = _number(self.value_factor, "shocks.rights_events.value_factor")
        if not 0.0 <= v <= MAX_MULTIPLIER:
            raise _fail(
                "shocks.rights_events.value_factor",
                f"a factor in [0, {MAX_MULTIPLIER:g}]",
                self.value_factor,
            )

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form of the scenario."""
        return {
            "category": self.category,
            "cross_border": self.cross_border,
            "value_factor": self.value_factor,
        }


def _frozen_map(value: Mapping[str, float] | None) -> Mapping[str, float] | None:
    return None if value is None else MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Shocks:
    """The shocks of a scenario. ``None`` means the shock is absent (neutral).

    Parameters
    ----------
    revenue_multiplier : float, optional
        Factor on every asset's revenue (> 0; neutral 1). 0.7 is a 30 % decline.
    revenue_multiplier_by_category : mapping of str to float, optional
        Factor on revenue by data category, on top of ``revenue_multiplier`` (each > 0).
    usage_multiplier : float, optional
        Factor on usage (> 0; neutral 1). Revenue is usage times unit price with the unit
        price held, so it multiplies revenue too.
    growth_shift : float, optional
        Shift of the annual revenue growth rate, decimal per year (neutral 0); cash flow in
        month k is multiplied by ``exp(growth_shift * k / 12)``.
    volatility_multiplier : float, optional
        Factor on revenue volatility (> 0; neutral 1).
    obsolescence_hazard_add : float, optional
        Added annual hazard of a sudden obsolescence (revenue stops), decimal per year (>= 0).
    half_life_multiplier : float, optional
        Factor on the obsolescence half-life (> 0; neutral 1; 0.5 halves it). An addition to
        the API contract's list (additions are allowed); needed for "half-life down".
    rate_shift_bp : float, optional
        Parallel shift of the risk-free zero curve, basis points.
    key_rate_shifts_bp : mapping of str to float, optional
        Shifts at key tenors (``"1Y"``: bp), linear between tenors and flat outside them,
        on top of the parallel shift.
    credit_spread_shift_bp : float, optional
        Shift of the credit spreads discounting loans and tranches, basis points.
    pd_multiplier : float, optional
        Factor on probabilities of default (> 0; PD capped at 1).
    lgd_add : float, optional
        Added loss given default, decimal (LGD kept in [0, 1]).
    downturn_lgd : bool, optional
        Use the downturn LGD: long-run LGD + `DOWNTURN_LGD_ADD`, capped at 1.
    correlation_shift : float, optional
        Added asset correlation, decimal (correlation kept in [0, 0.999]).
    liquidation_cost_add : float, optional
        Added liquidation cost as a share of collateral value, decimal.
    rights_events : tuple of RightsEvent, optional
        Category-wide rights events.
    """

    revenue_multiplier: float | None = None
    revenue_multiplier_by_category: Mapping[str, float] | None = None
    usage_multiplier: float | None = None
    growth_shift: float | None = None
    volatility_multiplier: float | None = None
    obsolescence_hazard_add: float | None = None
    half_life_multiplier: float | None = None
    rate_shift_bp: float | None = None
    key_rate_shifts_bp: Mapping[str, float] | None = None
    credit_spread_shift_bp: float | None = None
    pd_multiplier: float | None = None
    lgd_add: float | None = None
    downturn_lgd: bool | None = None
    correlation_shift: float | None = None
    liquidation_cost_add: float | None = None
    rights_events: tuple[RightsEvent, ...] | None = None

    def __post_init__(self) -> None:
        for name in _MULTIPLIERS:
            v = getattr(self, name)
            if v is not None and not 0.0 < _number(v, f"shocks.{name}") <= MAX_MULTIPLIER:
                raise _fail(
                    f"shocks.{name}", f"a factor in (0, {MAX_MULTIPLIER:g}] (1 is neutral)", v
                )
        for name in _ADDITIVE:
            v = getattr(self, name)
            if v is not None:
                _number(v, f"shocks.{name}")
        if self.obsolescence_hazard_add is not None and self.obsolescence_hazard_add < 0.0:
            raise _fail(
                "shocks.obsolescence_hazard_add",
                "a hazard add-on >= 0 per year",
                self.obsolescence_hazard_add,
            )
        for name, lo, hi in (
            ("lgd_add", -1.0, 1.0),
            ("correlation_shift", -1.0, 1.0),
            ("liquidation_cost_add", -1.0, 1.0),
            ("growth_shift", -1.0, 1.0),
        ):
            v = getattr(self, name)
            if v is not None and not lo <= v <= hi:
                raise _fail(
                    f"shocks.{name}", f"a decimal in [{lo}, {hi}] (was a percentage passed?)", v
                )
        for name in ("rate_shift_bp", "credit_spread_shift_bp"):
            v = getattr(self, name)
            if v is not None and abs(v) > 5000.0:
                raise _fail(f"shocks.{name}", "a shift in basis points within +-5000", v)
        if self.revenue_multiplier_by_category is not None:
            m = self.revenue_multiplier_by_category
            if not isinstance(m, Mapping):
                raise _fail(
                    "shocks.revenue_multiplier_by_category", "an object {category: multiplier}", m
                )
            for k, v in m.items():
                if not isinstance(k, str) or not k:
                    raise _fail("shocks.revenue_multiplier_by_category", "keyed by category", k)
                if (
                    not 0.0
                    < _number(v, f"shocks.revenue_multiplier_by_category.{k}")
                    <= MAX_MULTIPLIER
                ):
                    raise _fail(
                        f"shocks.revenue_multiplier_by_category.{k}",
                        f"a factor in (0, {MAX_MULTIPLIER:g}]",
                        v,
                    )
            object.__setattr__(self, "revenue_multiplier_by_category", _frozen_map(m))
        if self.key_rate_shifts_bp is not None:
            m = self.key_rate_shifts_bp
            if not isinstance(m, Mapping):
                raise _fail("shocks.key_rate_shifts_bp", "an object {tenor: bp}", m)
            for k, v in m.items():
                tenor_years(k)
                if abs(_number(v, f"shocks.key_rate_shifts_bp.{k}")) > 5000.0:
                    raise _fail(f"shocks.key_rate_shifts_bp.{k}", "a shift within +-5000 bp", v)
            object.__setattr__(self, "key_rate_shifts_bp", _frozen_map(m))
        if self.downturn_lgd is not None and not isinstance(self.downturn_lgd, bool):
            raise _fail("shocks.downturn_lgd", "a boolean", self.downturn_lgd)
        if self.rights_events is not None:
            events = tuple(self.rights_events)
            for e in events:
                if not isinstance(e, RightsEvent):
                    raise _fail("shocks.rights_events", "a list of rights events", e)
            object.__setattr__(self, "rights_events", events)

    # -- effective values (neutral when absent) ---------------------------------------
    def get(self, name: str, neutral: float) -> float:
        """Return the shock ``name`` as a float, ``neutral`` when it is absent."""
        v = getattr(self, name)
        return neutral if v is None else float(v)

    def category_multiplier(self, category: str) -> float:
        """Revenue factor of a category: global multiplier x usage x the category's own."""
        m = self.get("revenue_multiplier", 1.0) * self.get("usage_multiplier", 1.0)
        if self.revenue_multiplier_by_category is not None:
            m *= float(self.revenue_multiplier_by_category.get(category, 1.0))
        return m

    @property
    def is_zero(self) -> bool:
        """True when every shock is absent or neutral."""
        return self == Shocks() or _neutralised(self) == Shocks()

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form: present shocks only."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if f.name == "rights_events":
                out[f.name] = [e.as_dict() for e in v]
            elif isinstance(v, Mapping):
                out[f.name] = dict(v)
            else:
                out[f.name] = v
        return out


def _neutralised(s: Shocks) -> Shocks:
    """Drop shocks equal to their neutral value."""
    kw: dict[str, Any] = {}
    for name in _MULTIPLIERS:
        kw[name] = None if getattr(s, name) in (None, 1.0) else getattr(s, name)
    for name in _ADDITIVE:
        kw[name] = None if getattr(s, name) in (None, 0.0) else getattr(s, name)
    by_cat = {k: v for k, v in (s.revenue_multiplier_by_category or {}).items() if v != 1.0}
    krs = {k: v for k, v in (s.key_rate_shifts_bp or {}).items() if v != 0.0}
    events = tuple(e for e in (s.rights_events or ()) if e.value_factor != 1.0)
    return Shocks(
        **kw,
        revenue_multiplier_by_category=by_cat or None,
        key_rate_shifts_bp=krs or None,
        downturn_lgd=True if s.downturn_lgd else None,
        rights_events=events or None,
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named set of shocks over a horizon.

    Parameters
    ----------
    name : str
        Scenario name (letters of any script, digits, ``_ . -`` and spaces; 1..80
        characters).
    shocks : Shocks
        The shocks (already composed with any parent).
    horizon_months : int
        Stress horizon in months (1..120): the liquidation horizon over which collateral
        values are distributed and margin calls counted.
    extends : str, optional
        Name of the parent this scenario was composed from (kept for the record).
    description : str
        Free text; the rationale of library scenarios.
    scale : float
        The scale this scenario was derived with (`scaled`), 1 for an original.
    """

    name: str
    shocks: Shocks = field(default_factory=Shocks)
    horizon_months: int = 12
    extends: str | None = None
    description: str = ""
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise _fail("name", "1..80 letters, digits, spaces or '_.-'", self.name)
        if (
            isinstance(self.horizon_months, bool)
            or not isinstance(self.horizon_months, int)
            or not 1 <= self.horizon_months <= 120
        ):
            raise _fail(
                "horizon_months", "an integer number of months in 1..120", self.horizon_months
            )
        if not isinstance(self.shocks, Shocks):
            raise _fail("shocks", "a Shocks object", self.shocks)

    @classmethod
    def zero(cls, horizon_months: int = 12, name: str = "baseline") -> Scenario:
        """Return the zero shock: every figure equals its base."""
        return cls(name=name, shocks=Shocks(), horizon_months=horizon_months)

    @property
    def is_zero(self) -> bool:
        """Tell whether every shock is neutral."""
        return self.shocks.is_zero

    def scaled(self, s: float) -> Scenario:
        """Return this scenario with every shock scaled by ``s >= 0``.

        A scale of 0 gives the zero shock, 1 the scenario itself.

        Multipliers ``m`` become ``m ** s``; additive shocks ``x`` become ``s * x``;
        ``downturn_lgd`` becomes an LGD add-on of ``s * DOWNTURN_LGD_ADD``; rights-event
        factors ``f`` become ``f ** s``.
        """
        s = _number(s, "scale")
        if s < 0.0:
            raise _fail("scale", "a scale >= 0", s)
        if s == 1.0:
            return self
        name = f"{self.name} x{s:.6g}"[:80]
        if s == 0.0:
            return replace(self, name=name, shocks=Shocks(), scale=0.0)
        sh = self.shocks
        kw: dict[str, Any] = {}
        for n in _MULTIPLIERS:
            v = getattr(sh, n)
            kw[n] = None if v is None else _clip_factor(float(v) ** s)
        for n in _ADDITIVE:
            v = getattr(sh, n)
            kw[n] = None if v is None else s * float(v)
        if sh.downturn_lgd:
            kw["lgd_add"] = min(1.0, s * DOWNTURN_LGD_ADD + (kw["lgd_add"] or 0.0))
        if sh.revenue_multiplier_by_category is not None:
            kw["revenue_multiplier_by_category"] = {
                k: _clip_factor(float(v) ** s) for k, v in sh.revenue_multiplier_by_category.items()
            }
        if sh.key_rate_shifts_bp is not None:
            kw["key_rate_shifts_bp"] = {k: s * float(v) for k, v in sh.key_rate_shifts_bp.items()}
        if sh.rights_events is not None:
            kw["rights_events"] = tuple(
                replace(e, value_factor=min(MAX_MULTIPLIER, e.value_factor**s))
                for e in sh.rights_events
            )
        for n in ("lgd_add", "correlation_shift", "liquidation_cost_add", "growth_shift"):
            if kw[n] is not None:
                kw[n] = max(-1.0, min(1.0, kw[n]))
        for n in ("rate_shift_bp", "credit_spread_shift_bp"):
            if kw[n] is not None:
                kw[n] = max(-5000.0, min(5000.0, kw[n]))
        return replace(self, name=name, shocks=Shocks(**kw), scale=s * self.scale)

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form (the API contract's field names)."""
        out: dict[str, Any] = {
            "name": self.name,
            "horizon_months": self.horizon_months,
            "shocks": self.shocks.as_dict(),
        }
        if self.extends is not None:
            out["extends"] = self.extends
        if self.description:
            out["description"] = self.description
        return out


def _clip_factor(x: float) -> float:
    """Keep a scaled factor inside (0, MAX_MULTIPLIER].

    Keep a scaled factor inside (0, MAX_MULTIPLIER] (a large scale of a small factor underflows
    towards 0; the smallest positive factor kept is 1e-12).
    """
    return min(MAX_MULTIPLIER, max(x, 1e-12))


def compose(parent: Shocks, child: Shocks) -> Shocks:
    """Child overrides parent field by field; mappings and rights events merge by key."""
    kw: dict[str, Any] = {}
    for f in fields(Shocks):
        p, c = getattr(parent, f.name), getattr(child, f.name)
        if f.name in ("revenue_multiplier_by_category", "key_rate_shifts_bp"):
            kw[f.name] = None if p is None and c is None else {**(p or {}), **(c or {})}
        elif f.name == "rights_events":
            merged = {(e.category, e.cross_border): e for e in (p or ())}
            merged.update({(e.category, e.cross_border): e for e in (c or ())})
            kw[f.name] = None if p is None and c is None else tuple(merged.values())
        else:
            kw[f.name] = p if c is None else c
    return Shocks(**kw)
