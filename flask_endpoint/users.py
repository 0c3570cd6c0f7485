"""What the login service's pages read and write in source: the user, their latest ingestion run, their settings,
their session version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class User:
    user_id: str
    display_name: str | None
    email: str | None
    timezone: str | None
    needs_login: bool
    needs_login_reason: str | None
    connected: bool  # has a row in spotify_accounts (tokens stored)
    authorized_at: datetime | None
    recap_opt_out: bool
    compare_consent: bool  # allows comparison with other users who do (docs/metrics.md, "Comparing users")


@dataclass(frozen=True)
class IngestionRun:
    finished_at: datetime | None
    status: str
    plays_inserted: int
    detail: str | None
    gap_from: datetime | None  # plays between gap_from and gap_to may be missing
    gap_to: datetime | None


def find_user(conn: psycopg.Connection, user_id: str) -> User | None:
    return conn.cursor(row_factory=class_row(User)).execute(
        """SELECT u.user_id, u.display_name, u.email, u.timezone, u.needs_login, u.needs_login_reason,
                  a.user_id IS NOT NULL AS connected, a.authorized_at, u.recap_opt_out,
                  u.compare_consent
           FROM users u LEFT JOIN spotify_accounts a USING (user_id) WHERE u.user_id = %s""",
        (user_id,)).fetchone()


def latest_run(conn: psycopg.Connection, user_id: str) -> IngestionRun | None:
    return conn.cursor(row_factory=class_row(IngestionRun)).execute(
        """SELECT finished_at, status, plays_inserted, detail, gap_from, gap_to FROM ingestion_runs
           WHERE user_id = %s ORDER BY run_id DESC LIMIT 1""", (user_id,)).fetchone()


def play_count(conn: psycopg.Connection, user_id: str) -> int:
    (count,) = conn.execute("SELECT count(*) FROM plays WHERE user_id = %s", (user_id,)).fetchone()
    return count


def save_settings(conn: psycopg.Connection, user_id: str, timezone: str, email: str | None,
                  recap_opt_out: bool, compare_consent: bool) -> None:
    """The account page's settings; the time zone is then one the user chose (`timezone_source = 'asked'`)."""
    conn.execute("UPDATE users SET timezone = %s, timezone_source = 'asked', email = %s, "
                 "recap_opt_out = %s, compare_consent = %s, updated_at = now() WHERE user_id = %s",
                 (timezone, email, recap_opt_out, compare_consent, user_id))


def session_version(conn: psycopg.Connection, user_id: str) -> int | None:
    """The version a session cookie of the user must carry (None: no such user)."""
    row = conn.execute("SELECT session_version FROM users WHERE user_id = %s", (user_id,)).fetchone()
    return row[0] if row else None


def end_sessions(conn: psycopg.Connection, user_id: str) -> None:
    """Every session cookie of the user, copies included, is refused from now on."""
    conn.execute("UPDATE users SET session_version = session_version + 1 WHERE user_id = %s", (user_id,))
