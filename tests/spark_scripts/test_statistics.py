"""Each statistic against hand-written plays and hand-computed rows (docs/metrics.md)."""

from datetime import date

import pytest

from spark_scripts.statistics import COMPUTE
from tests.spark_scripts.conftest import rows, tables, utc
from warehouse.catalog import ROLLING_PERIODS

ROLLING = set(ROLLING_PERIODS)

# t1: album a1 by r1, 200 s, explicit, popularity 100; t2: a1 by r1, 100 s, clean, popularity unknown;
# t3: a2 by r2, 400 s, explicit unknown, popularity 40.
TRACKS = {"t1": ("a1", "r1", 200_000, True, 100), "t2": ("a1", "r1", 100_000, False, None),
          "t3": ("a2", "r2", 400_000, None, 40)}
PLAYS = [
    ("ana", "t1", "2024-01-10T10:00:00Z", 200_000, "api", None),
    ("ana", "t2", "2024-01-10T10:03:00Z", 20_000, "extended_export", True),   # under 30 s: no stream
    ("ana", "t2", "2024-01-10T10:05:00Z", 100_000, "extended_export", False),
    ("ana", "t3", "2024-02-01T09:00:00Z", 400_000, "extended_export", False),
]


def compute(name, t, *order):
    return rows(COMPUTE[name](t), *order)


def by_period(found):
    return {r["period"]: r for r in found}


def test_overview(spark):
    got = by_period(compute("overview", tables(spark, PLAYS, TRACKS), "period"))
    assert set(got) == {"all", "2024", "2024-01", "2024-02", *ROLLING}
    assert got["all"] == {
        "user_id": "ana", "period": "all", "streams": 3, "listening_ms": 700_000, "distinct_tracks": 3,
        "distinct_artists": 2, "distinct_albums": 2, "active_days": 2,
        "first_played_at": utc("2024-01-10T10:00:00Z"), "last_played_at": utc("2024-02-01T09:00:00Z"),
        "streams_per_active_day": 1.5, "skip_rate": pytest.approx(1 / 3), "mainstream_score": 70.0,
        "new_artists": 2, "new_tracks": 3, "first_day": date(2024, 1, 10), "last_day": date(2024, 2, 1),
        "longest_streak": 1, "podcast_listens": 0, "podcast_listening_ms": 0,
    }
    assert got["2024"] == {**got["all"], "period": "2024", "first_day": date(2024, 1, 1),
                           "last_day": date(2024, 12, 31)}
    first_days = {"last-4-weeks": date(2024, 1, 5), "last-6-months": date(2023, 8, 2),
                  "last-12-months": date(2023, 2, 2)}
    for rolling in ROLLING:  # every play lies within the 28 days before the last one
        assert got[rolling] == {**got["all"], "period": rolling, "first_day": first_days[rolling]}
    january, february = got["2024-01"], got["2024-02"]
    assert (january["streams"], january["listening_ms"], january["distinct_tracks"], january["active_days"],
            january["skip_rate"], january["mainstream_score"], january["new_artists"], january["new_tracks"]) == (
        2, 300_000, 2, 1, 0.5, 100.0, 1, 2)
    assert (february["streams"], february["skip_rate"], february["mainstream_score"], february["new_artists"],
            february["new_tracks"]) == (1, 0.0, 40.0, 1, 1)


def test_overview_skip_rate_and_mainstream_are_null_when_unknown(spark):
    t = tables(spark, [("bo", "t2", "2024-01-10T10:00:00Z", 100_000)], TRACKS)
    (only,) = [r for r in compute("overview", t) if r["period"] == "all"]
    assert only["skip_rate"] is None and only["mainstream_score"] is None


def test_overview_longest_streak_of_days_with_a_stream_stops_at_the_periods_edges(spark):
    days = ["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-30", "2024-01-31", "2024-02-01"]
    plays = [("ana", "t1", f"{day}T10:00:00Z", 200_000) for day in days]
    plays.append(("ana", "t2", "2024-01-04T10:00:00Z", 20_000, "extended_export"))  # under 30 s: no streak day
    got = by_period(compute("overview", tables(spark, plays, TRACKS), "period"))
    assert {p: r["longest_streak"] for p, r in got.items()} == {
        "all": 3, "2024": 3, "2024-01": 2, "2024-02": 1, **{rolling: 3 for rolling in ROLLING}}


def test_new_artists_and_tracks_count_first_ever_streams(spark):
    plays = [("ana", "t1", "2023-12-31T10:00:00Z", 200_000), ("ana", "t1", "2024-01-02T10:00:00Z", 200_000),
             ("ana", "t2", "2024-01-03T10:00:00Z", 100_000)]
    got = by_period(compute("overview", tables(spark, plays, TRACKS), "period"))
    assert {p: (r["new_artists"], r["new_tracks"]) for p, r in got.items()} == {
        "all": (1, 2), "2023": (1, 1), "2023-12": (1, 1), "2024": (0, 1), "2024-01": (0, 1),
        **{rolling: (1, 2) for rolling in ROLLING}}


