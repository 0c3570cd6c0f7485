"""Airflow DAG `spotify_analytics`: source -> main, then the Spark statistics.

Triggered by `spotify_ingest` and `spotify_import` when they brought new plays
and no run of this DAG is queued yet, and on ANALYTICS_SCHEDULE. One run at a
time (max_active_runs=1): triggers that pile up during a run make one queued
run behind it, which reads everything that arrived meanwhile (pipeline/freshness.py).
Source gate, load main (incremental, idempotent), main gate, stage the
statistics with spark-submit on SPARK_MASTER, analytics gate on the staged
results, then publish them into analytics.* in one transaction. A failing gate
stops the run before anything downstream, with one alert. Every step
is idempotent, so a retry or a re-run for the same logical date changes nothing
more. The logic lives in star_schema.load and pipeline/analytics.py (build ->
validate -> publish, the tasks of pipeline/tasks.py); this file only orchestrates.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pipeline.alerts import notify_failure
from pipeline.tasks import analytics_gate, main_gate, publish_statistics, source_gate, stage_statistics
from warehouse.settings import get_settings


@dag(
    dag_id="spotify_analytics",
    schedule=get_settings().analytics_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # stage and publish of one run never interleave with another's
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    on_failure_callback=notify_failure,
    tags=["spotify", "analytics"],
    doc_md=__doc__,
)
def spotify_analytics():
    @task
    def load_main() -> dict:
        from star_schema.load import load_main

        report = load_main()
        return {"load_id": report.load_id, "plays_loaded": report.plays_loaded}

    (source_gate() >> load_main() >> main_gate() >> stage_statistics() >> analytics_gate()
     >> publish_statistics())


spotify_analytics()
