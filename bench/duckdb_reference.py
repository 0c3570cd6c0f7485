"""The statistics of docs/metrics.md computed by DuckDB, for the benchmark only.

Not the product: a small, fast single-node implementation that `bench/run.py`
times beside the Spark job on the same data, so Spark's cost can be read as a
ratio, and compares with what the Spark job published (a reference that
computed something else would make the ratio meaningless).

    load(duck, main)      copies main's star schema into DuckDB (COPY ... CSV)
    compute(duck, ...)    creates one table ref_<statistic> per statistic
    differences(duck, main) -> {statistic: rows that differ from analytics.<statistic>}

DuckDB's own string order is by code point, as the metrics document's ties want.
"""

from __future__ import annotations

import tempfile

import duckdb
import psycopg

from warehouse.catalog import ROLLING_PERIODS, STATISTICS

# PostgreSQL types -> DuckDB types, for the columns this project uses (arrays: of these, see copy_into).
_TYPES = {"text": "VARCHAR", "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT",
          "double precision": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
          "timestamp with time zone": "TIMESTAMPTZ"}

STAR = {  # what the reference reads of main
    "fact_play": "SELECT play_id, user_id, content_type, track_id, recording_id, episode_id, show_id, played_at, "
                 "started_at, ms_played, is_stream, skipped, context_uri, local_date, local_hour, local_dow, "
                 "local_month FROM fact_play "
                 "WHERE NOT excluded",
    "dim_track": "SELECT track_id, album_id, primary_artist_id, duration_ms, explicit, popularity FROM dim_track",
    "dim_album": "SELECT album_id, total_tracks, release_year, primary_artist_id FROM dim_album",
    "dim_artist": "SELECT artist_id, array_to_json(genres)::text AS genres FROM dim_artist",
    "dim_user": "SELECT user_id, timezone, compare_consent FROM dim_user",
    "followed": "SELECT DISTINCT u.user_id, t.playlist_id, t.track_id "
                "FROM dim_user_playlist u JOIN dim_playlist_track t USING (playlist_id)",
}


def copy_into(duck: duckdb.DuckDBPyConnection, main: psycopg.Connection, table: str, query: str) -> int:
    """Copy the rows of a PostgreSQL query into a new DuckDB table (CSV through a temporary file)."""
    cursor = main.execute(f"SELECT * FROM ({query}) q LIMIT 0")
    names = dict(main.execute("SELECT oid, format_type(oid, NULL) FROM pg_type WHERE oid = ANY(%s)",
                              ([c.type_code for c in cursor.description],)).fetchall())
    types = {c.name: names[c.type_code] for c in cursor.description}
    # An array column (integer[], ...) travels as JSON text and becomes a DuckDB list of its element type.
    arrays = {name: f"{_TYPES[kind.removesuffix('[]')]}[]" for name, kind in types.items() if kind.endswith("[]")}
    if arrays:
        query = "SELECT " + ", ".join(f"array_to_json({name})::text AS {name}" if name in arrays else name
                                      for name in types) + f" FROM ({query}) q"
    spec = ", ".join(f"'{name}': '{'VARCHAR' if name in arrays else _TYPES[kind]}'" for name, kind in types.items())
    lists = f" REPLACE ({', '.join(f'{n}::JSON::{t} AS {n}' for n, t in arrays.items())})" if arrays else ""
    with tempfile.NamedTemporaryFile(suffix=".csv") as file:
        with main.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                file.write(block)
        file.flush()
        duck.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT *{lists} FROM read_csv('{file.name}', "
                     f"header = false, columns = {{{spec}}}, auto_detect = false, delim = ',', quote = '\"', "
                     "escape = '\"', allow_quoted_nulls = false)")
    return duck.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def load(duck: duckdb.DuckDBPyConnection, main: psycopg.Connection) -> int:
    """Main's star schema into DuckDB; returns the number of plays."""
    main.execute("SET TimeZone = 'UTC'")
    duck.execute("SET TimeZone = 'UTC'")
    for name, query in STAR.items():
        copy_into(duck, main, name, query)
    duck.execute("CREATE OR REPLACE TABLE dim_artist AS "
                 "SELECT artist_id, genres::JSON::VARCHAR[] AS genres FROM dim_artist")
    return duck.execute("SELECT count(*) FROM fact_play").fetchall()[0][0]


