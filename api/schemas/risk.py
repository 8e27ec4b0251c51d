"""Request and response models of the risk endpoints (not tied to tables).

Scenario bodies are taken as plain JSON objects and validated by `risk.scenarios`, so that
an error names the exact field (``shocks.pd_multiplier``) in API.md's terms.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScenarioList(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = None


class StressRunCreate(BaseModel):
    """``scenario``: a scenario name (built-in or the tenant's) or an inline scenario object."""

    model_config = ConfigDict(extra="forbid")

    scenario: str | dict[str, Any]
    paths: int = Field(default=256, ge=16, le=4096,
                       description="Monte Carlo paths per asset (recorded with the run).")
    seed: int = Field(default=20_260_101, ge=0, le=2**63 - 1,
                      description="Root seed (recorded with the run).")
    as_of: date | None = Field(default=None, description="Valuation date (default: today).")


class StressRunAccepted(BaseModel):
    id: str
    status: str
    progress: float


class StressRunStatus(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    progress: float = Field(ge=0.0, le=1.0)
    scenario: str
    error: str | None = None
    record: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
