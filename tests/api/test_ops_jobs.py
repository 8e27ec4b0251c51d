"""Durable jobs: stress runs queued in the job table survive the web process, are retried
when their worker dies, and never show partial results."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import select

from api import worker as job_worker
from api.services import risk as risk_service
from api.settings import Settings
from models import db
from models.jobs import Job
from models.risk import StressResult, StressRun
from models.security import create_api_key

DATAFIN = Path(sys.executable).with_name("datafin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(url: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ENVIRONMENT", "SECRET_KEY", "JOBS_IN_PROCESS")
    }
    return {**base, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}


def _fresh_db(tmp_path: Path) -> tuple[str, sa.Engine, str]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        plain, _ = create_api_key(session, role="risk", tenant="tenant-a", label="t")
    return url, engine, plain


def _seed_book(engine: sa.Engine) -> None:
    """One registered sample asset of tenant-a with its signals (so runs have results)."""
    import copy
    import warnings

    from contract_world import signals_csv

    from samples.data_assets import generate_samples

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app

    with db.session_scope(engine) as session:
        reg, _ = create_api_key(session, role="registrar", tenant="tenant-a", label="t")
    sample = generate_samples(11, n_assets=1).assets[0]
    headers = {"Authorization": f"Bearer {reg}"}
    with TestClient(create_app(engine=engine)) as client:
        r = client.post("/v1/assets", json=copy.deepcopy(sample.profile), headers=headers)
        assert r.status_code == 201, r.text
        r = client.put(
            f"/v1/assets/{r.json()['id']}/signals",
            content=signals_csv(sample.signals),
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text


def _counts(engine: sa.Engine, run_id: int) -> tuple[str, int, list[tuple[str, int]]]:
    factory = db.make_session_factory(engine)
    with factory() as s:
        run = s.get(StressRun, run_id)
        n = s.execute(
            sa.select(sa.func.count())
            .select_from(StressResult)
            .where(StressResult.run_id == run_id)
        ).scalar_one()
        job_rows = [
            (j.status, j.attempts) for j in s.exec(select(Job).where(Job.ref == str(run_id)))
        ]
        return run.status, n, job_rows


def test_a_job_survives_a_killed_web_process_and_completes_in_a_new_worker(tmp_path) -> None:
    url, engine, key = _fresh_db(tmp_path)
    _seed_book(engine)
    port = _free_port()
    server = subprocess.Popen(
        [str(DATAFIN), "serve", "--port", str(port)],
        env=_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/stress-runs",
            json={"scenario": "baseline", "paths": 16, "seed": 1},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    assert _counts(engine, run_id) == ("queued", 0, [("queued", 0)])
    done = subprocess.run(
        [str(DATAFIN), "worker", "--once"],
        env=_env(url),
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    status, rows, job_rows = _counts(engine, run_id)
    assert (status, job_rows) == ("succeeded", [("succeeded", 1)])
    assert rows > 0
    engine.dispose()


WORKER_THAT_HANGS_BEFORE_WRITING = textwrap.dedent("""
    import pathlib, sys, time
    from api import worker
    from api.services import risk

    flag = pathlib.Path(sys.argv[1])

    def hang(run_id):
        flag.write_text(str(run_id))  # the figures are computed, nothing is written yet
        time.sleep(600)

    risk.before_write_hook = hang
    worker.main(once=True)
""")


def test_a_worker_killed_mid_job_leads_to_a_retry_and_no_partial_results(tmp_path) -> None:
    url, engine, _key = _fresh_db(tmp_path)
    _seed_book(engine)
    factory = db.make_session_factory(engine)
    with factory() as session:
        run_id = risk_service.create_run(
            session, "baseline", tenant="tenant-a", actor="test", paths=16, seed=1, durable=True
        ).id
    flag = tmp_path / "claimed"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER_THAT_HANGS_BEFORE_WRITING, str(flag)],
        env=_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while not flag.exists():
            assert proc.poll() is None, "worker never ran"
            assert time.monotonic() < deadline, "worker never ran"
            time.sleep(0.1)
        assert _counts(engine, run_id) == ("running", 0, [("running", 1)])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # nothing partial is visible while the job waits for its retry
    assert _counts(engine, run_id)[:2] == ("running", 0)
    # a new worker sees the dead one (same host, pid gone), requeues and completes the job
    ran = job_worker.Worker(factory, Settings()).drain()
    assert ran == 1
    status, rows, job_rows = _counts(engine, run_id)
    assert (status, job_rows) == ("succeeded", [("succeeded", 2)])
    assert rows > 0
    engine.dispose()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(session_factory) -> None:
    with session_factory() as session:
        run_id = risk_service.create_run(
            session, "baseline", tenant="tenant-a", actor="test", paths=16, durable=True
        ).id
    with session_factory() as session:
        job = session.exec(select(Job).where(Job.ref == str(run_id))).one()
        job.status, job.attempts = "running", job.max_attempts
        job.worker = f"{socket.gethostname()}:{_dead_pid()}:deadbeef0000"
        session.add(job)
        run = session.get(StressRun, run_id)
        run.status = "running"
        session.add(run)
        session.commit()
    assert job_worker.Worker(session_factory).reap() == [job.id]
    with session_factory() as session:
        job = session.get(Job, job.id)
        run = session.get(StressRun, run_id)
        assert job.status == "failed"
        assert "stopped 3 times" in job.error
        assert run.status == "failed"
        assert "interrupted" in run.error


def test_a_stale_heartbeat_on_another_host_is_retried(session_factory) -> None:
    with session_factory() as session:
        run_id = risk_service.create_run(
            session, "baseline", tenant="tenant-a", actor="test", paths=16, durable=True
        ).id
    with session_factory() as session:
        job = session.exec(select(Job).where(Job.ref == str(run_id))).one()
        job.status, job.attempts, job.worker = "running", 1, "elsewhere:1:abc"
        job.heartbeat_at = job.created_at
        session.add(job)
        session.commit()
        job_id = job.id
    fresh = job_worker.Worker(session_factory, lease_s=3600)
    assert fresh.reap() == []  # within the lease: still alive
    assert job_worker.Worker(session_factory, lease_s=0.0).reap() == [job_id]
    with session_factory() as session:
        assert session.get(Job, job_id).status == "queued"


def test_concurrent_workers_never_claim_the_same_job(session_factory, database_dialect) -> None:
    with session_factory() as session:
        for _ in range(6):
            risk_service.create_run(
                session, "baseline", tenant="tenant-a", actor="test", paths=16, durable=True
            )
    claimed: list[int] = []
    lock = threading.Lock()
    workers = [job_worker.Worker(session_factory) for _ in range(3)]

    def claim_all(w: job_worker.Worker) -> None:
        while True:
            try:
                job = w.claim()
            except sa.exc.OperationalError:  # SQLite: "database is locked" under contention
                if database_dialect == "sqlite":
                    time.sleep(0.01)
                    continue
                raise
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 6


def test_job_metrics_and_payload(engine, session_factory, make_key) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app

    headers = make_key("risk")
    client = TestClient(create_app(engine=engine, settings=Settings(jobs_in_process=False)))
    r = client.post(
        "/v1/stress-runs", json={"scenario": "baseline", "paths": 16, "seed": 1}, headers=headers
    )
    assert r.status_code == 202
    text = client.get("/metrics").text
    assert 'datafin_job_queue_depth{kind="stress_run",status="queued"} 1.0' in text
    with session_factory() as session:
        job = session.exec(select(Job)).one()
        assert json.loads(job.payload)["run_id"] == r.json()["id"]
        assert job.tenant == "tenant-a"
