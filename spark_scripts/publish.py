"""Publication that replication can follow.

The job writes each statistic into `analytics_staging.<name>` and the recomputed
(user, period) pairs into `analytics_staging.scope`. `publish` then gives every
published table exactly the staged content within that scope, in ONE
transaction (a row of two users, taste_overlap's, is in the scope of either): rows that vanished are deleted,
changed rows updated, new rows
inserted, unchanged rows untouched (the freshness columns alone do not make a
row changed). No table is ever dropped, renamed or swapped, so Debezium sees
plain deletes, updates and inserts. Any failure rolls everything back.
`publish_staged` publishes the run the ledger says is waiting and records it published,
and in the same transaction stores the run's recomputed month-level grains
(`publish_state`): state and published statistics always belong to the same run.
"""

from __future__ import annotations

import logging

import psycopg

from spark_scripts.ledger import PublishCounts, RunReport, latest_staged, lock_runs, mark_published
from spark_scripts.state import STORED
from warehouse.catalog import STATISTICS
from warehouse.db import connect
from warehouse.settings import Settings
from warehouse.sql import upsert_changed

log = logging.getLogger(__name__)
FRESHNESS = ("computed_at", "source_max_played_at")


def table_shape(conn: psycopg.Connection, table: str) -> tuple[list[str], list[str]]:
    """(columns, primary-key columns) of analytics.<table>."""
    columns = [c for (c,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
        "AND table_name = %s ORDER BY ordinal_position", (table,))]
    key = [c for (c,) in conn.execute(
        """SELECT a.attname FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)""",
        (f"analytics.{table}",))]
    return columns, key


def publish_table(conn: psycopg.Connection, table: str) -> PublishCounts:
    columns, key = table_shape(conn, table)
    data = [c for c in columns if c not in key and c not in FRESHNESS]
    cols = ", ".join(columns)
    same_key = " AND ".join(f"n.{k} = p.{k}" for k in key)
    # A row of two users (taste_overlap) is replaced when either user's period was recomputed.
    users = ["user_id", "other_user_id"] if "other_user_id" in key else ["user_id"]
    deleted = sum(conn.execute(
        f"""DELETE FROM analytics.{table} p USING analytics_staging.scope s
            WHERE p.{user} = s.user_id AND p.period = s.period
              AND NOT EXISTS (SELECT 1 FROM analytics_staging.{table} n WHERE {same_key})""").rowcount
        for user in users)
    upsert = upsert_changed(f"analytics.{table}", key, columns, f"SELECT {cols} FROM analytics_staging.{table}",
                            alias="p", compared=data)
    inserted, updated = conn.execute(
        f"""WITH changed AS ({upsert} RETURNING (xmax = 0) AS inserted)
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM changed"""
    ).fetchone()
    return PublishCounts(inserted, updated, deleted)


def publish(conn: psycopg.Connection, tables=STATISTICS) -> PublishCounts:
    """Publish every staged table in the current transaction (the caller commits)."""
    total = PublishCounts()
    for table in tables:
        total += publish_table(conn, table)
    return total


def publish_state(conn: psycopg.Connection, full: bool) -> None:
    """The staged grains into analytics_state: all of it after a full run, else each run user's months
    from its first recomputed one (analytics_staging.run_users) on."""
    for name in STORED:
        if full:
            conn.execute(f"TRUNCATE analytics_state.{name}")
        else:
            conn.execute(f"""DELETE FROM analytics_state.{name} g USING analytics_staging.run_users r
                             WHERE g.user_id = r.user_id AND g.local_month >= r.since""")
        conn.execute(f"INSERT INTO analytics_state.{name} SELECT * FROM analytics_staging.state_{name}")


def publish_staged(settings: Settings) -> RunReport:
    """Publish the staged run into analytics.*, in one transaction; NothingStaged if no run waits."""
    with connect("main", settings) as main:
        lock_runs(main)
        staged = latest_staged(main)
        report = mark_published(main, staged, publish(main))
        publish_state(main, staged.mode == "full")
    log.info("%s", report)
    return report
