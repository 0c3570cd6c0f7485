"""The `spotify_import` DAG: it imports cleanly, and real `dag.test()` runs import an export and trigger
the analytics only when plays changed, never behind a queued analytics run."""

from __future__ import annotations

import json

import pytest

from tests.airflow_support import DAGS_FOLDER, dag_runs, load_dag_bag, run_dag, set_run_states, use_dag_folder
from tests.ingestion.conftest import REAL_EXPORT
from warehouse.db import connect

pytestmark = pytest.mark.slow


def test_dag_imports_with_the_trigger_behind_the_short_circuit(airflow_home, env_file):
    dag = load_dag_bag().dags["spotify_import"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "import_export", "resolve_names", "source_gate", "new_plays", "trigger_spotify_analytics"]
    trigger = dag.get_task("trigger_spotify_analytics")
    assert trigger.trigger_dag_id == "spotify_analytics"
    assert trigger.upstream_task_ids == {"new_plays"} and trigger.trigger_rule == "all_success"
    new_plays = dag.get_task("new_plays")
    assert type(new_plays).__name__ == "_ShortCircuitDecoratedOperator"
    assert new_plays.upstream_task_ids == {"import_export", "source_gate"}  # the report, behind a passing gate
    assert dag.max_active_runs == 1


def test_imports_trigger_the_analytics_for_changed_plays_and_never_behind_a_queued_run(airflow_home, dbs,
                                                                                        tmp_path, monkeypatch):
    folder = tmp_path / "dags"
    folder.mkdir()
    for name in ("spotify_import.py", "spotify_analytics.py"):
        (folder / name).symlink_to(DAGS_FOLDER / name)
    use_dag_folder(monkeypatch, folder)
    records = json.loads(REAL_EXPORT.read_text())
    exports = []
    for i, part in enumerate((records[:500], records[500:1000], records[1000:])):  # three exports, disjoint
        exports.append(tmp_path / f"export{i}" / "Streaming_History_Audio_2023.json")
        exports[-1].parent.mkdir()
        exports[-1].write_text(json.dumps(part))
    dag = load_dag_bag(folder).dags["spotify_import"]
    set_run_states("spotify_analytics", "queued", "success")  # none left waiting by other tests
    analytics_runs = len(dag_runs("spotify_analytics"))

    def run_import(export) -> dict:
        _, states = run_dag(dag, run_conf={"path": str(export), "user_id": "me", "create_user": True})
        assert {task: states[task] for task in ("import_export", "resolve_names", "source_gate", "new_plays")} == {
            "import_export": "success", "resolve_names": "success", "source_gate": "success",
            "new_plays": "success"}, states
        return states

    try:
        assert run_import(exports[0])["trigger_spotify_analytics"] == "success"
        assert len(dag_runs("spotify_analytics", "queued")) == 1
        set_run_states("spotify_analytics", "queued", "running")  # the scheduler starts it
        # The same export again changes no play: no analytics run, though none is queued.
        assert run_import(exports[0])["trigger_spotify_analytics"] == "skipped"
        assert len(dag_runs("spotify_analytics")) == analytics_runs + 1
        # New plays while a run works: one run queued behind it.
        assert run_import(exports[1])["trigger_spotify_analytics"] == "success"
        assert len(dag_runs("spotify_analytics", "queued")) == 1
        # New plays while that one still waits: it will read them, no second run queued.
        assert run_import(exports[2])["trigger_spotify_analytics"] == "skipped"
        assert len(dag_runs("spotify_analytics", "queued")) == 1
        assert len(dag_runs("spotify_analytics")) == analytics_runs + 2
    finally:
        for state in ("queued", "running"):
            set_run_states("spotify_analytics", state, "success")
    with connect("source", dbs) as conn:  # more than the first two exports hold: the third one is in
        assert conn.execute("SELECT count(*) FROM plays WHERE user_id = 'me'").fetchone()[0] > 1000
