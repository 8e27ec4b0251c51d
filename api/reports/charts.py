"""Charts as SVG strings (matplotlib, Agg backend): inline in HTML, vector in PDF.

Each function takes plain arrays and returns the ``<svg>`` element without the XML
prologue, ready to be placed in a template with ``|safe``. Text is drawn as paths, so
the chart looks the same wherever it is shown; the font list puts a CJK-capable family
after DejaVu Sans so Chinese labels have glyphs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# typed loosely: matplotlib types rc_context by a Literal of every rc key
_STYLE: Any = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"],
    "font.size": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "svg.fonttype": "path",
    "svg.hashsalt": "datafin",  # stable ids: the same chart gives the same SVG
}

COLOURS = {
    "income": "#1f77b4",
    "cost": "#ff7f0e",
    "market": "#2ca02c",
    "reconciled": "#d62728",
    "base": "#7f7f7f",
    "stressed": "#d62728",
}


def _figure(width_in: float = 6.8, height_in: float = 2.8) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width_in, height_in), layout="constrained")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    svg = text[start:] if start >= 0 else text
    # scale with the page: the width attribute becomes 100 %, the viewBox keeps proportions
    return re.sub(
        r'<svg([^>]*?)width="[^"]*"\s+height="[^"]*"', r'<svg\1width="100%"', svg, count=1
    )


def _millions(ax: Any, currency: str, axis: str = "y") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _p: f"{v / 1e6:,.2f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(f"{currency} millions")


def income_forecast(
    history: Sequence[tuple[date, float]],
    fitted: Sequence[tuple[date, float]] | None,
    forecast_dates: Sequence[date] | None,
    p05: Sequence[float] | None,
    p50: Sequence[float] | None,
    p95: Sequence[float] | None,
    *,
    currency: str,
    as_of: date,
) -> str:
    """Monthly revenue: history (points), fitted trend (line), simulated forecast fan p05-p95
    with its median."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        if history:
            hx, hy = zip(*history, strict=True)
            ax.plot(hx, hy, "o", ms=2.5, color="#333333", label="revenue (history)")
        if fitted:
            fx, fy = zip(*fitted, strict=True)
            ax.plot(fx, fy, "-", lw=1.2, color=COLOURS["income"], label="fitted trend")
        if forecast_dates is not None and p05 is not None and p95 is not None:
            ax.fill_between(
                np.asarray(forecast_dates, dtype="datetime64[D]"),
                p05,
                p95,
                color=COLOURS["income"],
                alpha=0.18,
                lw=0,
                label="forecast p05-p95",
            )
            if p50 is not None:
                ax.plot(
                    np.asarray(forecast_dates, dtype="datetime64[D]"),
                    p50,
                    "--",
                    lw=1.0,
                    color=COLOURS["income"],
                    label="forecast median",
                )
        ax.axvline(as_of, color="#999999", lw=0.8, ls=":")  # type: ignore[arg-type]  # a date
        _millions(ax, currency)
        ax.legend(loc="upper right", fontsize=7, frameon=False)
        return _svg(fig)


