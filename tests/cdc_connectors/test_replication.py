"""Real Debezium replicating the test session's main into its replica."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from fake_spotify.generate import generate, write_to_source
from operations import stack, supervisor
from spark_scripts.publish import publish
from star_schema.load import load_main
from warehouse.db import connect, connect_owner
from warehouse.roles import grant

from .helpers import assert_replica_equal, execute

pytestmark = pytest.mark.slow
PUBLISHED = ("top_tracks", "artist_streaks", "genre_distribution")


def load_listening(settings) -> None:
    """Real dimensions and plays in main (source -> main load of generated listening)."""
    with connect("source", settings) as conn:
        write_to_source(conn, generate(seed=5, users=2, days=20))
    load_main(settings)


def publish_statistics(settings, version: int) -> None:
    """Stage some statistics and publish them like the analytics job: delete + upsert in one transaction."""
    with psycopg.connect(settings.main_database_url) as conn:
        conn.execute("TRUNCATE analytics_staging.scope, analytics_staging.top_tracks, "
                     "analytics_staging.artist_streaks, analytics_staging.genre_distribution")
        periods = ["all", "2024"] if version == 1 else ["all", "2024-03"]
        conn.execute("INSERT INTO analytics_staging.scope SELECT user_id, p FROM dim_user, unnest(%s::text[]) p",
                     (periods,))
        conn.execute(
            """INSERT INTO analytics_staging.top_tracks
               SELECT s.user_id, s.period, g, 'track-' || (g * %(v)s), g * 7, g * 1000 + %(v)s, now(), now()
               FROM analytics_staging.scope s, generate_series(1, 12 - 4 * %(v)s) g""", {"v": version})
        conn.execute(
            """INSERT INTO analytics_staging.artist_streaks
               SELECT s.user_id, s.period, g, 'artist-' || g, g + %(v)s,
                      date '2024-02-27' + g, date '2024-02-27' + g * %(v)s + 3, now(), now()
               FROM analytics_staging.scope s, generate_series(1, 5) g""", {"v": version})
        conn.execute(
            """INSERT INTO analytics_staging.genre_distribution
               SELECT s.user_id, s.period, CASE WHEN g = 4 THEN 'unknown' ELSE 'genre ' || g END,
                      CASE WHEN g = 4 THEN NULL ELSE g END, g * %(v)s, g / 7.0 / %(v)s, now(), now()
               FROM analytics_staging.scope s, generate_series(1, 4) g""", {"v": version})
        publish(conn, tables=PUBLISHED)


def change_everything(settings) -> None:
    """Inserts, updates, deletes, a key update, a TRUNCATE, then a publication, each its own transaction."""
    execute(settings,
            "INSERT INTO dim_artist VALUES ('new-1', 'New', ARRAY['indie', 'post rock', NULL], 3, NULL, true)",
            "UPDATE dim_track SET popularity = coalesce(popularity, 0) + 1, explicit = NOT coalesce(explicit, false)"
            " WHERE track_id IN (SELECT track_id FROM dim_track ORDER BY track_id LIMIT 40)",
            "DELETE FROM dim_album WHERE album_id IN (SELECT album_id FROM dim_album ORDER BY album_id LIMIT 5)",
            "UPDATE dim_user SET timezone = 'Asia/Tokyo', display_name = 'Ünïcode ☃'",
            "UPDATE dim_artist SET artist_id = 'renamed' WHERE artist_id = 'new-1'",  # key change
            "UPDATE dashboard_share_links SET revoked_at = now(), expires_at = now() + interval '7 days'")
    execute(settings, "TRUNCATE analytics.genre_distribution")
    execute(settings,
            "INSERT INTO analytics.genre_distribution VALUES ('u9', 'all', 'jazz', 1, 5, 0.1, now(), now())")
    publish_statistics(settings, version=2)  # deletes, updates and inserts in one transaction


def test_snapshot_then_changes_then_a_publication_are_replicated_exactly(cdc, replicator):
    load_listening(cdc)
    publish_statistics(cdc, version=1)
    execute(cdc, "INSERT INTO dashboard_share_links (token_hash, user_id) VALUES (repeat('a', 64), 'u1')")
    replicator.start()
    replicator.wait_caught_up()
    snapshot = assert_replica_equal(cdc)
    assert snapshot["public.dim_track"][0] > 100 and snapshot["analytics.top_tracks"][0] > 0
    assert snapshot["public.dashboard_share_links"][0] == 1

    change_everything(cdc)
    replicator.wait_caught_up()
    changed = assert_replica_equal(cdc)
    assert changed["analytics.top_tracks"] != snapshot["analytics.top_tracks"]
    with connect("replica", cdc) as conn:
        assert conn.execute("SELECT genres FROM dim_artist WHERE artist_id = 'renamed'").fetchone() == (
            ["indie", "post rock", None],)
        assert conn.execute("SELECT count(*) FROM dim_artist WHERE artist_id = 'new-1'").fetchone() == (0,)

    execute(cdc, "TRUNCATE dim_track, dim_album")  # one statement, two tables
    replicator.wait_caught_up()
    assert assert_replica_equal(cdc)["public.dim_track"] == (0, "")


class Writer(threading.Thread):
    """A steady stream of small transactions in main: inserts, updates, deletes, now and then a truncate."""

    def __init__(self, settings):
        super().__init__(daemon=True)
        self.settings, self.stop, self.transactions, self.error = settings, threading.Event(), 0, None

    def run(self) -> None:
        try:
            with psycopg.connect(self.settings.main_database_url) as conn:
                i = 0
                while not self.stop.is_set():
                    i += 1
                    conn.execute("INSERT INTO dim_user VALUES (%s, %s, 'UTC')", (f"w{i}", f"writer {i}"))
                    conn.execute("UPDATE dim_user SET display_name = display_name || '+' WHERE user_id = %s",
                                 (f"w{i // 2}",))
                    conn.execute("DELETE FROM dim_user WHERE user_id = %s", (f"w{i - 7}",))
                    conn.execute("UPDATE dim_track SET popularity = %s WHERE track_id = %s", (i % 100, f"t{i % 500}"))
                    if i % 150 == 0:
                        conn.execute("TRUNCATE analytics.session_summary")
                    conn.execute(
                        "INSERT INTO analytics.session_summary VALUES (%s, 'all', %s, %s, 1, 1.5, now(), now())"
                        " ON CONFLICT (user_id, period) DO UPDATE SET sessions = EXCLUDED.sessions",
                        (f"u{i % 40}", i, i / 3))
                    conn.commit()
                    self.transactions += 1
                    time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def replica_count(settings, table: str) -> int:
    with connect("replica", settings) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def snapshot_done(settings) -> bool:
    with connect("replica", settings) as conn:
        row = conn.execute("SELECT snapshot_done FROM cdc.applied_position").fetchone()
    return bool(row and row[0])


def latest_write(settings) -> int:
    """The Writer's latest transaction the replica holds (its newest user; their number stays at 7)."""
    with connect("replica", settings) as conn:
        return conn.execute("SELECT coalesce(max(substr(user_id, 2)::int), 0) FROM dim_user").fetchone()[0]