def _per_period(source: str) -> str:
    """The rows of `source` (with user_id and local_date), each once per period it belongs to: 'all', the year
    and the month of its local date, and each rolling period of its user whose window holds that date."""
    return f"""(
    SELECT s.*, unnest(['all', strftime(s.local_date, '%Y'), strftime(s.local_date, '%Y-%m')]) AS period
    FROM {source} s
    UNION ALL
    SELECT s.*, w.period FROM {source} s
    JOIN rolling w ON w.user_id = s.user_id AND s.local_date BETWEEN w.first_day AND w.last_day)"""


_ROLLING_BACK = ", ".join(f"('{name}', INTERVAL '{n} {unit}')" for name, (n, unit) in ROLLING_PERIODS.items())

# The prepared inputs: every play with its track's facts, each user's rolling periods (first and last local
# date), each stream once per period it belongs to, the (user, period) pairs, the streams in order, the sessions.
PREPARE = f"""
CREATE OR REPLACE TEMP TABLE plays AS
SELECT f.*, t.album_id, t.primary_artist_id AS artist_id, t.duration_ms, t.explicit, t.popularity,
       a.total_tracks, a.release_year, a.primary_artist_id AS album_artist_id, r.genres
FROM fact_play f
LEFT JOIN dim_track t USING (track_id)
LEFT JOIN dim_album a ON a.album_id = t.album_id
LEFT JOIN dim_artist r ON r.artist_id = t.primary_artist_id
WHERE f.content_type = 'track';

CREATE OR REPLACE TEMP TABLE rolling AS
SELECT user_id, period, (last_day - back)::DATE + 1 AS first_day, last_day
FROM (SELECT user_id, max(local_date) AS last_day FROM plays WHERE is_stream GROUP BY user_id)
CROSS JOIN (VALUES {_ROLLING_BACK}) w(period, back);

CREATE OR REPLACE TEMP TABLE ps AS
SELECT * FROM {_per_period("plays")} WHERE is_stream;

CREATE OR REPLACE TEMP TABLE periods AS
SELECT user_id, period, count(*) AS total FROM ps GROUP BY ALL;

-- Podcast listens (episode plays of 30 s or more), once per period they belong to that exists.
CREATE OR REPLACE TEMP TABLE pl AS
SELECT * FROM {_per_period("(SELECT user_id, local_date, episode_id, show_id, ms_played FROM fact_play "
                           "WHERE content_type = 'episode' AND ms_played >= 30000)")} l
WHERE EXISTS (SELECT 1 FROM periods p WHERE p.user_id = l.user_id AND p.period = l.period);

CREATE OR REPLACE TEMP TABLE ordered AS
SELECT user_id, play_id, track_id, recording_id, artist_id, played_at, started_at, ms_played, local_date,
       row_number() OVER w AS pos,
       (epoch_us(started_at) - epoch_us(lag(played_at) OVER w)) // 1000 AS gap_before_ms,  -- NULL: first
       (epoch_us(lead(started_at) OVER w) - epoch_us(played_at)) // 1000 AS gap_after_ms   -- NULL: last
FROM plays WHERE is_stream
WINDOW w AS (PARTITION BY user_id ORDER BY played_at, started_at, track_id, play_id);

CREATE OR REPLACE TEMP TABLE session_list AS
WITH marked AS (
    SELECT *, sum(CASE WHEN gap_before_ms IS NULL OR gap_before_ms > $gap_ms THEN 1 ELSE 0 END)
              OVER (PARTITION BY user_id ORDER BY pos) AS session_no
    FROM ordered
), grouped AS (
    SELECT user_id, session_no, arg_min(started_at, pos) AS session_start, arg_max(played_at, pos) AS session_end,
           count(*) AS streams, count(DISTINCT recording_id) AS distinct_tracks, sum(ms_played) AS listening_ms
    FROM marked GROUP BY ALL
)
SELECT g.*, epoch_ms(g.session_start) AS session_id, timezone(u.timezone, g.session_start)::DATE AS local_date,
       (epoch_us(g.session_end) - epoch_us(g.session_start)) // 1000 AS length_ms
FROM grouped g JOIN dim_user u USING (user_id);

-- Each recording streamed in each period, shown by its track with the most streams, then listening time, then
-- the lowest id, and its editions in that order.
CREATE OR REPLACE TEMP TABLE recordings AS
WITH editions AS (
    SELECT *, row_number() OVER (PARTITION BY user_id, period, recording_id
                                 ORDER BY streams DESC, listening_ms DESC, track_id) AS n
    FROM (SELECT user_id, period, recording_id, track_id, album_id, artist_id, count(*) AS streams,
                 sum(ms_played) AS listening_ms, min(played_at) AS first_played_at, max(played_at) AS last_played_at
          FROM ps GROUP BY ALL)
)
SELECT e.user_id, e.period, e.recording_id, s.track_id, s.album_id, s.artist_id, sum(e.streams) AS streams,
       sum(e.listening_ms) AS listening_ms, min(e.first_played_at) AS first_played_at,
       max(e.last_played_at) AS last_played_at, list(e.track_id ORDER BY e.n) AS editions
FROM editions e JOIN editions s ON s.user_id = e.user_id AND s.period = e.period
                               AND s.recording_id = e.recording_id AND s.n = 1
GROUP BY e.user_id, e.period, e.recording_id, s.track_id, s.album_id, s.artist_id;
"""


