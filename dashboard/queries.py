"""Everything the dashboard reads, from the replica only, through its read-only role.

Each answer is one SQL round trip; PostgreSQL builds the JSON (`json_agg`), so
the rows reach the browser exactly as the replica holds them. Connections come
from a small thread-safe pool, read-only and in UTC.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import psycopg
from flask import current_app
from psycopg import sql
from psycopg.rows import class_row

from dashboard.paging import Paging
from warehouse.catalog import BY_NAME, ROLLING_PERIODS, STATISTICS
from warehouse.replica import (
    ConnectionPool,
    Replication,
    ReplicaUnavailable,
    replication_position,
    share_link_user,
)

# Sessions are keyed by the month of their local start and belong to that month, its year and 'all', and to a
# rolling period when their local start date is on or after its first_day, read from the period's overview row
# (docs/metrics.md, statistics 1 and 8); the other tables by period.
_SESSIONS_IN_PERIOD = (
    "(%(period)s = 'all' OR s.period = %(period)s OR s.period LIKE %(period)s || '-%%' "
    f"OR (%(period)s IN ({', '.join(map(repr, ROLLING_PERIODS))}) AND s.session_start >= "
    "(SELECT o.first_day::timestamp AT TIME ZONE u.timezone FROM analytics.overview o "
    "JOIN dim_user u ON u.user_id = o.user_id WHERE o.user_id = %(user)s AND o.period = %(period)s)))")


@dataclass(frozen=True)
class User:
    user_id: str
    display_name: str | None
    timezone: str | None  # None when the replica has no dim_user row yet
    periods: list[str]  # 'all', the rolling periods (shortest first), then years, then months, newest first
    # each rolling period's first_day and last_day (ISO dates) as its overview row holds them, when it has them
    rolling_days: dict[str, list[str]] = field(default_factory=dict)

    @property
    def years(self) -> list[str]:
        return [p for p in self.periods if len(p) == 4]

    def days(self, period: str) -> tuple[date, date] | None:
        """The local dates a rolling period spans (docs/metrics.md, statistic 1), or None."""
        found = self.rolling_days.get(period)
        return (date.fromisoformat(found[0]), date.fromisoformat(found[1])) if found else None


@dataclass(frozen=True)
class StatisticRows:
    user_known: bool
    period_known: bool
    rows_json: str  # a JSON array, the replica's rows in the catalog's row order (of a paged one: the page's)
    rows_total: int | None = None  # a paged statistic's rows in all


@dataclass(frozen=True)
class Ranking:
    """One page of a whole ranking (track_ranking, artist_ranking, album_ranking) in one of its orders."""
    rows_total: int  # the items ranked in the period
    rows: list[dict]  # the page's rows with the items' names and images, in the order asked for


@dataclass(frozen=True)
class Entity:
    """An artist, album or track of a user's (docs/dashboard.md, entity pages)."""
    streamed: bool  # the user ever streamed it
    json: str  # a JSON object: the item's names, its ranking row of the period, its months, and per kind more


@dataclass(frozen=True)
class Playlist:
    """A playlist of a user's (docs/dashboard.md, playlist pages)."""
    followed: bool  # the user follows it (dim_user_playlist)
    json: str  # a JSON object: the playlist, its playlist_completion row of the period, its tracks in order


@dataclass(frozen=True)
class SearchResult:
    searchable: bool  # the query has a word
    json: str  # a JSON object {"artists": [...], "albums": [...], "tracks": [...]}


@dataclass(frozen=True)
class Comparison:
    """Two users compared (docs/metrics.md, statistic 17 and "Comparing users"), as the replica holds them."""
    periods: list[str]  # the periods the pair has a taste_overlap row for, in the period pickers' order
    users: list[dict]  # the two users, in the order asked: user_id, display_name, timezone, first_day, last_day
    comparison: dict | None  # their taste_overlap row of the period with names and ranking lookups, or None


@dataclass(frozen=True)
class Leaderboard:
    """The leaderboard of a period (docs/metrics.md, "Comparing users")."""
    periods: list[str]  # the periods users who allow comparison have overview rows for
    rows: list[dict]  # their overview rows of the period in the order asked, with display names and places


@dataclass(frozen=True)
class Column:
    statistic: str  # its table analytics.<statistic>
    name: str
    type: str  # as information_schema names it


def _panel(columns: str, table: str, where: str = "t.user_id = %(user)s AND t.period = %(period)s",
           order: str = "", joins: str = "", limit: int | None = None) -> str:
    """A subquery giving a JSON array of `columns` of `table` (alias t) for the user and period."""
    inner = f"SELECT {columns} FROM {table} t {joins} WHERE {where}"
    if order:
        inner += f" ORDER BY {order}"
    if limit:
        inner += f" LIMIT {limit}"
    return f"(SELECT coalesce(json_agg(x), '[]'::json) FROM ({inner}) x)"


def _lookup(alias: str, table: str, key: str, value: str) -> str:
    """A dimension row by its key, looked up once per row (LIMIT 1 keeps the planner from
    hashing the whole dimension table for a top 50)."""
    return f" LEFT JOIN LATERAL (SELECT * FROM {table} WHERE {key} = {value} LIMIT 1) {alias} ON true"


