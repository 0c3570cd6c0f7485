"""Which recaps are due, and sending each exactly once (source `recap_sends`).

A recap of a local month is due for a user when:
- the user has an e-mail address and did not opt out (source `users`);
- the replica has statistics for the user and month (streams that month);
- the month has ended in the user's time zone, at most RECAP_MAX_AGE_DAYS ago
  (a data export imported later does not mail years of old recaps);
- the month's statistics are published: an analytics run that started after
  the month's end was published (main `etl.analytics_runs`);
- the replica holds them: its `analytics.overview` row of the user and month
  equals main's, and, when the replica's role may read Debezium's
  `cdc.applied_position`, the replica has applied main's changes up to that
  publication;
- no recap was sent for that user and month (source `recap_sends`).

`send_recap` records the send in the same source transaction that sends the
message: the row locks the (user, month) key, a failed send records nothing
(the next run tries again), and a second run finds the row and sends nothing.
The Message-ID is the same for the same user and month, so even a message
sent twice (a commit lost after the SMTP server accepted it) shows once.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from recap.data import load_recap, reader
from recap.render import build_message, message_id, render_recap
from warehouse.db import connect
from warehouse.replica import replication_position
from warehouse.settings import Settings, SettingsError

log = logging.getLogger("wrapped.recap")
# analytics.overview's data columns (docs/metrics.md, statistic 1): equal in main and the replica once replicated.
_OVERVIEW_DATA = ("streams, listening_ms, distinct_tracks, distinct_artists, distinct_albums, active_days, "
                  "first_played_at, last_played_at, streams_per_active_day, skip_rate, mainstream_score, "
                  "new_artists, new_tracks")


@dataclass(frozen=True)
class DueRecap:
    user_id: str
    month: str


@dataclass(frozen=True)
class SendResult:
    user_id: str
    month: str
    status: str  # 'sent', 'already_sent', 'no_email', 'opted_out'
    recipient: str | None = None
    message_id: str | None = None


def month_end(month: str, timezone: str) -> datetime:
    """The instant the local month ends: midnight of the 1st of the next month in `timezone`."""
    year, number = int(month[:4]), int(month[5:])
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime(year, number, 1, tzinfo=ZoneInfo(timezone))


def due_recaps(settings: Settings, now: datetime | None = None) -> list[DueRecap]:
    """Every (user, month) recap due at `now` (default: the current time), oldest month first."""
    now = now or datetime.now(UTC)
    with connect("source", settings) as conn:
        recipients = {user_id: timezone for user_id, timezone in conn.execute(
            "SELECT user_id, timezone FROM users WHERE email IS NOT NULL AND NOT recap_opt_out")}
        sent = set(conn.execute("SELECT user_id, month FROM recap_sends").fetchall())
    with connect("main", settings) as conn:
        # (started_at, published_at) of every published run, oldest first.
        runs = conn.execute("SELECT started_at, published_at FROM etl.analytics_runs "
                            "WHERE status = 'published' ORDER BY started_at").fetchall()
        published_rows = _monthly_overview(conn, recipients)
    with reader(settings).connection() as conn:
        replication = replication_position(conn)
        months = conn.execute(
            f"SELECT o.user_id, o.period, u.timezone, {_OVERVIEW_DATA} FROM analytics.overview o "
            "LEFT JOIN dim_user u ON u.user_id = o.user_id "
            "WHERE o.user_id = ANY(%s) AND length(o.period) = 7 AND o.streams > 0 ORDER BY o.period, o.user_id",
            (list(recipients),)).fetchall()
    due = []
    for user_id, month, stats_timezone, *numbers in months:
        if (user_id, month) in sent or published_rows.get((user_id, month)) != tuple(numbers):
            continue
        # The zone the statistics were computed in (the replica's dim_user), else the user's own.
        end = month_end(month, stats_timezone or recipients[user_id] or settings.default_timezone)
        if not end <= now <= end + timedelta(days=settings.recap_max_age_days):
            continue
        published = next((published_at for started_at, published_at in runs if started_at >= end), None)
        if published is None or (replication is not None and replication.committed_at < published):
            continue
        due.append(DueRecap(user_id, month))
    return due


def _monthly_overview(conn, users) -> dict[tuple[str, str], tuple]:
    """{(user, month): overview data} of `users`' months, as `conn` holds them."""
    rows = conn.execute(f"SELECT user_id, period, {_OVERVIEW_DATA} FROM analytics.overview "
                        "WHERE user_id = ANY(%s) AND length(period) = 7", (list(users),)).fetchall()
    return {(user_id, month): tuple(numbers) for user_id, month, *numbers in rows}


def smtp_send(settings: Settings, message) -> None:
    """Send one message over SMTP (SMTP_HOST, SMTP_PORT, SMTP_STARTTLS, SMTP_USER, SMTP_PASSWORD)."""
    if not settings.smtp_host:
        raise SettingsError("SMTP_HOST is not set: recap e-mails cannot be sent (see .env.example)")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


def send_recap(settings: Settings, user_id: str, month: str) -> SendResult:
    """Send the recap of `user_id` for `month` unless it was sent already; record it in source."""
    msg_id = message_id(settings, user_id, month)
    with connect("source", settings) as conn:
        user = conn.execute("SELECT email, display_name, recap_opt_out FROM users WHERE user_id = %s FOR UPDATE",
                            (user_id,)).fetchone()
        email, display_name, opted_out = user or (None, None, False)
        if not email:
            return SendResult(user_id, month, "no_email")
        if opted_out:
            return SendResult(user_id, month, "opted_out")
        claimed = conn.execute(
            "INSERT INTO recap_sends (user_id, month, recipient, message_id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (user_id, month) DO NOTHING RETURNING 1", (user_id, month, email, msg_id)).fetchone()
        if claimed is None:
            return SendResult(user_id, month, "already_sent")
        rendered = render_recap(load_recap(settings, user_id, month), settings)
        smtp_send(settings, build_message(rendered, settings, email, display_name, msg_id))
        # Leaving the block commits the row; an exception above rolls it back.
    log.info("sent the %s recap of %s to %s (%s)", month, user_id, email, msg_id)
    return SendResult(user_id, month, "sent", email, msg_id)


def send_due(settings: Settings, now: datetime | None = None) -> list[SendResult]:
    """Send every due recap; the results in order."""
    return [send_recap(settings, due.user_id, due.month) for due in due_recaps(settings, now)]
