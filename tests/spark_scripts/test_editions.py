"""One song across editions (docs/metrics.md, "One song across editions"): tracks sharing an ISRC count as
one recording, shown by its most streamed edition; a user's split and merge rules change that for them alone;
incremental runs equal full ones as rules come and go and as an ISRC changes."""

from __future__ import annotations

import pytest

from ingestion.__main__ import main as ingestion_main
from ingestion.editions import add_recording_rule, remove_recording_rule
from ingestion.exclusions import RuleError
from pipeline import analytics
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from tests.spark_scripts.test_job import snapshot
from warehouse.db import connect

ISRC = "GBAYE6700012"
# ann: the single s1 twice, its album edition a1 three times (same ISRC), b1 once (no ISRC); bob: s1 and a1 once.
PLAYS = [("ann", "s1", "2024-03-01T10:00:00Z"), ("ann", "a1", "2024-03-02T10:00:00Z"),
         ("ann", "s1", "2024-03-03T10:00:00Z"), ("ann", "a1", "2024-03-04T10:00:00Z"),
         ("ann", "b1", "2024-03-05T10:00:00Z"), ("ann", "a1", "2024-04-01T10:00:00Z"),
         ("bob", "s1", "2024-03-01T12:00:00Z"), ("bob", "a1", "2024-03-02T12:00:00Z")]


@pytest.fixture
def source(dbs):
    with connect("source", dbs) as conn:
        add_user(conn, "ann")
        add_user(conn, "bob")
        add_track(conn, "s1", "ar1", "single", total_tracks=1, isrc=ISRC.lower())
        add_track(conn, "a1", "ar1", "album", total_tracks=12, isrc=ISRC)
        add_track(conn, "b1", "ar1", "album", total_tracks=12)
        for user_id, track_id, played_at in PLAYS:
            add_play(conn, user_id, track_id, played_at)
    return dbs


def refresh(settings, spark, mode: str) -> dict:
    """Load and analyse; check the run's mode and that a full rebuild gives the same tables as an incremental
    run; the snapshot."""
    load_main(settings)
    assert analytics.run(settings, spark=spark).mode == mode
    found = snapshot(settings)
    if mode == "incremental":
        analytics.run(settings, full=True, spark=spark)
        assert snapshot(settings) == found
    return found


def tracks(settings, user_id: str, period: str = "all") -> list[tuple]:
    with connect("main", settings) as conn:
        ranking = conn.execute(
            "SELECT rank, track_id, streams, recording_id, editions, album_id FROM analytics.track_ranking "
            "WHERE user_id = %s AND period = %s ORDER BY rank", (user_id, period)).fetchall()
        top = conn.execute("SELECT rank, track_id, streams FROM analytics.top_tracks WHERE user_id = %s "
                           "AND period = %s ORDER BY rank", (user_id, period)).fetchall()
        (distinct, new) = conn.execute("SELECT distinct_tracks, new_tracks FROM analytics.overview "
                                       "WHERE user_id = %s AND period = %s", (user_id, period)).fetchone()
    assert top == [row[:3] for row in ranking]
    assert distinct == new == len(ranking)  # every recording is new in 'all'
    return ranking


def rule(settings, *args) -> int:
    with connect("source", settings) as conn:
        return add_recording_rule(conn, "ann", *args)


