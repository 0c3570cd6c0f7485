"""The Spark job against an independent computation of docs/metrics.md (tests/spark/reference.py).

For each data set (generated listening, and the real export in tests/fixtures),
source and main databases of its own are filled, loaded into the star schema and
analysed by ONE full Spark run; then every `analytics.<name>` table must hold
exactly the rows of the reference SQL: same keys, same values (floats within
1e-9), nothing missing, nothing extra.

The data sets get databases of their own (cloned from the session's migrated
templates, dropped afterwards) because the per-test `dbs` fixture empties its
databases for every test, and one Spark run serves all statistics of a data set.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from fake_spotify.generate import generate, write_to_source
from ingestion.export_loader import import_export
from pipeline import analytics
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from tests.conftest import FIXTURES, copy_database
from tests.spark_scripts.reference import QUERIES, reference_rows
from warehouse.catalog import STATISTICS
from warehouse.db import connect

pytestmark = pytest.mark.slow

REAL_EXPORT = FIXTURES / "Streaming_History_Audio_2023.json"
BOOKKEEPING = ("computed_at", "source_max_played_at")


def fill_generated(settings) -> None:
    with connect("source", settings) as source:
        write_to_source(source, generate(seed=11, users=3, days=200))


def fill_real_export(settings) -> None:
    # The export's listener was in India (conn_country IN): local dates differ from UTC.
    import_export([REAL_EXPORT], "exporter", settings, create_user=True, timezone="Asia/Kolkata")


def fill_edge_cases(settings) -> None:
    """Few plays on the document's edges: zones, DST, month/year edges, exact gap limits, ties."""
    with connect("source", settings) as conn:
        for user_id, zone in (("zoe", "America/New_York"), ("kai", "Asia/Kolkata"), ("solo", "UTC"),
                              ("eve", "Europe/Berlin"), ("ghost", "UTC")):
            add_user(conn, user_id, zone)
        # zoe, kai and ghost (no stream) allow comparison; solo and eve do not.
        conn.execute("UPDATE users SET compare_consent = true WHERE user_id IN ('zoe', 'kai', 'ghost')")
        conn.cursor().executemany("INSERT INTO artists (artist_id, name, genres) VALUES (%s, %s, %s)", [
            ("aArtist", "A", ["rock", "pop", "rock"]), ("BArtist", "B", []), ("cArtist", "C", None),
            ("dArtist", "D", ["pop", "jazz"])])
        # al1 holds 5 tracks on Spotify but 6 of its tracks are played; al2 is too short to count.
        for number, (duration, explicit, popularity) in enumerate(
                [(179_999, True, 100), (180_000, False, 0), (299_999, None, None), (300_000, True, 95),
                 (None, False, 50), (200_000, False, 9)], start=1):
            add_track(conn, f"t{number}", "aArtist", "al1", total_tracks=5, release_date="1999-05-01",
                      duration_ms=duration, explicit=explicit, popularity=popularity)
        for track_id, popularity in (("Tie", None), ("tie", 10)):  # equal streams and ms: id order decides
            add_track(conn, track_id, "BArtist", "al4", total_tracks=8, release_date="1987-03",
                      duration_ms=200_000, explicit=False, popularity=popularity)
        add_track(conn, "t9", "cArtist", "al2", total_tracks=4, release_date="2010", duration_ms=200_000,
                  popularity=55)
        add_track(conn, "t10", "dArtist", "al3", total_tracks=None, release_date=None)
        # One song across editions: t1 and the single s1 share an ISRC (s1's in lower case, with spaces); s2's is
        # malformed (unknown). zoe splits t1 off and merges t9 into s1; eve merges t10 into t9 (no ISRC).
        conn.execute("UPDATE tracks SET isrc = 'USABC2400001' WHERE track_id = 't1'")
        add_track(conn, "s1", "aArtist", "sg1", total_tracks=1, release_date="1998", duration_ms=200_000,
                  isrc=" usabc2400001 ")
        add_track(conn, "s2", "aArtist", "sg1", total_tracks=1, release_date="1998", isrc="bogus")
        conn.cursor().executemany(
            "INSERT INTO recording_rules (user_id, track_id, kind, into_track_id, created_by) "
            "VALUES (%s, %s, %s, %s, 'test')",
            [("zoe", "t1", "split", None), ("zoe", "t9", "merge", "s1"), ("eve", "t10", "merge", "t9")])
        plays = [
            # zoe, New York. Sessions on 2025-01-30: a gap of exactly 30 min stays in the session,
            # 30 min 1 s starts one; two plays ending at the same second (overlap: gap 0); gaps of
            # exactly 5 and 60 min; a 29.999 s export play (no stream) and a 15 s API play (stream).
            ("zoe", "t1", "2025-01-30T15:00:00Z", 200_000, "extended_export", False),
            ("zoe", "t2", "2025-01-30T15:33:20Z", 200_000, "extended_export", True),
            ("zoe", "t3", "2025-01-30T16:06:41Z", 200_000, "extended_export", None),
            ("zoe", "t4", "2025-01-30T16:06:41Z", 100_000, "extended_export", False),
            ("zoe", "t5", "2025-01-30T16:15:41Z", 240_000, "extended_export", False),
            ("zoe", "t6", "2025-01-30T17:16:11Z", 30_000, "extended_export", True),
            ("zoe", "t1", "2025-01-30T17:20:00Z", 29_999, "extended_export", True),
            ("zoe", "t2", "2025-01-30T17:25:00Z", 15_000, "api", None),
            # An aArtist streak across the month edge (01-30 .. 02-02), broken on 02-03, again 02-04..05.
            ("zoe", "t1", "2025-01-31T15:00:00Z", 200_000, "api", None),
            ("zoe", "t10", "2025-02-01T03:00:00Z", 200_000, "api", None),  # local 2025-01-31 22:00
            ("zoe", "t1", "2025-02-01T15:00:00Z", 200_000, "api", None),
            ("zoe", "Tie", "2025-02-01T16:00:00Z", 200_000, "api", None),
            ("zoe", "t1", "2025-02-02T15:00:00Z", 200_000, "api", None),
            ("zoe", "t9", "2025-02-03T15:00:00Z", 200_000, "api", None),
            ("zoe", "tie", "2025-02-03T16:00:00Z", 200_000, "api", None),
            ("zoe", "t2", "2025-02-04T15:00:00Z", 200_000, "api", None),
            ("zoe", "t2", "2025-02-05T15:00:00Z", 200_000, "api", None),
            # DST: 01:30 EST and 03:30 EDT on 2025-03-09; 01:30 EDT and 01:30 EST on 2025-11-02.
            ("zoe", "Tie", "2025-03-09T06:30:00Z", 200_000, "api", None),
            ("zoe", "tie", "2025-03-09T07:30:00Z", 200_000, "api", None),
            ("zoe", "Tie", "2025-11-02T05:30:00Z", 200_000, "api", None),
            ("zoe", "tie", "2025-11-02T06:30:00Z", 200_000, "api", None),
            # kai, Kolkata: UTC evening plays are the next local day (07-01); album al1 half, most, complete.
            ("kai", "t2", "2025-06-28T10:00:00Z", 200_000, "api", None),
            ("kai", "t3", "2025-06-29T10:00:00Z", 45_000, "extended_export", True),
            ("kai", "t1", "2025-06-29T10:05:00Z", 200_000, "api", None),
            ("kai", "t2", "2025-06-30T19:00:00Z", 200_000, "api", None),
            ("kai", "t1", "2025-06-30T20:00:00Z", 200_000, "api", None),
            ("kai", "t3", "2025-07-02T10:00:00Z", 200_000, "api", None),
            ("kai", "t4", "2025-07-02T10:04:00Z", 200_000, "api", None),
            ("kai", "t5", "2025-08-10T10:00:00Z", 200_000, "api", None),
            # kai: s1 as often and as long as t1 (one recording: the lower id s1 shows it), s2 alone.
            ("kai", "s1", "2025-07-03T10:00:00Z", 200_000, "api", None),
            ("kai", "s1", "2025-07-04T10:00:00Z", 200_000, "api", None),
            ("kai", "s2", "2025-07-04T10:05:00Z", 200_000, "api", None),
            ("zoe", "s1", "2025-02-04T16:00:00Z", 200_000, "api", None),
            # solo: one play. eve: her first session starts 2024-12-31 23:59 local, its only stream
            # ends in 2025 (the session belongs to 2024-12 and 2024, which have no stream).
            ("solo", "t9", "2025-05-05T12:00:00Z", 20_000, "api", None),
            ("eve", "t10", "2024-12-31T23:02:00Z", 180_000, "extended_export", False),
            ("eve", "t9", "2025-01-01T23:10:00Z", 200_000, "extended_export", False),
            # ghost: plays, but no stream at all.
            ("ghost", "t9", "2025-05-05T12:00:00Z", 10_000, "extended_export", True),
        ]
        for user_id, track_id, played_at, ms_played, source, skipped in plays:
            add_play(conn, user_id, track_id, played_at, ms_played, source, skipped)
        # Playlists (statistic 20): PlA holds t2 twice and a track never played; PlC was never fetched. Some API
        # plays were started from a playlist (PlB's in the older URI form), one from a playlist nobody follows.
        conn.execute("INSERT INTO playlists (playlist_id, name, snapshot_id, status, fetched_at) VALUES "
                     "('PlA', 'A', 's1', 'ok', now()), ('PlB', 'B', 's1', 'ok', now()), ('PlC', 'C', NULL, "
                     "'pending', NULL)")
        conn.execute("INSERT INTO playlist_items (playlist_id, position, track_id) VALUES ('PlA', 0, 't1'), "
                     "('PlA', 1, 't2'), ('PlA', 3, 'Tie'), ('PlA', 4, 't2'), ('PlA', 5, 'never'), ('PlB', 0, 's1'), "
                     "('PlB', 1, 't9'), ('PlC', 0, 't1')")
        conn.execute("INSERT INTO user_playlists (user_id, playlist_id) VALUES ('zoe', 'PlA'), ('zoe', 'PlB'), "
                     "('zoe', 'PlC'), ('kai', 'PlA'), ('solo', 'PlB')")
        for user_id, track_id, context in (
                ("zoe", "t1", "spotify:playlist:PlA"), ("zoe", "tie", "spotify:playlist:PlB"),
                ("zoe", "t2", "spotify:album:al1"), ("kai", "s1", "spotify:user:someone:playlist:PlB"),
                ("kai", "t1", "spotify:playlist:PlA"), ("kai", "t5", "spotify:playlist:PlZ")):
            conn.execute("UPDATE plays SET context_uri = %s WHERE user_id = %s AND track_id = %s AND source = 'api'",
                         (context, user_id, track_id))
        conn.execute(  # a podcast episode: kept in source, in no statistic
            "INSERT INTO plays (user_id, play_key, source, content_type, played_at, ms_played, episode_uri) "
            "VALUES ('eve', 'export:2025-01-02T10:00:00Z|spotify:episode:e1|900000', 'extended_export', "
            "'episode', '2025-01-02T10:00:00Z', 900000, 'spotify:episode:e1')")
        conn.commit()