def _top(column: str) -> str:
    return f"""
SELECT user_id, period, rank, item AS {column}, streams, listening_ms FROM (
    SELECT user_id, period, {column} AS item, count(*) AS streams, sum(ms_played) AS listening_ms,
           row_number() OVER (PARTITION BY user_id, period ORDER BY count(*) DESC, sum(ms_played) DESC,
                              {column}) AS rank
    FROM ps WHERE {column} IS NOT NULL GROUP BY user_id, period, {column})
WHERE rank <= 50"""


def _ranking(column: str, named: dict[str, str] | None = None, counted: dict[str, str] | None = None) -> str:
    """Every item streamed; `named`: the columns that follow from the item (name -> expression on ps);
    `counted`: more aggregates of the item's streams (name -> aggregate expression on ps), last."""
    named, counted = named or {}, counted or {}
    inner = "".join(f"{expression} AS {name}, " for name, expression in named.items())
    outer = "".join(f"{name}, " for name in named)
    aggregates = "".join(f", {expression} AS {name}" for name, expression in counted.items())
    last = "".join(f", {name}" for name in counted)
    return f"""
SELECT user_id, period, {column}, {outer}streams, listening_ms, streams / total AS share, first_played_at,
       last_played_at,
       row_number() OVER (PARTITION BY user_id, period ORDER BY streams DESC, listening_ms DESC, {column}) AS rank,
       row_number() OVER (PARTITION BY user_id, period ORDER BY listening_ms DESC, streams DESC, {column})
           AS time_rank{last}
FROM (SELECT user_id, period, {column} AS {column}, {inner}count(*) AS streams, sum(ms_played) AS listening_ms,
             min(played_at) AS first_played_at, max(played_at) AS last_played_at{aggregates}
      FROM ps WHERE {column} IS NOT NULL GROUP BY ALL) JOIN periods USING (user_id, period)"""


# Every run of consecutive local dates on which the user streamed an artist, in each period.
_RUNS = """
    SELECT user_id, period, artist_id, count(*) AS days, min(local_date) AS streak_start,
           max(local_date) AS streak_end
    FROM (SELECT *, local_date - row_number() OVER (PARTITION BY user_id, period, artist_id
                                                    ORDER BY local_date)::INT AS anchor
          FROM (SELECT DISTINCT user_id, period, artist_id, local_date FROM ps WHERE artist_id IS NOT NULL))
    GROUP BY user_id, period, artist_id, anchor"""

# How many local months of each period an artist ranked first in, each month ranked on the period's own streams
# of that month (a rolling period's first month only on its days in the period): by streams, listening time, id.
_MONTHS_AT_TOP = """
    SELECT user_id, period, artist_id, count(*) AS months_at_top FROM (
        SELECT user_id, period, artist_id,
               row_number() OVER (PARTITION BY user_id, period, local_month
                                  ORDER BY count(*) DESC, sum(ms_played) DESC, artist_id) AS month_rank
        FROM ps WHERE artist_id IS NOT NULL GROUP BY user_id, period, local_month, artist_id)
    WHERE month_rank = 1 GROUP BY ALL"""

# An artist's streams by local hour 0-23 and by ISO weekday 1-7 (Monday first), zeros included: one filtered count
# per cell in the ranking's own grouping, cheaper than grouping by hour and weekday and filling the gaps.
_PROFILE = {
    "hour_streams": "[" + ", ".join(f"count(*) FILTER (local_hour = {h})" for h in range(24)) + "]::INTEGER[]",
    "weekday_streams": "[" + ", ".join(f"count(*) FILTER (local_dow = {d})" for d in range(1, 8)) + "]::INTEGER[]",
}