def value_histogram(
    samples: np.ndarray | None,
    approaches: Mapping[str, float | None],
    reconciled: float,
    p05: float | None,
    p95: float | None,
    *,
    currency: str,
) -> str:
    """Histogram of the reconciled value's simulated distribution (when samples are
    given), each approach's value and the reconciled value marked, p05 and p95 shaded."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        if samples is not None and len(samples):
            ax.hist(
                samples,
                bins=60,
                color="#bbbbbb",
                edgecolor="none",
                density=True,
                label="simulated value",
            )
            ax.set_yticks([])
        if p05 is not None and p95 is not None:
            ax.axvspan(p05, p95, color=COLOURS["reconciled"], alpha=0.08, label="p05-p95")
        for name, v in approaches.items():
            if v is not None:
                ax.axvline(v, color=COLOURS.get(name, "#555555"), lw=1.4, label=f"{name} approach")
        ax.axvline(
            reconciled, color=COLOURS["reconciled"], lw=2.0, ls="--", label="reconciled value"
        )
        _millions(ax, currency, axis="x")
        ax.legend(loc="upper right", fontsize=7, frameon=False)
        return _svg(fig)


def pool_loss(
    losses: np.ndarray, probabilities: np.ndarray, attachments: Mapping[str, tuple[float, float]]
) -> str:
    """Pool loss distribution (fraction of the pool balance) with each class's
    attachment and detachment points marked."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        x = np.asarray(losses, dtype=float)
        p = np.asarray(probabilities, dtype=float)
        keep = p > 1e-12
        if keep.any():
            ax.vlines(x[keep] * 100.0, 1e-12, p[keep], color="#555555", lw=1.5)
            ax.plot(x[keep] * 100.0, p[keep], "o", ms=2.5, color="#555555", label="probability")
            ax.set_yscale("log")
            ax.set_ylim(max(float(p[keep].min()) / 10.0, 1e-12), 2.0)
        for k, (name, (attach, detach)) in enumerate(attachments.items()):
            colour = f"C{k}"
            if attach > 0:
                ax.axvline(
                    attach * 100.0,
                    color=colour,
                    lw=1.2,
                    ls="--",
                    label=f"{name} attaches {attach:.0%}",
                )
            ax.axvspan(attach * 100.0, detach * 100.0, color=colour, alpha=0.05)
        ax.set_xlabel("pool loss, % of initial pool balance")
        ax.set_ylabel("probability (log)")
        upper = float(x[keep].max() * 100.0) if keep.any() else 10.0
        right = max(upper * 1.1, max((a for a, _ in attachments.values()), default=0) * 110, 1.0)
        ax.set_xlim(-0.01 * right, right)
        ax.legend(loc="upper right", fontsize=7, frameon=False)
        return _svg(fig)


def stress_metrics(rows: Sequence[tuple[str, float, float]], title: str) -> str:
    """Base and stressed bars for each metric, each metric on its own scale (stressed as
    a percentage of base: base = 100)."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure(height_in=0.35 * max(len(rows), 3) + 0.8)
        ax = fig.add_subplot()
        names = [r[0] for r in rows]
        rel = [(100.0 * s / b) if b else (100.0 if s == 0 else np.nan) for _n, b, s in rows]
        y = np.arange(len(rows))
        ax.barh(
            y,
            [100.0] * len(rows),
            height=0.38,
            color=COLOURS["base"],
            label="base = 100",
            align="edge",
        )
        ax.barh(
            y - 0.38, rel, height=0.38, color=COLOURS["stressed"], label="stressed", align="edge"
        )
        for yi, r in zip(y, rel, strict=True):
            if np.isfinite(r):
                ax.text(max(r, 0) + 2, yi - 0.2, f"{r:,.0f}", va="center", fontsize=7)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel("stressed as % of base")
        ax.set_title(title, fontsize=9)
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        return _svg(fig)


def scenarios_metrics(metrics: Sequence[str], scenarios: Mapping[str, Mapping[str, float]]) -> str:
    """Grouped bars: for each metric, each scenario's stressed figure as % of its base."""
    with matplotlib.rc_context(_STYLE):
        fig = _figure(height_in=0.45 * max(len(metrics), 3) * max(len(scenarios), 1) ** 0.5 + 0.9)
        ax = fig.add_subplot()
        n = max(len(scenarios), 1)
        height = 0.8 / n
        y = np.arange(len(metrics))
        largest = max((v for values in scenarios.values() for v in values.values()), default=100.0)
        log = largest > 1000.0  # one metric many times its base: a log axis keeps the rest readable
        for k, (name, values) in enumerate(scenarios.items()):
            bars = [values.get(m, np.nan) for m in metrics]
            ax.barh(
                y + k * height,
                [max(b, 0.1) if log else b for b in bars],
                height=height,
                color=f"C{k}",
                label=name,
                align="edge",
            )
        if log:
            ax.set_xscale("log")
        ax.axvline(100.0, color="#555555", lw=0.8, ls=":")
        ax.set_yticks(y + 0.4, list(metrics))
        ax.invert_yaxis()
        ax.set_xlabel("stressed as % of base (dotted: base)" + (", log scale" if log else ""))
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        return _svg(fig)
