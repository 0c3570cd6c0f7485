"""Airflow tasks shared by the DAGs: the quality gates.

A gate task never retries: bad data does not fix itself. Its failure fails
the DAG run (one alert, see pipeline/alerts.py) and nothing downstream runs.
"""

from __future__ import annotations

from airflow.sdk import task


@task(retries=0)
def source_gate() -> int:
    from pipeline.gates import source_gate as run

    return len(run())


@task(retries=0)
def main_gate() -> int:
    from pipeline.gates import main_gate as run

    return len(run())


@task(retries=0)
def analytics_gate() -> str:
    """Checks the staged statistics; a failure marks them rejected, never published."""
    from spark_scripts.job import check_staged

    check_staged()
    return "staged statistics passed"
