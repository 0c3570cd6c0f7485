"""`make up`, `make status`, `make down` of the whole stack, for real: free ports, a temporary runtime folder."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from testkit.stack_env import COMPONENTS, descendants, identity, make, make_root, stack_environment, status_pids

pytestmark = pytest.mark.slow

PROJECT_DAGS = {"spotify_ingest", "spotify_import", "spotify_analytics"}


@pytest.fixture(scope="module")
def stack_env():
    root = make_root()
    env = stack_environment(root)
    try:
        yield env
    finally:
        make("down", env)  # whatever a failed test left running
        shutil.rmtree(root, ignore_errors=True)


def _up_and_healthy(env) -> dict[str, set[int]]:
    up = make("up", env)
    assert up.returncode == 0, f"make up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
    status = make("status", env)
    assert status.returncode == 0, status.stderr
    for name in COMPONENTS:
        line = next((line for line in status.stdout.splitlines() if line.startswith(name + " ")), "")
        assert "running  healthy" in line, f"{name} not healthy in make status:\n{status.stdout}"
    pids = status_pids(status.stdout)
    assert set(pids) == set(COMPONENTS)
    return pids


def _down_leaves_nothing(env, pids: dict[str, set[int]]) -> None:
    ours = {found for pid in descendants(set().union(*pids.values())) if (found := identity(pid))}
    assert len(ours) > sum(len(p) for p in pids.values())  # children (postgres backends, workers) were seen
    down = make("down", env)
    assert down.returncode == 0, f"make down failed:\n{down.stdout}\n{down.stderr}"
    still = sorted(process for process in ours if identity(process[0]) == process)
    assert still == [], f"processes of ours still running after make down: {still}"
    status = make("status", env)
    assert all(f"{name} " in status.stdout for name in COMPONENTS)
    assert " running " not in status.stdout, status.stdout


def _airflow_api(env):
    """call(method, path, body=None) -> JSON of Airflow's REST API, logged in as admin with the generated password."""
    base = f"http://127.0.0.1:{env['AIRFLOW_PORT']}"
    password_file = Path(env["RUNTIME_DIR"]) / "airflow" / "simple_auth_manager_passwords.json.generated"
    password = json.loads(password_file.read_text())["admin"]
    request = urllib.request.Request(f"{base}/auth/token", method="POST",
                                     data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        token = json.load(answer)["access_token"]

    def call(method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{base}/api/v2/{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status in (200, 201)
            return json.load(answer)

    return call


def _airflow_lists_the_dags(env) -> None:
    call = _airflow_api(env)

    def get(path: str) -> dict:
        return call("GET", path)

    dags = {dag["dag_id"]: dag for dag in get("dags?limit=100")["dags"]}
    assert PROJECT_DAGS <= set(dags), f"DAGs listed by the API: {sorted(dags)}"
    assert not any(dags[dag_id]["is_paused"] for dag_id in PROJECT_DAGS)
    assert get("importErrors")["total_entries"] == 0
    assert all(dag["is_paused"] is False for dag in dags.values())
    assert not any(dag_id.startswith("example_") for dag_id in dags)


def _scheduled_runs_reach_the_replica(env) -> None:
    """With plays in source before `make up`, the scheduler runs the unpaused DAGs by itself: spotify_ingest and
    spotify_analytics (gates, load, Spark on the stack's standalone cluster, publish) succeed with no manual
    step, and Debezium brings the published statistics into the replica."""
    call = _airflow_api(env)
    deadline = time.monotonic() + 540
    while True:
        runs = {dag_id: [run["state"] for run in call("GET", f"dags/{dag_id}/dagRuns")["dag_runs"]]
                for dag_id in ("spotify_ingest", "spotify_analytics")}
        if all("success" in states for states in runs.values()):
            break
        assert "failed" not in runs["spotify_ingest"] + runs["spotify_analytics"], runs
        assert time.monotonic() < deadline, f"no successful scheduled runs after 540 s: {runs}"
        time.sleep(5)
    waited = make("replication-wait", env, 300, "TIMEOUT=180")
    assert waited.returncode == 0, waited.stderr
    with psycopg.connect(env["MAIN_DATABASE_URL"]) as main, psycopg.connect(env["REPLICA_DATABASE_URL"]) as replica:
        query = "SELECT user_id, period, streams FROM analytics.overview ORDER BY 1, 2"
        published = main.execute(query).fetchall()
        assert published and published == replica.execute(query).fetchall()
        (streams,) = main.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()
    assert {(user, period): n for user, period, n in published}[(published[0][0], "all")] == streams > 0


def _failing_component_fails_up(env) -> None:
    """With the dashboard's port taken by someone else, `make up` fails and names the dashboard."""
    assert make("dashboard-stop", env).returncode == 0
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", int(env["DASHBOARD_PORT"])))
        squatter.listen()
        up = make("up", env)
    assert up.returncode != 0
    assert "error: dashboard did not start" in up.stderr, up.stderr
    assert f"port {env['DASHBOARD_PORT']} is taken" in up.stderr


def test_up_status_down_twice(stack_env):
    for target, args in (("postgres", ()), ("generate", ("USERS=1", "DAYS=7", "SEED=5"))):
        result = make(target, stack_env, 600, *args)  # plays in source before the scheduler first looks
        assert result.returncode == 0, result.stderr
    for round_ in (1, 2):
        pids = _up_and_healthy(stack_env)
        if round_ == 1:
            _airflow_lists_the_dags(stack_env)
            _scheduled_runs_reach_the_replica(stack_env)
            _failing_component_fails_up(stack_env)
            pids = _up_and_healthy(stack_env)  # the dashboard comes back; the rest was left running
        _down_leaves_nothing(stack_env, pids)
