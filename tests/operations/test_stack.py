"""`make up`, `make status`, `make down` of the whole stack, for real: free ports, a temporary runtime folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from operations import supervisor
from operations.postgres import free_port
from operations.stack import BY_NAME
from testkit.stack_env import (
    COMPONENTS,
    descendants,
    identity,
    make,
    make_root,
    stack_environment,
    stack_settings,
    status_pids,
)
from warehouse.roles import is_replicated

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.spark]

PROJECT_DAGS = {"spotify_ingest", "spotify_import", "spotify_analytics"}


@pytest.fixture(scope="module")
def stack_env():
    root = make_root()
    # Replication through Kafka (a broker, Kafka Connect, the applier: `make up` as a user who set
    # CDC_TRANSPORT=kafka runs it); the embedded transport's programs are tested in tests/cdc_connectors.
    env = {**stack_environment(root), "CDC_TRANSPORT": "kafka",
           "KAFKA_CONNECT_URL": f"http://127.0.0.1:{free_port()}"}
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


def _row_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the rows of every replicated table of the database at `url`."""
    with psycopg.connect(url) as conn:
        tables = [(schema, table) for schema, table in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables ORDER BY 1, 2") if is_replicated(f"{schema}.{table}")]
        query = sql.SQL("SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} t")
        return {f"{schema}.{table}": conn.execute(query.format(sql.Identifier(schema, table))).fetchone()
                for schema, table in tables}


def _dags_paused_and_idle(env) -> None:
    """Pause every DAG and wait until none of their runs is queued or running."""
    call = _airflow_api(env)
    for dag in call("GET", "dags?limit=100")["dags"]:
        call("PATCH", f"dags/{dag['dag_id']}", {"is_paused": True})
    deadline = time.monotonic() + 300
    while active := call("GET", "dags/~/dagRuns?state=queued&state=running")["dag_runs"]:
        assert time.monotonic() < deadline, f"DAG runs still active 300 s after pausing: {active}"
        time.sleep(2)


def _killed_components_come_back(env, pids: dict[str, set[int]]) -> None:
    """kill -9 the dashboard, the login service and the replication (Kafka Connect and the applier): supervisord
    brings each back, healthy, within 30 s without anyone acting, and the replica still equals main, a change made
    after the kills included.

    Polled in this process (supervisord's pids, the components' own health checks): a `make status` a second
    would take the CPU the restarting replicator needs; `make status` confirms at the end. The DAGs are paused
    and their runs over first: what is timed is supervisord's restart, not a Spark job that holds both cores
    (the stack stays paused for the rest of the test, which needs no DAG run)."""
    _dags_paused_and_idle(env)
    settings = stack_settings(env)
    # the replication's Kafka Connect worker and applier; not its broker, whose topics live in its memory
    broker = supervisor.pid(settings, "kafka-broker")
    killed = {name: pids[name] - {broker} for name in ("dashboard", "flask", "debezium")}
    assert len(killed["debezium"]) == 2
    for pid in set().union(*killed.values()):
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    def back(name: str) -> bool:
        now = set(BY_NAME[name].pids(settings))
        return bool(now) and now.isdisjoint(killed[name]) and BY_NAME[name].healthy(settings)

    waiting = set(killed)
    while waiting := {name for name in waiting if not back(name)}:
        assert time.monotonic() - killed_at < 30, f"not back and healthy 30 s after kill -9: {sorted(waiting)}"
        time.sleep(0.5)
    assert time.monotonic() - killed_at < 30
    status = make("status", env)
    for name, old in killed.items():
        assert any(line.startswith(f"{name} ") and "running  healthy" in line for line in status.stdout.splitlines())
        assert status_pids(status.stdout)[name].isdisjoint(old), status.stdout
    with psycopg.connect(env["MAIN_DATABASE_URL"]) as main:
        main.execute("UPDATE dim_user SET display_name = display_name || ' (after kill -9)'")
    waited = make("replication-wait", env, 300, "TIMEOUT=120")
    assert waited.returncode == 0, waited.stderr
    in_main = _row_checksums(env["MAIN_DATABASE_URL"])
    assert len(in_main) > 20 and in_main["public.dim_user"][0] > 0
    assert _row_checksums(env["REPLICA_DATABASE_URL"]) == in_main


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
            _killed_components_come_back(stack_env, pids)
            _failing_component_fails_up(stack_env)
            pids = _up_and_healthy(stack_env)  # the dashboard comes back; the rest was left running
        _down_leaves_nothing(stack_env, pids)