def test_top_tracks_ties_by_listening_time_then_id(spark):
    tracks = {"x": ("a1", "r1", 200_000, True, 1), "y": ("a1", "r1", 200_000, True, 1),
              "z": ("a1", "r1", 200_000, True, 1)}
    plays = [("ana", "z", "2024-01-01T10:00:00Z", 100_000), ("ana", "z", "2024-01-01T11:00:00Z", 100_000),
             ("ana", "y", "2024-01-01T12:00:00Z", 150_000), ("ana", "y", "2024-01-01T13:00:00Z", 150_000),
             ("ana", "x", "2024-01-01T14:00:00Z", 100_000), ("ana", "x", "2024-01-01T15:00:00Z", 100_000),
             ("ana", "x", "2024-01-01T16:00:00Z", 10_000, "extended_export")]  # no stream: doesn't count
    got = [r for r in compute("top_tracks", tables(spark, plays, tracks), "rank") if r["period"] == "all"]
    assert [(r["rank"], r["track_id"], r["streams"], r["listening_ms"]) for r in got] == [
        (1, "y", 2, 300_000), (2, "x", 2, 200_000), (3, "z", 2, 200_000)]


def test_top_artists_use_the_primary_artist_and_top_albums_skip_unknown_albums(spark):
    tracks = {"t1": ("a1", "r1", 1, True, 1), "t2": (None, "r2", 1, True, 1)}
    plays = [("ana", "t1", "2024-01-01T10:00:00Z", 60_000), ("ana", "t2", "2024-01-01T11:00:00Z", 60_000),
             ("ana", "t2", "2024-01-01T12:00:00Z", 60_000)]
    t = tables(spark, plays, tracks, albums={"a1": (10, 2001)})
    artists = [(r["rank"], r["artist_id"], r["streams"]) for r in compute("top_artists", t, "rank")
               if r["period"] == "all"]
    albums = [(r["rank"], r["album_id"]) for r in compute("top_albums", t, "rank") if r["period"] == "all"]
    assert artists == [(1, "r2", 2), (2, "r1", 1)]
    assert albums == [(1, "a1")]


def test_hour_of_day_follows_dst_in_the_users_zone(spark):
    # Berlin springs forward on 2024-03-31 at 01:00 UTC: 00:30Z is 01:30 local, 01:30Z is 03:30 local.
    plays = [("ana", "t1", "2024-03-31T00:30:00Z", 200_000), ("ana", "t1", "2024-03-31T01:30:00Z", 200_000)]
    t = tables(spark, plays, TRACKS, users={"ana": "Europe/Berlin"})
    got = [r for r in compute("hour_of_day", t, "hour") if r["period"] == "2024-03"]
    assert [r["hour"] for r in got] == list(range(24))
    assert {r["hour"]: (r["streams"], r["listening_ms"], r["share"]) for r in got if r["streams"]} == {
        1: (1, 200_000, 0.5), 3: (1, 200_000, 0.5)}
    assert sum(r["share"] for r in got) == pytest.approx(1.0, abs=1e-9)


def test_local_date_differs_from_utc(spark):
    # 2024-01-31 20:00 UTC is Thursday 2024-02-01 05:00 in Tokyo.
    t = tables(spark, [("ken", "t1", "2024-01-31T20:00:00Z", 200_000)], TRACKS, users={"ken": "Asia/Tokyo"})
    assert {r["period"] for r in compute("overview", t)} == {"all", "2024", "2024-02", *ROLLING}
    days = [r for r in compute("day_of_week", t, "day_of_week") if r["period"] == "2024-02"]
    assert [(r["day_of_week"], r["streams"]) for r in days] == [(d, int(d == 4)) for d in range(1, 8)]
    longest = compute("longest_days", t)
    assert {r["local_date"] for r in longest} == {date(2024, 2, 1)}


def test_day_of_week_variety(spark):
    plays = [("ana", "t1", "2024-01-01T10:00:00Z", 200_000), ("ana", "t1", "2024-01-01T11:00:00Z", 200_000),
             ("ana", "t3", "2024-01-01T12:00:00Z", 400_000), ("ana", "t2", "2024-01-01T13:00:00Z", 100_000)]
    got = {r["day_of_week"]: r for r in compute("day_of_week", tables(spark, plays, TRACKS)) if r["period"] == "all"}
    monday = got[1]
    assert (monday["streams"], monday["distinct_tracks"], monday["distinct_artists"]) == (4, 3, 2)
    assert (monday["track_variety"], monday["artist_variety"]) == (0.75, 0.5)
    assert (got[2]["streams"], got[2]["track_variety"], got[2]["artist_variety"]) == (0, 0.0, 0.0)


