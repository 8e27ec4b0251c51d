"""Every timestamp the API returns is RFC 3339 in UTC with ``Z``, on SQLite as on PostgreSQL."""

from __future__ import annotations

import copy
import re

from contract_world import SAMPLES

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def _stamps(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _stamps(v)]
    if isinstance(value, list):
        return [s for v in value for s in _stamps(v)]
    return [value] if isinstance(value, str) and STAMP.match(value) else []


def test_timestamps_carry_z(client, make_key) -> None:
    registrar, admin = make_key("registrar"), make_key("admin")
    r = client.post("/v1/assets", json=copy.deepcopy(SAMPLES.assets[0].profile), headers=registrar)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    bodies = [
        r.json(),
        client.get(f"/v1/assets/{aid}", headers=registrar).json(),
        client.get("/v1/assets", headers=registrar).json(),
        client.get("/v1/keys", headers=admin).json(),
        client.get("/v1/audit", headers=admin).json(),
    ]
    stamps = [s for b in bodies for s in _stamps(b)]
    assert stamps, "no timestamps found"
    assert all(s.endswith("Z") for s in stamps), [s for s in stamps if not s.endswith("Z")]


def test_stress_runs_scenarios_and_jobs_carry_z(client, app, make_key) -> None:
    """The risk views once formatted times themselves (``+00:00``)."""
    from api.job_queue import get_jobs

    risk = make_key("risk")
    scenario = {
        "name": "z-check",
        "extends": "baseline",
        "horizon_months": 12,
        "shocks": {"revenue_multiplier": 0.9},
    }
    created = client.post("/v1/scenarios", json=scenario, headers=risk)
    assert created.status_code == 201, created.text
    run = client.post("/v1/stress-runs", json={"scenario": "baseline", "paths": 16}, headers=risk)
    assert run.status_code == 202, run.text
    get_jobs(app).wait(timeout=120)
    bodies = [
        created.json(),
        client.get("/v1/scenarios", headers=risk).json(),
        client.get(f"/v1/stress-runs/{run.json()['id']}", headers=risk).json(),
        client.get("/v1/stress-runs", headers=risk).json(),
    ]
    stamps = [s for b in bodies for s in _stamps(b)]
    assert stamps, "no timestamps found"
    assert all(s.endswith("Z") for s in stamps), [s for s in stamps if not s.endswith("Z")]
