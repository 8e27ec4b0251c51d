"""Shared request builders for the API contract tests (tests/api/test_contract_*.py).

On the import path through pytest's ``pythonpath`` setting; plain functions and data,
no fixtures.
"""

from __future__ import annotations

from typing import Any

from samples.data_assets import generate_samples

SAMPLES = generate_samples(11, n_assets=2)
AS_OF = SAMPLES.as_of.isoformat()


def signals_csv(frame) -> str:
    lines = ["month,metric,value"]
    lines += [
        f"{m:%Y-%m},{k},{v!r}"
        for m, k, v in frame[["month", "metric", "value"]].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def cost_bodies(frame) -> list[dict[str, Any]]:
    return [
        {
            "category": r.category,
            "amount": float(r.amount),
            "currency": r.currency,
            "incurred_on": r.incurred_on.isoformat()[:10],
            "recurring_months": int(r.recurring_months),
        }
        for r in frame.itertuples(index=False)
    ]


def comparable_bodies(frame) -> list[dict[str, Any]]:
    return [
        {
            "category": r.category,
            "price": float(r.price),
            "currency": r.currency,
            "traded_on": r.traded_on.isoformat()[:10],
            "records": int(r.records),
            "quality_score": float(r.quality_score),
            "rights_scope": r.rights_scope,
        }
        for r in frame.itertuples(index=False)
    ]


def loan_body(asset_ids: list[int], **kw: Any) -> dict[str, Any]:
    body = {
        "asset_ids": asset_ids,
        "currency": "CNY",
        "tenor_months": 12,
        "amortization": "annuity",
        "frequency_months": 1,
        "day_count": "ACT/365F",
        "calendar": "China",
        "borrower": {"rating": "BBB"},
        "as_of": AS_OF,
    }
    body.update(kw)
    return body


DEAL = {
    "name": "contract deal",
    "currency": "CNY",
    "pool": {
        "receivables": [
            {"receivable_id": f"R{i}", "cashflows": [1e6] * 12, "pd": 0.03, "recovery_rate": 0.2}
            for i in range(5)
        ]
    },
    "tranches": [
        {"name": "A", "attach": 0.3, "detach": 1.0, "coupon": 0.02},
        {"name": "B", "attach": 0.0, "detach": 0.3, "coupon": 0.05},
    ],
}