def test_listening_clock_has_all_168_cells(spark):
    t = tables(spark, [("ana", "t1", "2024-01-01T10:00:00Z", 200_000)], TRACKS)
    got = [r for r in compute("listening_clock", t) if r["period"] == "all"]
    assert len(got) == 168
    assert [(r["day_of_week"], r["hour"]) for r in got if r["streams"]] == [(1, 10)]


def test_artist_streaks_across_a_month_edge_and_broken_by_a_missing_day(spark):
    tracks = {"t1": ("a1", "r1", 200_000, True, 1), "t2": ("a2", "r2", 200_000, True, 1)}
    days = ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-05", "2024-02-07"]  # 02-06 missing
    plays = [("ana", "t1", f"{d}T12:00:00Z", 200_000) for d in days]
    plays += [("ana", "t2", "2024-02-05T13:00:00Z", 200_000), ("ana", "t2", "2024-02-06T13:00:00Z", 200_000),
              ("ana", "t2", "2024-02-06T14:00:00Z", 200_000)]
    got = compute("artist_streaks", tables(spark, plays, tracks), "period", "rank")
    summary = [(r["period"], r["rank"], r["artist_id"], r["days"], r["streak_start"], r["streak_end"]) for r in got]
    assert summary == [
        ("2024", 1, "r1", 3, date(2024, 1, 30), date(2024, 2, 1)),
        ("2024", 2, "r2", 2, date(2024, 2, 5), date(2024, 2, 6)),
        ("2024-01", 1, "r1", 2, date(2024, 1, 30), date(2024, 1, 31)),  # cut at the month's edge
        ("2024-02", 1, "r2", 2, date(2024, 2, 5), date(2024, 2, 6)),
        ("all", 1, "r1", 3, date(2024, 1, 30), date(2024, 2, 1)),
        ("all", 2, "r2", 2, date(2024, 2, 5), date(2024, 2, 6)),
        *[(rolling, rank, artist, days, start, end) for rolling in sorted(ROLLING)  # all: from 2024-01-11 on
          for rank, artist, days, start, end in ((1, "r1", 3, date(2024, 1, 30), date(2024, 2, 1)),
                                                 (2, "r2", 2, date(2024, 2, 5), date(2024, 2, 6)))],
    ]


def test_album_completion_caps_at_one_and_needs_enough_tracks(spark):
    tracks = {f"a1t{i}": ("a1", "r1", 200_000, True, 1) for i in range(6)}       # 6 played, total 5
    tracks |= {f"a2t{i}": ("a2", "r1", 200_000, True, 1) for i in range(4)}      # 4 of 8
    tracks |= {"a3t0": ("a3", "r1", 200_000, True, 1)}                           # total 4: left out
    plays = [("ana", track, f"2024-01-01T{10 + i:02d}:00:00Z", 200_000) for i, track in enumerate(tracks)]
    t = tables(spark, plays, tracks, albums={"a1": (5, 2001), "a2": (8, 2001), "a3": (4, 2001)})
    got = [r for r in compute("album_completion", t, "rank") if r["period"] == "all"]
    assert [(r["rank"], r["album_id"], r["total_tracks"], r["tracks_played"], r["completion"], r["status"],
             r["streams"]) for r in got] == [(1, "a1", 5, 6, 1.0, "complete", 6), (2, "a2", 8, 4, 0.5, "half", 4)]


SESSION_PLAYS = [
    ("ana", "t1", "2024-01-10T10:03:00Z", 180_000),  # 10:00:00 - 10:03:00
    ("ana", "t1", "2024-01-10T10:06:10Z", 180_000),  # starts 10 s later: same session
    ("ana", "t1", "2024-01-10T10:43:00Z", 180_000),  # starts 33 min 50 s later: new session
    ("ana", "t1", "2024-01-10T12:03:00Z", 180_000),  # starts 77 min later: new session
    ("ana", "t1", "2024-01-10T12:05:00Z", 180_000),  # starts before the previous ended: gap 0
]


def test_sessions(spark):
    got = compute("sessions", tables(spark, SESSION_PLAYS, TRACKS), "session_start")
    assert [(r["period"], r["session_start"], r["session_end"], r["streams"], r["distinct_tracks"],
             r["listening_ms"]) for r in got] == [
        ("2024-01", utc("2024-01-10T10:00:00Z"), utc("2024-01-10T10:06:10Z"), 2, 1, 360_000),
        ("2024-01", utc("2024-01-10T10:40:00Z"), utc("2024-01-10T10:43:00Z"), 1, 1, 180_000),
        ("2024-01", utc("2024-01-10T12:00:00Z"), utc("2024-01-10T12:05:00Z"), 2, 1, 360_000),
    ]
    assert got[0]["session_id"] == int(utc("2024-01-10T10:00:00Z").timestamp() * 1000)


