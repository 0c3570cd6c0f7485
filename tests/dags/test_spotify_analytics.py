"""The `spotify_analytics` DAG for real: parsed by Airflow, then run by dag.test() on real Postgres."""

import pytest

from fake_spotify.generate import generate, write_to_source
from tests.airflow_support import load_dag_bag, run_dag
from warehouse.db import connect

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_the_dags_import_without_errors(airflow_home):
    bag = load_dag_bag()
    dag = bag.dags["spotify_analytics"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "source_gate", "load_main", "main_gate", "stage_statistics", "analytics_gate", "publish_statistics"]
    assert dag.max_active_runs == 1


def test_a_dag_run_fills_main_and_a_rerun_changes_nothing(airflow_home, dbs):
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=5, users=2, days=20))
    dag = load_dag_bag().dags["spotify_analytics"]
    run, states = run_dag(dag)
    assert set(states.values()) == {"success"} and len(states) == 6, states
    with connect("main", dbs) as conn:
        streams = conn.execute("SELECT sum(streams) FROM analytics.overview WHERE period = 'all'").fetchone()[0]
        facts = conn.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()[0]
        assert streams == facts > 0
        runs = conn.execute("SELECT status, mode FROM etl.analytics_runs").fetchall()
    assert runs == [("published", "full")]
    _, states = run_dag(dag)
    assert set(states.values()) == {"success"}
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT status, mode FROM etl.analytics_runs ORDER BY run_id").fetchall() == runs
