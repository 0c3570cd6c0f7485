"""playlist_completion (docs/metrics.md, 20): a followed playlist's tracks heard in each period, their streams,
and the streams started from the playlist, on hand-written plays."""

from __future__ import annotations

from spark_scripts.statistics import COMPUTE
from tests.spark_scripts.conftest import rows, tables, utc

TRACKS = {t: ("a1", "r1", 200_000, False, 50) for t in ("t1", "t2", "t3", "t4", "x1")}
MIX = "spotify:playlist:Mix1"
OLD_STYLE = "spotify:user:someone:playlist:Mix1"
PLAYS = [
    ("ana", "t1", "2024-03-01T09:00:00Z", 200_000, "api", None, MIX),
    ("ana", "t1", "2024-03-02T09:00:00Z", 100_000, "extended_export"),  # an export names no context
    ("ana", "x1", "2024-03-03T09:00:00Z", 150_000, "api", None, OLD_STYLE),  # not on the playlist, started from it
    ("ana", "t2", "2024-04-05T09:00:00Z", 200_000, "api", None, "spotify:album:al1"),
    ("ana", "t2", "2024-04-06T09:00:00Z", 10_000, "extended_export"),  # under 30 s from an export: no stream
    ("ana", "x1", "2024-05-01T09:00:00Z", 200_000, "api", None, "spotify:playlist:Other"),  # not followed
    ("bob", "t3", "2024-03-01T09:00:00Z", 200_000, "api", None, MIX),  # bob follows nothing
]
PLAYLISTS = {("ana", "Mix1"): ["t1", "t2", "t3", "t4", "t1"], ("ana", "Empty"): []}


def by_period(frame) -> dict[str, dict]:
    return {r.pop("period"): r for r in rows(frame, "period") if r.pop("user_id") == "ana"}


def test_tracks_heard_streams_and_streams_from_the_playlist_per_period(spark):
    t = tables(spark, PLAYS, TRACKS, playlists=PLAYLISTS)
    found = rows(COMPUTE["playlist_completion"](t), "user_id", "period")
    assert {r["user_id"] for r in found} == {"ana"}
    periods = by_period(COMPUTE["playlist_completion"](t))
    assert len(found) == len(periods)  # one playlist a period: the empty one has no row
    assert set(periods) == {"all", "2024", "2024-03", "2024-04", "last-4-weeks", "last-6-months", "last-12-months"}
    march = periods["2024-03"]
    assert march == {
        "playlist_id": "Mix1", "total_tracks": 4, "tracks_played": 1, "completion": 0.25, "streams": 2,
        "listening_ms": 300_000, "first_played_at": utc("2024-03-01T09:00:00Z"),
        "last_played_at": utc("2024-03-02T09:00:00Z"), "context_streams": 2, "context_listening_ms": 350_000,
        "context_first_played_at": utc("2024-03-01T09:00:00Z"),
        "context_last_played_at": utc("2024-03-03T09:00:00Z"), "heard_track_ids": ["t1"], "rank": 1}
    april = periods["2024-04"]
    assert (april["tracks_played"], april["streams"], april["context_streams"], april["heard_track_ids"]) == (
        1, 1, 0, ["t2"])
    assert april["context_first_played_at"] is None and april["context_last_played_at"] is None
    whole = periods["all"]
    assert (whole["tracks_played"], whole["completion"], whole["streams"], whole["listening_ms"],
            whole["context_streams"], whole["heard_track_ids"]) == (2, 0.5, 3, 500_000, 2, ["t1", "t2"])
    assert whole["last_played_at"] == utc("2024-04-05T09:00:00Z")
    # May: only a stream from a playlist ana does not follow, so no row; the last 4 weeks end on 2024-05-01.
    assert "2024-05" not in periods and periods["last-4-weeks"]["streams"] == 1