def test_session_summary(spark):
    got = by_period(compute("session_summary", tables(spark, SESSION_PLAYS, TRACKS)))
    assert set(got) == {"all", "2024", "2024-01", *ROLLING}
    assert got["all"]["sessions"] == 3
    assert got["all"]["avg_session_ms"] == pytest.approx((370_000 + 180_000 + 300_000) / 3)
    assert got["all"]["longest_session_ms"] == 370_000
    assert got["all"]["avg_streams_per_session"] == pytest.approx(5 / 3)


def test_a_session_belongs_to_the_month_of_its_local_start(spark):
    # Kolkata is UTC+5:30: the play starts 2024-01-31 23:55 local and ends 2024-02-01 00:05 local.
    t = tables(spark, [("raj", "t1", "2024-01-31T18:35:00Z", 600_000)], TRACKS, users={"raj": "Asia/Kolkata"})
    (session,) = compute("sessions", t)
    assert session["period"] == "2024-01"
    assert set(by_period(compute("session_summary", t))) == {"all", "2024", "2024-01", *ROLLING}
    assert {r["period"] for r in compute("overview", t)} == {"all", "2024", "2024-02", *ROLLING}


def test_play_gaps(spark):
    got = {r["gap_class"]: r for r in compute("play_gaps", tables(spark, SESSION_PLAYS, TRACKS))
           if r["period"] == "all"}
    assert {c: (r["gaps"], r["share"]) for c, r in got.items()} == {
        "continuous": (2, 0.5), "short_break": (1, 0.25), "long_break": (1, 0.25)}


def test_a_user_with_one_play_gets_every_fixed_size_row(spark):
    t = tables(spark, [("solo", "t1", "2024-05-05T05:05:05Z", 200_000)], TRACKS)
    for name, size in [("hour_of_day", 24), ("day_of_week", 7), ("listening_clock", 168),
                       ("popularity_distribution", 11), ("duration_preference", 4), ("play_gaps", 3),
                       ("explicit_preference", 3)]:
        got = compute(name, t)
        for period in ("all", "2024", "2024-05"):
            assert len([r for r in got if r["period"] == period]) == size, (name, period)
    gaps = compute("play_gaps", t)
    assert all(r["gaps"] == 0 and r["share"] == 0.0 for r in gaps)  # the last stream has no gap
    (session,) = compute("sessions", t)
    assert session["streams"] == 1
    assert [r["rank"] for r in compute("top_tracks", t) if r["period"] == "all"] == [1]


def test_popularity_distribution_with_unknown_and_100(spark):
    tracks = {"p100": ("a1", "r1", 1, True, 100), "p95": ("a1", "r1", 1, True, 95), "p0": ("a1", "r1", 1, True, 0),
              "p19": ("a1", "r1", 1, True, 19), "pnone": ("a1", "r1", 1, True, None)}
    plays = [("ana", track, f"2024-01-01T1{i}:00:00Z", 60_000) for i, track in enumerate(tracks)]
    plays.append(("ana", "p100", "2024-01-02T10:00:00Z", 60_000))
    got = {r["bracket"]: (r["streams"], r["distinct_tracks"], r["share"])
           for r in compute("popularity_distribution", tables(spark, plays, tracks)) if r["period"] == "all"}
    assert got == {"0": (1, 1, 1 / 6), "1": (1, 1, 1 / 6), "2": (0, 0, 0.0), "3": (0, 0, 0.0), "4": (0, 0, 0.0),
                   "5": (0, 0, 0.0), "6": (0, 0, 0.0), "7": (0, 0, 0.0), "8": (0, 0, 0.0),
                   "9": (3, 2, 0.5), "unknown": (1, 1, 1 / 6)}


def test_duration_and_explicit_preferences(spark):
    tracks = {"s": ("a1", "r1", 179_999, True, 1), "m": ("a1", "r1", 180_000, False, 1),
              "l": ("a1", "r1", 300_000, None, 1), "u": ("a1", "r1", None, None, 1)}
    plays = [("ana", track, f"2024-01-01T1{i}:00:00Z", 60_000) for i, track in enumerate(tracks)]
    t = tables(spark, plays, tracks)
    duration = {r["duration_class"]: (r["streams"], r["share"]) for r in compute("duration_preference", t)
                if r["period"] == "all"}
    explicit = {r["explicit"]: (r["streams"], r["share"]) for r in compute("explicit_preference", t)
                if r["period"] == "all"}
    assert duration == {"short": (1, 0.25), "medium": (1, 0.25), "long": (1, 0.25), "unknown": (1, 0.25)}
    assert explicit == {"true": (1, 0.25), "false": (1, 0.25), "unknown": (2, 0.5)}