# What the pages show of a track, artist or album named by t.<item>_id (its columns, and the lookups they
# read): the top lists and the whole rankings.
_ITEM_NAMES: dict[str, tuple[str, str]] = {
    "track": ("coalesce(d.name, t.track_id) AS name, ar.name AS artist, al.name AS album, al.image_url",
              _lookup("d", "dim_track", "track_id", "t.track_id")
              + _lookup("al", "dim_album", "album_id", "d.album_id")
              + _lookup("ar", "dim_artist", "artist_id", "d.primary_artist_id")),
    "artist": ("coalesce(ar.name, t.artist_id) AS name, ar.image_url, ar.genres",
               _lookup("ar", "dim_artist", "artist_id", "t.artist_id")),
    "album": ("coalesce(al.name, t.album_id) AS name, ar.name AS artist, al.image_url, al.release_year",
              _lookup("al", "dim_album", "album_id", "t.album_id")
              + _lookup("ar", "dim_artist", "artist_id", "al.primary_artist_id")),
}

PLAYLIST_TOP = 5  # playlists on the overview's playlist_completion panel

# Every panel of a user's page, with names and images from the dimensions.
_PAGE_PANELS: dict[str, str] = {
    "overview": "(SELECT row_to_json(t) FROM analytics.overview t "
                "WHERE t.user_id = %(user)s AND t.period = %(period)s)",
    "months": _panel(
        "t.period, t.streams, t.listening_ms, t.new_artists, t.new_tracks, t.skip_rate, t.active_days",
        "analytics.overview",
        where="t.user_id = %(user)s AND length(t.period) = 7 AND t.period LIKE %(months)s",
        order="t.period"),
    "top_tracks": _panel(f"t.rank, t.track_id, t.streams, t.listening_ms, {_ITEM_NAMES['track'][0]}",
                         "analytics.top_tracks", joins=_ITEM_NAMES["track"][1], order="t.rank"),
    "top_artists": _panel(f"t.rank, t.artist_id, t.streams, t.listening_ms, {_ITEM_NAMES['artist'][0]}",
                          "analytics.top_artists", joins=_ITEM_NAMES["artist"][1], order="t.rank"),
    "top_albums": _panel(f"t.rank, t.album_id, t.streams, t.listening_ms, {_ITEM_NAMES['album'][0]}",
                         "analytics.top_albums", joins=_ITEM_NAMES["album"][1], order="t.rank"),
    "hour_of_day": _panel("t.hour, t.streams, t.listening_ms, t.share", "analytics.hour_of_day",
                          order="t.hour"),
    "day_of_week": _panel(
        "t.day_of_week, t.streams, t.distinct_tracks, t.distinct_artists, t.track_variety, t.artist_variety",
        "analytics.day_of_week", order="t.day_of_week"),
    "listening_clock": _panel("t.day_of_week, t.hour, t.streams", "analytics.listening_clock",
                              order="t.day_of_week, t.hour"),
    "album_completion": _panel(
        "t.rank, t.album_id, coalesce(al.name, t.album_id) AS name, ar.name AS artist, al.image_url, "
        "t.total_tracks, t.tracks_played, t.completion, t.status, t.streams",
        "(SELECT * FROM analytics.album_completion WHERE user_id = %(user)s AND period = %(period)s "
        "ORDER BY rank, album_id LIMIT 20)", where="true",
        joins=_lookup("al", "dim_album", "album_id", "t.album_id")
        + _lookup("ar", "dim_artist", "artist_id", "al.primary_artist_id"),
        order="t.rank, t.album_id"),
    "album_status": _panel("t.status, count(*) AS albums", "analytics.album_completion",
                           where="t.user_id = %(user)s AND t.period = %(period)s GROUP BY t.status",
                           order="array_position(ARRAY['complete', 'most', 'half', 'partial'], t.status)"),
    "artist_streaks": _panel(
        "t.rank, t.artist_id, coalesce(ar.name, t.artist_id) AS name, t.days, t.streak_start, t.streak_end",
        "analytics.artist_streaks",
        joins=_lookup("ar", "dim_artist", "artist_id", "t.artist_id"), order="t.rank"),
    "session_summary": "(SELECT row_to_json(t) FROM analytics.session_summary t "
                       "WHERE t.user_id = %(user)s AND t.period = %(period)s)",
    # Session lengths in buckets (minutes): < 15, 15-30, 30-60, 60-120, 120-240, >= 240.
    "session_lengths": "(SELECT coalesce(json_agg(json_build_object('bucket', b.bucket, 'sessions', "
                       "coalesce(c.sessions, 0)) ORDER BY b.bucket), '[]'::json) "
                       "FROM generate_series(0, 5) AS b(bucket) LEFT JOIN ("
                       "SELECT width_bucket(extract(epoch FROM s.session_end - s.session_start) / 60, "
                       "ARRAY[15, 30, 60, 120, 240]::numeric[]) AS bucket, count(*) AS sessions "
                       "FROM analytics.sessions s WHERE s.user_id = %(user)s AND "
                       + _SESSIONS_IN_PERIOD + " GROUP BY 1) c ON c.bucket = b.bucket)",
    "play_gaps": _panel("t.gap_class, t.gaps, t.share", "analytics.play_gaps",
                        order=BY_NAME["play_gaps"].row_order),
    "popularity_distribution": _panel("t.bracket, t.streams, t.distinct_tracks, t.share",
                                      "analytics.popularity_distribution",
                                      order=BY_NAME["popularity_distribution"].row_order),
    "duration_preference": _panel("t.duration_class, t.streams, t.share", "analytics.duration_preference",
                                  order=BY_NAME["duration_preference"].row_order),
    "explicit_preference": _panel("t.explicit, t.streams, t.share", "analytics.explicit_preference",
                                  order=BY_NAME["explicit_preference"].row_order),
    "release_years": _panel("t.release_year, t.streams, t.distinct_albums", "analytics.release_years",
                            order="t.release_year"),
    "longest_days": _panel("t.rank, t.local_date, t.listening_ms, t.streams", "analytics.longest_days",
                           order="t.rank"),
    "genre_distribution": _panel("t.rank, t.genre, t.streams, t.share", "analytics.genre_distribution",
                                 order="t.rank NULLS LAST, t.genre"),
    "top_shows": _panel(
        "t.rank, t.show_id, t.listens, t.listening_ms, t.episodes, coalesce(sh.name, t.show_id) AS name",
        "analytics.top_shows", joins=_lookup("sh", "dim_show", "show_id", "t.show_id"), order="t.rank"),
    "top_episodes": _panel(
        "t.rank, t.episode_id, t.listens, t.listening_ms, coalesce(ep.name, t.episode_id) AS name, sh.name AS show",
        "analytics.top_episodes", joins=_lookup("ep", "dim_episode", "episode_id", "t.episode_id")
        + _lookup("sh", "dim_show", "show_id", "t.show_id"), order="t.rank"),
    # The period's first playlists of playlist_completion (docs/metrics.md, statistic 20) that the user still
    # follows (the rows of one unfollowed since the last analytics run are left out, as on the playlists page).
    "playlist_completion": _panel(
        "t.rank, t.playlist_id, coalesce(p.name, t.playlist_id) AS name, p.owner_name, t.total_tracks, "
        "t.tracks_played, t.completion, t.streams, t.listening_ms, t.context_streams",
        "analytics.playlist_completion",
        where="t.user_id = %(user)s AND t.period = %(period)s AND EXISTS (SELECT 1 FROM dim_user_playlist f "
              "WHERE f.user_id = t.user_id AND f.playlist_id = t.playlist_id)",
        joins=_lookup("p", "dim_playlist", "playlist_id", "t.playlist_id"), order="t.rank", limit=PLAYLIST_TOP),
}
# Prepared once per connection: psycopg would re-parse a query this long on every call.
_PREPARE_PAGE = (
    "PREPARE dashboard_page (text, text, text) AS SELECT json_build_object("
    + ", ".join(f"'{name}', {subquery}" for name, subquery in _PAGE_PANELS.items()) + ")::text"
).replace("%(user)s", "$1").replace("%(period)s", "$2").replace("%(months)s", "$3").replace("%%", "%")

