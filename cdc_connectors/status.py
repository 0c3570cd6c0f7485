"""Where replication stands, and waiting until the replica has caught up with main.

The replica's `cdc.applied_position` holds the highest main WAL position whose
change was applied, in the same transaction as the change. Changes arrive in
commit order, so once a change at or past main's `pg_current_wal_lsn()` taken
at time T is applied (and the initial snapshot is complete), everything main
committed before T is in the replica.
When main is idle, Debezium's heartbeat action writes `cdc.heartbeat` in main
every DEBEZIUM_HEARTBEAT_MS, whose change moves the position forward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import namedtuple_row

from warehouse.db import connect
from warehouse.settings import Settings


@dataclass(frozen=True)
class Status:
    slot: str
    slot_exists: bool
    connected: bool  # a walsender (Debezium) holds the slot
    main_lsn: str
    confirmed_flush_lsn: str | None
    retained_wal_bytes: int | None  # WAL main keeps for the slot
    applied_lsn: str | None
    applied_at: datetime | None
    committed_at: datetime | None  # main commit time of the latest applied change
    lag_bytes: int | None  # main's WAL written since the applied position
    lag_seconds: float | None  # now - committed_at (≈ heartbeat interval when caught up)
    snapshot_done: bool = False
    replica_error: str | None = None

    def lines(self) -> list[str]:
        def show(value, unit=""):
            return "-" if value is None else f"{value}{unit}"

        return [
            f"slot              {self.slot} ({'exists' if self.slot_exists else 'MISSING'}, "
            f"{'connected' if self.connected else 'not connected'})",
            f"main WAL position {self.main_lsn}",
            f"confirmed flush   {show(self.confirmed_flush_lsn)}",
            f"retained WAL      {show(self.retained_wal_bytes, ' bytes')}",
            f"initial snapshot  {'complete' if self.snapshot_done else 'not complete'}",
            f"applied position  {show(self.applied_lsn)}"
            + (f" (replica unreachable: {self.replica_error})" if self.replica_error else ""),
            f"last applied at   {show(self.applied_at)}",
            f"latest change     {show(self.committed_at)} (committed in main)",
            f"lag               {show(self.lag_bytes, ' bytes')}, "
            f"{show(None if self.lag_seconds is None else round(self.lag_seconds, 3), ' s')}",
        ]


def _applied(settings: Settings):
    """The replica's applied position of our slot (lsn, applied_at, committed_at, lag_seconds, snapshot_done)."""
    with connect("replica", settings, autocommit=True, connect_timeout=5, row_factory=namedtuple_row) as conn:
        exists = conn.execute("SELECT to_regclass('cdc.applied_position')").fetchone()[0]
        if exists is None:
            return None
        return conn.execute(
            "SELECT lsn::text AS lsn, applied_at, committed_at, "
            "extract(epoch FROM now() - committed_at)::float8 AS lag_seconds, snapshot_done "
            "FROM cdc.applied_position WHERE slot_name = %s",
            (settings.debezium_slot_name,),
        ).fetchone()


def status(settings: Settings) -> Status:
    with connect("main", settings, autocommit=True, connect_timeout=5, row_factory=namedtuple_row) as conn:
        main_lsn = conn.execute("SELECT pg_current_wal_lsn()::text AS lsn").fetchone().lsn
        slot = conn.execute(
            """SELECT active, confirmed_flush_lsn::text AS confirmed_flush_lsn,
                      pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained
               FROM pg_replication_slots WHERE slot_name = %s""",
            (settings.debezium_slot_name,),
        ).fetchone()
        applied, error = None, None
        try:
            applied = _applied(settings)
        except psycopg.OperationalError as exc:
            error = str(exc).strip().splitlines()[0]
        lag_bytes = None
        if applied:
            lag_bytes = int(conn.execute(
                "SELECT greatest(pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn), 0) AS lag", (main_lsn, applied.lsn)
            ).fetchone().lag)
    return Status(
        slot=settings.debezium_slot_name,
        slot_exists=slot is not None,
        connected=bool(slot and slot.active),
        main_lsn=main_lsn,
        confirmed_flush_lsn=slot.confirmed_flush_lsn if slot else None,
        retained_wal_bytes=slot.retained if slot else None,
        applied_lsn=applied.lsn if applied else None,
        applied_at=applied.applied_at if applied else None,
        committed_at=applied.committed_at if applied else None,
        lag_bytes=lag_bytes,
        lag_seconds=applied.lag_seconds if applied else None,
        replica_error=error,
        snapshot_done=bool(applied and applied.snapshot_done),
    )


