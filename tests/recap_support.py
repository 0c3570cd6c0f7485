"""Fixtures of the recap tests: a local SMTP server, and a replica filled with hand-written statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from testkit.replica_rows import fill_replica
from warehouse.db import connect

ADDRESSES = {"alice": "alice@example.org", "bob": "bob@example.org", "carol": "carol@example.org"}


def publish_run(settings, started_at: datetime) -> None:
    """A published analytics run in main, as spark_scripts.job records one."""
    with connect("main", settings) as conn:
        conn.execute(
            "INSERT INTO etl.analytics_runs (status, mode, started_at, staged_at, published_at, max_load_id, "
            "scopes) VALUES ('published', 'full', %s, %s, %s, 0, 1)", (started_at, started_at, started_at))


@pytest.fixture
def recap_settings(dbs, smtp):
    """The dashboard tests' replica rows (alice in Berlin: 2025-11, 2025-12, 2026-01; bob in New York:
    2026-01; carol: no streams), every user with an e-mail address, a local SMTP server."""
    controller, _ = smtp
    fill_replica(dbs)
    copy_tables(dbs, ["analytics.overview"], "replica", "main")  # main published what the replica holds
    with connect("source", dbs) as conn:
        for user, address in ADDRESSES.items():
            conn.execute("UPDATE users SET email = %s WHERE user_id = %s", (address, user))
    return dbs.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_starttls": False,
                                  "smtp_from": "recaps@wrapped.test", "dashboard_port": 8050})


FEB_2 = datetime(2026, 2, 2, tzinfo=UTC)


def copy_tables(settings, tables, source: str, target: str) -> None:
    """Copy the rows of `tables` from database `source` into the same tables of `target`, with SQL."""
    with connect(source, settings) as reading, connect(target, settings) as writing:
        for table in tables:
            with reading.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as rows, \
                    writing.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as into:
                for block in rows:
                    into.write(block)


def copy_main_to_replica(settings) -> None:
    """Main's dimensions and statistics into the replica (what the Debezium replication gives it)."""
    from warehouse.catalog import STATISTICS

    tables = ["dim_user", "dim_artist", "dim_album", "dim_track", "dim_playlist", "dim_playlist_track",
              "dim_user_playlist", *(f"analytics.{name}" for name in STATISTICS)]
    copy_tables(settings, tables, "main", "replica")