# The entity pages (an artist, album or track of a user, and a period): each part a subquery of
# parameters %(user)s, %(period)s and %(item)s, the item's id.
ENTITY_TOP = 10  # an artist's top tracks and albums
ALBUM_TRACKS = 500  # an album's tracks streamed, and of its track list, at most


def _is_item(kind: str, row: str = "t") -> str:
    """SQL: whether the `kind`_ranking row `row` is the item's. A track's row is its recording's, shown by its
    most streamed edition (docs/metrics.md, "One song across editions"): the row whose editions hold it."""
    if kind == "track":
        return f"{row}.editions @> ARRAY[%(item)s]::text[]"
    return f"{row}.{kind}_id = %(item)s"


def _entity_ranking(kind: str) -> str:
    return (f"(SELECT row_to_json(t) FROM analytics.{kind}_ranking t WHERE t.user_id = %(user)s "
            f"AND t.period = %(period)s AND {_is_item(kind)})")


def _entity_months(kind: str) -> str:
    """The item's streams, listening time and rank in every month of the user's history that has it."""
    return _panel("t.period, t.streams, t.listening_ms, t.rank", f"analytics.{kind}_ranking",
                  where=f"t.user_id = %(user)s AND {_is_item(kind)} AND length(t.period) = 7",
                  order="t.period")


def _entity_items(kind: str, by: str, limit: int) -> str:
    """The period's `kind` rows (with names) whose `by` column is the item, in rank order."""
    return _panel(f"t.rank, t.{kind}_id, t.streams, t.listening_ms, t.share, t.first_played_at, "
                  f"t.last_played_at, {_ITEM_NAMES[kind][0]}", f"analytics.{kind}_ranking",
                  where=f"t.user_id = %(user)s AND t.period = %(period)s AND t.{by} = %(item)s",
                  joins=_ITEM_NAMES[kind][1], order="t.rank", limit=limit)


