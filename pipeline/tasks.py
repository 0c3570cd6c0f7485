"""Airflow tasks shared by the DAGs: the quality gates and the steps of the analytics run.

A gate task never retries: bad data does not fix itself. Its failure fails
the DAG run (one alert, see pipeline/alerts.py) and nothing downstream runs.
The analytics steps are pipeline/analytics.py's build -> validate -> publish.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import task


@task(retries=0)
def source_gate() -> int:
    from pipeline.gates import source_gate as run

    return len(run())


@task(retries=0)
def main_gate() -> int:
    from pipeline.gates import main_gate as run

    return len(run())


@task(execution_timeout=timedelta(hours=1))
def stage_statistics() -> str:
    """Build: the Spark job stages the statistics, on the warm engine (else with spark-submit on SPARK_MASTER)."""
    from pipeline.analytics import build
    from warehouse.settings import get_settings

    return str(build(get_settings()) or "nothing staged")


@task(retries=0)
def analytics_gate() -> str:
    """Validate: checks the staged statistics; a failure marks them rejected, never published."""
    from pipeline.analytics import validate
    from warehouse.settings import get_settings

    staged = validate(get_settings())
    return f"run {staged.run_id} passed" if staged else "nothing staged"


@task
def publish_statistics() -> dict:
    from pipeline.analytics import publish
    from spark_scripts.ledger import NothingStaged
    from warehouse.settings import get_settings

    try:
        report = publish(get_settings())
    except NothingStaged:
        return {"published": False}
    return {"published": True, "scopes": report.scopes, "inserted": report.counts.inserted,
            "updated": report.counts.updated, "deleted": report.counts.deleted}
