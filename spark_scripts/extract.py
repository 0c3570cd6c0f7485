"""The job's reads from main over JDBC: the plays of the run's months, the stored grains of the others,
the plays of the run's users' rolling periods (an incremental run's: a full run's plays hold them), the
dimensions, and (an incremental run's) the published shares of the users who allow comparison.

Full run: every play, and no stored grain. Incremental run: the run's users
and their first recomputed month go into `analytics_staging.run_users`, which
every read joins: the users' plays from that month on (plus each user's last
stream before it, `before`, for the sessions and gaps at the edge), and the
stored grains of the months before it (analytics_state.*, analytics.sessions).
Every value is a bound parameter: no user id is ever pasted into SQL.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from pyspark.sql import DataFrame, SparkSession

from spark_scripts.scope import RunScope, recomputed_periods
from spark_scripts.session import read_query, shuffle_partitions
from spark_scripts.state import SESSION_COLUMNS, STORED, Grains
from warehouse.catalog import ROLLING_PERIODS
from warehouse.db import connect
from warehouse.settings import Settings

PLAY_COLUMNS = ("play_id, user_id, content_type, track_id, recording_id, episode_id, show_id, played_at, started_at, "
                "ms_played, is_stream, skipped, context_uri, local_date, local_hour, local_dow, local_year, "
                "local_month")
P_COLUMNS = ", ".join(f"p.{c.strip()}" for c in PLAY_COLUMNS.split(","))  # of `fact_play p`
PLAY_PARTITIONS = 4
DIMENSIONS = {
    "tracks": "SELECT track_id, album_id, primary_artist_id, duration_ms, explicit, popularity FROM dim_track",
    "albums": "SELECT album_id, total_tracks, release_year, primary_artist_id AS album_artist_id FROM dim_album",
    "artists": "SELECT artist_id, genres FROM dim_artist",
    "users": "SELECT user_id, timezone, compare_consent FROM dim_user",
    # Each distinct track of each playlist a user follows (playlist_completion).
    "playlist_tracks": "SELECT DISTINCT u.user_id, t.playlist_id, t.track_id "
                       "FROM dim_user_playlist u JOIN dim_playlist_track t USING (playlist_id)",
}
# A play matching one of its user's exclusion rules counts nowhere (docs/metrics.md, "What counts").
COUNTED = "NOT p.excluded"
RECOMPUTED = f"JOIN analytics_staging.run_users r USING (user_id) WHERE p.local_month >= r.since AND {COUNTED}"


def newest_play(main: psycopg.Connection) -> datetime | None:
    """The source_max_played_at of the results: main's newest play."""
    (played_at,) = main.execute("SELECT max(played_at) FROM fact_play").fetchone()
    return played_at


def play_range(main: psycopg.Connection, scope: RunScope) -> tuple[int, int, int]:
    """(lowest play_id, highest play_id, how many) of the plays the run reads; (0, 0, 0) without plays."""
    where = f"WHERE {COUNTED}" if scope.users is None else RECOMPUTED
    low, high, count = main.execute(
        f"SELECT coalesce(min(play_id), 0), coalesce(max(play_id), 0), count(*) FROM fact_play p {where}").fetchone()
    return low, high, count


def write_run_users(main: psycopg.Connection, scope: RunScope) -> None:
    """The run's users and their first recomputed month, for the JDBC reads to join (empty for a full run)."""
    main.execute("TRUNCATE analytics_staging.run_users")
    main.execute("INSERT INTO analytics_staging.run_users (user_id, since) "
                 "SELECT * FROM unnest(%s::text[], %s::text[])",
                 (list(scope.since), list(scope.since.values())))  # a full run's `since` is empty
    main.execute("SELECT analyze_table('analytics_staging.run_users')")  # the owner's (main migration 0008)


def _last_stream_before(users: str, edge: str) -> str:
    """SQL: each user of the row source `users` (alias `u`, a `user_id` column) with the user's last stream in the
    streams' order whose `edge` (a condition on fact_play `p`) holds, marked `before`."""
    return (f"SELECT e.*, true FROM {users} CROSS JOIN LATERAL (SELECT {P_COLUMNS} FROM fact_play p "
            f"WHERE p.user_id = u.user_id AND p.is_stream AND {COUNTED} AND {edge} "
            "ORDER BY p.played_at DESC, p.started_at DESC, p.track_id DESC, p.play_id DESC LIMIT 1) e")


