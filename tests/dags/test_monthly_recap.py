"""The `monthly_recap` DAG: it imports cleanly, and real `dag.test()` runs send each recap once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.airflow_support import DAGS_FOLDER, load_dag_bag, run_dag, use_dag_folder
from tests.recap_support import ADDRESSES, FEB_2, publish_run
from warehouse.db import connect

pytestmark = pytest.mark.slow


def test_dag_imports_with_its_schedule(airflow_home, env_file, monkeypatch):
    from warehouse.settings import get_settings

    monkeypatch.setenv("RECAP_SCHEDULE", "15 * * * *")
    get_settings.cache_clear()
    try:
        dag = load_dag_bag().dags["monthly_recap"]
    finally:
        get_settings.cache_clear()
    assert {t.task_id for t in dag.tasks} == {"due_recaps", "send_recap"}
    assert dag.get_task("send_recap").upstream_task_ids == {"due_recaps"}
    assert dag.schedule == "15 * * * *"
    assert dag.max_active_runs == 1


def test_dag_runs_send_each_recap_once(airflow_home, recap_settings, smtp, tmp_path, monkeypatch):
    from warehouse.settings import get_settings

    _, inbox = smtp
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(recap_settings.smtp_port),
                        "SMTP_STARTTLS": "false", "SMTP_FROM": recap_settings.smtp_from}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    (tmp_path / "monthly_recap.py").symlink_to(DAGS_FOLDER / "monthly_recap.py")
    use_dag_folder(monkeypatch, tmp_path)
    publish_run(recap_settings, datetime(2026, 2, 1, 6, tzinfo=UTC))
    dag = load_dag_bag(tmp_path).dags["monthly_recap"]

    _, states = run_dag(dag, logical_date=FEB_2)
    assert states == {"due_recaps": "success", "send_recap[0]": "success", "send_recap[1]": "success",
                      "send_recap[2]": "success"}
    assert sorted(rcpt[0] for rcpt, _ in inbox.received) == sorted(
        [ADDRESSES["alice"], ADDRESSES["alice"], ADDRESSES["bob"]])

    _, states = run_dag(dag, logical_date=FEB_2 + timedelta(hours=1))  # the next hourly run
    assert states["due_recaps"] == "success"
    assert not any(key.startswith("send_recap[") for key in states), states
    assert len(inbox.received) == 3
    with connect("source", recap_settings) as conn:
        assert conn.execute("SELECT user_id, month FROM recap_sends ORDER BY 1, 2").fetchall() == [
            ("alice", "2025-12"), ("alice", "2026-01"), ("bob", "2026-01")]
    get_settings.cache_clear()
