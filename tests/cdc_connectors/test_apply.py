"""The record -> replica translation without Debezium: decoding, conversions, all-or-nothing, idempotence,
whole main transactions and snapshots across batches, the Kafka variant's Kafka Connect configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdc_connectors.apply import BEGIN, END, Applier, ReplicationError, decode_change
from cdc_connectors.capture import capture_properties
from cdc_connectors.replicator import ApplyHandler, ResumedInsideTransaction
from warehouse.db import connect
from warehouse.roles import is_replicated
from warehouse.settings import Settings

from .helpers import checksums, execute

KAFKA_CONFIG = Path(__file__).resolve().parents[2] / "cdc_connectors" / "kafka_connect" / "postgres-source.json"


def record(table: str, op: str, after: dict | None = None, lsn: int = 100, snapshot: str = "false",
           schema: str = "public") -> str:
    """A value as Debezium's JSON converter writes it (schemas disabled)."""
    return json.dumps({
        "before": None, "after": after, "op": op, "ts_ms": 1795355087809, "transaction": None,
        "source": {"version": "3.6.3.Final", "connector": "postgresql", "name": "wrapped", "ts_ms": 1795355087739,
                   "snapshot": snapshot, "db": "main", "sequence": "[null,\"1\"]", "schema": schema,
                   "table": table, "txId": 736, "lsn": lsn, "xmin": None},
    })


def transaction(status: str, events: int = 2) -> str:
    """A record of the transaction topic (`provide.transaction.metadata`); an END counts the changes since BEGIN."""
    counts = [{"data_collection": "public.dim_user", "event_count": events}] if status == "END" else None
    return json.dumps({"status": status, "id": "736:24023128", "event_count": events if counts else None,
                       "data_collections": counts, "ts_ms": 1795355087809})


HEARTBEAT = '{"ts_ms":1795355083058}'
ARTIST = {"artist_id": "a1", "name": 'Quote " and \\ back\tslash', "genres": ["indie", 'say "hi"', None],
          "popularity": 7, "image_url": None, "is_surrogate": False}
STREAK = {"user_id": "u1", "period": "2024", "rank": 1, "artist_id": "a1", "days": 9,
          "streak_start": "2024-02-28Z", "streak_end": "2024-03-01Z",
          "computed_at": "2024-03-01T09:00:00.123456Z", "source_max_played_at": "2024-02-29T23:59:59Z"}
GENRE = {"user_id": "u1", "period": "all", "genre": "unknown", "rank": None, "streams": 3,
         "share": 0.1, "computed_at": "2024-03-01T09:00:00Z", "source_max_played_at": "2024-03-01T09:00:00Z"}


def test_records_decode_into_changes():
    change = decode_change(record("dim_artist", "c", ARTIST, lsn=42))
    assert (change.qualified, change.op, change.row, change.lsn, change.in_snapshot) == (
        "public.dim_artist", "c", ARTIST, 42, False)
    delete = decode_change(record("dim_artist", "d", None), lambda: '{"artist_id":"a1"}')
    assert (delete.op, delete.key, delete.row) == ("d", {"artist_id": "a1"}, None)
    assert decode_change(record("dim_artist", "t")).op == "t"
    assert decode_change(record("dim_artist", "r", ARTIST, snapshot="first")).snapshot_start
    assert not decode_change(record("dim_artist", "r", ARTIST, snapshot="last")).in_snapshot
    assert decode_change(record("heartbeat", "u", {"id": 1}, schema="cdc")).op == "h"
    assert decode_change('{"ts_ms":1795355083058}') is None  # Debezium's own heartbeat topic
    assert decode_change(transaction("BEGIN")) is BEGIN and decode_change(transaction("END")) is END
    with pytest.raises(ReplicationError, match="without a key"):
        decode_change(record("dim_artist", "d"), None)
    with pytest.raises(ReplicationError, match="malformed"):
        decode_change("{not json")


def test_only_published_tables_are_replicated():
    assert is_replicated("public.dim_user") and is_replicated("analytics.top_tracks")
    assert is_replicated("public.dim_album") and is_replicated("public.dim_album_track")
    assert is_replicated("public.dashboard_share_links")
    for name in ("public.fact_play", "etl.load_runs", "analytics_staging.top_tracks", "analytics_staging.scope",
                 "cdc.heartbeat", "public.dim_user_old"):
        assert not is_replicated(name), name