def wait(settings: Settings, timeout: float = 60.0, poll: float = 0.05) -> float:
    """Block until the replica has applied everything main committed before the call; return seconds waited.

    Raise TimeoutError (with the current status) after `timeout` seconds.
    """
    started = time.monotonic()
    with connect("main", settings, autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    while True:
        try:
            with connect("replica", settings, autocommit=True, connect_timeout=5) as conn:
                while True:
                    row = conn.execute(
                        "SELECT snapshot_done AND lsn >= %s::pg_lsn FROM cdc.applied_position WHERE slot_name = %s",
                        (target, settings.debezium_slot_name),
                    ).fetchone() if conn.execute(
                        "SELECT to_regclass('cdc.applied_position')").fetchone()[0] else None
                    if row and row[0]:
                        return time.monotonic() - started
                    if time.monotonic() - started > timeout:
                        break
                    time.sleep(poll)
        except psycopg.OperationalError:
            if time.monotonic() - started > timeout:
                break
            time.sleep(0.5)
            continue
        break
    raise TimeoutError(
        f"the replica has not applied main's position {target} after {timeout:.0f} s:\n"
        + "\n".join(status(settings).lines()))


def kafka_lines(settings: Settings) -> list[str]:
    """CDC_TRANSPORT=kafka: the connector's state; per topic partition its end, the applier group's
    committed offset, the lag in records and in seconds (age of the oldest record not committed)."""
    import re

    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from cdc_connectors.connect_worker import connector_state
    from cdc_connectors.kafka_consumer import EPOCH_TOPIC, GROUP_ID, TOPICS, partition_ends, reader, servers

    state = connector_state(settings.kafka_connect_url)
    lines = [f"transport         kafka: broker {settings.kafka_bootstrap_servers}, Kafka Connect "
             f"{settings.kafka_connect_url} (connector {state or 'not answering'})"]
    try:
        group = KafkaConsumer(bootstrap_servers=servers(settings), group_id=GROUP_ID, enable_auto_commit=False,
                              request_timeout_ms=10_000)
    except KafkaError as exc:
        return [*lines, f"broker            not reachable ({exc})"]
    ends_reader, oldest = reader(settings), KafkaConsumer(bootstrap_servers=servers(settings),
                                                           enable_auto_commit=False, consumer_timeout_ms=2_000)
    try:
        topics = group.topics()
        if EPOCH_TOPIC not in topics:
            lines.append(f"epoch topic       {EPOCH_TOPIC} MISSING: the broker lost its topics, or the applier "
                         "never started")
        partitions = [TopicPartition(topic, p) for topic in sorted(t for t in topics if re.match(TOPICS, t))
                      for p in sorted(group.partitions_for_topic(topic) or ())]
        ends = partition_ends(ends_reader, partitions) if partitions else {}
        lines.append(f"{'topic[partition]':48} {'end':>9} {'committed':>9} {'lag':>8} {'lag s':>8}")
        total = 0
        for tp in partitions:
            committed = group.committed(tp)
            lag = None if committed is None else max(ends[tp] - committed, 0)
            total += ends[tp] if lag is None else lag
            age = None
            if lag:
                oldest.assign([tp])
                oldest.seek(tp, committed)
                first = next(iter(oldest), None)
                age = None if first is None else max(time.time() - first.timestamp / 1000, 0.0)
            lines.append(f"{tp.topic + f'[{tp.partition}]':48} {ends[tp]:>9} "
                         f"{'-' if committed is None else committed:>9} {'-' if lag is None else lag:>8} "
                         f"{'-' if age is None else f'{age:.1f}':>8}")
        lines.append(f"{'records not applied':48} {'':>9} {'':>9} {total:>8}")
    finally:
        group.close(autocommit=False)
        ends_reader.close()
        oldest.close()
    return lines
