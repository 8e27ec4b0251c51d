"""Jinja2 environment, number formats, HTML and PDF output, content negotiation.

A report is an HTML document (one template extending ``base.html.j2``); the PDF is the
same HTML laid out by WeasyPrint, so both always carry the same figures. Charts are
inline SVG (vector in both). Fonts: `FONT_STACK` names a CJK-capable family first
(``Noto Sans CJK SC``; Debian ``fonts-noto-cjk``), so a Chinese asset name renders in
HTML and PDF alike; `cjk_font_available` tells whether the machine has one.
"""

from __future__ import annotations

import base64
import functools
import math
import re
import shutil
import subprocess
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape

ReportFormat = Literal["html", "pdf"]

FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
    '"WenQuanYi Zen Hei", "DejaVu Sans", sans-serif'
)
"""CSS font families, CJK-capable first (Debian: fonts-noto-cjk or fonts-wqy-microhei)."""

NOT_AVAILABLE = "not available"

PDF_MEDIA_TYPE = "application/pdf"
HTML_MEDIA_TYPE = "text/html; charset=utf-8"


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def fmt_money(x: Any, digits: int = 2) -> str:
    """``1,234,567.89``; a missing or non-finite amount is "not available"."""
    return f"{float(x):,.{digits}f}" if _is_number(x) else NOT_AVAILABLE


def fmt_pct(x: Any, digits: int = 2) -> str:
    """A decimal as per cent: 0.0525 -> ``5.25 %``."""
    return f"{100.0 * float(x):,.{digits}f} %" if _is_number(x) else NOT_AVAILABLE


def fmt_num(x: Any, digits: int = 4) -> str:
    """A plain number with up to `digits` significant decimals; text passes through."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if _is_number(x):
        if isinstance(x, int):
            return f"{x:,d}"
        return f"{float(x):,.{digits}g}" if abs(float(x)) < 1e4 else f"{float(x):,.2f}"
    if x is None or x == "":
        return NOT_AVAILABLE
    if isinstance(x, date | datetime):
        return x.isoformat()
    return str(x)


def fmt_value(x: Any) -> str:
    """Any assumption value: numbers as `fmt_num`, mappings and lists as compact text."""
    if isinstance(x, Mapping):
        return "; ".join(f"{k}: {fmt_value(v)}" for k, v in x.items()) or NOT_AVAILABLE
    if isinstance(x, list | tuple):
        return ", ".join(fmt_value(v) for v in x) or NOT_AVAILABLE
    return fmt_num(x)


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment on the package's templates (autoescaped HTML)."""
    env = Environment(
        loader=PackageLoader("api.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num, value=fmt_value)
    env.globals.update(font_stack=FONT_STACK, not_available=NOT_AVAILABLE)
    return env


def render_html(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with `context`."""
    return environment().get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    """Lay out `html` with WeasyPrint (fonts from fontconfig; no network access)."""
    from weasyprint import HTML  # imported on first use: it loads pango and cairo

    return bytes(HTML(string=html, base_url=None).write_pdf())


_INLINE_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def svg_as_images(html: str) -> str:
    """Inline ``<svg>`` charts as ``<img>`` with an SVG data URI: WeasyPrint draws them as
    vector images with its SVG renderer (inline SVG would also pass through its HTML CSS
    cascade, which does not know SVG properties)."""

    def image(match: re.Match[str]) -> str:
        data = base64.b64encode(match.group(0).encode("utf-8")).decode("ascii")
        return f'<img style="width: 100%" alt="chart" src="data:image/svg+xml;base64,{data}">'

    return _INLINE_SVG.sub(image, html)


def render(template: str, fmt: ReportFormat, **context: Any) -> bytes:
    """The report as UTF-8 HTML or as PDF bytes."""
    html = render_html(template, pdf=fmt == "pdf", **context)
    return html_to_pdf(svg_as_images(html)) if fmt == "pdf" else html.encode("utf-8")


def negotiate(format_param: str | None, accept: str | None) -> ReportFormat:
    """``?format=`` wins; else ``Accept: application/pdf`` gives PDF; else HTML."""
    if format_param:
        return "pdf" if format_param.lower() == "pdf" else "html"
    if accept and PDF_MEDIA_TYPE in accept.lower():
        return "pdf"
    return "html"


def media_type(fmt: ReportFormat) -> str:
    return PDF_MEDIA_TYPE if fmt == "pdf" else HTML_MEDIA_TYPE


@functools.cache
def cjk_font_available() -> bool:
    """True when fontconfig knows a font covering Chinese (``fc-list :lang=zh``)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        out = subprocess.run(  # noqa: S603 - a fixed argument list
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def response(body: bytes, fmt: ReportFormat, stem: str) -> Any:
    """An HTTP response with the report (PDF inline, named ``<stem>.pdf``)."""
    from fastapi.responses import Response

    headers = {"Content-Disposition": f'inline; filename="{stem}.{fmt}"'} if fmt == "pdf" else {}
    return Response(body, media_type=media_type(fmt), headers=headers)
