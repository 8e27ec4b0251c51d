"""Risk tables: user scenarios, stress runs and their results.

Follows the SQLModel idiom ``XBase / XCreate / X(table=True) / XPublic``.

- ``stress_scenario``: a tenant's named scenario, its JSON definition as the API contract spells it
  (``{"name", "extends", "horizon_months", "shocks"}``); unique per (tenant, name). The
  built-in library (``risk.library``) is not stored: it is code.
- ``stress_run``: a job; ``id`` is a random hex string (the public run id), ``status`` is
  ``queued``, ``running``, ``succeeded`` or ``failed``, ``progress`` in 0..1, ``error`` the
  failure message. The scenario definition used is stored whole, so a run can be read back
  even if the named scenario changes later.
- ``stress_result``: one row per (run, kind, position, metric) with base, stressed and
  delta; kind ``aggregate`` holds the aggregate table (position id empty). Rows are
  written in the same transaction that marks the run ``succeeded``: a run that fails
  leaves none.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import utc_now


class RunStatus(StrEnum):
    """A stress run (and a durable job) is queued, running, then succeeded or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


RUN_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)


class StressScenarioBase(SQLModel):
    name: str = Field(max_length=80, index=True)
    definition: str = Field(
        sa_type=sa.Text, description="Scenario JSON (the API contract field names)."
    )


class StressScenario(StressScenarioBase, table=True):
    __tablename__ = "stress_scenario"
    __table_args__ = (sa.UniqueConstraint("tenant", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80)
    created_at: datetime = Field(default_factory=utc_now, sa_type=sa.DateTime(timezone=True))

    def as_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.definition))


class StressRunBase(SQLModel):
    scenario_name: str = Field(max_length=80)
    scenario: str = Field(sa_type=sa.Text, description="Scenario JSON actually run.")


class StressRun(StressRunBase, table=True):
    __tablename__ = "stress_run"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True, max_length=80)
    status: str = Field(default=RunStatus.QUEUED.value, max_length=20)
    progress: float = Field(default=0.0)
    error: str | None = Field(default=None, sa_type=sa.Text)
    record: str | None = Field(
        default=None, sa_type=sa.Text, description="JSON: seed, paths, executor, positions, notes."
    )
    created_at: datetime = Field(default_factory=utc_now, sa_type=sa.DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class StressResult(SQLModel, table=True):
    __tablename__ = "stress_result"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="stress_run.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=20)
    position_id: str = Field(max_length=80)
    metric: str = Field(max_length=40)
    base: float | None = None
    stressed: float | None = None
    delta: float | None = None