DATASETS = {"generated": fill_generated, "real_export": fill_real_export, "edge_cases": fill_edge_cases}
# The real export is not enriched: no album has a known size or release date; its one listener has nobody to be
# compared with and follows no playlist.
EMPTY = {("real_export", "album_completion"), ("real_export", "release_years"), ("real_export", "taste_overlap"),
         ("real_export", "playlist_completion")}


def _database_url(url: str, dbname: str) -> str:
    return urlsplit(url)._replace(path=f"/{dbname}").geturl()


@pytest.fixture(scope="module", params=list(DATASETS))
def analysed(request, clusters, test_settings, spark):
    """(data set name, settings of source/main databases holding it, loaded and analysed by Spark)."""
    dataset = request.param
    urls, made = {}, []
    try:
        for cluster in clusters:
            if cluster.name not in ("source", "main"):
                continue
            dbname = f"{cluster.name}_reference_{dataset}"
            copy_database(cluster, test_settings.database_owner, dbname, f"{cluster.name}_template")
            made.append((cluster, dbname))
            url_field = f"{cluster.name}_database_url"
            urls[url_field] = _database_url(getattr(test_settings, url_field), dbname)
        settings = test_settings.model_copy(update=urls)
        DATASETS[dataset](settings)
        load_main(settings)
        analytics.run(settings, full=True, spark=spark)
        yield dataset, settings
    finally:
        for cluster, dbname in made:
            with psycopg.connect(cluster.admin_url(), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def published_shape(conn, name: str) -> tuple[list[str], list[str]]:
    """(columns without the bookkeeping ones, primary-key columns) of analytics.<name>."""
    columns = [c for (c,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
        "AND table_name = %s ORDER BY ordinal_position", (name,)) if c not in BOOKKEEPING]
    keys = [c for (c,) in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        (f"analytics.{name}",))]
    return columns, keys


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return a == b


