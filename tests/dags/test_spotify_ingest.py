"""The `spotify_ingest` DAG: it imports cleanly, a real `dag.test()` ingests every connected user, and
the analytics are triggered only for new plays, never behind a queued analytics run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.airflow_support import DAGS_FOLDER, dag_runs, load_dag_bag, run_dag, set_run_states, use_dag_folder
from tests.ingestion.test_recently_played import stored

pytestmark = pytest.mark.slow

def test_dag_imports_with_one_mapped_task_per_user(airflow_home, env_file, monkeypatch):
    from warehouse.settings import get_settings

    get_settings.cache_clear()
    dag = load_dag_bag().dags["spotify_ingest"]
    assert dag.schedule == timedelta(minutes=5)
    monkeypatch.setenv("INGESTION_INTERVAL_MINUTES", "15")
    get_settings.cache_clear()
    assert load_dag_bag().dags["spotify_ingest"].schedule == timedelta(minutes=15)
    get_settings.cache_clear()
    # No gate of its own: the analytics run it triggers starts with the source gate.
    assert {t.task_id for t in dag.tasks} == {"connected_users", "ingest", "new_plays", "trigger_spotify_analytics"}
    trigger = dag.get_task("trigger_spotify_analytics")
    assert trigger.trigger_dag_id == "spotify_analytics"
    # Failed or skipped users do not hold back the others' plays; the trigger only behind the short-circuit.
    new_plays = dag.get_task("new_plays")
    assert type(new_plays).__name__ == "_ShortCircuitDecoratedOperator"
    assert new_plays.upstream_task_ids == {"ingest"} and new_plays.trigger_rule == "all_done"
    assert new_plays.downstream_task_ids == {"trigger_spotify_analytics"}
    assert trigger.upstream_task_ids == {"new_plays"} and trigger.trigger_rule == "all_success"


@pytest.fixture
def ingest_dag(airflow_home, spotify_settings, fake_spotify, connect_user, tmp_path, monkeypatch):
    """The DAG in a folder beside the analytics DAG it triggers; three users connected, the third
    one's connection revoked (must log in again). No analytics run left queued by other tests."""
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
    set_run_states("spotify_analytics", "queued", "success")
    yield load_dag_bag(tmp_path).dags["spotify_ingest"], users
    for state in ("queued", "running"):  # dag.test() runs only the DAG under test: none is left behind
        set_run_states("spotify_analytics", state, "success")


def test_dag_test_ingests_every_user_and_skips_who_must_log_in(ingest_dag, spotify_settings, fake_spotify):
    dag, users = ingest_dag
    analytics_runs = len(dag_runs("spotify_analytics"))  # other tests of the session ran it too
    run, states = run_dag(dag)
    assert states["connected_users"] == "success"
    assert [states[f"ingest[{i}]"] for i in range(3)] == ["success", "success", "skipped"]
    for user_id in users[:2]:
        assert stored(spotify_settings, user_id) == fake_spotify.window(user_id)
    assert stored(spotify_settings, users[2]) == []
    assert states["new_plays"] == "success", states
    assert states["trigger_spotify_analytics"] == "success", states
    assert len(dag_runs("spotify_analytics", "queued")) == 1
    assert len(dag_runs("spotify_analytics")) == analytics_runs + 1


def test_polls_trigger_the_analytics_for_new_plays_and_never_behind_a_queued_run(ingest_dag, spotify_settings,
                                                                                 fake_spotify):
    dag, users = ingest_dag
    analytics_runs = len(dag_runs("spotify_analytics"))
    _, states = run_dag(dag)  # every connected user's 50 plays: one analytics run queued
    assert states["trigger_spotify_analytics"] == "success", states
    set_run_states("spotify_analytics", "queued", "running")  # the scheduler starts it

    _, states = run_dag(dag)  # nothing new since: no analytics run, though none is queued
    assert [states[f"ingest[{i}]"] for i in range(3)] == ["success", "success", "skipped"]
    assert states["new_plays"] == "success" and states["trigger_spotify_analytics"] == "skipped", states
    assert len(dag_runs("spotify_analytics")) == analytics_runs + 1

    fake_spotify.admin("POST", f"/users/{users[0]}/plays", count=3)
    _, states = run_dag(dag)  # new plays, one analytics run working: one more queued behind it
    assert states["trigger_spotify_analytics"] == "success", states
    assert len(dag_runs("spotify_analytics", "queued")) == 1
    assert len(dag_runs("spotify_analytics")) == analytics_runs + 2

    added = fake_spotify.admin("POST", f"/users/{users[1]}/plays", count=2)["played_at"]
    _, states = run_dag(dag)  # new plays, but the queued run will read them: coalesced into it
    assert stored(spotify_settings, users[1])[-2:] == added
    assert states["new_plays"] == "success" and states["trigger_spotify_analytics"] == "skipped", states
    assert len(dag_runs("spotify_analytics", "queued")) == 1
    assert len(dag_runs("spotify_analytics")) == analytics_runs + 2
