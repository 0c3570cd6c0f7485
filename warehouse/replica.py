"""Reading the replica as its read-only role: a small connection pool, where replication stands, share links.

Every reader of the replica (the dashboard, the monthly recap) goes through
`ConnectionPool`: read-only transactions, UTC, a statement timeout.
"""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg

_CONNECT_OPTIONS = "-c default_transaction_read_only=on -c TimeZone=UTC -c statement_timeout=10000"


class ReplicaUnavailable(RuntimeError):
    """The replica cannot be reached (down, wrong URL, role missing)."""


class ConnectionPool:
    """At most `size` open connections, reused by one thread at a time.

    `size = 0` opens a new connection for every use (kept for measuring the pool).
    A connection that failed is closed, never returned to the pool.
    """

    def __init__(self, url: str, size: int, timeout: float = 10.0, prepare: tuple[str, ...] = ()):
        self.url = url
        self.size = size
        self.timeout = timeout
        self.prepare = prepare  # statements run on each new connection (PREPARE ...)
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size) if size else None

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, application_name="dashboard",
                options=_CONNECT_OPTIONS, connect_timeout=5,
            )
        except psycopg.OperationalError as exc:
            raise ReplicaUnavailable(f"cannot connect to the replica: {exc}") from exc
        for statement in self.prepare:
            conn.execute(statement)
        return conn

    @contextmanager
    def connection(self):
        if self._slots is None:
            conn = self._connect()
            try:
                yield conn
            finally:
                conn.close()
            return
        if not self._slots.acquire(timeout=self.timeout):
            raise ReplicaUnavailable(f"no free replica connection within {self.timeout} s")
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                yield conn
            finally:
                if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.close()
                else:
                    self._idle.put(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


@dataclass(frozen=True)
class Replication:
    committed_at: datetime  # main's commit time of the latest change applied to the replica
    lag_seconds: float  # now - committed_at (about the heartbeat interval when caught up)


def replication_position(conn: psycopg.Connection) -> Replication | None:
    """Where replication stands, if the replica keeps `cdc.applied_position` readable to this role."""
    (readable,) = conn.execute(
        "SELECT CASE WHEN to_regclass('cdc.applied_position') IS NULL THEN false "
        "ELSE has_table_privilege(to_regclass('cdc.applied_position'), 'SELECT') END").fetchone()
    if not readable:
        return None
    committed_at, lag = conn.execute(
        "SELECT max(committed_at), extract(epoch FROM now() - max(committed_at))::float8 "
        "FROM cdc.applied_position").fetchone()
    return Replication(committed_at, lag) if committed_at else None


def share_link_user(conn: psycopg.Connection, token_hash: str) -> str | None:
    """The user a live (neither revoked nor expired) share link opens, or None."""
    row = conn.execute(
        "SELECT user_id FROM public.dashboard_share_links WHERE token_hash = %s AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now())",
        (token_hash,)).fetchone()
    return row[0] if row else None
