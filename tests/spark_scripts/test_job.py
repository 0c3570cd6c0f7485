"""The analytics job end to end on real Postgres (staged, gated and published by pipeline.analytics.run):
publication, incremental runs, failures."""

import dataclasses
import random
from datetime import timedelta

import pytest

from fake_spotify.generate import generate, write_to_source
from pipeline import analytics
from spark_scripts import publish
from star_schema.load import load_main
from warehouse.catalog import STATISTICS
from warehouse.db import connect


def snapshot(settings, with_freshness=False):
    """md5 of each published table's ordered rows (freshness columns left out unless asked)."""
    result = {}
    with connect("main", settings) as conn:
        for table in STATISTICS:
            columns = [c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
                "AND table_name = %s ORDER BY ordinal_position", (table,))]
            if not with_freshness:
                columns = [c for c in columns if c not in publish.FRESHNESS]
            row = ", ".join(columns)
            result[table] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(({row})::text, '|' ORDER BY ({row})::text), '')) "
                f"FROM analytics.{table}").fetchone()
    return result


def ingest(settings, listening):
    with connect("source", settings) as conn:
        write_to_source(conn, listening)
    load_main(settings)


@pytest.fixture(scope="module")
def listening():
    return generate(seed=11, users=3, days=75)


@pytest.fixture
def analysed(dbs, spark, listening, saved_databases):
    """Main holding all the listening, published by a first (full) run: built once, then copied for each test."""
    def build():
        ingest(dbs, listening)
        assert analytics.run(dbs, spark=spark).mode == "full"

    saved_databases.restore_or_build("job_analysed", build)
    return dbs


def split(listening, held_back):
    """The listening without the `held_back` plays (which arrive later)."""
    held = {id(p) for p in held_back}
    return dataclasses.replace(listening, plays=[p for p in listening.plays if id(p) not in held])


def test_incremental_runs_equal_a_full_rebuild(dbs, spark, listening):
    cutoff = max(p.played_at for p in listening.plays) - timedelta(days=10)
    rng = random.Random(1)
    late = [p for p in listening.plays if p.played_at > cutoff]
    backfill = [p for p in listening.plays if p.played_at <= cutoff and rng.random() < 0.01]
    ingest(dbs, split(listening, late + backfill))
    first = analytics.run(dbs, spark=spark)
    assert (first.mode, first.users) == ("full", None) and first.counts.inserted > 0

    # Only new plays of the last days: the run recomputes only the months they touch.
    ingest(dbs, split(listening, backfill))
    recent = analytics.run(dbs, spark=spark)
    assert (recent.mode, recent.users) == ("incremental", len({p.user_id for p in late}))
    assert 0 < recent.scopes < first.scopes

    # Old plays arriving late (an import): later months change too, and still match a rebuild.
    ingest(dbs, listening)
    assert analytics.run(dbs, spark=spark).mode == "incremental"
    incremental = snapshot(dbs)
    rebuilt = analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs) == incremental
    assert (rebuilt.counts.inserted, rebuilt.counts.updated, rebuilt.counts.deleted) == (0, 0, 0)


def test_nothing_new_means_nothing_touched(analysed, spark):
    dbs = analysed
    before = snapshot(dbs, with_freshness=True)
    again = analytics.run(dbs, spark=spark)
    assert (again.mode, again.scopes) == ("incremental", 0)
    analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs, with_freshness=True) == before  # unchanged rows untouched, freshness included


def test_a_changed_playlist_recomputes_its_followers_alone_as_a_rebuild_would(analysed, spark, listening):
    dbs = analysed
    before = snapshot(dbs)
    first, _, third = (u.user_id for u in listening.users)
    with connect("source", dbs) as conn:
        # The first listener's own playlist loses its 10 first entries (a new snapshot); the third unfollows the
        # shared one; the second's playlists do not change.
        own, shared = (conn.execute("SELECT playlist_id FROM playlists WHERE owner_id = %s AND name LIKE %s",
                                    (first, pattern)).fetchone()[0] for pattern in ("%Favourites", "Generated%"))
        conn.execute("DELETE FROM playlist_items WHERE playlist_id = %s AND position < 10", (own,))
        conn.execute("UPDATE playlists SET snapshot_id = 'smaller' WHERE playlist_id = %s", (own,))
        conn.execute("DELETE FROM user_playlists WHERE user_id = %s AND playlist_id = %s", (third, shared))
    load_main(dbs)
    changed = analytics.run(dbs, spark=spark)
    assert (changed.mode, changed.users) == ("incremental", 2)  # the first and third listeners, every period
    incremental = snapshot(dbs)
    assert incremental["playlist_completion"] != before["playlist_completion"]
    assert {k: v for k, v in incremental.items() if k != "playlist_completion"} == {
        k: v for k, v in before.items() if k != "playlist_completion"}
    rebuilt = analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs) == incremental
    assert (rebuilt.counts.inserted, rebuilt.counts.updated, rebuilt.counts.deleted) == (0, 0, 0)


def test_a_publication_failing_halfway_leaves_the_published_tables_as_they_were(dbs, spark, listening, monkeypatch):
    ingest(dbs, split(listening, listening.plays[-500:]))
    analytics.run(dbs, spark=spark)
    before = snapshot(dbs, with_freshness=True)
    published_runs = "SELECT count(*) FROM etl.analytics_runs WHERE status = 'published'"
    with connect("main", dbs) as conn:
        runs = conn.execute(published_runs).fetchone()
    ingest(dbs, listening)

    real = publish.publish_table
    published = []

    def failing(conn, table):
        if len(published) == len(STATISTICS) // 2:
            raise RuntimeError("disk full")
        published.append(table)
        return real(conn, table)

    monkeypatch.setattr(publish, "publish_table", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        analytics.run(dbs, spark=spark)
    assert len(published) == len(STATISTICS) // 2
    assert snapshot(dbs, with_freshness=True) == before
    with connect("main", dbs) as conn:
        assert conn.execute(published_runs).fetchone() == runs
    monkeypatch.setattr(publish, "publish_table", real)
    assert analytics.run(dbs, spark=spark).mode == "incremental"
    assert snapshot(dbs, with_freshness=True) != before


def test_fixed_size_tables_hold_every_row_on_generated_data(analysed):
    dbs = analysed
    with connect("main", dbs) as conn:
        pairs = conn.execute("SELECT count(*) FROM analytics.overview").fetchone()[0]
        for table, size in [("hour_of_day", 24), ("day_of_week", 7), ("listening_clock", 168),
                            ("popularity_distribution", 11), ("duration_preference", 4), ("play_gaps", 3),
                            ("explicit_preference", 3)]:
            assert conn.execute(f"SELECT count(*) FROM analytics.{table}").fetchone()[0] == size * pairs, table
        streams = conn.execute("SELECT sum(streams) FROM analytics.overview WHERE period = 'all'").fetchone()[0]
        facts = conn.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()[0]
    assert streams == facts
