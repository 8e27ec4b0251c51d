"""HTTP throughput and latency of the service against a bare FastAPI app, in one run.

``python -m benchmarks api`` builds the demo database in a temporary directory
(``datafin demo``), starts ``datafin serve`` on it (one process, uvloop and httptools) and
a bare FastAPI app on the same uvicorn settings, then loads each on loopback with a
bounded load generator: ``wrk`` when installed (``-t1 -c32 -d<seconds>s``), otherwise an
asyncio httpx client with the same number of connections. Figures: requests per second,
p50 and p99 latency (ms) of

* bare ``GET /health`` (sync handler, the baseline),
* bare ``GET /health-async`` (the same, async: the floor of this machine's latency, as no
  route of a real service does less),
* datafin ``GET /health``,
* datafin ``GET /v1/quotes/{id}`` with an API key,
* datafin ``GET /v1/assets?limit=50`` with an API key,

and the ratio of quotes to bare ``/health`` (target: at least 0.5, p99 under 25 ms at 32
connections). Environment: ``BENCH_API_SECONDS`` (default 5), ``BENCH_API_CONNECTIONS``
(default 32). On a machine of two or more cores the servers run on core 0 and the load
generator on the others (as the target is stated: server on one core, load on another), so
the two do not take turns on one core; the cores used are in the output. Every request
goes to 127.0.0.1 only; each load lasts a fixed time. The
service runs with its per-key rate limit out of reach (one key sends everything), and a run
with any non-2xx answer fails rather than report a ratio of errors.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

bare_app = FastAPI()


@bare_app.get("/health")
def bare_health() -> dict[str, str]:
    return {"status": "ok"}


@bare_app.get("/health-async")
async def bare_health_async() -> dict[str, str]:
    return {"status": "ok"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.2)


def _cores() -> tuple[set[int], set[int]]:
    """(server cores, load-generator cores): apart when the machine has two or more."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        return set(cores), set(cores)
    return {cores[0]}, set(cores[1:])


def _pin(pid: int, cores: set[int]) -> None:
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, cores)


def _wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for k, v in headers.items():
        args[1:1] = ["-H", f"{k}: {v}"]
    _server_cores, load_cores = _cores()
    out = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        preexec_fn=(lambda: _pin(0, load_cores)) if load_cores else None,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000.0 if unit == "us" else value * 1000.0 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "req_per_s": float(rps.group(1)) if rps else float("nan"),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


async def _httpx_load(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code >= 300:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000.0

    return {
        "req_per_s": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def _load(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return {**_wrk(url, headers, seconds, connections), "generator": "wrk"}
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    _pin(0, _cores()[1])  # this process is the load generator
    try:
        result = asyncio.run(_httpx_load(url, headers, seconds, connections))
    finally:
        _pin(0, before)
    return {**result, "generator": "httpx"}


def run() -> dict[str, Any]:
    seconds = int(os.environ.get("BENCH_API_SECONDS", "5"))
    connections = int(os.environ.get("BENCH_API_CONNECTIONS", "32"))
    datafin = str(Path(sys.executable).with_name("datafin"))
    with tempfile.TemporaryDirectory(prefix="datafin-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        # one key sends every request: the per-key rate limit (100/s by default) would answer
        # most of them 429, so the measured server runs with the limits out of reach
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_PER_SECOND": "1000000000",
            "RATE_LIMIT_BURST": "1000000000",
        }
        env.pop("ENVIRONMENT", None)
        subprocess.run([datafin, "demo"], env=env, check=True, capture_output=True, timeout=900)

        from sqlmodel import select

        from models import db
        from models.registry import DataAsset
        from models.security import create_api_key
        from models.valuation import AssetQuote

        engine = db.make_engine(url)
        with db.session_scope(engine) as session:
            quote = session.exec(select(AssetQuote)).first()
            assert quote is not None, "the demo stored no quote"
            asset = session.get(DataAsset, quote.asset_id)
            key, _ = create_api_key(
                session, role="admin", tenant=asset.owner_tenant, label="benchmark"
            )
            asset_id = quote.asset_id
        engine.dispose()

        port_d, port_b = _port(), _port()
        server_cores, load_cores = _cores()

        def on_server_cores() -> None:  # before exec: every thread of the server inherits it
            _pin(0, server_cores)

        procs = [
            subprocess.Popen(
                [datafin, "serve", "--port", str(port_d), "--log-level", "warning"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=on_server_cores,
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "benchmarks.api:bare_app",
                    "--port",
                    str(port_b),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=on_server_cores,
            ),
        ]
        try:
            _wait_up(f"http://127.0.0.1:{port_d}/health")
            _wait_up(f"http://127.0.0.1:{port_b}/health")
            auth = {"Authorization": f"Bearer {key}"}
            targets = {
                "bare_health": (f"http://127.0.0.1:{port_b}/health", {}),
                "bare_health_async": (f"http://127.0.0.1:{port_b}/health-async", {}),
                "health": (f"http://127.0.0.1:{port_d}/health", {}),
                "quote": (f"http://127.0.0.1:{port_d}/v1/quotes/{asset_id}", auth),
                "assets_limit_50": (f"http://127.0.0.1:{port_d}/v1/assets?limit=50", auth),
            }
            results = {}
            for name, (target, headers) in targets.items():
                _load(target, headers, 1, min(connections, 4))  # warm-up
                results[name] = _load(target, headers, seconds, connections)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
    bare = results["bare_health"]["req_per_s"]
    if any(r["errors"] for r in results.values()):  # a ratio of error answers means nothing
        raise RuntimeError(
            f"non-2xx answers under load: { {k: r['errors'] for k, r in results.items()} }"
        )
    return {
        "connections": connections,
        "seconds": seconds,
        "server_workers": 1,
        "server_cores": sorted(server_cores),
        "load_cores": sorted(load_cores),
        **results,
        "quote_vs_bare_health": results["quote"]["req_per_s"] / bare if bare else None,
        "targets": {"quote_vs_bare_health": ">= 0.5", "quote_p99_ms": "< 25"},
    }
