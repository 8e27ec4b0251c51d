"""Endpoints owned by RISK: /v1/scenarios, /v1/stress-runs....

`api/app.py` includes this router with `prefix="/v1"`, so declare paths without it
(`@router.get("/loans/{loan_id}")` serves `/v1/loans/{loan_id}`). Use
`api.deps.require_roles` for auth, `api.deps.get_session` for the database, and raise
`api.errors.NotFoundError` / `ConflictError` / `ValuationError` rather than returning errors.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