def differences(columns: list[str], keys: list[str], expected: list[tuple], actual: list[tuple]) -> list[str]:
    """Human-readable differences between two row sets, matched on the key columns."""
    at = [columns.index(k) for k in keys]

    def index(rows, side):
        indexed = {}
        for row in rows:
            key = tuple(row[i] for i in at)
            assert key not in indexed, f"{side} has key {dict(zip(keys, key, strict=True))} twice"
            indexed[key] = row
        return indexed

    want, got = index(expected, "reference"), index(actual, "Spark")
    found = []
    for key in sorted(want.keys() - got.keys(), key=repr):
        found.append(f"missing in Spark: {dict(zip(columns, want[key], strict=True))}")
    for key in sorted(got.keys() - want.keys(), key=repr):
        found.append(f"extra in Spark: {dict(zip(columns, got[key], strict=True))}")
    for key in sorted(want.keys() & got.keys(), key=repr):
        changed = {c: (w, g) for c, w, g in zip(columns, want[key], got[key], strict=True) if not _same(w, g)}
        if changed:
            found.append(f"{dict(zip(keys, key, strict=True))}: (reference, Spark) = {changed}")
    return found


def test_reference_covers_every_statistic():
    assert sorted(QUERIES) == sorted(STATISTICS)


def test_data_set_was_analysed(analysed):
    with connect("main", analysed[1]) as main:
        plays, users = main.execute(
            "SELECT count(*), count(DISTINCT user_id) FROM fact_play WHERE is_stream").fetchone()
        periods = main.execute("SELECT count(*) FROM analytics.overview").fetchone()[0]
    assert plays > 30 and users >= 1
    assert periods > 3  # 'all', years and months of every user