_ENTITY_PARTS: dict[str, dict[str, str]] = {
    "artist": {
        "artist": "(SELECT row_to_json(d) FROM (SELECT artist_id, name, image_url, genres FROM dim_artist "
                  "WHERE artist_id = %(item)s) d)",
        "ranking": _entity_ranking("artist"),
        "months": _entity_months("artist"),
        "top_tracks": _entity_items("track", "artist_id", ENTITY_TOP),
        "top_albums": _entity_items("album", "artist_id", ENTITY_TOP),
    },
    "album": {
        "album": "(SELECT row_to_json(d) FROM (SELECT al.album_id, al.name, al.image_url, al.release_date, "
                 "al.total_tracks, al.primary_artist_id AS artist_id, ar.name AS artist FROM dim_album al "
                 "LEFT JOIN dim_artist ar ON ar.artist_id = al.primary_artist_id WHERE al.album_id = %(item)s) d)",
        "ranking": _entity_ranking("album"),
        "completion": "(SELECT row_to_json(t) FROM analytics.album_completion t WHERE t.user_id = %(user)s "
                      "AND t.period = %(period)s AND t.album_id = %(item)s)",
        "months": _entity_months("album"),
        "tracks": _entity_items("track", "album_id", ALBUM_TRACKS),
        # Spotify's track list of the album (dim_album_track; [] when it is not known), each track with
        # its streams of the period (null: not heard) from track_ranking.
        "track_list": _panel(
            "t.disc_number, t.track_number, t.track_id, t.name, t.duration_ms, r.streams, r.listening_ms",
            "dim_album_track", where="t.album_id = %(item)s", order="t.disc_number, t.track_number",
            joins=" LEFT JOIN LATERAL (SELECT streams, listening_ms FROM analytics.track_ranking WHERE "
                  "user_id = %(user)s AND period = %(period)s AND editions @> ARRAY[t.track_id] LIMIT 1) r ON true",
            limit=ALBUM_TRACKS),
    },
    "track": {
        "track": "(SELECT row_to_json(d) FROM (SELECT tr.track_id, tr.name, tr.duration_ms, tr.explicit, "
                 "tr.album_id, al.name AS album, al.image_url, tr.primary_artist_id AS artist_id, "
                 "ar.name AS artist FROM dim_track tr "
                 "LEFT JOIN dim_album al ON al.album_id = tr.album_id "
                 "LEFT JOIN dim_artist ar ON ar.artist_id = tr.primary_artist_id WHERE tr.track_id = %(item)s) d)",
        "ranking": _entity_ranking("track"),
        "months": _entity_months("track"),
        # the recording's editions streamed in the period, the shown one first (the row's `editions`)
        "editions": "(SELECT coalesce(json_agg(json_build_object('track_id', e.track_id, 'name', tr.name, "
                    "'album_id', tr.album_id, 'album', al.name) ORDER BY e.n), '[]'::json) "
                    "FROM analytics.track_ranking t CROSS JOIN unnest(t.editions) WITH ORDINALITY e (track_id, n) "
                    "LEFT JOIN dim_track tr ON tr.track_id = e.track_id "
                    "LEFT JOIN dim_album al ON al.album_id = tr.album_id "
                    f"WHERE t.user_id = %(user)s AND t.period = %(period)s AND {_is_item('track')})",
    },
}
_ENTITY_QUERIES: dict[str, str] = {
    kind: f"SELECT EXISTS (SELECT 1 FROM analytics.{kind}_ranking t WHERE t.user_id = %(user)s "
          f"AND t.period = 'all' AND {_is_item(kind)}) AS streamed, json_build_object("
          + ", ".join(f"'{name}', {part}" for name, part in parts.items()) + ")::text AS json"
    for kind, parts in _ENTITY_PARTS.items()
}

# The playlists a user follows (dim_user_playlist, docs/ingestion.md "Playlists") with their playlist_completion row
# of the period (docs/metrics.md, statistic 20): those with a row in its rank order, then the others (not streamed
# in the period) by name. A playlist followed whose dim_playlist row has not arrived yet is named by its id.
_PLAYLISTS_QUERY = """
SELECT coalesce(json_agg(x ORDER BY x.rank NULLS LAST, x.name COLLATE "C", x.playlist_id), '[]'::json)::text FROM (
    SELECT f.playlist_id, coalesce(p.name, f.playlist_id) AS name, p.owner_name,
           coalesce(t.total_tracks, p.total_tracks) AS total_tracks, t.rank, t.tracks_played, t.completion,
           t.streams, t.listening_ms, t.first_played_at, t.last_played_at, t.context_streams,
           t.context_listening_ms, t.context_first_played_at, t.context_last_played_at
    FROM dim_user_playlist f
    LEFT JOIN dim_playlist p ON p.playlist_id = f.playlist_id
    LEFT JOIN analytics.playlist_completion t
           ON t.user_id = f.user_id AND t.period = %(period)s AND t.playlist_id = f.playlist_id
    WHERE f.user_id = %(user)s) x
"""

