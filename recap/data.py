"""One user's month, read from the replica through its read-only role (REPLICA_READER_URL).

Every number of a recap comes from the replica's `analytics.*` rows for that
user and month (docs/metrics.md), names from its dimensions. Nothing is
recomputed here: the recap shows what the dashboard shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from psycopg.rows import dict_row

from warehouse.replica import ConnectionPool
from warehouse.settings import Settings

MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TOP = 5


class RecapError(ValueError):
    """Bad month, unknown user, or no streams for the user in that month."""


@dataclass(frozen=True)
class Ranked:
    rank: int
    name: str | None  # None: the replica has no name for it (never shown as an id)
    artist: str | None  # tracks: the primary artist's name, when known
    streams: int
    listening_ms: int


@dataclass(frozen=True)
class TopAlbum:
    name: str | None
    artist: str | None
    streams: int
    listening_ms: int
    total_tracks: int | None  # album_completion.total_tracks, else dim_album.total_tracks (None: unknown)
    tracks_played: int | None  # from album_completion; None when the album is not counted there
    completion: float | None
    status: str | None


@dataclass(frozen=True)
class Streak:
    artist: str | None
    days: int
    start: date
    end: date


@dataclass(frozen=True)
class Busiest:
    local_date: date
    listening_ms: int
    streams: int


@dataclass(frozen=True)
class Sessions:
    sessions: int
    avg_session_ms: float
    longest_session_ms: int
    avg_streams_per_session: float


@dataclass(frozen=True)
class MonthTotals:
    month: str
    streams: int
    listening_ms: int


@dataclass(frozen=True)
class MonthRecap:
    user_id: str
    display_name: str | None
    timezone: str | None
    month: str
    streams: int
    listening_ms: int
    distinct_tracks: int
    distinct_artists: int
    distinct_albums: int
    active_days: int
    new_artists: int
    new_tracks: int
    skip_rate: float | None
    mainstream_score: float | None
    computed_at: datetime
    previous: MonthTotals | None  # the month before, None when it had no streams
    top_tracks: list[Ranked] = field(default_factory=list)
    top_artists: list[Ranked] = field(default_factory=list)
    top_album: TopAlbum | None = None
    streak: Streak | None = None
    busiest_day: Busiest | None = None
    busiest_hour: int | None = None
    busiest_hour_streams: int = 0
    sessions: Sessions | None = None


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def check_month(month: str) -> str:
    if not MONTH_PATTERN.match(month):
        raise RecapError(f"bad month {month!r}: give a month 'YYYY-MM'")
    return month


_OVERVIEW = """
SELECT o.streams, o.listening_ms, o.distinct_tracks, o.distinct_artists, o.distinct_albums, o.active_days,
       o.new_artists, o.new_tracks, o.skip_rate, o.mainstream_score, o.computed_at,
       u.display_name, u.timezone
FROM analytics.overview o LEFT JOIN dim_user u ON u.user_id = o.user_id
WHERE o.user_id = %(user)s AND o.period = %(month)s
"""
_PREVIOUS = "SELECT streams, listening_ms FROM analytics.overview WHERE user_id = %(user)s AND period = %(previous)s"
_TOP_TRACKS = """
SELECT t.rank, d.name, ar.name AS artist, t.streams, t.listening_ms
FROM analytics.top_tracks t
LEFT JOIN dim_track d ON d.track_id = t.track_id
LEFT JOIN dim_artist ar ON ar.artist_id = d.primary_artist_id
WHERE t.user_id = %(user)s AND t.period = %(month)s AND t.rank <= %(top)s ORDER BY t.rank
"""
_TOP_ARTISTS = """
SELECT t.rank, ar.name, NULL AS artist, t.streams, t.listening_ms
FROM analytics.top_artists t LEFT JOIN dim_artist ar ON ar.artist_id = t.artist_id
WHERE t.user_id = %(user)s AND t.period = %(month)s AND t.rank <= %(top)s ORDER BY t.rank
"""
_TOP_ALBUM = """
SELECT al.name, ar.name AS artist, t.streams, t.listening_ms,
       coalesce(c.total_tracks, al.total_tracks) AS total_tracks, c.tracks_played, c.completion, c.status
FROM analytics.top_albums t
LEFT JOIN dim_album al ON al.album_id = t.album_id
LEFT JOIN dim_artist ar ON ar.artist_id = al.primary_artist_id
LEFT JOIN analytics.album_completion c
       ON c.user_id = t.user_id AND c.period = t.period AND c.album_id = t.album_id
WHERE t.user_id = %(user)s AND t.period = %(month)s AND t.rank = 1
"""
_STREAK = """
SELECT ar.name AS artist, s.days, s.streak_start AS start, s.streak_end AS end
FROM analytics.artist_streaks s LEFT JOIN dim_artist ar ON ar.artist_id = s.artist_id
WHERE s.user_id = %(user)s AND s.period = %(month)s AND s.rank = 1
"""
_BUSIEST_DAY = """
SELECT local_date, listening_ms, streams FROM analytics.longest_days
WHERE user_id = %(user)s AND period = %(month)s AND rank = 1
"""
# The hour with the most streams; ties go to the earlier hour.
_BUSIEST_HOUR = """
SELECT hour, streams FROM analytics.hour_of_day
WHERE user_id = %(user)s AND period = %(month)s AND streams > 0 ORDER BY streams DESC, hour LIMIT 1
"""
_SESSIONS = """
SELECT sessions, avg_session_ms, longest_session_ms, avg_streams_per_session FROM analytics.session_summary
WHERE user_id = %(user)s AND period = %(month)s
"""


def reader(settings: Settings) -> ConnectionPool:
    """Connections to the replica as its read-only role (read-only transactions, UTC)."""
    return ConnectionPool(settings.replica_reader_url, 0)


def load_recap(settings: Settings, user_id: str, month: str) -> MonthRecap:
    """The recap numbers of `user_id` for local month `month`, exactly as the replica holds them."""
    check_month(month)
    params = {"user": user_id, "month": month, "previous": previous_month(month), "top": TOP}
    with reader(settings).connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        overview = cur.execute(_OVERVIEW, params).fetchone()
        if overview is None:
            raise RecapError(f"no statistics for user {user_id!r} in {month} on the replica "
                             "(no streams that month, or the analytics are not published yet)")
        previous = cur.execute(_PREVIOUS, params).fetchone()
        top_tracks = [Ranked(**row) for row in cur.execute(_TOP_TRACKS, params).fetchall()]
        top_artists = [Ranked(**row) for row in cur.execute(_TOP_ARTISTS, params).fetchall()]
        album = cur.execute(_TOP_ALBUM, params).fetchone()
        streak = cur.execute(_STREAK, params).fetchone()
        day = cur.execute(_BUSIEST_DAY, params).fetchone()
        hour = cur.execute(_BUSIEST_HOUR, params).fetchone()
        sessions = cur.execute(_SESSIONS, params).fetchone()
    return MonthRecap(
        user_id=user_id,
        month=month,
        previous=MonthTotals(params["previous"], **previous) if previous else None,
        top_tracks=top_tracks,
        top_artists=top_artists,
        top_album=TopAlbum(**album) if album else None,
        streak=Streak(**streak) if streak else None,
        busiest_day=Busiest(**day) if day else None,
        busiest_hour=hour["hour"] if hour else None,
        busiest_hour_streams=hour["streams"] if hour else 0,
        sessions=Sessions(**sessions) if sessions else None,
        **overview,
    )
