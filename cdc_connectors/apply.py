"""Apply Debezium change records to the replica: batched, idempotent, committed when whole.

`Applier.write` turns a list of records into, per table, its net effect: the
last TRUNCATE of the list (if any), then the final state of every key changed
after it — a row to upsert or a key to delete — and writes it into the
replica's open transaction: one `INSERT .. SELECT FROM
jsonb_populate_recordset(..) ON CONFLICT DO UPDATE` per table (all rows sent as
one JSON document), one `DELETE .. WHERE key IN (unnest(..))`, and a `DELETE`
of the whole table for a TRUNCATE (MVCC-safe, unlike TRUNCATE: a reader's
snapshot keeps seeing the rows). A snapshot's rows go into tables its
transaction emptied: plain INSERTs (no `ON CONFLICT`), sent in pipeline mode
without waiting for their results. Several writes may go into one transaction;
`Applier.commit` commits them with the replica's bookkeeping row
`cdc.applied_position`. Applying records again (after a crash re-delivers
them) gives the same replica: every step is by key and sets a row's whole state.

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
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter

import msgspec
import psycopg
from psycopg import sql

from warehouse.roles import HEARTBEAT_TABLE, is_replicated

log = logging.getLogger(__name__)



class ReplicationError(RuntimeError):
    """A change cannot be applied (unknown table, bad record...); nothing of its batch was applied."""


class Change(msgspec.Struct, frozen=True):
    """One record of the stream (a msgspec Struct: built per row, several times cheaper than a dataclass)."""

    schema: str
    table: str
    op: str  # r (snapshot read), c, u, d, t (truncate), h (heartbeat: position only), B/E (main BEGIN/END)
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
    status: str | None = None  # a transaction metadata record: BEGIN or END
    event_count: int | None = None  # END: how many changes its transaction emitted


# A main transaction's BEGIN and END (Debezium's `provide.transaction.metadata`, embedded engine):
# what lies between them is applied to the replica in one transaction.
BEGIN = Change("", "", "B", None, None, 0, 0)
END = Change("", "", "E", None, None, 0, 0)


_decode_value = msgspec.json.Decoder(_Value).decode
_decode_key = msgspec.json.Decoder(dict).decode


def end_event_count(value: str) -> int | None:
    """How many changes the main transaction an END record closes emitted, by Debezium's count."""
    return _decode_value(value).event_count


def decode_change(value: str | bytes, key: str | bytes | Callable[[], str | bytes | None] | None = None
                  ) -> Change | None:
    """A Debezium JSON record (schemas disabled) as a Change; BEGIN or END for transaction metadata;
    None for Debezium's own heartbeats.

    `key` (the record key, or a function returning it) is only read for
    deletes: the `before` of a delete holds the key and placeholder values elsewhere.
    """
    try:
        record = _decode_value(value)
    except msgspec.DecodeError as exc:
        raise ReplicationError(f"malformed Debezium record ({exc}): {str(value)[:300]}") from None
    source = record.source
    if source is None:  # <prefix>.transaction: {"status": "BEGIN", ...}; __debezium-heartbeat.<prefix>: {"ts_ms": ...}
        return {"BEGIN": BEGIN, "END": END}.get(record.status)
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

    @cached_property
    def key_of(self) -> Callable[[dict], tuple]:
        """The primary key of a row (or of a delete's key) as a tuple; KeyError if a column is missing."""
        getter = itemgetter(*self.key)
        return getter if len(self.key) > 1 else lambda row: (getter(row),)


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
    reads_only: bool = True  # only snapshot reads (op r)


@dataclass(frozen=True)
class BatchResult:
    """What one replica transaction applied."""

    upserted: int
    deleted: int
    truncated: int
    lsn: int | None


@dataclass
class _Transaction:
    """The replica transaction in progress: what was written into it, and the position it reaches."""

    upserted: int = 0
    deleted: int = 0
    truncated: int = 0
    lsn: int = 0
    committed_ms: int = 0
    changes: int = 0
    snapshot_done: bool = False
    started_over: bool = False
    emptied: frozenset[str] = frozenset()  # the tables its start-over deleted the rows of


