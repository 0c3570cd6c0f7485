"""Failure alerts of the DAGs, through Airflow's own notifiers.

Every DAG sets `on_failure_callback=notify_failure`: a DAG-level callback,
so a failed run sends ONE message, however many task retries it took; a
successful run sends nothing. Always a log line; an e-mail over SMTP when
SMTP_HOST and ALERT_EMAIL_TO are set; a Slack message when SLACK_WEBHOOK_URL is
set. The notifiers' Airflow connections are made from the settings (as
AIRFLOW_CONN_* environment variables), so `.env` is the one place to configure.
"""

from __future__ import annotations

import json
import logging
import os

from warehouse.settings import Settings, get_settings

log = logging.getLogger("wrapped.alerts")
SMTP_CONN_ID = "wrapped_smtp"
SLACK_CONN_ID = "wrapped_slack"


def _message(context) -> tuple[str, str]:
    """(subject, text) naming the DAG, the run, why it failed and which tasks failed."""
    run = context.get("dag_run")
    dag_id, run_id = getattr(run, "dag_id", "?"), getattr(run, "run_id", "?")
    try:
        failed = sorted({ti.task_id for ti in run.get_task_instances(state="failed")})
    except Exception:  # the context of a callback differs between Airflow's runners
        failed = []
    text = (f"The run {run_id} of {dag_id} failed ({context.get('reason')}). "
            f"Failed tasks: {', '.join(failed) or 'see the run'}. The failed task's log says why; "
            "a failed quality gate names its checks and their values.")
    return f"[wrapped] {dag_id} run {run_id} failed", text


def _export_connections(settings: Settings) -> None:
    if settings.smtp_host:
        os.environ[f"AIRFLOW_CONN_{SMTP_CONN_ID.upper()}"] = json.dumps({
            "conn_type": "smtp", "host": settings.smtp_host, "port": settings.smtp_port,
            "login": settings.smtp_user or None, "password": settings.smtp_password or None,
            "extra": {"from_email": settings.smtp_from, "disable_tls": not settings.smtp_starttls,
                      "disable_ssl": True, "timeout": 30, "retry_limit": 3}})
    if settings.slack_webhook_url:
        os.environ[f"AIRFLOW_CONN_{SLACK_CONN_ID.upper()}"] = json.dumps({
            "conn_type": "slackwebhook", "password": settings.slack_webhook_url})


def notify_failure(context, settings: Settings | None = None) -> None:
    """The failure callback: a log line, then each configured notifier (messages made here, so
    they do not depend on how the runner renders templates)."""
    settings = settings or get_settings()
    subject, text = _message(context)
    log.error("pipeline run failed: %s", text)
    _export_connections(settings)
    recipients = [address.strip() for address in settings.alert_email_to.split(",") if address.strip()]
    if settings.smtp_host and recipients:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        SmtpNotifier(to=recipients, from_email=settings.smtp_from, subject=subject, html_content=text,
                     smtp_conn_id=SMTP_CONN_ID).notify(context)
    if settings.slack_webhook_url:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=f"{subject}\n{text}").notify(context)