def test_editions_count_as_one_song_until_split_or_merged(source, spark):
    load_main(source)
    analytics.run(source, full=True, spark=spark)
    isrc = f"isrc:{ISRC}"
    assert tracks(source, "ann") == [(1, "a1", 5, isrc, ["a1", "s1"], "album"), (2, "b1", 1, "b1", ["b1"], "album")]
    # March alone: s1 and a1 twice each, as long: the lower id shows the song.
    assert tracks(source, "ann", "2024-03")[0] == (1, "a1", 4, isrc, ["a1", "s1"], "album")
    assert tracks(source, "bob") == [(1, "a1", 2, isrc, ["a1", "s1"], "album")]
    with connect("main", source) as conn:
        # The album statistics keep the edition played: the single's album has its own row.
        assert conn.execute("SELECT album_id, streams FROM analytics.album_ranking WHERE user_id = 'ann' "
                            "AND period = 'all' ORDER BY rank").fetchall() == [("album", 4), ("single", 2)]
    together = snapshot(source)

    # ann splits the single off: three songs for her, bob's unchanged.
    split = rule(source, "split", "s1", "test")
    assert tracks(source, "ann") == [(1, "a1", 5, isrc, ["a1", "s1"], "album"), (2, "b1", 1, "b1", ["b1"], "album")]
    refresh(source, spark, "incremental")
    assert tracks(source, "ann") == [(1, "a1", 3, isrc, ["a1"], "album"), (2, "s1", 2, "s1", ["s1"], "single"),
                                     (3, "b1", 1, "b1", ["b1"], "album")]
    assert tracks(source, "bob") == [(1, "a1", 2, isrc, ["a1", "s1"], "album")]

    # The split removed, b1 merged into s1: one song of three editions.
    with connect("source", source) as conn:
        assert remove_recording_rule(conn, "ann", split)
    merged = rule(source, "merge", "b1", "test", "s1")
    refresh(source, spark, "incremental")
    assert tracks(source, "ann") == [(1, "a1", 6, isrc, ["a1", "s1", "b1"], "album")]
    with connect("source", source) as conn:
        assert remove_recording_rule(conn, "ann", merged)
    assert refresh(source, spark, "incremental") == together

    # Enrichment no longer knows a1's ISRC: the editions part for everyone.
    with connect("source", source) as conn:
        conn.execute("UPDATE tracks SET isrc = NULL WHERE track_id = 'a1'")
    refresh(source, spark, "full")
    assert tracks(source, "bob") == [(1, "a1", 1, "a1", ["a1"], "album"), (2, "s1", 1, isrc, ["s1"], "single")]


def test_rules_are_checked(source, capsys):
    with pytest.raises(RuleError, match="'zz' is not one of the tracks we know"):
        rule(source, "split", "zz", "test")
    with pytest.raises(RuleError, match="is the track itself"):
        rule(source, "merge", "s1", "test", "s1")
    with pytest.raises(RuleError, match="a split names one track only"):
        rule(source, "split", "s1", "test", "a1")
    with pytest.raises(RuleError, match="kind 'join' is not one of split, merge"):
        rule(source, "join", "s1", "test")
    first = rule(source, "merge", "b1", "test", "s1")
    with pytest.raises(RuleError, match="'b1' is itself merged into 's1': merge into that one"):
        rule(source, "merge", "a1", "test", "b1")
    with pytest.raises(RuleError, match="'s1' has tracks merged into it"):
        rule(source, "merge", "s1", "test", "a1")
    assert rule(source, "split", "b1", "test") == first  # one rule per track: the new one replaces it

    # The same from the command line.
    assert ingestion_main(["editions", "merge", "--user", "ann", "zz", "s1"]) == 1
    assert "refused, nothing changed: track 'zz' is not one of the tracks we know" in capsys.readouterr().err
    assert ingestion_main(["editions", "merge", "--user", "ann", "a1", "s1"]) == 0
    assert ingestion_main(["editions", "list", "--user", "ann"]) == 0
    listed = capsys.readouterr().out
    assert "Track b1 (b1) counts alone" in listed and "Track a1 (a1) counts as the same song as Track s1 (s1)" in listed
    with connect("source", source) as conn:
        assert conn.execute("SELECT track_id, kind, into_track_id, created_by LIKE 'cli:%' FROM recording_rules "
                            "ORDER BY rule_id").fetchall() == [("b1", "split", None, False),
                                                               ("a1", "merge", "s1", True)]