# A playlist's page (parameters %(user)s, %(period)s and %(item)s, the playlist's id): the playlist, its
# playlist_completion row of the period (null: none), and its entries in order, at most PLAYLIST_TRACKS, each
# with its track's and primary artist's names when dim_track knows it, and heard when its id is one of the row's
# heard_track_ids (the edition played, docs/metrics.md, statistic 20).
PLAYLIST_TRACKS = 1000
_PLAYLIST_ROW = ("SELECT {} FROM analytics.playlist_completion c WHERE c.user_id = %(user)s "
                 "AND c.period = %(period)s AND c.playlist_id = %(item)s")
_PLAYLIST_QUERY = (
    "SELECT EXISTS (SELECT 1 FROM dim_user_playlist WHERE user_id = %(user)s AND playlist_id = %(item)s) "
    "AS followed, json_build_object("
    "'playlist', (SELECT row_to_json(d) FROM (SELECT q.playlist_id, p.name, p.owner_name, p.total_tracks, "
    "(SELECT count(*) FROM dim_playlist_track e WHERE e.playlist_id = q.playlist_id) AS entries "
    "FROM (SELECT %(item)s::text AS playlist_id) q LEFT JOIN dim_playlist p ON p.playlist_id = q.playlist_id) d), "
    f"'playlist_completion', ({_PLAYLIST_ROW.format('row_to_json(c)')}), "
    "'tracks', " + _panel(
        "t.position, t.track_id, d.name, d.primary_artist_id AS artist_id, ar.name AS artist, "
        f"coalesce(t.track_id = ANY(({_PLAYLIST_ROW.format('c.heard_track_ids')})::text[]), false) AS heard",
        "dim_playlist_track", where="t.playlist_id = %(item)s", order="t.position", limit=PLAYLIST_TRACKS,
        joins=_lookup("d", "dim_track", "track_id", "t.track_id")
        + _lookup("ar", "dim_artist", "artist_id", "d.primary_artist_id"))
    + ")::text AS json")

# Search: the user's artists, albums and tracks whose folded name (public.search_key, replica migration
# 0009) has a word starting with each word of the folded query, most streamed first (all time: rank order).
# public.dashboard_search (replica migration 0014) holds each item of a user's all-time rankings with its
# rank, streams, listening time and folded name, kept by the replica's triggers: a search walks the user's
# entries of a kind by rank through one index and stops at the SEARCH_LIMIT-th match, so its cost follows
# the user's items, not everyone's names.
SEARCH_LIMIT = 10
_SEARCH_PATTERNS = ("(SELECT array_agg('(^|[[:space:][:punct:]])' || word) FROM unnest(array_remove("
                    "regexp_split_to_array(public.search_key(%(q)s), '[[:space:][:punct:]]+'), '')) word)")


def _search(kind: str) -> str:
    return (
        f"(SELECT coalesce(json_agg(x ORDER BY x.rank), '[]'::json) "
        f"FROM (SELECT t.item_id AS {kind}_id, t.streams, t.listening_ms, t.rank, {_ITEM_NAMES[kind][0]} FROM ("
        f"SELECT s.item_id AS {kind}_id, s.* FROM public.dashboard_search s WHERE s.user_id = %(user)s "
        f"AND s.kind = '{kind}' AND s.name_key ~ ALL (q.patterns) ORDER BY s.rank LIMIT {SEARCH_LIMIT}) t "
        f"{_ITEM_NAMES[kind][1]}) x)")


_SEARCH_QUERY = (
    "SELECT q.patterns IS NOT NULL AS searchable, json_build_object("
    + ", ".join(f"'{kind}s', {_search(kind)}" for kind in ("artist", "album", "track"))
    + f")::text AS json FROM (SELECT {_SEARCH_PATTERNS} AS patterns) q")


def _ranked_page(statistic: str, sort: str, columns: str = "t.*", joins: str = "") -> sql.Composed:
    """A JSON array of the rows of one page of a paged statistic in order `sort` (its ranks run 1..n, so a
    page is a range of them, read by index): parameters %(offset)s and %(limit)s."""
    rank = sql.Identifier(BY_NAME[statistic].sorts[sort])
    return sql.SQL(
        "(SELECT coalesce(json_agg(r ORDER BY r.{rank}), '[]'::json) FROM ("
        "SELECT {columns} FROM analytics.{table} t {joins} WHERE t.user_id = %(user)s AND t.period = %(period)s "
        "AND t.{rank} > %(offset)s AND t.{rank} <= %(offset)s + %(limit)s) r)"
    ).format(columns=sql.SQL(columns), table=sql.Identifier(statistic), joins=sql.SQL(joins), rank=rank)


def _rows_total(statistic: str) -> sql.Composed:
    return sql.SQL("(SELECT count(*) FROM analytics.{} WHERE user_id = %(user)s AND period = %(period)s)").format(
        sql.Identifier(statistic))