def test_release_years_leave_unknown_dates_out(spark):
    tracks = {"t1": ("a1", "r1", 1, True, 1), "t2": ("a2", "r1", 1, True, 1), "t3": ("a3", "r1", 1, True, 1)}
    plays = [("ana", t, f"2024-01-01T1{i}:00:00Z", 60_000) for i, t in enumerate(["t1", "t1", "t2", "t3"])]
    t = tables(spark, plays, tracks, albums={"a1": (10, 1999), "a2": (10, 1999), "a3": (10, None)})
    got = [(r["release_year"], r["streams"], r["distinct_albums"]) for r in compute("release_years", t, "release_year")
           if r["period"] == "all"]
    assert got == [(1999, 3, 2)]


def test_longest_days_break_ties_by_the_later_date(spark):
    plays = [("ana", "t1", "2024-01-01T10:00:00Z", 200_000), ("ana", "t1", "2024-01-02T10:00:00Z", 200_000),
             ("ana", "t3", "2024-01-03T10:00:00Z", 400_000)]
    got = [(r["rank"], r["local_date"], r["listening_ms"], r["streams"])
           for r in compute("longest_days", tables(spark, plays, TRACKS), "rank") if r["period"] == "all"]
    assert got == [(1, date(2024, 1, 3), 400_000, 1), (2, date(2024, 1, 2), 200_000, 1),
                   (3, date(2024, 1, 1), 200_000, 1)]


def test_genre_distribution(spark):
    tracks = {"t1": ("a1", "r1", 1, True, 1), "t2": ("a1", "r2", 1, True, 1), "t3": ("a1", "r3", 1, True, 1)}
    plays = [("ana", t, f"2024-01-01T1{i}:00:00Z", 60_000) for i, t in enumerate(["t1", "t1", "t2", "t3"])]
    t = tables(spark, plays, tracks, artists={"r1": ["rock", "pop", "pop"], "r2": [], "r3": None})
    got = [(r["rank"], r["genre"], r["streams"], r["share"]) for r in compute("genre_distribution", t, "rank")
           if r["period"] == "all"]
    assert got == [(1, "pop", 2, 1.0), (2, "rock", 2, 1.0), (None, "unknown", 2, 0.5)]


def test_rankings_hold_every_item_ranked_by_streams_and_by_listening_time(spark):
    # v and z tie on streams and listening time: the id decides. z has no album, a1 is a compilation by r9.
    tracks = {"x": ("a1", "r1", 1, True, 1), "y": ("a1", "r2", 1, True, 1), "v": ("a2", "r1", 1, True, 1),
              "z": (None, "r2", 1, True, 1)}
    plays = [("ana", "x", f"2024-01-01T{h}:00:00Z", 60_000) for h in (10, 11, 12)]
    plays += [("ana", "y", "2024-01-01T13:00:00Z", 200_000), ("ana", "y", "2024-01-01T14:00:00Z", 200_000),
              ("ana", "v", "2024-01-01T15:00:00Z", 100_000), ("ana", "v", "2024-01-01T16:00:00Z", 100_000),
              ("ana", "z", "2024-01-01T17:00:00Z", 100_000), ("ana", "z", "2024-01-01T18:00:00Z", 100_000),
              ("ana", "z", "2024-01-01T18:30:00Z", 10_000, "extended_export")]  # no stream: counts nowhere
    t = tables(spark, plays, tracks, albums={"a1": (10, 2001, "r9"), "a2": (10, 2001)})

    def ranked(name, *columns):
        found = [r for r in compute(name, t, "rank") if r["period"] == "all"]
        assert {r["period"] for r in compute(name, t)} == {"all", "2024", "2024-01", *ROLLING}
        return [tuple(r[c] for c in columns) for r in found]

    assert ranked("track_ranking", "track_id", "album_id", "artist_id", "streams", "listening_ms", "share",
                  "rank", "time_rank") == [
        ("x", "a1", "r1", 3, 180_000, 3 / 9, 1, 4), ("y", "a1", "r2", 2, 400_000, 2 / 9, 2, 1),
        ("v", "a2", "r1", 2, 200_000, 2 / 9, 3, 2), ("z", None, "r2", 2, 200_000, 2 / 9, 4, 3)]
    assert ranked("track_ranking", "first_played_at", "last_played_at")[0] == (
        utc("2024-01-01T10:00:00Z"), utc("2024-01-01T12:00:00Z"))
    assert ranked("track_ranking", "last_played_at")[3] == (utc("2024-01-01T18:00:00Z"),)
    assert ranked("artist_ranking", "artist_id", "streams", "listening_ms", "share", "rank", "time_rank") == [
        ("r1", 5, 380_000, 5 / 9, 1, 2), ("r2", 4, 600_000, 4 / 9, 2, 1)]
    # Shares are of all the period's streams: z's streams, which have no album, count in the total.
    assert ranked("album_ranking", "album_id", "artist_id", "streams", "listening_ms", "share", "rank",
                  "time_rank") == [("a1", "r9", 5, 580_000, 5 / 9, 1, 1), ("a2", "r1", 2, 200_000, 2 / 9, 2, 2)]


