"""The run ledger, `etl.analytics_runs`: every analytics run, staged -> published | rejected.

A run is recorded once its results wait in analytics_staging; the pipeline
then marks it published (with the counts of its publication) or rejected (with
the failed checks). Only the latest run can wait: an older staged run was
superseded. One analytics run stages or publishes at a time (an advisory lock
of main).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import class_row

from warehouse.db import connect
from warehouse.settings import Settings

if TYPE_CHECKING:
    from spark_scripts.scope import RunScope

LOCK_KEY = "hashtext('spotify_analytics')"


@dataclass(frozen=True)
class PublishCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def __add__(self, other: PublishCounts) -> PublishCounts:
        return PublishCounts(self.inserted + other.inserted, self.updated + other.updated,
                             self.deleted + other.deleted)


@dataclass(frozen=True)
class StagedRun:
    run_id: int
    mode: str
    users: int | None  # None: every user
    scopes: int

    def __str__(self) -> str:
        who = "all users" if self.users is None else f"{self.users} users"
        return f"staged run {self.run_id}: {self.mode} over {who}, {self.scopes} (user, period) scopes"


@dataclass(frozen=True)
class RunReport:
    mode: str
    users: int | None
    scopes: int
    counts: PublishCounts

    def __str__(self) -> str:
        who = "all users" if self.users is None else f"{self.users} users"
        return (f"{self.mode} run over {who}: {self.scopes} (user, period) scopes, "
                f"{self.counts.inserted} rows inserted, {self.counts.updated} updated, "
                f"{self.counts.deleted} deleted")


NOTHING_NEW = RunReport("incremental", 0, 0, PublishCounts())


class NothingStaged(RuntimeError):
    pass


@contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """Hold the analytics lock of main for the block (a stage: minutes, over several connections)."""
    with connect("main", settings, autocommit=True) as lock:
        lock.execute(f"SELECT pg_advisory_lock({LOCK_KEY})")  # released when `lock` closes
        yield


def lock_runs(main: psycopg.Connection) -> None:
    """Take the analytics lock until `main`'s transaction ends (a publication)."""
    main.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")


def statistics_shape(main: psycopg.Connection) -> str:
    """A digest of the tables, columns and types of the statistics and their state (analytics.*,
    analytics_state.*): a migration that changes a statistic or a grain changes it."""
    (shape,) = main.execute(
        """SELECT md5(string_agg(format('%s.%s %s', c.oid::regclass, a.attname,
                                        format_type(a.atttypid, a.atttypmod)), ',' ORDER BY c.oid::regclass::text,
                                 a.attnum))
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname IN ('analytics', 'analytics_state') AND c.relkind IN ('r', 'p')""").fetchone()
    return shape


def last_published(main: psycopg.Connection) -> tuple[int | None, str | None]:
    """(the newest load the latest published run reflects, the statistics' shape it was computed in);
    (None, None) before the first publication."""
    return main.execute(
        "SELECT max_load_id, shape FROM etl.analytics_runs WHERE status = 'published' "
        "ORDER BY run_id DESC LIMIT 1").fetchone() or (None, None)


def record_staged(main: psycopg.Connection, scope: RunScope, started_at: datetime,
                  source_max_played_at: datetime | None, scopes: int) -> StagedRun:
    users = None if scope.users is None else len(scope.users)
    (run_id,) = main.execute(
        """INSERT INTO etl.analytics_runs (status, mode, started_at, max_load_id, source_max_played_at, users,
               scopes, shape) VALUES ('staged', %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
        (scope.mode, started_at, scope.max_load_id, source_max_played_at, users, scopes,
         statistics_shape(main))).fetchone()
    return StagedRun(run_id, scope.mode, users, scopes)


def latest_staged(main: psycopg.Connection) -> StagedRun:
    """The run waiting for publication (locked until the transaction ends); NothingStaged if none waits."""
    staged = main.cursor(row_factory=class_row(StagedRun)).execute(
        """SELECT run_id, mode, users, scopes FROM etl.analytics_runs
           WHERE run_id = (SELECT max(run_id) FROM etl.analytics_runs) AND status = 'staged'
           FOR UPDATE""").fetchone()
    if staged is None:
        raise NothingStaged("no staged analytics run waits for publication")
    return staged


def mark_published(main: psycopg.Connection, staged: StagedRun, counts: PublishCounts) -> RunReport:
    main.execute(
        """UPDATE etl.analytics_runs SET status = 'published', published_at = now(), rows_inserted = %s,
               rows_updated = %s, rows_deleted = %s WHERE run_id = %s""",
        (counts.inserted, counts.updated, counts.deleted, staged.run_id))
    return RunReport(staged.mode, staged.users, staged.scopes, counts)


def mark_rejected(main: psycopg.Connection, staged: StagedRun, reason: str) -> None:
    """Its results are never published."""
    main.execute("UPDATE etl.analytics_runs SET status = 'rejected', rejection = %s WHERE run_id = %s",
                 (reason, staged.run_id))
