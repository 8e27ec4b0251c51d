"""Runs left queued or running by a process that stopped are failed, never stuck.

A run records the process that owns its job (``record.worker``); a run whose owner is
gone is marked ``failed`` with the interruption message at application start and when it
is read, and none of its results is visible.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import sqlalchemy as sa

from api import job_queue, jobs
from api.app import create_app
from api.services import risk as risk_service
from models.risk import StressResult, StressRun


def _dead_pid() -> int:
    """The pid of a process that has exited (reaped, so the pid no longer exists)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - fixed argv
    proc.wait()
    return proc.pid


def _open_run(
    session_factory,
    *,
    status: str,
    worker: dict | None,
    tenant: str = "tenant-a",
    partial_rows: int = 0,
) -> str:
    """A run as a process leaves it when it stops: open, owned by ``worker``."""
    with session_factory() as s:
        run = risk_service.create_run(s, "baseline", tenant=tenant, actor="test")
        run_id = run.id
    jobs.release(run_id)  # this process holds no job for it
    with session_factory() as s:
        stored = s.get(StressRun, run_id)
        record = json.loads(stored.record)
        if worker is None:
            record.pop("worker")
        else:
            record["worker"] = worker
        stored.record, stored.status = json.dumps(record), status
        stored.progress = 0.4 if status == "running" else 0.0
        s.add(stored)
        for i in range(partial_rows):  # what a crashed writer might have left
            s.add(
                StressResult(
                    run_id=run_id,
                    kind="asset",
                    position_id=str(i),
                    metric="collateral_value",
                    base=1.0,
                    stressed=0.5,
                    delta=-0.5,
                )
            )
        s.commit()
    return run_id


def _status(session_factory, run_id: str) -> tuple[str, str | None, int]:
    with session_factory() as s:
        run = s.get(StressRun, run_id)
        n = s.execute(
            sa.select(sa.func.count())
            .select_from(StressResult)
            .where(StressResult.run_id == run_id)
        ).scalar_one()
        return run.status, run.error, n


def test_startup_fails_runs_of_a_stopped_process(engine, session_factory) -> None:
    dead = {"token": "0" * 32, "pid": _dead_pid(), "host": socket.gethostname()}
    running = _open_run(session_factory, status="running", worker=dead, partial_rows=3)
    queued = _open_run(session_factory, status="queued", worker=dead)
    legacy = _open_run(session_factory, status="running", worker=None)  # no owner recorded
    elsewhere = _open_run(
        session_factory,
        status="running",
        worker={"token": "1" * 32, "pid": 1, "host": "another-host"},
    )
    live_here = _open_run(session_factory, status="queued", worker=None)
    jobs.claim(live_here)
    with session_factory() as s:  # owned by this process and claimed: a live job
        stored = s.get(StressRun, live_here)
        stored.record = json.dumps({**json.loads(stored.record), "worker": jobs.worker_identity()})
        s.add(stored)
        s.commit()
    try:
        app = create_app(engine=engine)
        assert app is not None
        for run_id in (running, queued, legacy):
            status, error, n = _status(session_factory, run_id)
            assert status == "failed"
            assert (
                error
                == ("interrupted: the server stopped while the run was in progress")
                == jobs.INTERRUPTED_ERROR
            )
            assert n == 0  # partial results never visible
        assert _status(session_factory, elsewhere)[0] == "running"  # cannot tell: left
        assert _status(session_factory, live_here)[0] == "queued"
    finally:
        jobs.release(live_here)


def test_reading_a_run_whose_job_died_in_this_process_fails_it(
    client, make_key, session_factory
) -> None:
    risk = make_key("risk", "tenant-a")
    # owned by this very process (the app is already up) but no job holds it any more
    run_id = _open_run(
        session_factory, status="running", worker=jobs.worker_identity(), partial_rows=2
    )
    r = client.get(f"/v1/stress-runs/{run_id}", headers=risk)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "failed"
    assert body["error"] == jobs.INTERRUPTED_ERROR
    assert body["finished_at"]
    res = client.get(f"/v1/stress-runs/{run_id}/results", headers=risk)
    assert res.status_code == 409
    assert _status(session_factory, run_id)[2] == 0
    # another tenant still sees nothing of it
    assert (
        client.get(f"/v1/stress-runs/{run_id}", headers=make_key("risk", "tenant-b")).status_code
        == 404
    )


def test_listing_fails_interrupted_runs_too(client, make_key, session_factory) -> None:
    dead = {"token": "2" * 32, "pid": _dead_pid(), "host": socket.gethostname()}
    run_id = _open_run(session_factory, status="queued", worker=dead)
    items = client.get("/v1/stress-runs", headers=make_key("risk", "tenant-a")).json()["items"]
    assert [(r["id"], r["status"], r["error"]) for r in items] == [
        (run_id, "failed", jobs.INTERRUPTED_ERROR)
    ]


def test_a_job_declared_interrupted_never_publishes(session_factory) -> None:
    """If a run is failed as interrupted, its (late) job neither starts nor writes."""
    with session_factory() as s:
        run_id = risk_service.create_run(s, "baseline", tenant="tenant-a", actor="t").id
    jobs.release(run_id)
    assert risk_service.fail_interrupted_runs(session_factory) == [run_id]
    risk_service.execute_run(session_factory, run_id)
    status, error, n = _status(session_factory, run_id)
    assert (status, error, n) == ("failed", jobs.INTERRUPTED_ERROR, 0)


def test_a_live_job_is_never_declared_interrupted(
    client, app, make_key, session_factory, monkeypatch
) -> None:
    """While the job runs, reads see it running (or done), never interrupted."""
    risk = make_key("risk", "tenant-a")
    seen: list[str] = []

    def peek(run_id: str) -> None:  # called inside the job, just before results are written
        seen.append(client.get(f"/v1/stress-runs/{run_id}", headers=risk).json()["status"])
        assert risk_service.fail_interrupted_runs(session_factory) == []

    monkeypatch.setattr(risk_service, "before_write_hook", peek)
    r = client.post("/v1/stress-runs", json={"scenario": "baseline", "paths": 16}, headers=risk)
    assert r.status_code == 202
    assert job_queue.get_jobs(app).wait(timeout=60)
    assert seen == ["running"]
    assert (
        client.get(f"/v1/stress-runs/{r.json()['id']}", headers=risk).json()["status"]
        == "succeeded"
    )


def test_the_owning_process_is_not_shown_to_clients(client, make_key, session_factory) -> None:
    risk = make_key("risk", "tenant-a")
    with session_factory() as s:
        run_id = risk_service.create_run(s, "baseline", tenant="tenant-a", actor="t").id
    try:
        with session_factory() as s:
            assert "worker" in json.loads(s.get(StressRun, run_id).record)
        body = client.get(f"/v1/stress-runs/{run_id}", headers=risk).json()
        assert body["status"] == "queued"
        assert "worker" not in body["record"]
        listed = client.get("/v1/stress-runs", headers=risk).json()["items"]
        assert all("worker" not in r["record"] for r in listed)
    finally:
        jobs.release(run_id)