def test_artist_ranking_counts_months_at_top_and_the_longest_streak(spark):
    # January: r1 and r2 tie on 2 streams, r2 has more listening time and tops it; r1 tops February and
    # April, r2 March; r1 is absent in March, r2 in February and April.
    plays = [("ana", "t1", "2024-01-10T10:00:00Z", 200_000), ("ana", "t1", "2024-01-11T10:00:00Z", 200_000),
             ("ana", "t3", "2024-01-12T10:00:00Z", 400_000), ("ana", "t3", "2024-01-20T10:00:00Z", 400_000),
             ("ana", "t1", "2024-02-01T10:00:00Z", 200_000), ("ana", "t3", "2024-03-05T10:00:00Z", 400_000),
             *[("ana", "t2", f"2024-04-0{day}T10:00:00Z", 100_000) for day in (1, 2, 3)]]
    found = compute("artist_ranking", tables(spark, plays, TRACKS), "period", "artist_id")
    got = {(r["period"], r["artist_id"]): (r["months_at_top"], r["longest_streak"], r["longest_streak_start"],
                                           r["longest_streak_end"]) for r in found}
    assert got == {
        ("all", "r1"): (2, 3, date(2024, 4, 1), date(2024, 4, 3)),
        ("all", "r2"): (2, 1, date(2024, 3, 5), date(2024, 3, 5)),  # three one-day runs: the latest
        ("2024", "r1"): (2, 3, date(2024, 4, 1), date(2024, 4, 3)),
        ("2024", "r2"): (2, 1, date(2024, 3, 5), date(2024, 3, 5)),
        ("2024-01", "r1"): (0, 2, date(2024, 1, 10), date(2024, 1, 11)),
        ("2024-01", "r2"): (1, 1, date(2024, 1, 20), date(2024, 1, 20)),
        ("2024-02", "r1"): (1, 1, date(2024, 2, 1), date(2024, 2, 1)),
        ("2024-03", "r2"): (1, 1, date(2024, 3, 5), date(2024, 3, 5)),
        ("2024-04", "r1"): (1, 3, date(2024, 4, 1), date(2024, 4, 3)),
        # the last 4 weeks start on 2024-03-07: only April; the 6 and 12 months hold everything
        ("last-4-weeks", "r1"): (1, 3, date(2024, 4, 1), date(2024, 4, 3)),
        **{(rolling, artist): months for rolling in ("last-6-months", "last-12-months") for artist, months in (
            ("r1", (2, 3, date(2024, 4, 1), date(2024, 4, 3))), ("r2", (2, 1, date(2024, 3, 5), date(2024, 3, 5))))},
    }


def test_artist_ranking_profile_counts_streams_by_local_hour_and_weekday(spark):
    # Berlin: 2024-03-30 22:30Z is Saturday 23:30 CET; 2024-03-31 22:30Z is Monday 04-01 00:30 CEST (the
    # clocks went forward that night); 04-03 15:00Z is Wednesday 17:00.
    plays = [("eva", "t1", "2024-03-30T22:30:00Z", 200_000), ("eva", "t1", "2024-03-31T22:30:00Z", 200_000),
             ("eva", "t2", "2024-04-01T08:00:00Z", 100_000),
             ("eva", "t2", "2024-04-01T08:10:00Z", 20_000, "extended_export", True),  # no stream
             ("eva", "t3", "2024-04-03T15:00:00Z", 400_000)]
    t = tables(spark, plays, TRACKS, users={"eva": "Europe/Berlin"})
    found = compute("artist_ranking", t, "period", "artist_id")

    def counts(size, *positions):
        return [positions.count(position) for position in range(size)]

    r1_all = (counts(24, 23, 0, 10), counts(7, 5, 0, 0))  # weekday_streams[0] is Monday
    expected = {("all", "r1"): r1_all, ("2024", "r1"): r1_all,
                ("2024-03", "r1"): (counts(24, 23), counts(7, 5)),
                ("2024-04", "r1"): (counts(24, 0, 10), counts(7, 0, 0)),
                **{(period, "r2"): (counts(24, 17), counts(7, 2)) for period in ("all", "2024", "2024-04")},
                **{(rolling, artist): profile for rolling in ROLLING  # every stream lies in the last 4 weeks
                   for artist, profile in (("r1", r1_all), ("r2", (counts(24, 17), counts(7, 2))))}}
    assert {(r["period"], r["artist_id"]): (r["hour_streams"], r["weekday_streams"]) for r in found} == expected