def snapshot_writing(settings) -> bool:
    """The snapshot's transaction, not committed yet, has written some of dim_track's rows in the replica."""
    with connect("replica", settings) as conn:
        return conn.execute("SELECT pg_relation_size('dim_track')").fetchone()[0] > 1_000_000


def test_sigkill_during_snapshot_and_stream_then_restart_converges_exactly(cdc, replicator):
    rows = 60000
    execute(cdc, f"""INSERT INTO dim_track (track_id, name, artist_ids, is_surrogate)
                     SELECT 't' || g, 'Track ' || g, ARRAY['a' || g % 50], false FROM generate_series(1, {rows}) g""")
    replicator.start()
    deadline = time.monotonic() + 150
    while not snapshot_writing(cdc):  # kill in the middle of the snapshot
        assert time.monotonic() < deadline and replicator.process.poll() is None, replicator.output()
        time.sleep(0.02)
    assert replica_count(cdc, "dim_track") == 0  # a snapshot in progress is not visible
    assert replicator.kill() == -signal.SIGKILL
    writer = Writer(cdc)
    writer.start()
    try:
        for _ in range(2):  # restart; kill again once changes are streaming in
            replicator.start()
            while not snapshot_done(cdc):
                assert time.monotonic() < deadline and replicator.process.poll() is None, replicator.output()
                time.sleep(0.1)
            applied = latest_write(cdc)
            while latest_write(cdc) == applied:
                assert time.monotonic() < deadline and replicator.process.poll() is None, replicator.output()
                time.sleep(0.1)
            time.sleep(0.5)
            assert replicator.kill() == -signal.SIGKILL
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None and writer.transactions > 100
    replicator.start()
    replicator.wait_caught_up()
    result = assert_replica_equal(cdc)
    assert result["public.dim_track"][0] == rows and result["public.dim_user"][0] > 0
    assert replicator.output().count("fresh start") == 2  # the cut snapshot started over, then it resumed