def _shared(column: str) -> str:
    """CTE shared_<column> (after `pairs`): per pair of users sharing an artist (recording) in the period, the sum
    over the shared ones of the smaller of the two shares of the period's streams, how many, the 10 first by that
    smaller share descending then id (named by the artist, or the lower of the users' shown editions), and for
    each of those the user whose first stream of it in the period came first (NULL on the same instant)."""
    shares = (f"""SELECT user_id, period, {column} AS item, {column} AS shown, count(*) / any_value(total) AS share,
           min(played_at) AS first_played_at
    FROM ps JOIN periods USING (user_id, period) WHERE {column} IS NOT NULL GROUP BY user_id, period, {column}"""
              if column != "recording_id" else
              """SELECT user_id, period, recording_id AS item, track_id AS shown, streams / total AS share,
           first_played_at FROM recordings JOIN periods USING (user_id, period)""")
    return f"""shares_{column} AS (
    {shares}
), both_{column} AS (
    SELECT p.user_id, p.period, p.other_user_id, a.item, least(a.shown, b.shown) AS shown,
           least(a.share, b.share) AS share,
           CASE WHEN a.first_played_at < b.first_played_at THEN p.user_id
                WHEN b.first_played_at < a.first_played_at THEN p.other_user_id END AS first_by
    FROM pairs p JOIN shares_{column} a ON a.user_id = p.user_id AND a.period = p.period
    JOIN shares_{column} b ON b.user_id = p.other_user_id AND b.period = p.period AND b.item = a.item
), shared_{column} AS (
    SELECT user_id, period, other_user_id, sum(share ORDER BY item) AS overlap, count(*) AS shared,
           list(shown ORDER BY share DESC, item)[1:10] AS top,
           list(first_by ORDER BY share DESC, item)[1:10] AS first_by
    FROM both_{column} GROUP BY ALL
)"""


def _classes(expression: str, classes: list[str], column: str, distinct_tracks: bool = False) -> str:
    values = ", ".join(f"'{c}'" for c in classes)
    extra = ", count(DISTINCT track_id) AS distinct_tracks" if distinct_tracks else ""
    extra_out = ", coalesce(n.distinct_tracks, 0) AS distinct_tracks" if distinct_tracks else ""
    return f"""
WITH counted AS (SELECT user_id, period, {expression} AS class, count(*) AS streams{extra} FROM ps GROUP BY ALL)
SELECT p.user_id, p.period, c.class AS {column}, coalesce(n.streams, 0) AS streams{extra_out},
       coalesce(n.streams, 0) / p.total AS share
FROM periods p CROSS JOIN (SELECT unnest([{values}]) AS class) c
LEFT JOIN counted n USING (user_id, period, class)"""


