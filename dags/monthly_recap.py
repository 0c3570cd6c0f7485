"""Airflow DAG `monthly_recap`: each listener's monthly recap e-mail, once per user and month.

Runs on RECAP_SCHEDULE (hourly by default: a month ends at midnight in each
user's own time zone). The first task lists the recaps due at the run's
logical date (month over in the user's zone, its statistics published and
replicated, an e-mail address, not opted out, not sent yet); then one mapped
task per recap sends it and records it in source `recap_sends`, so a re-run or
a retry never sends a month twice. The logic lives in `recap.send`; this file
only orchestrates.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from pipeline.alerts import notify_failure
from warehouse.settings import get_settings


@dag(
    dag_id="monthly_recap",
    schedule=get_settings().recap_schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    on_failure_callback=notify_failure,
    tags=["recap", "email"],
    doc_md=__doc__,
)
def monthly_recap():
    @task
    def due_recaps() -> list[dict]:
        from recap.send import due_recaps

        now = get_current_context().get("logical_date")  # None for a manual run without one: now
        return [{"user_id": due.user_id, "month": due.month} for due in due_recaps(get_settings(), now)]

    @task(max_active_tis_per_dagrun=2, retries=2, retry_delay=timedelta(minutes=5))
    def send_recap(user_id: str, month: str) -> dict:
        from recap.send import send_recap

        result = send_recap(get_settings(), user_id, month)
        return {"user_id": user_id, "month": month, "status": result.status, "message_id": result.message_id}

    send_recap.expand_kwargs(due_recaps())


monthly_recap()