def plays_query(scope: RunScope) -> str:
    if scope.users is None:
        return f"SELECT {P_COLUMNS}, false AS before FROM fact_play p WHERE {COUNTED}"
    return (f"SELECT {P_COLUMNS}, false AS before FROM fact_play p {RECOMPUTED} "
            f"UNION ALL {_last_stream_before('analytics_staging.run_users u', 'p.local_month < u.since')}")


def window_query() -> str:
    """The plays of an incremental run's users' rolling periods (spark_scripts/state.py `rolling_plays`): each
    user's plays from the first day of the longest one on, and the user's last stream before that day
    (`before`)."""
    longest = max(amount for amount, unit in ROLLING_PERIODS.values() if unit == "months")
    # A user's latest local date with a stream is that of the latest stream (one zone per user).
    return (f"WITH w AS (SELECT u.user_id, (l.local_date - interval '{longest} months')::date + 1 AS first_day "
            "FROM analytics_staging.run_users u CROSS JOIN LATERAL (SELECT p.local_date FROM fact_play p "
            f"WHERE p.user_id = u.user_id AND p.is_stream AND {COUNTED} ORDER BY p.played_at DESC LIMIT 1) l) "
            f"SELECT {P_COLUMNS}, false AS before FROM w JOIN fact_play p "
            "ON p.user_id = w.user_id AND p.local_month >= to_char(w.first_day, 'YYYY-MM') "
            f"AND p.local_date >= w.first_day AND {COUNTED} "
            f"UNION ALL {_last_stream_before('w u', 'p.local_date < u.first_day')}")


def stored_query(table: str) -> str:
    """The stored grain rows of the months before each run user's first recomputed month."""
    if table == "sessions":
        columns = ", ".join(f"s.{c}" for c in SESSION_COLUMNS)
        return (f"SELECT {columns} FROM analytics.sessions s "
                "JOIN analytics_staging.run_users r USING (user_id) WHERE s.period < r.since")
    return (f"SELECT g.* FROM analytics_state.{table} g "
            "JOIN analytics_staging.run_users r USING (user_id) WHERE g.local_month < r.since")


def published_shares_query() -> str:
    """The published artist and track shares of the users who allow comparison, in every period a run user
    recomputes: 'all', the rolling periods, the months from the earliest first recomputed month on and their
    years (taste_overlap pairs a run user's recomputed periods with every other consenting user's), except the
    run users' own recomputed periods."""
    periods = recomputed_periods("r.period", "s.since")
    # Not a run user's recomputed period: the run has its new shares, or none (a period without streams now).
    own = recomputed_periods("r.period", "o.since")
    return " UNION ALL ".join(
        f"SELECT r.user_id, r.period, '{kind}' AS kind, r.{item} AS item_id, r.{kind}_id AS shown, r.share, "
        f"r.first_played_at FROM analytics.{kind}_ranking r "
        f"JOIN dim_user u ON u.user_id = r.user_id AND u.compare_consent "
        f"CROSS JOIN (SELECT min(since) AS since FROM analytics_staging.run_users) s "
        f"LEFT JOIN analytics_staging.run_users o ON o.user_id = r.user_id "
        f"WHERE {periods} AND (o.user_id IS NULL OR NOT {own})"
        for kind, item in (("artist", "artist_id"), ("track", "recording_id")))


def extract(spark: SparkSession, settings: Settings, scope: RunScope) -> dict[str, DataFrame]:
    """The inputs of the run: its plays (a read split by play_id), the stored grains, every dimension; the
    session's shuffle partitions set for that many plays."""
    with connect("main", settings) as main:
        write_run_users(main, scope)
        low, high, count = play_range(main, scope)
    spark.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(count)))
    url = settings.main_database_url
    plays = read_query(spark, url, plays_query(scope), partition=("play_id", low, high + 1, PLAY_PARTITIONS))
    # A full run reads every play: they hold the rolling periods' plays too.
    stored, window, published_shares = None, plays, None
    if scope.users is not None:
        stored = Grains(*[read_query(spark, url, stored_query(name)) for name in (*STORED, "sessions")])
        window = read_query(spark, url, window_query())
        published_shares = read_query(spark, url, published_shares_query())
    return {"plays": plays, "stored": stored, "window": window, "published_shares": published_shares,
            **{name: read_query(spark, url, query) for name, query in DIMENSIONS.items()}}