class Applier:
    """Writes Changes into the replica over one connection, in transactions the caller commits."""

    def __init__(self, replica_url: str, slot_name: str, restart_on_snapshot: bool = True):
        self.replica_url = replica_url
        self.slot_name = slot_name
        # The first record of a snapshot replaces the replicated tables' content (embedded
        # engine: one ordered stream); off for Kafka, where topics are ordered one by one only (and a
        # snapshot sent twice, by a Kafka Connect restarted within it, may meet its own rows: upserted).
        self.restart_on_snapshot = restart_on_snapshot
        self._conn: psycopg.Connection | None = None
        self._catalog: dict[str, ReplicaTable] = {}
        self._tx: _Transaction | None = None  # written, not committed yet
        self._start_over = False  # the next write first deletes the replicated tables' rows
        self._pipeline: ExitStack | None = None  # the connection in pipeline mode (a snapshot's transaction)

    # -- connection ----------------------------------------------------------
    def connect(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.replica_url)  # cdc.applied_position: replica migration 0005
            self._catalog = load_catalog(self._conn)
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._end_pipeline()
            except psycopg.Error:
                pass  # the connection goes, and whatever it held open with it
            self._conn.close()
            self._conn = None
        self._forget()

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

    # -- writing and committing ------------------------------------------------
    def _effects(self, changes: Iterable[Change], tx: _Transaction) -> dict[str, tuple[ReplicaTable, _TableEffect]]:
        effects: dict[str, tuple[ReplicaTable, _TableEffect]] = {}
        for change in changes:
            if change.lsn > tx.lsn:
                tx.lsn = change.lsn
            if change.committed_ms > tx.committed_ms:
                tx.committed_ms = change.committed_ms
            if not change.in_snapshot:
                tx.snapshot_done = True
            if change.op == "h":
                continue
            name = change.qualified
            entry = effects.get(name)
            if entry is None:
                if not is_replicated(name):
                    raise ReplicationError(f"change for {name}, which is not replicated (LSN {change.lsn})")
                entry = effects[name] = (self._table(change), _TableEffect())
            table, effect = entry
            if change.op != "r":
                effect.reads_only = False
            if change.op == "t":
                effect.truncated = True
                effect.final.clear()
                continue
            source = change.row if change.key is None else change.key
            try:
                key = table.key_of(source)
            except KeyError as exc:
                raise ReplicationError(
                    f"{name}: record at LSN {change.lsn} lacks key column {exc} of the replica") from None
            effect.final[key] = change.row
        return effects

    def write(self, changes: list[Change]) -> None:
        """Write `changes` (in stream order) into the open replica transaction (begun if none is); no commit.

        After a snapshot's first record (with `restart_on_snapshot`) or `start_over()`, the
        write begins by deleting the rows of every replicated table and the position: the
        snapshot replaces the content, and readers keep seeing the old one until the commit.
        """
        if self.restart_on_snapshot:
            starts = [i for i, change in enumerate(changes) if change.snapshot_start]
            if starts:  # whatever came before the (last) start is replaced
                changes, self._start_over = changes[starts[-1]:], True
        conn = self.connect()
        if not changes:
            return
        tx = self._tx = self._tx or _Transaction()
        try:
            if self._start_over:
                # The snapshot's statements are sent without waiting for their results (pipeline
                # mode): the replica inserts a batch while the next one is read and decoded. An
                # error surfaces at a later write, at the latest at the commit.
                self._pipeline = ExitStack()
                self._pipeline.enter_context(conn.pipeline())
                self._start_over, tx.started_over, tx.changes = False, True, 0
                tx.snapshot_done = False
                tx.emptied = frozenset(self._delete_replicated(conn))
                tx.truncated += len(tx.emptied)
                conn.execute("DELETE FROM cdc.applied_position WHERE slot_name = %s", (self.slot_name,))
            tx.changes += len(changes)
            for table, effect in self._effects(changes, tx).values():
                if effect.truncated:
                    conn.execute(sql.SQL("DELETE FROM {}").format(table.ident))
                    tx.truncated += 1
                rows = [row for row in effect.final.values() if row is not None]
                gone = [key for key, row in effect.final.items() if row is None]
                if gone:
                    tx.deleted += self._delete(conn, table, gone)
                if rows:  # a snapshot's rows into a table this transaction emptied: nothing to update
                    fresh = (self.restart_on_snapshot and effect.reads_only
                             and f"{table.schema}.{table.table}" in tx.emptied)
                    tx.upserted += self._insert(conn, table, rows, upsert=not fresh)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ReplicationError(f"the replica refused a batch of {len(changes)} changes: {exc}") from exc

    def commit(self) -> BatchResult:
        """Commit the open transaction together with the position it reaches (nothing open: nothing to do)."""
        tx = self._tx
        if tx is None:
            return BatchResult(0, 0, 0, None)
        try:
            self._conn.execute(
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
                {"slot": self.slot_name, "lsn": tx.lsn, "ms": tx.committed_ms, "n": tx.changes,
                 "done": tx.snapshot_done},
            )
            self._conn.commit()
            self._end_pipeline()
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            raise ReplicationError(f"the replica refused to commit {tx.changes} changes: {exc}") from exc
        self._tx = None
        return BatchResult(tx.upserted, tx.deleted, tx.truncated, tx.lsn or None)

    def rollback(self) -> None:
        """Drop what was written since the last commit (a broken connection is closed)."""
        if self._conn is not None:
            try:
                self._end_pipeline()
                self._conn.rollback()
            except psycopg.Error:
                self.close()
        self._forget()

    def _end_pipeline(self) -> None:
        """Leave pipeline mode, if in it: wait for every statement sent, raise the first error."""
        stack, self._pipeline = self._pipeline, None
        if stack is not None:
            stack.close()

    def _forget(self) -> None:
        if self._tx is not None and self._tx.started_over:
            self._start_over = True  # the replacement was not committed: the next write does it again
        self._tx = None

    def apply(self, changes: list[Change]) -> BatchResult:
        """Apply `changes` (in stream order) in one replica transaction; all or nothing."""
        try:
            self.write(changes)
            return self.commit()
        except BaseException:
            self.rollback()
            raise

    def _delete(self, conn: psycopg.Connection, table: ReplicaTable, keys: list[tuple]) -> int:
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
        arrays = sql.SQL(", ").join(
            sql.SQL("%s::text[]::{}[]").format(sql.SQL(table.types[c])) for c in table.key)
        params = [[None if k[i] is None else str(k[i]) for k in keys] for i in range(len(table.key))]
        query = sql.SQL("DELETE FROM {} WHERE ({}) IN (SELECT * FROM unnest({}))").format(
            table.ident, columns, arrays)
        return conn.execute(query, params).rowcount

    def _insert(self, conn: psycopg.Connection, table: ReplicaTable, rows: list[dict], upsert: bool = True) -> int:
        """One `INSERT .. SELECT FROM jsonb_populate_recordset(..) ON CONFLICT DO UPDATE` per column set.

        The rows travel as one JSON document (encoded in C by msgspec) and the
        server converts every field with the column type's input function.
        Without `upsert`, a plain INSERT (a quarter cheaper for the server, no
        speculative insertion): for rows whose keys cannot be in the table.
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
            query = sql.SQL(
                "INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
            ).format(table=table.ident, cols=idents)
            if upsert:
                rest = [c for c in columns if c not in table.key]
                action = (
                    sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
                        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in rest)
                    if rest else sql.SQL("DO NOTHING"))
                query += sql.SQL(" ON CONFLICT ({key}) ").format(
                    key=sql.SQL(", ").join(sql.Identifier(c) for c in table.key)) + action
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

    def start_over(self) -> None:
        """A fresh snapshot follows: the position says so at once (`wait` waits, the replica is not
        caught up, a restart starts over again), and the next write replaces the replicated tables'
        content, in the transaction that commits at the snapshot's end."""
        conn = self.connect()
        conn.execute("UPDATE cdc.applied_position SET snapshot_done = false WHERE slot_name = %s", (self.slot_name,))
        conn.commit()
        self._start_over = True

    def _delete_replicated(self, conn: psycopg.Connection) -> list[str]:
        names = sorted(name for name in self._catalog if is_replicated(name))
        for name in names:  # DELETE, not TRUNCATE: MVCC, readers see the old rows until the commit
            conn.execute(sql.SQL("DELETE FROM {}").format(self._catalog[name].ident))
        return names


class StopRequested(Exception):
    """The replicator was asked to stop while waiting for the replica."""
