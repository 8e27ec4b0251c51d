"""One table of the documents, used by the HTTP routes, ``datafin report`` and the dashboard.

``build(kind, session, object_id, tenant, fmt)`` returns ``(bytes, file stem)``. Tenant
scoping is the context builders' job (another tenant's loan, deal or run is a
`NotFoundError`, so a 404 over HTTP and exit 1 on the command line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from api.reports import render


@dataclass(frozen=True, slots=True)
class Document:
    template: str
    context: Callable[[Session, Any, str], dict[str, Any]]
    stem: Callable[[dict[str, Any], Any], str]


def _valuation(session: Session, object_id: Any, tenant: str) -> dict[str, Any]:
    from api.reports.valuation import valuation_context

    return valuation_context(session, int(object_id))


def _loan(session: Session, object_id: Any, tenant: str) -> dict[str, Any]:
    from api.reports.certificate import certificate_context

    return certificate_context(session, int(object_id), tenant)


def _deal(session: Session, object_id: Any, tenant: str) -> dict[str, Any]:
    from api.reports.deal import deal_context

    return deal_context(session, int(object_id), tenant)


def _stress(session: Session, object_id: Any, tenant: str) -> dict[str, Any]:
    from api.reports.stress import stress_context

    return stress_context(session, int(object_id), tenant)


DOCUMENTS: dict[str, Document] = {
    "valuation": Document(
        "valuation.html.j2",
        _valuation,
        lambda ctx, i: f"appraisal-{ctx['asset']['certificate_no']}-valuation-{i}",
    ),
    "loan": Document("certificate.html.j2", _loan, lambda ctx, i: f"certificate-{ctx['number']}"),
    "deal": Document("deal.html.j2", _deal, lambda ctx, i: f"deal-{i}"),
    "stress": Document("stress.html.j2", _stress, lambda ctx, i: f"stress-{i}"),
}
"""Kinds of ``datafin report KIND ID``."""


def build(
    kind: str, session: Session, object_id: Any, tenant: str, fmt: render.ReportFormat
) -> tuple[bytes, str]:
    """The document `kind` of `object_id` as `fmt`, and its file stem."""
    doc = DOCUMENTS[kind]
    ctx = doc.context(session, object_id, tenant)
    return render.render(doc.template, fmt, **ctx), doc.stem(ctx, object_id)
