"""Hand-written playlists for the dashboard tests, added to the replica that testkit/replica_rows.py fills:
dim_playlist, dim_playlist_track, dim_user_playlist, and analytics.playlist_completion (docs/metrics.md,
statistic 20) computed here from a few hand-written plays of the testkit's users, so every (user, period) with
statistics has its rows, and the numbers agree from one period to the next.

Alice (Berlin) follows "Late Night" (5 distinct tracks in 6 entries, one of them unknown to dim_track), "Road
Trip", "Quiet Hours" (never streamed: no row) and pl-pending (its dim_playlist row not replicated yet); bob follows
"Late Night" and his own "Builder Beats", erin "Road Trip". Names with markup check that pages escape them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from testkit.replica_rows import COMPUTED_AT, ROLLING_FIRST_DAYS, SOURCE_MAX_PLAYED_AT, USERS
from warehouse.db import connect

NIGHT, ROAD, QUIET, PENDING, BUILDER = "pl-night", "pl-road", "pl-quiet", "pl-pending", "pl-builder"
PLAYLISTS = {  # playlist_id: (name, owner_name, entries in order)
    NIGHT: ('Late Night <Mix> & "Chill"', "Alice", ["tr1", "tr3", "pl-x1", "tr7", "tr2", "tr1"]),
    ROAD: ("Road Trip", "Spotify", ["tr4", "tr5", "tr8", "tr6"]),
    QUIET: ("Quiet Hours", "Erin", ["qh-1", "qh-2"]),
    BUILDER: ("Builder Beats", "Bob", ["tr8", "tr5"]),
}
FOLLOWS = {"alice": [NIGHT, ROAD, QUIET, PENDING], "bob": [NIGHT, BUILDER], "erin": [ROAD]}
MIN_STREAM_MS = 30_000


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PLAYS = [  # user, track_id, played_at (UTC), ms_played, the playlist it was started from (None: another context)
    ("alice", "tr1", utc("2025-11-05T20:00:00"), 200_000, NIGHT),
    ("alice", "tr3", utc("2025-11-05T20:04:00"), 180_000, NIGHT),
    ("alice", "tr2", utc("2025-11-20T08:00:00"), 240_000, ROAD),  # from Road Trip, but not on it
    ("alice", "tr1", utc("2025-12-01T18:00:00"), 200_000, None),  # from an export: no context
    ("alice", "tr4", utc("2025-12-10T21:30:00"), 190_000, ROAD),
    ("alice", "tr5", utc("2025-12-10T21:34:00"), 230_000, ROAD),
    ("alice", "tr8", utc("2025-12-10T21:38:00"), 250_000, ROAD),
    ("alice", "tr7", utc("2025-12-11T07:00:00"), 20_000, None),  # under 30 s from an export: no stream
    ("alice", "tr7", utc("2025-12-31T23:30:00"), 189_000, NIGHT),  # 1 January 2026, 00:30 in Berlin
    ("alice", "tr3", utc("2026-01-15T12:00:00"), 172_000, None),
    ("alice", "tr4", utc("2026-01-21T19:00:00"), 198_000, NIGHT),  # from Late Night, on Road Trip only
    ("bob", "tr1", utc("2026-01-03T02:00:00"), 200_000, NIGHT),  # 2 January in New York
    ("bob", "tr2", utc("2026-01-09T15:00:00"), 300_000, None),
    ("bob", "tr8", utc("2026-01-10T16:00:00"), 260_000, BUILDER),
    ("erin", "tr5", utc("2025-10-12T10:00:00"), 241_000, ROAD),
    ("erin", "tr8", utc("2026-01-05T10:00:00"), 260_000, None),
    ("erin", "tr6", utc("2026-01-06T10:00:00"), 100_000, ROAD),
]


def in_period(user: str, played_at: datetime, period: str) -> bool:
    """docs/metrics.md, "Local time and periods": the local year and month of the play, all time, and a rolling
    period from its first day on (the testkit's users' last streams come after every play here)."""
    local = played_at.astimezone(ZoneInfo(USERS[user][1]))
    if period in ROLLING_FIRST_DAYS:
        return local.date() >= ROLLING_FIRST_DAYS[period]
    return period == "all" or local.strftime("%Y-%m").startswith(period)


def _span(plays: list[tuple]) -> tuple:
    """streams, listening_ms, first_played_at, last_played_at of `plays`."""
    return (len(plays), sum(p[3] for p in plays), min((p[2] for p in plays), default=None),
            max((p[2] for p in plays), default=None))


def completion_rows(user: str, period: str) -> list[dict]:
    """The user's playlist_completion rows of the period (docs/metrics.md, statistic 20), in rank order."""
    streams = [p for p in PLAYS if p[0] == user and p[3] >= MIN_STREAM_MS and in_period(user, p[2], period)]
    rows = []
    for playlist_id in FOLLOWS.get(user, []):
        if playlist_id not in PLAYLISTS:  # not fetched: no row
            continue
        tracks = set(PLAYLISTS[playlist_id][2])
        of_tracks = [p for p in streams if p[1] in tracks]
        started = [p for p in streams if p[4] == playlist_id]
        if not of_tracks and not started:
            continue
        heard = sorted({p[1] for p in of_tracks})
        row = {"playlist_id": playlist_id, "total_tracks": len(tracks), "tracks_played": len(heard),
               "completion": len(heard) / len(tracks)}
        row.update(zip(("streams", "listening_ms", "first_played_at", "last_played_at"), _span(of_tracks),
                       strict=True))
        row.update(zip(("context_streams", "context_listening_ms", "context_first_played_at",
                        "context_last_played_at"), _span(started), strict=True))
        row["heard_track_ids"] = heard
        rows.append(row)
    rows.sort(key=lambda r: (-r["completion"], -r["tracks_played"], -r["streams"], -r["context_streams"],
                             r["playlist_id"]))
    return [{**row, "rank": rank} for rank, row in enumerate(rows, start=1)]


COLUMNS = ("playlist_id", "total_tracks", "tracks_played", "completion", "streams", "listening_ms",
           "first_played_at", "last_played_at", "context_streams", "context_listening_ms", "context_first_played_at",
           "context_last_played_at", "heard_track_ids", "rank")


def fill_playlists(settings) -> None:
    """Write the playlists, who follows them, and every playlist_completion row into the replica."""
    with connect("replica", settings) as conn:
        cur = conn.cursor()
        cur.executemany("INSERT INTO dim_playlist (playlist_id, name, owner_name, snapshot_id, total_tracks) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(pid, name, owner, f"snap-{pid}", len(set(entries)))
                         for pid, (name, owner, entries) in PLAYLISTS.items()])
        cur.executemany("INSERT INTO dim_playlist_track (playlist_id, position, track_id) VALUES (%s, %s, %s)",
                        [(pid, position, track_id) for pid, (_, _, entries) in PLAYLISTS.items()
                         for position, track_id in enumerate(entries)])
        cur.executemany("INSERT INTO dim_user_playlist (user_id, playlist_id) VALUES (%s, %s)",
                        [(user, pid) for user, followed in FOLLOWS.items() for pid in followed])
        cur.executemany(
            f"INSERT INTO analytics.playlist_completion (user_id, period, {', '.join(COLUMNS)}, computed_at, "
            f"source_max_played_at) VALUES ({', '.join(['%s'] * (len(COLUMNS) + 4))})",
            [(user, period, *(row[c] for c in COLUMNS), COMPUTED_AT, SOURCE_MAX_PLAYED_AT)
             for user, (_, _, periods) in USERS.items() for period in periods
             for row in completion_rows(user, period)])
