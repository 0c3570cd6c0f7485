"""Exclusion rules and deleted plays through the analytics (docs/metrics.md, "What counts"): the statistics
with a user's rules are exactly those of the listening without the plays the rules match (matched here in
Python, from the document), whether the rules came before the plays or after them; incremental runs equal full
ones as rules are added and removed and plays deleted."""

import dataclasses
import zipfile
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from fake_spotify.generate import generate, write_to_source
from ingestion.deletions import delete_plays
from ingestion.exclusions import add_rule, remove_rule
from ingestion.takeout import export_user
from pipeline import analytics
from star_schema.load import load_main
from tests.spark_scripts.test_job import snapshot
from warehouse.catalog import STATISTICS
from warehouse.db import connect

PLAYLIST = "spotify:playlist:37i9dQZF1DXcBWIGoYBM5M"
SPAN = (date(2024, 2, 10), date(2024, 2, 12))  # local dates, both included


@pytest.fixture(scope="module")
def listening():
    return generate(seed=5, users=3, days=45, end=date(2024, 3, 1))


def chosen_rules(listening) -> tuple[str, dict[str, str]]:
    """The first user and a target for each of the kinds artist, album, track (its 3rd, 6th and 9th most played
    tracks' second or first artist, album and id)."""
    user = listening.users[0]
    tracks = {t.track_id: t for t in listening.tracks}
    ranked = [track for track, _ in Counter(p.track_id for p in listening.plays
                                            if p.user_id == user.user_id and p.track_id).most_common()]
    return user.user_id, {"artist": tracks[ranked[2]].artist_ids[-1], "album": tracks[ranked[5]].album_id,
                          "track": ranked[8]}


def matches(listening, user_id: str, targets: dict[str, str], kinds: set[str]):
    """Whether a play matches one of the rules of `kinds`, by the document's words."""
    tracks = {t.track_id: t for t in listening.tracks}
    zone = ZoneInfo(next(u.timezone for u in listening.users if u.user_id == user_id))

    def match(play) -> bool:
        if play.user_id != user_id or not play.track_id:
            return False
        track = tracks[play.track_id]
        return (("artist" in kinds and targets["artist"] in track.artist_ids)
                or ("album" in kinds and track.album_id == targets["album"])
                or ("track" in kinds and play.track_id == targets["track"])
                or ("context" in kinds and play.played_at.minute == 7)  # the plays given the playlist below
                or ("time" in kinds and SPAN[0] <= play.played_at.astimezone(zone).date() <= SPAN[1]))
    return match


def set_contexts(settings, user_id: str) -> None:
    with connect("source", settings) as conn:
        conn.execute("UPDATE plays SET context_uri = %s WHERE user_id = %s AND extract(minute FROM played_at) = 7",
                     (PLAYLIST, user_id))


def add_rules(settings, user_id: str, targets: dict[str, str], kinds) -> dict[str, int]:
    with connect("source", settings) as conn:
        ids = {kind: add_rule(conn, user_id, kind, "test", target=targets[kind]) for kind in kinds
               if kind in targets}
        if "context" in kinds:
            ids["context"] = add_rule(conn, user_id, "context", "test", target=PLAYLIST)
        if "time" in kinds:
            ids["time"] = add_rule(conn, user_id, "time", "test", local_from=str(SPAN[0]), local_to=str(SPAN[1]))
    return ids


def run(settings, spark, mode: str) -> dict:
    load_main(settings)
    assert analytics.run(settings, spark=spark).mode == mode
    return snapshot(settings)


def test_rules_before_or_after_the_plays_give_the_statistics_without_them(dbs, spark, listening):
    user_id, targets = chosen_rules(listening)
    kinds = {"artist", "album", "track", "context", "time"}
    matched = matches(listening, user_id, targets, kinds)
    assert {kind: sum(matches(listening, user_id, targets, {kind})(p) for p in listening.plays) > 0
            for kind in kinds} == dict.fromkeys(kinds, True)

    # The statistics of the listening without the matched plays.
    with connect("source", dbs) as conn:
        write_to_source(conn, dataclasses.replace(listening, plays=[p for p in listening.plays if not matched(p)]))
    load_main(dbs)
    analytics.run(dbs, full=True, spark=spark)
    without = snapshot(dbs)

    # The rules come first, then the matched plays arrive (and the playlist of some): nothing changes.
    rules = add_rules(dbs, user_id, targets, kinds)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    set_contexts(dbs, user_id)
    assert run(dbs, spark, "incremental") == without

    # A rule removed: its plays count again, as a full rebuild with the other rules says.
    with connect("source", dbs) as conn:
        assert remove_rule(conn, user_id, rules["artist"])
    fewer = run(dbs, spark, "incremental")
    assert fewer != without
    analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs) == fewer

    # Added again, over plays already counted: as without them again (a rebuild with rules was checked above).
    add_rules(dbs, user_id, targets, {"artist"})
    assert run(dbs, spark, "incremental") == without


def test_deleted_plays_and_every_rule_removed_match_a_rebuild(dbs, spark, listening, tmp_path):
    user_id, targets = chosen_rules(listening)
    with connect("source", dbs) as conn:
        write_to_source(conn, listening)
    set_contexts(dbs, user_id)
    add_rules(dbs, user_id, targets, {"time", "context"})
    load_main(dbs)
    analytics.run(dbs, full=True, spark=spark)
    other = listening.users[1].user_id
    with connect("source", dbs) as conn:
        deletion = delete_plays(conn, other, "test", "UTC", local_from="2024-02-01", local_to="2024-02-29")
        assert deletion.plays > 0
        # A month of ann's plays that a rule already hid, and all the rules removed.
        conn.execute("DELETE FROM exclusion_rules WHERE user_id = %s", (user_id,))
    incremental = run(dbs, spark, "incremental")
    analytics.run(dbs, full=True, spark=spark)
    assert snapshot(dbs) == incremental
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT count(*) FROM fact_play WHERE user_id = %s AND local_month = '2024-02'",
                            (other,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM analytics.overview WHERE user_id = %s AND period = '2024-02'",
                            (other,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM fact_play WHERE excluded").fetchone()[0] == 0

    # The takeout holds every row of the user's statistics.
    report = export_user(other, "parquet", tmp_path / "takeout.zip", dbs)
    with connect("main", dbs) as conn:
        assert report.statistics == {name: conn.execute(f"SELECT count(*) FROM analytics.{name} WHERE user_id = %s",
                                                        (other,)).fetchone()[0] for name in STATISTICS}
    assert report.statistics["overview"] > 0
    with zipfile.ZipFile(tmp_path / "takeout.zip") as archive:
        overview = pq.read_table(archive.open("statistics/overview.parquet"))
    assert overview.num_rows == report.statistics["overview"] and set(overview.column("user_id").to_pylist()) == {other}