QUERIES = {
    "overview": f"""
WITH totals AS (
    SELECT user_id, period, count(*) AS streams, sum(ms_played) AS listening_ms,
           count(DISTINCT recording_id) AS distinct_tracks, count(DISTINCT artist_id) AS distinct_artists,
           count(DISTINCT album_id) AS distinct_albums, count(DISTINCT local_date) AS active_days,
           min(played_at) AS first_played_at, max(played_at) AS last_played_at, avg(popularity) AS mainstream_score,
           min(local_date) AS first_stream_day, max(local_date) AS last_stream_day
    FROM ps GROUP BY ALL
), skips AS (
    SELECT user_id, period, avg(skipped::INT) AS skip_rate
    FROM {_per_period("plays")} WHERE skipped IS NOT NULL GROUP BY ALL
), first_streams AS (
    SELECT 'artist' AS kind, user_id, arg_min(local_date, pos) AS local_date
    FROM ordered WHERE artist_id IS NOT NULL GROUP BY user_id, artist_id
    UNION ALL
    SELECT 'track', user_id, arg_min(local_date, pos) FROM ordered GROUP BY user_id, recording_id
), firsts AS (
    SELECT kind, user_id, period, count(*) AS n FROM {_per_period("first_streams")} GROUP BY ALL
), streaks AS (  -- runs of consecutive local dates with a stream: date - (its position) is the run's anchor
    SELECT user_id, period, max(days) AS longest_streak FROM (
        SELECT user_id, period, count(*) AS days FROM (
            SELECT *, local_date - row_number() OVER (PARTITION BY user_id, period ORDER BY local_date)::INT
                       AS anchor
            FROM (SELECT DISTINCT user_id, period, local_date FROM ps))
        GROUP BY user_id, period, anchor)
    GROUP BY ALL
)
SELECT t.user_id, t.period, t.streams, t.listening_ms, t.distinct_tracks, t.distinct_artists, t.distinct_albums,
       t.active_days, t.first_played_at, t.last_played_at, t.streams / t.active_days AS streams_per_active_day,
       k.skip_rate, t.mainstream_score, coalesce(a.n, 0) AS new_artists, coalesce(r.n, 0) AS new_tracks,
       -- the dates the period spans: 'all' its user's first to latest day with a stream, a rolling period
       -- its window (the rolling table), a year or a month the whole calendar year or month
       CASE WHEN t.period = 'all' THEN t.first_stream_day WHEN w.period IS NOT NULL THEN w.first_day
            WHEN length(t.period) = 4 THEN make_date(t.period::INT, 1, 1)
            ELSE (t.period || '-01')::DATE END AS first_day,
       CASE WHEN t.period = 'all' THEN t.last_stream_day WHEN w.period IS NOT NULL THEN w.last_day
            WHEN length(t.period) = 4 THEN make_date(t.period::INT, 12, 31)
            ELSE last_day((t.period || '-01')::DATE) END AS last_day,
       s.longest_streak, coalesce(l.listens, 0) AS podcast_listens,
       coalesce(l.listening_ms, 0) AS podcast_listening_ms
FROM totals t
LEFT JOIN (SELECT user_id, period, count(*) AS listens, sum(ms_played) AS listening_ms FROM pl GROUP BY ALL) l
    USING (user_id, period)
LEFT JOIN skips k USING (user_id, period)
JOIN streaks s ON s.user_id = t.user_id AND s.period = t.period
LEFT JOIN rolling w ON w.user_id = t.user_id AND w.period = t.period
LEFT JOIN firsts a ON a.kind = 'artist' AND a.user_id = t.user_id AND a.period = t.period
LEFT JOIN firsts r ON r.kind = 'track' AND r.user_id = t.user_id AND r.period = t.period""",
    "top_shows": """
SELECT user_id, period, rank, show_id, listens, listening_ms, episodes FROM (
    SELECT user_id, period, show_id, count(*) AS listens, sum(ms_played) AS listening_ms,
           count(DISTINCT episode_id) AS episodes,
           row_number() OVER (PARTITION BY user_id, period ORDER BY sum(ms_played) DESC, count(*) DESC, show_id)
               AS rank
    FROM pl GROUP BY user_id, period, show_id)
WHERE rank <= 50""",
    "top_episodes": """
SELECT user_id, period, rank, episode_id, show_id, listens, listening_ms FROM (
    SELECT user_id, period, episode_id, show_id, count(*) AS listens, sum(ms_played) AS listening_ms,
           row_number() OVER (PARTITION BY user_id, period ORDER BY sum(ms_played) DESC, count(*) DESC, episode_id)
               AS rank
    FROM pl GROUP BY user_id, period, episode_id, show_id)
WHERE rank <= 50""",
    "top_tracks": """
SELECT user_id, period, rank, track_id, streams, listening_ms FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id, period ORDER BY streams DESC, listening_ms DESC, track_id)
        AS rank
    FROM recordings)
WHERE rank <= 50""",
    "top_artists": _top("artist_id"),
    "top_albums": _top("album_id"),
    "hour_of_day": """
WITH counted AS (SELECT user_id, period, local_hour AS hour, count(*) AS streams, sum(ms_played) AS listening_ms
                 FROM ps GROUP BY ALL)
SELECT p.user_id, p.period, h.hour, coalesce(n.streams, 0) AS streams, coalesce(n.listening_ms, 0) AS listening_ms,
       coalesce(n.streams, 0) / p.total AS share
FROM periods p CROSS JOIN (SELECT range::SMALLINT AS hour FROM range(24)) h
LEFT JOIN counted n USING (user_id, period, hour)""",
    "day_of_week": """
WITH counted AS (SELECT user_id, period, local_dow AS day_of_week, count(*) AS streams,
                        count(DISTINCT recording_id) AS distinct_tracks, count(DISTINCT artist_id) AS distinct_artists
                 FROM ps GROUP BY ALL)
SELECT p.user_id, p.period, d.day_of_week, coalesce(n.streams, 0) AS streams,
       coalesce(n.distinct_tracks, 0) AS distinct_tracks, coalesce(n.distinct_artists, 0) AS distinct_artists,
       coalesce(n.distinct_tracks / n.streams, 0) AS track_variety,
       coalesce(n.distinct_artists / n.streams, 0) AS artist_variety
FROM periods p CROSS JOIN (SELECT range::SMALLINT AS day_of_week FROM range(1, 8)) d
LEFT JOIN counted n USING (user_id, period, day_of_week)""",
    "listening_clock": """
WITH counted AS (SELECT user_id, period, local_dow AS day_of_week, local_hour AS hour, count(*) AS streams
                 FROM ps GROUP BY ALL)
SELECT p.user_id, p.period, d.day_of_week, h.hour, coalesce(n.streams, 0) AS streams
FROM periods p CROSS JOIN (SELECT range::SMALLINT AS day_of_week FROM range(1, 8)) d
CROSS JOIN (SELECT range::SMALLINT AS hour FROM range(24)) h
LEFT JOIN counted n USING (user_id, period, day_of_week, hour)""",
    "playlist_completion": """
WITH heard AS (
    SELECT s.user_id, s.period, f.playlist_id, count(DISTINCT s.track_id) AS tracks_played, count(*) AS streams,
           sum(s.ms_played) AS listening_ms, min(s.played_at) AS first_played_at,
           max(s.played_at) AS last_played_at, list_sort(list_distinct(list(s.track_id))) AS heard_track_ids
    FROM ps s JOIN followed f USING (user_id, track_id) GROUP BY ALL
),
started AS (
    SELECT user_id, period,
           regexp_extract(context_uri, '^spotify:(?:user:[^:]+:)?playlist:([0-9A-Za-z]+)$', 1) AS playlist_id,
           count(*) AS context_streams, sum(ms_played) AS context_listening_ms,
           min(played_at) AS context_first_played_at, max(played_at) AS context_last_played_at
    FROM ps WHERE regexp_full_match(coalesce(context_uri, ''), '^spotify:(?:user:[^:]+:)?playlist:[0-9A-Za-z]+$')
    GROUP BY ALL
),
totals AS (SELECT user_id, playlist_id, count(*) AS total_tracks FROM followed GROUP BY ALL),
scored AS (
    SELECT user_id, period, playlist_id, t.total_tracks, coalesce(h.tracks_played, 0) AS tracks_played,
           coalesce(h.tracks_played, 0) / t.total_tracks AS completion, coalesce(h.streams, 0) AS streams,
           coalesce(h.listening_ms, 0) AS listening_ms, h.first_played_at, h.last_played_at,
           coalesce(c.context_streams, 0) AS context_streams, coalesce(c.context_listening_ms, 0)
               AS context_listening_ms, c.context_first_played_at, c.context_last_played_at,
           coalesce(h.heard_track_ids, []::VARCHAR[]) AS heard_track_ids
    FROM heard h FULL JOIN started c USING (user_id, period, playlist_id) JOIN totals t USING (user_id, playlist_id)
)
SELECT *, row_number() OVER (PARTITION BY user_id, period ORDER BY completion DESC, tracks_played DESC,
                             streams DESC, context_streams DESC, playlist_id) AS rank
FROM scored""",
    "album_completion": """
WITH counted AS (
    SELECT user_id, period, album_id, total_tracks, count(DISTINCT track_id) AS tracks_played, count(*) AS streams,
           least(1.0, count(DISTINCT track_id) / total_tracks) AS completion
    FROM ps WHERE total_tracks >= $album_min_tracks GROUP BY user_id, period, album_id, total_tracks
)
SELECT user_id, period, album_id, total_tracks, tracks_played, completion,
       CASE WHEN completion >= 1 THEN 'complete' WHEN completion >= 0.75 THEN 'most'
            WHEN completion >= 0.5 THEN 'half' ELSE 'partial' END AS status,
       streams,
       row_number() OVER (PARTITION BY user_id, period
                          ORDER BY completion DESC, tracks_played DESC, streams DESC, album_id) AS rank
FROM counted""",
    "artist_streaks": f"""
WITH runs AS ({_RUNS})
SELECT user_id, period, rank, artist_id, days, streak_start, streak_end FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id, period
                                 ORDER BY days DESC, streak_end DESC, artist_id) AS rank FROM runs
    WHERE days >= 2)
WHERE rank <= 10""",
    "sessions": """
SELECT user_id, session_id, strftime(local_date, '%Y-%m') AS period, session_start, session_end, streams,
       distinct_tracks, listening_ms
FROM session_list""",
    "session_summary": f"""
SELECT user_id, period, count(*) AS sessions, avg(length_ms) AS avg_session_ms,
       max(length_ms) AS longest_session_ms, avg(streams) AS avg_streams_per_session
FROM {_per_period("session_list")} GROUP BY ALL""",
    "play_gaps": f"""
WITH counted AS (
    SELECT user_id, period, CASE WHEN gap_after_ms < 300000 THEN 'continuous'
                                 WHEN gap_after_ms < 3600000 THEN 'short_break' ELSE 'long_break' END AS gap_class,
           count(*) AS gaps
    FROM {_per_period("ordered")} WHERE gap_after_ms IS NOT NULL
    GROUP BY ALL
)
SELECT p.user_id, p.period, c.gap_class, coalesce(n.gaps, 0) AS gaps,
       coalesce(coalesce(n.gaps, 0) / sum(n.gaps) OVER (PARTITION BY p.user_id, p.period), 0) AS share
FROM periods p CROSS JOIN (SELECT unnest(['continuous', 'short_break', 'long_break']) AS gap_class) c
LEFT JOIN counted n USING (user_id, period, gap_class)""",
    "popularity_distribution": _classes(
        "CASE WHEN popularity IS NULL THEN 'unknown' ELSE least(popularity // 10, 9)::VARCHAR END",
        [*map(str, range(10)), "unknown"], "bracket", distinct_tracks=True),
    "duration_preference": _classes(
        "CASE WHEN duration_ms IS NULL THEN 'unknown' WHEN duration_ms < 180000 THEN 'short' "
        "WHEN duration_ms < 300000 THEN 'medium' ELSE 'long' END",
        ["short", "medium", "long", "unknown"], "duration_class"),
    "explicit_preference": _classes(
        "coalesce(explicit::VARCHAR, 'unknown')", ["true", "false", "unknown"], "explicit"),
    "release_years": """
SELECT user_id, period, release_year, count(*) AS streams, count(DISTINCT album_id) AS distinct_albums
FROM ps WHERE release_year IS NOT NULL GROUP BY ALL""",
    "longest_days": """
SELECT user_id, period, rank, local_date, listening_ms, streams FROM (
    SELECT user_id, period, local_date, sum(ms_played) AS listening_ms, count(*) AS streams,
           row_number() OVER (PARTITION BY user_id, period ORDER BY sum(ms_played) DESC, local_date DESC) AS rank
    FROM ps GROUP BY user_id, period, local_date)
WHERE rank <= 10""",
    "genre_distribution": """
WITH credits AS (
    SELECT user_id, period, unnest(list_distinct(list_filter(genres, lambda g: g IS NOT NULL))) AS genre
    FROM ps WHERE len(list_filter(genres, lambda g: g IS NOT NULL)) > 0
), known AS (
    SELECT user_id, period, count(*) AS n FROM ps
    WHERE len(list_filter(genres, lambda g: g IS NOT NULL)) > 0 GROUP BY user_id, period
)
SELECT user_id, period, genre, rank, streams, streams / n AS share FROM (
    SELECT user_id, period, genre, count(*) AS streams,
           row_number() OVER (PARTITION BY user_id, period ORDER BY count(*) DESC, genre) AS rank
    FROM credits GROUP BY user_id, period, genre) JOIN known USING (user_id, period)
WHERE rank <= 30
UNION ALL
SELECT p.user_id, p.period, 'unknown', NULL, p.total - coalesce(k.n, 0), (p.total - coalesce(k.n, 0)) / p.total
FROM periods p LEFT JOIN known k USING (user_id, period)""",
    "track_ranking": f"""
WITH skips AS (SELECT user_id, period, recording_id, avg(skipped::INT) AS skip_rate
               FROM {_per_period("plays")} WHERE skipped IS NOT NULL GROUP BY ALL)
SELECT r.user_id, r.period, r.track_id, r.album_id, r.artist_id, r.streams, r.listening_ms,
       r.streams / p.total AS share, r.first_played_at, r.last_played_at,
       row_number() OVER (PARTITION BY r.user_id, r.period ORDER BY r.streams DESC, r.listening_ms DESC, r.track_id)
           AS rank,
       row_number() OVER (PARTITION BY r.user_id, r.period ORDER BY r.listening_ms DESC, r.streams DESC, r.track_id)
           AS time_rank,
       s.skip_rate, r.recording_id, r.editions
FROM recordings r JOIN periods p USING (user_id, period) LEFT JOIN skips s USING (user_id, period, recording_id)""",
    "artist_ranking": f"""
WITH runs AS ({_RUNS}),
longest AS (SELECT user_id, period, artist_id, max(days) AS longest_streak,
                   arg_max(streak_start, (days, streak_end)) AS longest_streak_start,
                   arg_max(streak_end, (days, streak_end)) AS longest_streak_end
            FROM runs GROUP BY ALL),
tops AS ({_MONTHS_AT_TOP})
SELECT r.* EXCLUDE (hour_streams, weekday_streams), coalesce(t.months_at_top, 0) AS months_at_top,
       l.longest_streak, l.longest_streak_start, l.longest_streak_end, r.hour_streams, r.weekday_streams
FROM ({_ranking("artist_id", counted=_PROFILE)}) r
LEFT JOIN tops t USING (user_id, period, artist_id) JOIN longest l USING (user_id, period, artist_id)""",
    "album_ranking": _ranking("album_id", {"artist_id": "album_artist_id"}),
    "taste_overlap": f"""
WITH pairs AS (
    SELECT a.user_id, a.period, b.user_id AS other_user_id
    FROM periods a JOIN periods b ON b.period = a.period AND b.user_id <> a.user_id
    WHERE a.user_id IN (SELECT user_id FROM dim_user WHERE compare_consent)
      AND b.user_id IN (SELECT user_id FROM dim_user WHERE compare_consent)
), {_shared("artist_id")}, {_shared("recording_id")}
SELECT p.user_id, p.period, p.other_user_id, coalesce(a.overlap, 0.0) AS overlap,
       coalesce(a.shared, 0) AS shared_artists, coalesce(t.shared, 0) AS shared_tracks,
       coalesce(a.top, []::VARCHAR[]) AS top_shared_artists, coalesce(t.top, []::VARCHAR[]) AS top_shared_tracks,
       coalesce(a.first_by, []::VARCHAR[]) AS first_streamed_by
FROM pairs p LEFT JOIN shared_artist_id a USING (user_id, period, other_user_id)
LEFT JOIN shared_recording_id t USING (user_id, period, other_user_id)""",
}
assert set(QUERIES) == set(STATISTICS)