def test_track_ranking_skip_rate_counts_every_play_whose_skip_is_known(spark):
    plays = [("ana", "t1", "2024-01-10T10:00:00Z", 200_000),  # API: skip unknown
             ("ana", "t1", "2024-01-11T12:00:00Z", 10_000, "extended_export", True),  # no stream, but a skip
             ("ana", "t1", "2024-02-01T12:00:00Z", 200_000, "extended_export", False),
             ("ana", "t2", "2024-02-02T12:00:00Z", 100_000),  # played once, skip unknown
             ("ana", "t3", "2024-02-03T12:00:00Z", 20_000, "extended_export", False)]  # no stream: no row
    found = compute("track_ranking", tables(spark, plays, TRACKS), "period", "track_id")
    assert {(r["period"], r["track_id"]): r["skip_rate"] for r in found} == {
        ("all", "t1"): 0.5, ("2024", "t1"): 0.5, ("2024-01", "t1"): 1.0, ("2024-02", "t1"): 0.0,
        ("all", "t2"): None, ("2024", "t2"): None, ("2024-02", "t2"): None,
        **{(rolling, track): rate for rolling in ROLLING for track, rate in (("t1", 0.5), ("t2", None))}}


def test_rolling_periods_follow_local_dates_across_a_dst_change(spark):
    # Berlin: CET (UTC+1) until 2024-03-31, CEST (UTC+2) after. The last stream ends 2024-04-20 00:30 local,
    # so the last 4 weeks are the local dates 2024-03-24 .. 2024-04-20.
    plays = [("eva", "t1", "2024-03-10T12:00:00Z", 200_000),  # March, 6 and 12 months only
             ("eva", "t1", "2024-03-23T21:00:00Z", 200_000),  # 22:00 local on 03-23: before the 4 weeks
             # 2024-03-23 23:58 .. 03-24 00:04:40 local: its local date is in the 4 weeks, its session is not
             ("eva", "t3", "2024-03-23T23:04:40Z", 400_000),
             ("eva", "t1", "2024-04-19T22:30:00Z", 200_000)]  # 00:30 local on 04-20
    t = tables(spark, plays, TRACKS, users={"eva": "Europe/Berlin"})
    overview = by_period(compute("overview", t))
    assert {p: (r["streams"], r["active_days"], r["first_played_at"], r["new_artists"], r["new_tracks"])
            for p, r in overview.items() if p in ROLLING} == {
        "last-4-weeks": (2, 2, utc("2024-03-23T23:04:40Z"), 1, 1),  # r2 and t3 are new, r1 and t1 not
        "last-6-months": (4, 4, utc("2024-03-10T12:00:00Z"), 2, 2),
        "last-12-months": (4, 4, utc("2024-03-10T12:00:00Z"), 2, 2)}
    hours = [(r["hour"], r["streams"]) for r in compute("hour_of_day", t, "hour")
             if r["period"] == "last-4-weeks" and r["streams"]]
    assert hours == [(0, 2)]
    summary = by_period(compute("session_summary", t))
    assert (summary["last-4-weeks"]["sessions"], summary["last-6-months"]["sessions"]) == (1, 4)
    gaps = {r["gap_class"]: r["gaps"] for r in compute("play_gaps", t) if r["period"] == "last-4-weeks"}
    assert gaps == {"continuous": 0, "short_break": 0, "long_break": 1}
    # March cut at 03-24 holds only t3's stream: r2 tops it; whole, r1 (two streams) does.
    months = {(r["period"], r["artist_id"]): r["months_at_top"] for r in compute("artist_ranking", t)
              if r["period"] in ROLLING}
    assert months == {("last-4-weeks", "r1"): 1, ("last-4-weeks", "r2"): 1, ("last-6-months", "r1"): 2,
                      ("last-6-months", "r2"): 0, ("last-12-months", "r1"): 2, ("last-12-months", "r2"): 0}