def test_replica_down_during_changes_the_replicator_retries_and_converges(cdc, replicator, clusters):
    execute(cdc, "INSERT INTO dim_user VALUES ('before', 'Before', 'UTC')")
    replicator.start()
    replicator.wait_caught_up()
    replica = next(cluster for cluster in clusters if cluster.name == "replica")
    try:
        replica.stop()
        for i in range(30):
            execute(cdc, f"INSERT INTO dim_user VALUES ('during-{i}', 'During', 'UTC')",
                    "UPDATE dim_user SET display_name = 'changed' WHERE user_id = 'before'")
        time.sleep(3)  # the replicator keeps retrying meanwhile
        assert replicator.process.poll() is None, replicator.output()
    finally:
        replica.start()
    replicator.wait_caught_up()
    assert assert_replica_equal(cdc)["public.dim_user"][0] == 31
    assert "replica unavailable" in replicator.output()


def test_a_table_missing_in_the_replica_stops_the_replicator_with_a_clear_error(cdc, replicator):
    with connect_owner("main", cdc) as owner:  # a migration of main only: the table is published
        owner.execute("CREATE TABLE analytics.not_in_replica (id integer PRIMARY KEY)")
        grant(owner, "main", cdc)
    execute(cdc, "INSERT INTO analytics.not_in_replica VALUES (1)",
            "INSERT INTO dim_user VALUES ('u1', 'One', 'UTC')")
    replicator.start()
    assert replicator.exit_code() == 1
    assert "analytics.not_in_replica" in replicator.output()
    assert "no such table in the replica" in replicator.output()