def compute(duck: duckdb.DuckDBPyConnection, album_min_tracks: int, session_gap_minutes: int) -> dict[str, int]:
    """Every statistic into DuckDB tables ref_<name>; returns their row counts."""
    params = {"gap_ms": session_gap_minutes * 60_000, "album_min_tracks": album_min_tracks}
    for statement in PREPARE.split(";"):
        if statement.strip():
            duck.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    counts = {}
    for name, query in QUERIES.items():
        used = {k: v for k, v in params.items() if f"${k}" in query}
        duck.execute(f"CREATE OR REPLACE TEMP TABLE ref_{name} AS {query}", used)
        counts[name] = duck.execute(f"SELECT count(*) FROM ref_{name}").fetchall()[0][0]
    return counts


def differences(duck: duckdb.DuckDBPyConnection, main: psycopg.Connection) -> dict[str, int]:
    """Rows that differ between each ref_<name> and main's analytics.<name> (doubles to 1e-9)."""
    found = {}
    for name in STATISTICS:
        columns = [c for (c,) in main.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
            "AND table_name = %s AND column_name NOT IN ('computed_at', 'source_max_played_at') "
            "ORDER BY ordinal_position", (name,))]
        copy_into(duck, main, f"analytics_{name}", f"SELECT {', '.join(columns)} FROM analytics.{name}")
        types = dict(duck.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                                  f"WHERE table_name = 'analytics_{name}'").fetchall())
        select = ", ".join(f"round({c}::DOUBLE, 9)" if types[c] == "DOUBLE" else f"{c}::{types[c]}"
                           for c in columns)
        found[name] = duck.execute(
            f"SELECT (SELECT count(*) FROM (SELECT {select} FROM ref_{name} EXCEPT ALL "
            f"SELECT {select} FROM analytics_{name})) + (SELECT count(*) FROM (SELECT {select} "
            f"FROM analytics_{name} EXCEPT ALL SELECT {select} FROM ref_{name}))").fetchall()[0][0]
    return found


def main_args(argv: list[str] | None = None) -> int:
    """`python bench/duckdb_reference.py MAIN_URL`: compute and compare, for checking by hand."""
    import sys
    import time

    url = (argv or sys.argv[1:])[0]
    with psycopg.connect(url) as main:
        duck = duckdb.connect()
        started = time.perf_counter()
        plays = load(duck, main)
        loaded = time.perf_counter()
        counts = compute(duck, 5, 30)
        done = time.perf_counter()
        print(f"{plays:,} plays: load {loaded - started:.1f} s, compute {done - loaded:.1f} s, "
              f"{sum(counts.values()):,} rows")
        for name, rows in differences(duck, main).items():
            print(f"{name:26} {counts[name]:>9,} rows  {'agrees' if not rows else f'{rows} rows differ'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_args())
