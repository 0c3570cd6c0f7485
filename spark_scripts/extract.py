"""The job's reads from main: the star schema over JDBC, limited to the run's users.

Every value is a bound parameter: the play_id bounds of the partitioned read
are queried with psycopg (`= ANY(%s)`), and for an incremental run the users go
into `analytics_staging.run_users` first, which the JDBC read of `fact_play`
joins. No user id is ever pasted into SQL.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from pyspark.sql import DataFrame, SparkSession

from spark_scripts.scope import RunScope
from spark_scripts.session import read_query
from warehouse.db import connect
from warehouse.settings import Settings

PLAY_COLUMNS = ("play_id, user_id, track_id, played_at, started_at, ms_played, is_stream, skipped, "
                "local_date, local_hour, local_dow, local_year, local_month")
PLAY_PARTITIONS = 4
DIMENSIONS = {
    "tracks": "SELECT track_id, album_id, primary_artist_id, duration_ms, explicit, popularity FROM dim_track",
    "albums": "SELECT album_id, total_tracks, release_year FROM dim_album",
    "artists": "SELECT artist_id, genres FROM dim_artist",
    "users": "SELECT user_id, timezone FROM dim_user",
}


def newest_play(main: psycopg.Connection) -> datetime | None:
    """The source_max_played_at of the results: main's newest play."""
    (played_at,) = main.execute("SELECT max(played_at) FROM fact_play").fetchone()
    return played_at


def play_id_bounds(main: psycopg.Connection, users: list[str] | None) -> tuple[int, int]:
    """(lowest, highest) play_id of the users' plays (None: every user's); (0, 0) without plays."""
    where, params = ("", ()) if users is None else ("WHERE user_id = ANY(%s)", (users,))
    low, high = main.execute(
        f"SELECT coalesce(min(play_id), 0), coalesce(max(play_id), 0) FROM fact_play {where}", params).fetchone()
    return low, high


def write_run_users(main: psycopg.Connection, users: list[str]) -> None:
    """The run's users, for the JDBC read to join (empty for a full run)."""
    main.execute("TRUNCATE analytics_staging.run_users")
    main.execute("INSERT INTO analytics_staging.run_users SELECT unnest(%s::text[])", (users,))
    main.execute("SELECT analyze_table('analytics_staging.run_users')")  # the owner's (main migration 0008)


def plays_query(scope: RunScope) -> str:
    joined = "" if scope.users is None else " JOIN analytics_staging.run_users USING (user_id)"
    return f"SELECT {PLAY_COLUMNS} FROM fact_play{joined}"


def extract(spark: SparkSession, settings: Settings, scope: RunScope) -> dict[str, DataFrame]:
    """The inputs of `prepare`: the scope's plays (a read split by play_id) and every dimension."""
    with connect("main", settings) as main:
        low, high = play_id_bounds(main, scope.users)
        write_run_users(main, scope.users or [])
    url = settings.main_database_url
    plays = read_query(spark, url, plays_query(scope), partition=("play_id", low, high + 1, PLAY_PARTITIONS))
    return {"plays": plays, **{name: read_query(spark, url, query) for name, query in DIMENSIONS.items()}}