def test_background_start_status_stop_then_a_missing_slot_is_refused(cdc, replicator):
    """The supervisor program debezium, started and stopped through operations."""
    execute(cdc, "INSERT INTO dim_user VALUES ('u1', 'One', 'UTC')")
    assert stack.start(cdc, "debezium").startswith("debezium started (pid")
    try:
        assert stack.start(cdc, "debezium").startswith("debezium already running")
        replicator.wait_caught_up()  # the snapshot: the stream may not hold the slot yet (CI saw it not connected)
        execute(cdc, "INSERT INTO dim_user VALUES ('u3', 'Three', 'UTC')")
        replicator.wait_caught_up()  # a change after the snapshot arrives through the stream alone
        shown = subprocess.run([sys.executable, "-m", "cdc_connectors", "status"], capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "(exists, connected)" in shown.stdout and "initial snapshot  complete" in shown.stdout
    finally:
        stopped = stack.stop(cdc, "debezium")
        supervisor.shutdown(cdc)
    assert stopped.startswith("debezium stopped (pid")
    assert "replicator failed" not in supervisor.log_file(cdc, "debezium").read_text()  # SIGTERM: a clean stop
    with psycopg.connect(cdc.replication_url, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (cdc.debezium_slot_name,))
    execute(cdc, "INSERT INTO dim_user VALUES ('u2', 'Two', 'UTC')")
    replicator.start()
    assert replicator.exit_code() == 2
    assert f"replication slot '{cdc.debezium_slot_name}' is missing on main" in replicator.output()
    assert replica_count(cdc, "dim_user") == 2


class Poller(threading.Thread):
    """Reads the replica over and over, each time one statement (one snapshot), and keeps what it saw:
    its last read begins after `finish()` was called."""

    def __init__(self, settings, query: str):
        super().__init__(daemon=True)
        self.settings, self.query, self.stop, self.error = settings, query, threading.Event(), None
        self.seen: list[tuple] = []

    def run(self) -> None:
        try:
            with connect("replica", self.settings, autocommit=True) as conn:
                while True:
                    stopping = self.stop.is_set()
                    self.seen.append(conn.execute(self.query).fetchone())
                    if stopping:
                        break
                    time.sleep(0.005)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def finish(self) -> list[tuple]:
        self.stop.set()
        self.join()
        assert self.error is None, self.error
        return self.seen


BIG = 12000  # rows per table: a publication of 3 x 12,000 changes spans several batches of max.batch.size 8192


def writing_a_long_transaction(settings) -> bool:
    """A replica session has had a transaction with writes open for a while (the replicator, mid-publication)."""
    with connect("replica", settings, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_xid IS NOT NULL AND xact_start < clock_timestamp() - interval '0.3 s'").fetchone()[0]


def test_a_reader_never_sees_part_of_a_large_publication_even_across_a_kill(cdc, replicator):
    execute(cdc, f"""INSERT INTO dim_track (track_id, name, artist_ids, popularity, is_surrogate)
                     SELECT 't' || g, 'Track ' || g, ARRAY['a1'], 1, false FROM generate_series(1, {BIG}) g""",
            f"""INSERT INTO analytics.top_tracks SELECT 'u' || g % 100, 'all', g, 't' || g, 1, 1, now(), now()
                FROM generate_series(1, {BIG}) g""")
    replicator.start()
    replicator.wait_caught_up()
    state = ("SELECT (SELECT count(*) FROM dim_track), (SELECT sum(popularity) FROM dim_track),"
             " (SELECT count(*) FROM analytics.top_tracks), (SELECT sum(streams) FROM analytics.top_tracks)")
    before = (BIG, BIG, BIG, BIG)
    poller = Poller(cdc, state)
    poller.start()
    # One main transaction: 12,000 updates, 12,000 deletes, 12,000 inserts in two tables.
    execute(cdc, "UPDATE dim_track SET popularity = 2",
            "DELETE FROM analytics.top_tracks",
            f"""INSERT INTO analytics.top_tracks SELECT 'u' || g % 100, 'all', g, 't' || g, 3, 1, now(), now()
                FROM generate_series(1, {BIG}) g""")
    deadline = time.monotonic() + 60
    while not writing_a_long_transaction(cdc):  # the publication is being written into the replica
        assert time.monotonic() < deadline and replicator.process.poll() is None, replicator.output()
        time.sleep(0.02)
    assert replicator.kill() == -signal.SIGKILL  # its replica transaction is rolled back: replayed from BEGIN
    replicator.start()
    replicator.wait_caught_up()
    seen = poller.finish()
    after = (BIG, 2 * BIG, BIG, 3 * BIG)
    assert seen[0] == before and seen[-1] == after and len(seen) > 20
    assert set(seen) <= {before, after}, sorted(set(seen) - {before, after})[:5]
    assert_replica_equal(cdc)
    assert "resuming from stored offsets" in replicator.output()


def test_a_re_snapshot_never_lowers_the_replicas_counts(cdc, replicator):
    load_listening(cdc)
    publish_statistics(cdc, version=1)
    execute(cdc, """INSERT INTO dim_track (track_id, name, artist_ids, is_surrogate)
                    SELECT 'bulk' || g, 'Track ' || g, ARRAY['a1'], false FROM generate_series(1, 40000) g""")
    replicator.start()
    replicator.wait_caught_up()
    tables = [name for name in assert_replica_equal(cdc)]
    replicator.stop()
    subprocess.run([sys.executable, "-m", "cdc_connectors", "reset"], check=True, timeout=60)
    # Changed while nothing replicates: the new snapshot must bring these, never fewer rows.
    execute(cdc, "UPDATE dim_track SET popularity = 77 WHERE track_id LIKE 'bulk1%'",
            "INSERT INTO dim_artist VALUES ('late', 'Late', NULL, 1, NULL, false)")
    counts = "SELECT " + ", ".join(f"(SELECT count(*) FROM {name})" for name in tables)
    before = Poller(cdc, counts)
    before.start()
    time.sleep(0.2)
    floor = before.finish()[-1]
    poller = Poller(cdc, counts)
    poller.start()
    replicator.start()
    replicator.wait_caught_up()
    seen = poller.finish()
    dropped = [(name, low, count) for counts_seen in seen
               for name, low, count in zip(tables, floor, counts_seen, strict=True) if count < low]
    assert not dropped, dropped[:5]
    assert len(seen) > 20
    assert "fresh start" in replicator.output()
    assert_replica_equal(cdc)
