"""The `spotify_ingest` DAG: it imports cleanly and a real `dag.test()` ingests every connected user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.airflow_support import DAGS_FOLDER, load_dag_bag, run_dag, use_dag_folder
from tests.ingestion.test_recently_played import stored

pytestmark = pytest.mark.slow

def test_dag_imports_with_one_mapped_task_per_user(airflow_home, env_file, monkeypatch):
    from warehouse.settings import get_settings

    get_settings.cache_clear()
    dag = load_dag_bag().dags["spotify_ingest"]
    assert dag.schedule == timedelta(hours=1)
    monkeypatch.setenv("INGESTION_INTERVAL_MINUTES", "15")
    get_settings.cache_clear()
    assert load_dag_bag().dags["spotify_ingest"].schedule == timedelta(minutes=15)
    get_settings.cache_clear()
    assert {t.task_id for t in dag.tasks} >= {"connected_users", "ingest", "trigger_spotify_analytics"}
    assert dag.get_task("trigger_spotify_analytics").trigger_dag_id == "spotify_analytics"
    # Failed or skipped users do not hold back the others' gate; a failing gate stops the analytics.
    assert dag.get_task("source_gate").trigger_rule == "all_done"
    assert dag.get_task("trigger_spotify_analytics").trigger_rule == "all_success"


def test_dag_test_ingests_every_user_and_skips_who_must_log_in(airflow_home, spotify_settings, fake_spotify,
                                                               connect_user, tmp_path, monkeypatch):
    from warehouse.db import connect

    (tmp_path / "spotify_ingest.py").symlink_to(DAGS_FOLDER / "spotify_ingest.py")
    (tmp_path / "spotify_analytics.py").symlink_to(DAGS_FOLDER / "spotify_analytics.py")
    use_dag_folder(monkeypatch, tmp_path)

    users = [u.user_id for u in fake_spotify.fake.listening.users]
    for user_id in users:
        connect_user(user_id)
    fake_spotify.admin("POST", f"/users/{users[2]}/revoke")
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now() WHERE user_id = %s", (users[2],))
    dag = load_dag_bag(tmp_path).dags["spotify_ingest"]
    from airflow.models.dagrun import DagRun

    analytics_runs = len(DagRun.find(dag_id="spotify_analytics"))  # other tests of the session ran it too
    run, states = run_dag(dag)
    assert states["connected_users"] == "success"
    assert [states[f"ingest[{i}]"] for i in range(3)] == ["success", "success", "skipped"]
    for user_id in users[:2]:
        assert stored(spotify_settings, user_id) == fake_spotify.window(user_id)
    assert stored(spotify_settings, users[2]) == []
    assert states["source_gate"] == "success", states
    assert states["trigger_spotify_analytics"] == "success", states
    assert len(DagRun.find(dag_id="spotify_analytics")) == analytics_runs + 1