# A user's periods: 'all', the rolling ones in ROLLING_PERIODS' order (array_position puts the others after
# them: NULL sorts last), then years and months, newest first; and the days the rolling ones span.
_USER_QUERY = """
SELECT q.user_id, u.display_name, u.timezone, coalesce(p.periods, '{}') AS periods,
       coalesce(p.rolling_days, '{}'::json) AS rolling_days
FROM (SELECT %(user)s::text AS user_id) q
LEFT JOIN dim_user u ON u.user_id = q.user_id
CROSS JOIN LATERAL (
    SELECT array_agg(o.period ORDER BY o.period <> 'all', array_position(%(rolling)s, o.period),
                     length(o.period), o.period DESC) AS periods,
           json_object_agg(o.period, json_build_array(o.first_day, o.last_day))
               FILTER (WHERE o.period = ANY(%(rolling)s) AND o.first_day IS NOT NULL AND o.last_day IS NOT NULL)
               AS rolling_days
    FROM analytics.overview o WHERE o.user_id = q.user_id) p
WHERE u.user_id IS NOT NULL OR p.periods IS NOT NULL
"""

_USERS_QUERY = """
SELECT coalesce(json_agg(x ORDER BY x.user_id), '[]'::json)::text FROM (
    SELECT coalesce(u.user_id, o.user_id) AS user_id, u.display_name, u.timezone,
           o.streams, o.listening_ms, o.first_played_at, o.last_played_at,
           (SELECT count(*) FROM analytics.overview p WHERE p.user_id = coalesce(u.user_id, o.user_id))
               AS periods
    FROM dim_user u
    FULL JOIN (SELECT * FROM analytics.overview WHERE period = 'all') o ON o.user_id = u.user_id
) x
"""

# Comparing users (docs/metrics.md, statistic 17 and "Comparing users"): the consent is read from dim_user on every
# request, never from the rows; taste_overlap's rows name another user, so its rows are those of two users who both
# allow comparison now, and of other users the viewer may see (%(others)s, NULL for the admin: any).
_CONSENTS = "EXISTS (SELECT 1 FROM dim_user c WHERE c.user_id = {} AND c.compare_consent)"
_COMPARED_ROWS = {
    "taste_overlap": (f"s.period = %(period)s AND {_CONSENTS.format('s.user_id')} AND "
                      f"{_CONSENTS.format('s.other_user_id')} AND "
                      "(%(others)s::text[] IS NULL OR s.other_user_id = ANY(%(others)s::text[]))"),
}
# Periods in the pickers' order: 'all', the rolling ones in ROLLING_PERIODS' order, then years and months, newest
# first (as _USER_QUERY).
_PERIOD_ORDER = "{0} <> 'all', array_position(%(rolling)s, {0}), length({0}), {0} DESC"


def _shared(kind: str, user: str) -> str:
    """A shared artist's or track's (x.<kind>_id) streams and rank in `user`'s ranking of the period: a lookup."""
    return (f"(SELECT json_build_object('streams', r.streams, 'rank', r.rank) FROM analytics.{kind}_ranking r "
            f"WHERE r.user_id = {user} AND r.period = %(period)s AND r.{kind}_id = x.{kind}_id)")


def _by_user(kind: str) -> str:
    return f"json_build_object(%(a)s::text, {_shared(kind, '%(a)s')}, %(b)s::text, {_shared(kind, '%(b)s')})"


_COMPARISON_QUERY = f"""
SELECT
  (SELECT coalesce(array_agg(t.period ORDER BY {_PERIOD_ORDER.format('t.period')}), '{{}}')
   FROM analytics.taste_overlap t WHERE t.user_id = %(a)s AND t.other_user_id = %(b)s) AS periods,
  (SELECT coalesce(json_agg(json_build_object('user_id', u.user_id, 'display_name', u.display_name,
                                              'timezone', u.timezone, 'first_day', o.first_day,
                                              'last_day', o.last_day)
                            ORDER BY u.user_id <> %(a)s), '[]'::json)
   FROM dim_user u LEFT JOIN analytics.overview o ON o.user_id = u.user_id AND o.period = %(period)s
   WHERE u.user_id IN (%(a)s, %(b)s)) AS users,
  (SELECT json_build_object(
     'overlap', t.overlap, 'shared_artists', t.shared_artists, 'shared_tracks', t.shared_tracks,
     'computed_at', t.computed_at, 'source_max_played_at', t.source_max_played_at,
     'top_shared_artists', (
       SELECT coalesce(json_agg(json_build_object(
                'artist_id', x.artist_id, 'name', coalesce(ar.name, x.artist_id), 'image_url', ar.image_url,
                'first_streamed_by', x.first_streamed_by, 'by_user', {_by_user('artist')}) ORDER BY x.n), '[]'::json)
       FROM unnest(t.top_shared_artists, t.first_streamed_by) WITH ORDINALITY x(artist_id, first_streamed_by, n)
       {_lookup("ar", "dim_artist", "artist_id", "x.artist_id")}),
     'top_shared_tracks', (
       SELECT coalesce(json_agg(json_build_object(
                'track_id', x.track_id, 'name', coalesce(d.name, x.track_id), 'artist', ar.name,
                'album', al.name, 'image_url', al.image_url, 'by_user', {_by_user('track')}) ORDER BY x.n),
                '[]'::json)
       FROM unnest(t.top_shared_tracks) WITH ORDINALITY x(track_id, n)
       {_lookup("d", "dim_track", "track_id", "x.track_id") + _lookup("al", "dim_album", "album_id", "d.album_id")
        + _lookup("ar", "dim_artist", "artist_id", "d.primary_artist_id")}))
   FROM analytics.taste_overlap t
   WHERE t.user_id = %(a)s AND t.period = %(period)s AND t.other_user_id = %(b)s) AS comparison
"""

