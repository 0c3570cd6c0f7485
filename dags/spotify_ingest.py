"""Airflow DAG `spotify_ingest`: every INGESTION_INTERVAL_MINUTES (default 5).

One mapped task per connected user (a user is a failure domain: one user's
failure never stops another's ingestion), then the short-circuit `new_plays`:
`spotify_analytics` is triggered only when it is wanted, not when no user got
a new play, nor when a `spotify_analytics` run is already queued (not started
yet, it will read these plays too). The source gate is the analytics run's
first task: it checks these plays and any that arrived since, once, before
anything reads them. So a quiet listener costs one poll every few minutes, no
Soda scan and no analytics run, and polls that pile up during a long analytics
run queue one run behind it, not one each (pipeline/freshness.py).
The logic lives in `ingestion.recently_played`; this file only orchestrates.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from pipeline.alerts import notify_failure
from warehouse.settings import get_settings

INTERVAL = timedelta(minutes=get_settings().ingestion_interval_minutes)


@dag(
    dag_id="spotify_ingest",
    schedule=INTERVAL,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # Spotify keeps 50 plays: missed intervals cannot be caught up anyway
    max_active_runs=1,
    tags=["spotify", "ingestion"],
    on_failure_callback=notify_failure,
    doc_md=__doc__,
)
def spotify_ingest():
    @task
    def connected_users() -> list[str]:
        from ingestion.recently_played import users_to_poll

        return users_to_poll()

    @task(max_active_tis_per_dagrun=4, retries=2, retry_delay=timedelta(minutes=2))
    def ingest(user_id: str) -> dict:
        from ingestion.recently_played import ingest_user

        result = ingest_user(user_id)
        if result.status == "needs_login":
            raise AirflowSkipException(result.detail)
        if result.status == "failed":
            raise RuntimeError(str(result))  # retried by Airflow; the cursor did not move
        return {"user_id": user_id, "status": result.status, "inserted": result.plays_inserted,
                "gap_from": result.gap_from.isoformat() if result.gap_from else None}

    ingested = ingest.expand(user_id=connected_users())

    @task.short_circuit(trigger_rule="all_done")
    def new_plays(ti=None) -> bool:
        """True: trigger the analytics. Runs even when some users failed or were skipped (they do
        not hold back the others' plays), and reads the users' results itself."""
        from pipeline.freshness import analytics_wanted, plays_ingested

        return analytics_wanted(plays_ingested(ti.xcom_pull(task_ids=["ingest"])), ti)

    trigger_analytics = TriggerDagRunOperator(
        task_id="trigger_spotify_analytics",
        trigger_dag_id="spotify_analytics",
        wait_for_completion=False,
    )
    ingested >> new_plays() >> trigger_analytics


spotify_ingest()