@pytest.mark.parametrize("name", STATISTICS)
def test_statistic_agrees_with_reference(analysed, name):
    dataset, settings = analysed
    with connect("main", settings) as main:
        columns, keys = published_shape(main, name)
        reference_columns, expected = reference_rows(main, name, settings)
        actual = main.execute(sql.SQL("SELECT {} FROM analytics.{}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(name))).fetchall()
    assert reference_columns == columns
    assert bool(expected) == ((dataset, name) not in EMPTY), f"{len(expected)} reference rows"
    found = differences(columns, keys, expected, actual)
    assert not found, (f"{name}: {len(found)} differences ({len(expected)} reference rows, "
                       f"{len(actual)} Spark rows), first ones:\n" + "\n".join(found[:15]))


def test_the_benchmark_duckdb_reference_agrees(analysed):
    """bench/duckdb_reference.py, which `make bench` times beside Spark, computes the same statistics."""
    import duckdb

    from bench import duckdb_reference

    with connect("main", analysed[1]) as main:
        duck = duckdb.connect()
        duckdb_reference.load(duck, main)
        counts = duckdb_reference.compute(duck, analysed[1].album_min_tracks, analysed[1].session_gap_minutes)
        differ = duckdb_reference.differences(duck, main)
    assert sum(counts.values()) > 0
    assert {name: n for name, n in differ.items() if n} == {}
