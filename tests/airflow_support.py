"""Reusable pytest support for testing Airflow DAGs for real (Airflow 3.3.2).

Register it in a test folder's conftest with `pytest_plugins = ["tests.airflow_support"]`.

- `airflow_home` (session): a temporary AIRFLOW_HOME, examples off, the
  metadata database in a database `airflow` of the test session's source
  cluster (Postgres; Airflow's async engine uses asyncpg), created and brought
  up with `airflow db migrate` once per session. The process environment
  points at it for the rest of the session, so import Airflow only in tests
  that use this fixture.
- `use_dag_folder(monkeypatch, folder)`: make `folder` the DAG folder (and the
  `dags-folder` bundle `dag.test()` syncs to the metadata DB), e.g. a temporary
  folder with the DAG under test and a stand-in for a DAG it triggers.
- `load_dag_bag(folder)`: a DagBag of a folder, failing the test on any import error.
- `run_dag(dag, **kwargs)`: `dag.test()`, returning the DagRun and its task states.
- `dag_runs(dag_id, state)`, `set_run_states(dag_id, old, new)`: the runs of a DAG in
  the metadata DB (e.g. those a TriggerDagRunOperator queued: `dag.test()` runs
  only the DAG under test), and moving them on as the scheduler would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from operations.airflow_service import METADATA_DB, ensure_metadata_database, metadata_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = PROJECT_ROOT / "dags"


def airflow_environment(home: Path, metadata_url: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-jwt-secret-" + "x" * 64,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",
    }


@pytest.fixture(scope="session")
def airflow_home(clusters, test_settings, tmp_path_factory) -> Path:
    source = next(c for c in clusters if c.name == "source")
    with psycopg.connect(source.admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(METADATA_DB)))
    ensure_metadata_database(test_settings)  # owned by the application role, as `make airflow` makes it
    url = metadata_url(test_settings)
    home = tmp_path_factory.mktemp("airflow-home")
    env = airflow_environment(home, url)
    migrate = subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stdout}\n{migrate.stderr}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        yield home


def use_dag_folder(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([{
        "name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)}}]))


def load_dag_bag(folder: Path = DAGS_FOLDER):
    """Parse every DAG file of `folder` as the scheduler would; no import error allowed."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}, f"DAG import errors: {bag.import_errors}"
    return bag


def run_dag(dag, **kwargs):
    """`dag.test()` in this process; returns (dag_run, {task_id or task_id[map_index]: state})."""
    run = dag.test(**kwargs)
    states = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = ti.state
    return run, states


def dag_runs(dag_id: str, state: str | None = None) -> list:
    from airflow.models.dagrun import DagRun

    return DagRun.find(dag_id=dag_id, state=state)


def set_run_states(dag_id: str, old: str, new: str) -> int:
    """Move every run of `dag_id` in state `old` to `new` (a test starts with none queued, say)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = DagRun.find(dag_id=dag_id, state=old, session=session)
        for run in runs:
            run.set_state(new)
    return len(runs)