def test_rolling_periods_across_a_year_edge_and_a_short_month(spark):
    # The last stream is on 2024-08-31: 6 months back is 2024-02-29 (a leap year has no 02-31), so the 6 months
    # start on 2024-03-01; the 12 months start on 2023-09-01, the 4 weeks on 2024-08-04.
    plays = [("leo", "t1", "2023-08-31T12:00:00Z", 200_000), ("leo", "t1", "2023-09-01T12:00:00Z", 200_000),
             ("leo", "t3", "2024-02-29T12:00:00Z", 400_000), ("leo", "t3", "2024-03-01T12:00:00Z", 400_000),
             ("leo", "t2", "2024-08-31T12:00:00Z", 100_000),
             ("leo", "t1", "2024-09-01T12:00:00Z", 15_000, "extended_export", True)]  # no stream, after the last
    t = tables(spark, plays, TRACKS)
    overview = by_period(compute("overview", t))
    assert {p: (r["streams"], r["first_played_at"], r["skip_rate"], r["first_day"], r["last_day"])
            for p, r in overview.items()} == {
        "all": (5, utc("2023-08-31T12:00:00Z"), 1.0, date(2023, 8, 31), date(2024, 8, 31)),
        "last-12-months": (4, utc("2023-09-01T12:00:00Z"), None, date(2023, 9, 1), date(2024, 8, 31)),
        "last-6-months": (2, utc("2024-03-01T12:00:00Z"), None, date(2024, 3, 1), date(2024, 8, 31)),
        "last-4-weeks": (1, utc("2024-08-31T12:00:00Z"), None, date(2024, 8, 4), date(2024, 8, 31)),
        # a calendar period spans its whole year or month, whatever days have streams
        "2023": (2, utc("2023-08-31T12:00:00Z"), None, date(2023, 1, 1), date(2023, 12, 31)),
        "2024": (3, utc("2024-02-29T12:00:00Z"), 1.0, date(2024, 1, 1), date(2024, 12, 31)),
        "2023-08": (1, utc("2023-08-31T12:00:00Z"), None, date(2023, 8, 1), date(2023, 8, 31)),
        "2023-09": (1, utc("2023-09-01T12:00:00Z"), None, date(2023, 9, 1), date(2023, 9, 30)),
        "2024-02": (1, utc("2024-02-29T12:00:00Z"), None, date(2024, 2, 1), date(2024, 2, 29)),
        "2024-03": (1, utc("2024-03-01T12:00:00Z"), None, date(2024, 3, 1), date(2024, 3, 31)),
        "2024-08": (1, utc("2024-08-31T12:00:00Z"), None, date(2024, 8, 1), date(2024, 8, 31))}
    tracks = {(r["period"], r["track_id"]): r["streams"] for r in compute("track_ranking", t) if r["period"] in ROLLING}
    assert tracks == {("last-12-months", "t1"): 1, ("last-12-months", "t3"): 2, ("last-12-months", "t2"): 1,
                      ("last-6-months", "t3"): 1, ("last-6-months", "t2"): 1, ("last-4-weeks", "t2"): 1}


def test_taste_overlap_of_users_who_allow_comparison(spark):
    tracks = {"t1": ("a1", "r1", 200_000, True, 1), "t2": ("a1", "r1", 200_000, True, 1),
              "t3": ("a2", "r2", 200_000, True, 1), "t4": ("a3", "r3", 200_000, True, 1),
              "t5": ("a4", "r4", 200_000, True, 1), "t6": ("a5", None, 200_000, True, 1)}
    plays = [
        # ana: r1 1/2 (t1 twice), r2 1/4, an unknown artist 1/4
        ("ana", "t1", "2024-01-10T10:00:00Z", 200_000), ("ana", "t1", "2024-01-10T11:00:00Z", 200_000),
        ("ana", "t3", "2024-01-11T10:00:00Z", 200_000), ("ana", "t6", "2024-01-12T10:00:00Z", 200_000),
        # bo: r1 1/4, first streamed before ana; r2 1/4, at the same instant as ana; r3 1/2
        ("bo", "t2", "2024-01-09T10:00:00Z", 200_000), ("bo", "t3", "2024-01-11T10:00:00Z", 200_000),
        ("bo", "t4", "2024-01-13T10:00:00Z", 200_000), ("bo", "t4", "2024-01-13T11:00:00Z", 200_000),
        ("cy", "t1", "2024-01-10T12:00:00Z", 200_000),  # does not allow comparison
        ("dee", "t5", "2024-01-15T10:00:00Z", 200_000),  # allows it, shares nothing
    ]
    got = compute("taste_overlap", tables(spark, plays, tracks, consenting=("ana", "bo", "dee")),
                  "user_id", "other_user_id", "period")
    periods = {"all", "2024", "2024-01", *ROLLING}
    assert {(r["user_id"], r["other_user_id"]) for r in got} == {
        (a, b) for a in ("ana", "bo", "dee") for b in ("ana", "bo", "dee") if a != b}
    assert len(got) == 6 * len(periods) and {r["period"] for r in got} == periods
    ana_bo = {"overlap": pytest.approx(0.5), "shared_artists": 2, "shared_tracks": 1,
              "top_shared_artists": ["r1", "r2"], "top_shared_tracks": ["t3"], "first_streamed_by": ["bo", None]}
    nothing = {"overlap": 0.0, "shared_artists": 0, "shared_tracks": 0, "top_shared_artists": [],
               "top_shared_tracks": [], "first_streamed_by": []}
    for row in got:
        pair = {row.pop("user_id"), row.pop("other_user_id")}
        row.pop("period")
        assert row == (ana_bo if pair == {"ana", "bo"} else nothing)
    assert compute("taste_overlap", tables(spark, plays, tracks, consenting=("ana",))) == []
