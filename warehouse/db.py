"""Connections to the three databases, and bulk writes with COPY."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import psycopg

from warehouse.settings import Settings, get_settings

Database = Literal["source", "main", "replica"]
DATABASES: tuple[Database, ...] = ("source", "main", "replica")


def database_url(database: Database, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return getattr(settings, f"{database}_database_url")


def connect(database: Database, settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    """A new connection to `database` (autocommit off: one transaction until commit)."""
    return psycopg.connect(database_url(database, settings), **kwargs)


def connect_owner(database: Database, settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    """A new connection to `database` as its owner (DATABASE_OWNER): for migrations, never the pipeline."""
    return psycopg.connect((settings or get_settings()).owner_url(database), **kwargs)


def copy_rows(conn: psycopg.Connection, table: str, ddl: str, rows: Iterable[tuple]) -> None:
    """COPY `rows` into a new temporary table `table` (`ddl`: its columns), dropped at commit, then ANALYZE it."""
    conn.execute(f"CREATE TEMP TABLE {table} ({ddl}) ON COMMIT DROP")
    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(f"ANALYZE {table}")


def copy_into(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple],
              conflict: str) -> int:
    """COPY rows into a temporary twin of `table`, then insert the ones `conflict` does not find; count inserted."""
    cols = ", ".join(columns)
    conn.execute(f"CREATE TEMP TABLE stage_{table} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
    with conn.cursor().copy(f"COPY stage_{table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stage_{table} ON CONFLICT {conflict} DO NOTHING"
    ).rowcount
