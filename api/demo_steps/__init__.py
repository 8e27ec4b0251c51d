"""Steps of ``datafin demo``.

`api.demo.run_demo` builds one `DemoContext` and calls, in order,
``registry.run(ctx)``, ``valuation.run(ctx)``, ``credit.run(ctx)``,
``products.run(ctx)`` and ``risk.run(ctx)`` (modules in this package). A step calls
the same service functions the HTTP routers call (``api/services/<area>.py``), prints
with ``ctx.out`` and passes ids to later steps through ``ctx.state``:

- ``"asset_ids"`` (registry): list[str], the registered sample assets, in sample order;
- ``"loan_ids"`` (credit), ``"securitization_ids"`` (products): lists of ids.

The registry step also leaves ``"keys"`` ({role: raw API key}) and ``"assets"``
({asset_id: samples.data_assets.SampleAsset}) for steps that want the generated frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session


@dataclass
class DemoContext:
    """What every demo step receives.

    Attributes
    ----------
    session_factory : callable
        ``session_factory()`` returns a new ``sqlmodel.Session`` (use ``with``).
    tenant : str
        The demo tenant that owns everything the demo creates.
    out : callable
        Print-like function for the step's output.
    state : dict
        Ids passed between steps (see the package docstring).
    as_of : datetime.date
        Valuation date of the demo: the first day after the last sample month.
    seed : int
        Seed of the sample data; steps derive their own seeds from it.
    """

    session_factory: Callable[[], Session]
    tenant: str
    out: Callable[..., None] = print
    state: dict[str, Any] = field(default_factory=dict)
    as_of: date = date(2026, 1, 1)
    seed: int = 20240601