# The leaderboard of a period: the overview rows of the users who allow comparison, in the order of one of
# LEADERBOARD_SORTS' columns, descending (NULL last: a row published before the column existed), then user_id;
# a user's place is their position in that order.
LEADERBOARD_SORTS = {"listening_time": "listening_ms", "streams": "streams", "distinct_artists": "distinct_artists",
                     "longest_streak": "longest_streak"}
_LEADERBOARD_QUERY = f"""
SELECT
  (SELECT coalesce(array_agg(p.period ORDER BY {_PERIOD_ORDER.format('p.period')}), '{{}}') FROM (
     SELECT DISTINCT o.period FROM analytics.overview o JOIN dim_user u ON u.user_id = o.user_id
     WHERE u.compare_consent) p) AS periods,
  (SELECT coalesce(json_agg(x ORDER BY x.place), '[]'::json) FROM (
     SELECT row_number() OVER (ORDER BY o.{{column}} DESC NULLS LAST, o.user_id) AS place, o.user_id,
            u.display_name, o.listening_ms, o.streams, o.distinct_artists, o.longest_streak, o.first_day, o.last_day
     FROM analytics.overview o JOIN dim_user u ON u.user_id = o.user_id
     WHERE u.compare_consent AND o.period = %(period)s) x) AS rows
"""
_LEADERBOARD_QUERIES = {sort: _LEADERBOARD_QUERY.replace("{column}", column)
                        for sort, column in LEADERBOARD_SORTS.items()}

# The users a user's page may show comparisons with: those who allow comparison, when the user does, and whom the
# viewer may see (%(others)s, NULL for the admin: any), with the overlap of the period when taste_overlap has it.
_PARTNERS_QUERY = f"""
SELECT coalesce(json_agg(x ORDER BY x.overlap DESC NULLS LAST, x.user_id), '[]'::json) FROM (
  SELECT u.user_id, u.display_name, t.overlap FROM dim_user u
  LEFT JOIN analytics.taste_overlap t ON t.user_id = %(user)s AND t.period = %(period)s AND t.other_user_id = u.user_id
  WHERE u.compare_consent AND u.user_id <> %(user)s
    AND (%(others)s::text[] IS NULL OR u.user_id = ANY(%(others)s::text[])) AND {_CONSENTS.format('%(user)s')}) x
"""

_COLUMNS_QUERY = """
SELECT table_name AS statistic, column_name AS name, data_type AS type
FROM information_schema.columns WHERE table_schema = 'analytics' ORDER BY table_name, ordinal_position
"""


