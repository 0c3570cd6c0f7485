"""Apply Debezium change records to the replica: batched, idempotent, one transaction per batch.

A batch of records becomes, per table, its net effect: the last TRUNCATE of
the batch (if any), then the final state of every key changed after it — a
row to upsert or a key to delete. That effect is written in one transaction:
one `INSERT .. SELECT FROM jsonb_populate_recordset(..) ON CONFLICT DO UPDATE`
per table (all rows sent as one JSON document), one
`DELETE .. WHERE key IN (unnest(..))`, `TRUNCATE`, and the replica's
bookkeeping row `cdc.applied_position`. Applying a batch again (after a crash
re-delivers it) gives the same replica: every step is by key.

Column types come from the replica's catalog; the server converts each JSON
field with the column type's input function. Debezium's JSON (see
`capture.capture_properties`) carries what those accept: ISO timestamps and
dates (`time.precision.mode=isostring`, e.g. `2024-03-01Z` for a date),
numerics as strings, ISO-8601 intervals, arrays as JSON lists, booleans as
JSON booleans. Only json/jsonb (sent as text) and bytea (hex) are converted here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import psycopg
from psycopg import sql

from cdc_connectors.capture import HEARTBEAT_TABLE, is_replicated

log = logging.getLogger(__name__)



class ReplicationError(RuntimeError):
    """A change cannot be applied (unknown table, bad record...); nothing of its batch was applied."""


@dataclass(frozen=True)
class Change:
    schema: str
    table: str
    op: str  # r (snapshot read), c, u, d, t (truncate), h (heartbeat: position only)
    row: dict | None  # the row after the change (r, c, u)
    key: dict | None  # the primary key of a delete
    lsn: int
    committed_ms: int
    in_snapshot: bool = False  # part of the initial snapshot, not its last record
    snapshot_start: bool = False  # the first record of a snapshot: the replica starts over

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


class _Source(msgspec.Struct):
    schema: str
    table: str
    lsn: int
    ts_ms: int
    snapshot: str | None = None


class _Value(msgspec.Struct):
    op: str = ""
    source: _Source | None = None
    after: dict | None = None


_decode_value = msgspec.json.Decoder(_Value).decode
_decode_key = msgspec.json.Decoder(dict).decode


def decode_change(value: str | bytes, key: str | bytes | Callable[[], str | bytes | None] | None = None
                  ) -> Change | None:
    """A Debezium JSON record (schemas disabled) as a Change; None for Debezium's own heartbeats.

    `key` (the record key, or a function returning it) is only read for
    deletes: the `before` of a delete holds the key and placeholder values elsewhere.
    """
    try:
        record = _decode_value(value)
    except msgspec.DecodeError as exc:
        raise ReplicationError(f"malformed Debezium record ({exc}): {str(value)[:300]}") from None
    source = record.source
    if source is None:  # __debezium-heartbeat.<prefix>: {"ts_ms": ...}
        return None
    schema, table, op, lsn = source.schema, source.table, record.op, source.lsn
    in_snapshot = source.snapshot not in (None, "false", "last")
    start = source.snapshot == "first"
    if f"{schema}.{table}" == HEARTBEAT_TABLE:
        return Change(schema, table, "h", None, None, lsn, source.ts_ms, in_snapshot, start)
    if op in ("r", "c", "u"):
        if record.after is None:
            raise ReplicationError(f"{schema}.{table}: {op!r} record without 'after' at LSN {lsn}")
        return Change(schema, table, op, record.after, None, lsn, source.ts_ms, in_snapshot, start)
    if op == "d":
        if callable(key):
            key = key()
        try:
            parsed_key = _decode_key(key) if key is not None else None
        except msgspec.DecodeError as exc:
            raise ReplicationError(f"{schema}.{table}: bad key of a delete at LSN {lsn}: {exc}") from None
        if not parsed_key:
            raise ReplicationError(
                f"{schema}.{table}: delete at LSN {lsn} without a key (the table needs a primary key)")
        return Change(schema, table, op, None, parsed_key, lsn, source.ts_ms, in_snapshot, start)
    if op == "t":
        return Change(schema, table, op, None, None, lsn, source.ts_ms, in_snapshot, start)
    raise ReplicationError(f"{schema}.{table}: unknown operation {op!r} at LSN {lsn}")


@dataclass(frozen=True)
class ReplicaTable:
    schema: str
    table: str
    types: dict[str, str]  # column -> SQL type (format_type)
    typnames: dict[str, str]  # column -> pg_type.typname (e.g. bytea, _text)
    key: tuple[str, ...]  # primary key columns, in key order

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)


def load_catalog(conn: psycopg.Connection) -> dict[str, ReplicaTable]:
    """Every ordinary table of the replica with its column types and primary key."""
    rows = conn.execute(
        """SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
                  array_position(i.indkey::int2[], a.attnum)
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg_temp%'
           ORDER BY 1, 2, a.attnum"""
    ).fetchall()
    found: dict[str, tuple[dict, dict, dict]] = {}
    for schema, table, column, sqltype, typname, key_pos in rows:
        types, typnames, key = found.setdefault(f"{schema}.{table}", ({}, {}, {}))
        types[column] = sqltype
        typnames[column] = typname
        if key_pos is not None:
            key[key_pos] = column
    return {
        name: ReplicaTable(*name.split(".", 1), types, typnames, tuple(key[p] for p in sorted(key)))
        for name, (types, typnames, key) in found.items()
    }


# Debezium sends json/jsonb values as JSON text and bytea as hex (binary.handling.mode=hex);
# jsonb_populate_recordset needs the JSON value itself and bytea's \\x form.
_FIXED_TYPES = ("json", "jsonb", "bytea")


def _fix(row: dict, special: list[tuple[str, str]]) -> dict:
    row = dict(row)
    for column, typname in special:
        value = row[column]
        if value is None:
            continue
        row[column] = "\\x" + value if typname == "bytea" else msgspec.json.decode(value)
    return row


@dataclass
class _TableEffect:
    truncated: bool = False
    final: dict[tuple, dict | None] = field(default_factory=dict)  # key -> row, None = deleted


@dataclass(frozen=True)
class BatchResult:
    upserted: int
    deleted: int
    truncated: int
    lsn: int | None


class Applier:
    """Writes batches of Changes into the replica over one connection."""

    def __init__(self, replica_url: str, slot_name: str, restart_on_snapshot: bool = True):
        self.replica_url = replica_url
        self.slot_name = slot_name
        # The first record of a snapshot empties the replicated tables (embedded engine:
        # one ordered stream); off for Kafka, where topics are ordered one by one only.
        self.restart_on_snapshot = restart_on_snapshot
        self._conn: psycopg.Connection | None = None
        self._catalog: dict[str, ReplicaTable] = {}

    # -- connection ----------------------------------------------------------
    def connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.replica_url)  # cdc.applied_position: replica migration 0005
            self._catalog = load_catalog(self._conn)
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _table(self, change: Change) -> ReplicaTable:
        name = change.qualified
        if name not in self._catalog:
            self._catalog = load_catalog(self.connect())  # added by a migration since?
        table = self._catalog.get(name)
        if table is None:
            raise ReplicationError(
                f"change for table {name} (main, LSN {change.lsn}): no such table in the replica; "
                "apply the replica's migrations (make migrate) and restart the replicator")
        if not table.key:
            raise ReplicationError(f"replica table {name} has no primary key: changes cannot be applied by key")
        return table

    # -- the batch -----------------------------------------------------------
    def _effects(self, changes: Iterable[Change]) -> tuple[dict[str, tuple[ReplicaTable, _TableEffect]], int, int, int]:
        effects: dict[str, tuple[ReplicaTable, _TableEffect]] = {}
        lsn, committed_ms, count = 0, 0, 0
        for change in changes:
            count += 1
            lsn = max(lsn, change.lsn)
            committed_ms = max(committed_ms, change.committed_ms)
            if change.op == "h":
                continue
            if not is_replicated(change.qualified):
                raise ReplicationError(f"change for {change.qualified}, which is not replicated (LSN {change.lsn})")
            entry = effects.get(change.qualified)
            if entry is None:
                entry = effects[change.qualified] = (self._table(change), _TableEffect())
            table, effect = entry
            if change.op == "t":
                effect.truncated = True
                effect.final.clear()
                continue
            source = change.row if change.key is None else change.key
            try:
                key = tuple(source[column] for column in table.key)
            except KeyError as exc:
                raise ReplicationError(
                    f"{change.qualified}: record at LSN {change.lsn} lacks key column {exc} of the replica") from None
            effect.final[key] = change.row
        return effects, lsn, committed_ms, count

    def apply(self, changes: list[Change]) -> BatchResult:
        """Apply `changes` (in stream order) in one replica transaction; all or nothing."""
        conn = self.connect()
        starts = [i for i, change in enumerate(changes) if change.snapshot_start and self.restart_on_snapshot]
        effects, lsn, committed_ms, count = self._effects(changes[starts[-1]:] if starts else changes)
        count = len(changes)
        snapshot_done = any(not change.in_snapshot for change in changes)
        upserted = deleted = truncated = 0
        try:
            with conn.transaction():
                if starts:  # a (re-)snapshot begins: whatever the replica held is replaced
                    truncated += len(self._empty_replicated(conn))
                    conn.execute("DELETE FROM cdc.applied_position WHERE slot_name = %s", (self.slot_name,))
                for table, effect in effects.values():
                    if effect.truncated:
                        conn.execute(sql.SQL("TRUNCATE {}").format(table.ident))
                        truncated += 1
                    rows = [row for row in effect.final.values() if row is not None]
                    gone = [key for key, row in effect.final.items() if row is None]
                    if gone:
                        deleted += self._delete(conn, table, gone)
                    if rows:
                        upserted += self._upsert(conn, table, rows)
                if count:
                    conn.execute(
                        """INSERT INTO cdc.applied_position AS p
                               (slot_name, lsn, committed_at, applied_at, changes, snapshot_done)
                           VALUES (%(slot)s, '0/0'::pg_lsn + %(lsn)s::numeric,
                                   to_timestamp(%(ms)s / 1000.0), clock_timestamp(), %(n)s, %(done)s)
                           ON CONFLICT (slot_name) DO UPDATE SET
                               lsn = GREATEST(p.lsn, EXCLUDED.lsn),
                               committed_at = GREATEST(p.committed_at, EXCLUDED.committed_at),
                               applied_at = EXCLUDED.applied_at,
                               changes = p.changes + EXCLUDED.changes,
                               snapshot_done = p.snapshot_done OR EXCLUDED.snapshot_done""",
                        {"slot": self.slot_name, "lsn": lsn, "ms": committed_ms, "n": count,
                         "done": snapshot_done},
                    )
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ReplicationError(f"the replica refused a batch of {count} changes: {exc}") from exc
        return BatchResult(upserted, deleted, truncated, lsn or None)

    def _delete(self, conn: psycopg.Connection, table: ReplicaTable, keys: list[tuple]) -> int:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
        arrays = sql.SQL(", ").join(
            sql.SQL("%s::text[]::{}[]").format(sql.SQL(table.types[c])) for c in table.key)
        params = [[None if k[i] is None else str(k[i]) for k in keys] for i in range(len(table.key))]
        query = sql.SQL("DELETE FROM {} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
            table.ident, columns, arrays)
        return conn.execute(query, params).rowcount

    def _upsert(self, conn: psycopg.Connection, table: ReplicaTable, rows: list[dict]) -> int:
        """One `INSERT .. SELECT FROM jsonb_populate_recordset(..) ON CONFLICT DO UPDATE` per column set.

        The rows travel as one JSON document (encoded in C by msgspec) and the
        server converts every field with the column type's input function.
        """
        groups: dict[tuple[str, ...], list[dict]] = {}
        for row in rows:  # one column set, unless main's schema changed within the batch
            groups.setdefault(tuple(row), []).append(row)
        total = 0
        for columns, group in groups.items():
            unknown = [c for c in columns if c not in table.types]
            if unknown:
                raise ReplicationError(
                    f"{table.schema}.{table.table}: main has column(s) {', '.join(unknown)} the replica lacks; "
                    "apply the replica's migrations and restart the replicator")
            special = [(c, table.typnames[c]) for c in columns if table.typnames[c] in _FIXED_TYPES]
            if special:
                group = [_fix(row, special) for row in group]
            idents = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            rest = [c for c in columns if c not in table.key]
            action = (
                sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in rest)
                if rest else sql.SQL("DO NOTHING"))
            query = sql.SQL(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
                "ON CONFLICT ({key}) ").format(
                table=table.ident, cols=idents, key=sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
            ) + action
            conn.execute(query, (msgspec.json.encode(group).decode(),))
            total += len(group)
        return total

    # -- robustness --------------------------------------------------------------
    def apply_with_retry(self, changes: list[Change], stop: threading.Event,
                         on_retry: Callable[[Exception, float], None] | None = None) -> BatchResult:
        """Apply, reconnecting while the replica is unreachable; raise StopRequested when `stop` is set."""
        delay = 0.2
        while True:
            try:
                return self.apply(changes)
            except psycopg.OperationalError as exc:
                self.close()
                if on_retry:
                    on_retry(exc, delay)
                else:
                    log.warning("replica unavailable (%s); retrying in %.1f s", str(exc).strip(), delay)
                if stop.wait(delay):
                    raise StopRequested() from exc
                delay = min(delay * 2, 5.0)

    def snapshot_done(self) -> bool:
        """True once the initial snapshot was applied whole (its last record, or any later change)."""
        row = self.connect().execute(
            "SELECT snapshot_done FROM cdc.applied_position WHERE slot_name = %s", (self.slot_name,)).fetchone()
        self.connect().commit()
        return bool(row and row[0])

    def reset(self) -> list[str]:
        """Empty the replicated tables and the position: the start of a fresh snapshot."""
        conn = self.connect()
        with conn.transaction():
            names = self._empty_replicated(conn)
            conn.execute("DELETE FROM cdc.applied_position WHERE slot_name = %s", (self.slot_name,))
        return names

    def _empty_replicated(self, conn: psycopg.Connection) -> list[str]:
        names = sorted(name for name in self._catalog if is_replicated(name))
        if names:
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(self._catalog[name].ident for name in names)))
        return names


class StopRequested(Exception):
    """The replicator was asked to stop while waiting for the replica."""
