"""Airflow DAG `spotify_import`: import one listener's Spotify data export, then the analytics.

Triggered by hand (or the API) with params, e.g.
`airflow dags trigger spotify_import --conf '{"path": "/data/my_spotify_data.zip", "user_id": "alice"}'`:
- `path`: an export file, a folder, or the zip Spotify sends (on this machine);
- `user_id`: whose history it is; `create_user` (and `timezone`) to create that user;
- `skip_invalid`: skip (and count) records outside the source gate's bounds instead of refusing.
Tasks: `import_export` (all or nothing, `ingestion.export_loader`), `resolve_names`
(name-only tracks through Spotify search when the user is connected), the source
gate, then `spotify_analytics` is triggered when it is wanted: the short-circuit
`new_plays` skips the trigger when the import changed no play (none loaded, none
merged into a stored play: e.g. the same export again), or when a
`spotify_analytics` run is already queued, which will read these plays too
(pipeline/freshness.py). The logic lives in `ingestion/`; this file only orchestrates.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from pipeline.alerts import notify_failure
from pipeline.tasks import source_gate


@dag(
    dag_id="spotify_import",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["spotify", "ingestion", "export"],
    on_failure_callback=notify_failure,
    params={
        "path": Param(type="string", minLength=1, description="export file, folder or zip"),
        "user_id": Param(type="string", minLength=1, description="Spotify user id"),
        "create_user": Param(False, type="boolean", description="create the user if missing"),
        "timezone": Param(None, type=["null", "string"], description="IANA zone of a created user"),
        "skip_invalid": Param(False, type="boolean",
                              description="skip and count records outside the source gate's bounds"),
    },
    doc_md=__doc__,
)
def spotify_import():
    @task
    def import_export(params=None) -> dict:
        from ingestion.export_loader import import_export as run_import

        report = run_import([params["path"]], params["user_id"], create_user=params["create_user"],
                            timezone=params["timezone"], skip_invalid=params["skip_invalid"])
        print(report)  # the task log shows the whole report
        return report.as_dict()

    @task
    def resolve_names(report: dict) -> str:
        from ingestion.resolve_names import resolve_for_user

        return str(resolve_for_user(report["user_id"]))

    @task.short_circuit
    def new_plays(report: dict, ti=None) -> bool:
        """True: trigger the analytics."""
        from pipeline.freshness import analytics_wanted, plays_imported

        return analytics_wanted(plays_imported(report), ti)

    imported = import_export()
    resolved = resolve_names(imported)
    trigger_analytics = TriggerDagRunOperator(
        task_id="trigger_spotify_analytics",
        trigger_dag_id="spotify_analytics",
        wait_for_completion=False,
    )
    resolved >> source_gate() >> new_plays(imported) >> trigger_analytics


spotify_import()