class Replica:
    """Read-only access to the replica's dimensions, statistics and share links."""

    def __init__(self, url: str, pool_size: int = 8):
        self.pool = ConnectionPool(url, pool_size, prepare=(_PREPARE_PAGE,))

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _connection(self):
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:  # e.g. the replica restarted under a pooled connection
            raise ReplicaUnavailable(f"the replica did not answer: {exc}") from exc

    def _value(self, query, params=None):
        """The one value a query answers."""
        with self._connection() as conn:
            (value,) = conn.execute(query, params).fetchone()
        return value

    def replication(self) -> Replication | None:
        """Where the replication stands (None when the replica keeps no position)."""
        with self._connection() as conn:
            return replication_position(conn)

    def has_data(self) -> bool:
        return self._value("SELECT EXISTS (SELECT 1 FROM analytics.overview)")

    def share_link_users(self, token_hashes: list[str]) -> dict[str, str]:
        """{token hash: the user its share link opens} of the live (neither revoked nor expired) links."""
        with self._connection() as conn:
            found = {token_hash: share_link_user(conn, token_hash) for token_hash in token_hashes}
        return {token_hash: user_id for token_hash, user_id in found.items() if user_id is not None}

    def compare_consent(self, user_ids: list[str]) -> dict[str, bool]:
        """{user: whether they allow comparison now} of the users the replica has a dim_user row of."""
        with self._connection() as conn:
            return dict(conn.execute("SELECT user_id, compare_consent FROM dim_user WHERE user_id = ANY(%s)",
                                     (list(user_ids),)).fetchall())

    def comparison(self, a: str, b: str, period: str) -> Comparison:
        """Users `a` and `b` compared in the period (both allow comparison: the caller checked)."""
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(Comparison)).execute(
                _COMPARISON_QUERY, {"a": a, "b": b, "period": period, "rolling": list(ROLLING_PERIODS)}).fetchone()

    def leaderboard(self, period: str, sort: str) -> Leaderboard:
        """The leaderboard of the period in the order `sort` (a key of LEADERBOARD_SORTS)."""
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(Leaderboard)).execute(
                _LEADERBOARD_QUERIES[sort], {"period": period, "rolling": list(ROLLING_PERIODS)}).fetchone()

    def compare_partners(self, user_id: str, period: str, others: list[str] | None) -> list[dict]:
        """The users the user may be compared with on their page: both allow comparison, and the viewer may see
        them (`others`; None for the admin), with their overlap of the period if any; most overlap first."""
        return self._value(_PARTNERS_QUERY, {"user": user_id, "period": period,
                                             "others": None if others is None else list(others)})

    def user(self, user_id: str) -> User | None:
        """The user, if the replica has their dim_user row or statistics."""
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(User)).execute(
                _USER_QUERY, {"user": user_id, "rolling": list(ROLLING_PERIODS)}).fetchone()

    def users_json(self) -> str:
        return self._value(_USERS_QUERY)

    def statistic(self, user_id: str, statistic: str, period: str, paging: Paging | None = None, *,
                  others: list[str] | None) -> StatisticRows:
        """Exactly the replica's rows of `statistic` for the user and period; of a paged statistic, those of
        the page `paging` asks for (and how many rows there are in all). Of a statistic whose rows name another
        user (taste_overlap), only the rows of two users who allow comparison now, and of other users among
        `others` (the users the viewer may see; None for the admin: any)."""
        if paging:
            rows = sql.SQL("{}::text AS rows_json, {} AS rows_total").format(
                _ranked_page(statistic, paging.sort), _rows_total(statistic))
        else:
            where = _SESSIONS_IN_PERIOD if statistic == "sessions" else \
                _COMPARED_ROWS.get(statistic, "s.period = %(period)s")
            rows = sql.SQL("(SELECT coalesce(json_agg(s ORDER BY {order}), '[]'::json)::text "
                           " FROM analytics.{table} s WHERE s.user_id = %(user)s AND {where}) AS rows_json"
                           ).format(order=sql.SQL(BY_NAME[statistic].row_order), table=sql.Identifier(statistic),
                                    where=sql.SQL(where))
        query = sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM dim_user WHERE user_id = %(user)s)"
            "    OR EXISTS (SELECT 1 FROM analytics.overview WHERE user_id = %(user)s) AS user_known, "
            "EXISTS (SELECT 1 FROM analytics.overview WHERE user_id = %(user)s AND period = %(period)s) "
            "    AS period_known, {rows}").format(rows=rows)
        params = {"user": user_id, "period": period, "others": None if others is None else list(others),
                  **(paging.bounds if paging else {})}
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(StatisticRows)).execute(query, params).fetchone()

    def ranking(self, user_id: str, statistic: str, period: str, paging: Paging) -> Ranking:
        """One page of a ranking (of a period the user has), with the items' names and images."""
        columns, joins = _ITEM_NAMES[statistic.removesuffix("_ranking")]
        query = sql.SQL("SELECT {total} AS rows_total, {page} AS rows").format(
            total=_rows_total(statistic), page=_ranked_page(statistic, paging.sort, f"t.*, {columns}", joins))
        params = {"user": user_id, "period": period, **paging.bounds}
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(Ranking)).execute(query, params).fetchone()

    def entity(self, user_id: str, kind: str, item_id: str, period: str) -> Entity:
        """An artist, album or track (`kind`) of the user: its rows of the period and its months."""
        params = {"user": user_id, "period": period, "item": item_id}
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(Entity)).execute(_ENTITY_QUERIES[kind], params).fetchone()

    def playlists(self, user_id: str, period: str) -> str:
        """The playlists the user follows with their playlist_completion rows of the period (a JSON array, text):
        those with a row by rank, then the others by name."""
        return self._value(_PLAYLISTS_QUERY, {"user": user_id, "period": period})

    def playlist(self, user_id: str, playlist_id: str, period: str) -> Playlist:
        """A playlist of the user's: its row of the period and its tracks, each heard in the period or not."""
        params = {"user": user_id, "period": period, "item": playlist_id}
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(Playlist)).execute(_PLAYLIST_QUERY, params).fetchone()

    def search(self, user_id: str, query: str) -> SearchResult:
        """The user's artists, albums and tracks whose names match `query`, most streamed first."""
        with self._connection() as conn:
            return conn.cursor(row_factory=class_row(SearchResult)).execute(
                _SEARCH_QUERY, {"user": user_id, "q": query}).fetchone()

    def page(self, user_id: str, period: str) -> str:
        """All panels of a user's page for a period, as one JSON object (text)."""
        months = "%" if period == "all" else f"{period}-%"
        # EXECUTE takes no bind parameters: the values go in as quoted literals.
        return self._value(
            sql.SQL("EXECUTE dashboard_page ({}, {}, {})").format(*map(sql.Literal, (user_id, period, months))))

    def columns(self) -> dict[str, list[Column]]:
        """Each statistic table's columns and types, as the replica has them."""
        with self._connection() as conn:
            found = conn.cursor(row_factory=class_row(Column)).execute(_COLUMNS_QUERY).fetchall()
        return {name: [column for column in found if column.statistic == name] for name in STATISTICS}


def current_replica() -> Replica:
    """The replica reader of the app serving this request."""
    return current_app.extensions["replica"]