def test_a_batch_applies_exactly_and_again_changes_nothing(dbs):
    execute(dbs, """INSERT INTO dim_artist VALUES ('a1', 'Quote " and \\ back' || chr(9) || 'slash',
                                                   ARRAY['indie', 'say "hi"', NULL], 7, NULL, false)""",
            """INSERT INTO analytics.artist_streaks VALUES ('u1', '2024', 1, 'a1', 9, '2024-02-28', '2024-03-01',
                   '2024-03-01 09:00:00.123456+00', '2024-02-29 23:59:59+00')""",
            """INSERT INTO analytics.genre_distribution VALUES ('u1', 'all', 'unknown', NULL, 3, 0.1,
                   '2024-03-01 09:00:00+00', '2024-03-01 09:00:00+00')""")
    batch = [decode_change(record("dim_artist", "c", dict(ARTIST, name="first"), lsn=10)),
             decode_change(record("dim_artist", "c", {**ARTIST, "artist_id": "gone"}, lsn=11)),
             decode_change(record("dim_artist", "u", ARTIST, lsn=12)),  # same key again: the last wins
             decode_change(record("dim_artist", "d", lsn=13), '{"artist_id":"gone"}'),
             decode_change(record("artist_streaks", "c", STREAK, lsn=14, schema="analytics")),
             decode_change(record("genre_distribution", "c", GENRE, lsn=15, schema="analytics"))]
    tables = ["public.dim_artist", "analytics.artist_streaks", "analytics.genre_distribution"]
    applier = Applier(dbs.replica_database_url, "test_slot")
    try:
        first = applier.apply(batch)
        assert (first.upserted, first.deleted) == (3, 0)  # "gone" came and went within the batch
        assert checksums("replica", dbs, tables) == checksums("main", dbs, tables)
        applier.apply(batch)  # re-delivered after a crash
        assert checksums("replica", dbs, tables) == checksums("main", dbs, tables)
        applier.apply([decode_change(record("genre_distribution", "t", lsn=16, schema="analytics"))])
    finally:
        applier.close()
    with connect("replica", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.genre_distribution").fetchone() == (0,)
        assert conn.execute("SELECT lsn::text, changes FROM cdc.applied_position").fetchone() == ("0/10", 13)


def test_a_batch_with_an_unknown_table_applies_nothing(dbs):
    applier = Applier(dbs.replica_database_url, "test_slot")
    batch = [decode_change(record("dim_user", "c", {"user_id": "u1", "display_name": None, "timezone": "UTC"})),
             decode_change(record("not_in_replica", "c", {"id": 1}, schema="analytics"))]
    try:
        with pytest.raises(ReplicationError, match=r"analytics\.not_in_replica .*no such table in the replica"):
            applier.apply(batch)
    finally:
        applier.close()
    with connect("replica", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM dim_user").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM cdc.applied_position").fetchone() == (0,)


def test_kafka_connect_configuration_captures_like_the_embedded_engine():
    config = json.loads(KAFKA_CONFIG.read_text())["config"]
    embedded = capture_properties(Settings(_env_file=None, debezium_database_password="x"))
    shared = {key: value for key, value in embedded.items() if not key.startswith("database.")}
    assert {key: config.get(key) for key in shared} == shared
    assert config["database.user"] == embedded["database.user"] == "wrapped_debezium"
    assert config["key.converter"] == config["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"


def test_a_new_snapshot_replaces_what_the_replica_held(dbs):
    def state():
        with connect("replica", dbs) as conn:
            ids = [i for (i,) in conn.execute("SELECT artist_id FROM dim_artist ORDER BY 1")]
            return ids, conn.execute("SELECT snapshot_done FROM cdc.applied_position").fetchone()[0]

    applier = Applier(dbs.replica_database_url, "test_slot")
    try:
        applier.apply([decode_change(record("dim_artist", "c", {**ARTIST, "artist_id": "stale"}))])
        assert state() == (["stale"], True)
        applier.apply([decode_change(record("dim_artist", "r", ARTIST, snapshot="first"))])
        assert state() == (["a1"], False)  # `wait` does not count a snapshot in progress as caught up
        user = {"user_id": "u1", "display_name": None, "timezone": "UTC"}
        applier.apply([decode_change(record("dim_user", "r", user, snapshot="last"))])
        assert state() == (["a1"], True)
    finally:
        applier.close()


def replica_ids(settings, table: str, key: str) -> list[str]:
    with connect("replica", settings) as conn:
        return [i for (i,) in conn.execute(f"SELECT {key} FROM {table} ORDER BY 1")]


def user(user_id: str, snapshot: str = "false") -> str:
    return record("dim_user", "r" if snapshot != "false" else "c",
                  {"user_id": user_id, "display_name": None, "timezone": "UTC"}, snapshot=snapshot)


def test_a_main_transaction_is_committed_whole_across_batches(dbs):
    handler = ApplyHandler(Applier(dbs.replica_database_url, "test_slot"))
    try:
        # BEGIN, two changes and a heartbeat in between: nothing committed, nothing to mark processed
        assert handler.handle([transaction("BEGIN"), user("u1"), HEARTBEAT, user("u2")], None) == 0
        assert replica_ids(dbs, "dim_user", "user_id") == []
        # its END comes in the next batch with the next transaction's start: the first three records committed
        assert handler.handle([user("u3"), transaction("END", 3), transaction("BEGIN"), user("u4")], None) == 2
        assert replica_ids(dbs, "dim_user", "user_id") == ["u1", "u2", "u3"]
        assert handler.handle([transaction("END", 1), HEARTBEAT], None) == 2  # a heartbeat outside a transaction
        assert replica_ids(dbs, "dim_user", "user_id") == ["u1", "u2", "u3", "u4"]
    finally:
        handler.applier.close()


def test_a_snapshot_replaces_the_content_when_complete(dbs):
    applier = Applier(dbs.replica_database_url, "test_slot")
    handler = ApplyHandler(applier)
    try:
        applier.apply([decode_change(record("dim_artist", "c", {**ARTIST, "artist_id": "stale"}))])
        applier.start_over()  # what a fresh start does: the replica is not caught up any more
        with connect("replica", dbs) as conn:
            assert conn.execute("SELECT snapshot_done FROM cdc.applied_position").fetchone() == (False,)
        assert handler.handle([user("u1", "first"), user("u2", "true")], None) == 0
        assert handler.handle([HEARTBEAT, user("u3", "true")], None) == 0
        # readers still see the old content
        assert (replica_ids(dbs, "dim_artist", "artist_id"), replica_ids(dbs, "dim_user", "user_id")) == (
            ["stale"], [])
        assert handler.handle([user("u4", "last"), transaction("BEGIN"), user("u5")], None) == 1
        assert (replica_ids(dbs, "dim_artist", "artist_id"), replica_ids(dbs, "dim_user", "user_id")) == (
            [], ["u1", "u2", "u3", "u4"])
        with connect("replica", dbs) as conn:
            assert conn.execute("SELECT snapshot_done, changes FROM cdc.applied_position").fetchone() == (True, 4)
    finally:
        applier.close()


def test_a_snapshot_inserts_its_rows_into_the_tables_it_emptied_and_fails_whole(dbs):
    """A snapshot's rows go into tables its transaction emptied (plain INSERTs, sent without waiting):
    a key the replica held before comes back; a key twice fails the snapshot at the latest at its commit,
    and the old content stays."""
    applier = Applier(dbs.replica_database_url, "test_slot")
    handler = ApplyHandler(applier)
    try:
        applier.apply([decode_change(user("u1").replace('"UTC"', '"Europe/Paris"'))])
        applier.start_over()
        assert handler.handle([user("u1", "first"), user("u2", "true")], None) == 0
        assert handler.handle([user("u3", "last")], None) == 1
        with connect("replica", dbs) as conn:
            assert conn.execute("SELECT user_id, timezone FROM dim_user ORDER BY 1").fetchall() == [
                ("u1", "UTC"), ("u2", "UTC"), ("u3", "UTC")]
        applier.start_over()
        with pytest.raises(ReplicationError, match="duplicate key"):
            handler.handle([user("u4", "first"), user("u5", "true")], None)
            handler.handle([user("u4", "true"), user("u6", "last")], None)
        applier.rollback()
        assert replica_ids(dbs, "dim_user", "user_id") == ["u1", "u2", "u3"]
        applier.start_over()  # and the next snapshot applies
        assert handler.handle([user("u7", "first"), user("u8", "last")], None) == 2
        assert replica_ids(dbs, "dim_user", "user_id") == ["u7", "u8"]
    finally:
        applier.close()


def test_a_transaction_resumed_inside_is_refused_whole(dbs):
    """After a crash Debezium may resume inside a main transaction (its first changes dropped): the END's
    count says so, and nothing of it is committed."""
    handler = ApplyHandler(Applier(dbs.replica_database_url, "test_slot"))
    try:
        assert handler.handle([transaction("BEGIN"), user("u1")], None) == 0
        with pytest.raises(ResumedInsideTransaction, match="1 of its 2 changes"):
            handler.handle([transaction("END", 2)], None)
        handler.applier.rollback()
        with pytest.raises(ResumedInsideTransaction, match="0 of its 1 changes"):  # its BEGIN skipped too
            ApplyHandler(handler.applier).handle([user("u2"), transaction("END", 1)], None)
        handler.applier.rollback()
        assert replica_ids(dbs, "dim_user", "user_id") == []
    finally:
        handler.applier.close()
