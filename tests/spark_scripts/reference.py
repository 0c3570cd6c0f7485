"""An independent computation of every statistic of docs/metrics.md, in plain SQL.

Written from the document alone (not from the Spark code), to check the Spark
job against. Each query reads main's star schema (fact_play and the dimensions)
and returns exactly the columns of `analytics.<name>` except `computed_at` and
`source_max_played_at`, in the table's column order, for every user and period.
Parameters: `album_min_tracks` (ALBUM_MIN_TRACKS) and `session_gap_minutes`
(SESSION_GAP_MINUTES).

Readings of the document where it leaves room:
- periods are the (user, 'all' | local year | local month | rolling period) that
  hold a stream; session_summary also has the periods of its sessions' local starts;
- which periods a thing (play, gap, session, first stream) of a local date belongs
  to is said once, by `_periods_of`; the rolling windows by the `rolling` CTE;
- months_at_top: each period's months are ranked on the period's own streams of
  the month (for 'all', a year or a month that is the whole month);
- text ids and genre names are ordered by code point (COLLATE "C");
- rows without an album (or primary artist) count in every total but get no
  album (artist) row: top_albums, album_completion, release_years skip them;
- play_gaps of a period without any gap: 3 rows of 0 gaps, share 0;
- genre_distribution always has its 'unknown' row (0 streams when none);
- overview.longest_streak: the longest run of consecutive local dates with a stream among the period's own
  streams (a year's or month's run stops at its edges, as artist_streaks' does);
- taste_overlap: who allows comparison is main's `dim_user.compare_consent` as loaded; two consenting users
  are paired in every period name both hold a stream in (a rolling period: each user's own window); each
  side's shares are its `artist_ranking` / `track_ranking` shares (of all its streams of the period); a
  shared artist (track) is one both streamed there; ties of the smaller share go to the id by code point;
  `first_streamed_by` compares the two `first_played_at` instants of the artist in the period and holds
  user ids (null on equal instants); arrays are empty, never null, when nothing is shared;
- recordings: main's `fact_play.recording_id` names each track play's recording (the load evaluates it); the
  tracks' statistics, distinct tracks and first streams count those; a recording's row is shown by its
  edition with the most streams in the period, then listening time, then the lowest id (code point).
"""

from __future__ import annotations

from decimal import Decimal

import psycopg

from warehouse.settings import Settings


def _periods_of(user: str, day: str) -> str:
    """`CROSS JOIN LATERAL ... AS p (period)`: the periods of a thing of `user` on local date `day` —
    'all', the day's year and month, and each rolling period (the `rolling` CTE) whose window holds it."""
    return f"""CROSS JOIN LATERAL (
        SELECT 'all' UNION ALL SELECT to_char({day}, 'YYYY') UNION ALL SELECT to_char({day}, 'YYYY-MM')
        UNION ALL SELECT w.period FROM rolling w
                  WHERE w.user_id = {user} AND {day} BETWEEN w.first_day AND w.last_day
    ) AS p (period)"""


# Every play with its track's facts; every stream once in each of its periods.
BASE = """
WITH plays AS (
    SELECT f.play_id, f.user_id, f.track_id, f.recording_id AS recording, f.played_at, f.started_at, f.ms_played,
           f.is_stream, f.skipped, f.context_uri, f.local_date, f.local_hour, f.local_dow, f.local_year,
           f.local_month, t.album_id, t.primary_artist_id AS artist_id, t.duration_ms,
           t.explicit, t.popularity
    FROM fact_play f LEFT JOIN dim_track t ON t.track_id = f.track_id
    WHERE NOT f.excluded  -- a play an exclusion rule matches counts nowhere
      AND f.content_type = 'track'  -- music: episodes count in the podcast statistics only
),
streams AS (SELECT * FROM plays WHERE is_stream),
-- The rolling periods of each user with a stream: from first_day to L, the latest local date with a stream.
rolling AS (
    SELECT l.user_id, w.period, w.first_day, l.last_day
    FROM (SELECT user_id, max(local_date) AS last_day FROM streams GROUP BY user_id) AS l
    CROSS JOIN LATERAL (VALUES ('last-4-weeks', l.last_day - 27),
                               ('last-6-months', (l.last_day - interval '6 months')::date + 1),
                               ('last-12-months', (l.last_day - interval '12 months')::date + 1))
        AS w (period, first_day)
),
period_streams AS (
    SELECT s.*, p.period
    FROM streams s """ + _periods_of("s.user_id", "s.local_date") + """
),
periods AS (
    SELECT user_id, period, count(*) AS total FROM period_streams GROUP BY user_id, period
),
-- Podcast listens (episode plays of 30 s or more), once in each of their periods that exists.
period_listens AS (
    SELECT l.user_id, l.episode_id, l.show_id, l.ms_played, p.period
    FROM fact_play l """ + _periods_of("l.user_id", "l.local_date") + """
    WHERE l.content_type = 'episode' AND l.ms_played >= 30000 AND NOT l.excluded
      AND EXISTS (SELECT 1 FROM periods x WHERE x.user_id = l.user_id AND x.period = p.period)
),
-- A user's streams in the document's order: played_at, then started_at, then track id.
ordered AS (
    SELECT s.*,
           row_number() OVER w AS pos,
           lag(s.played_at) OVER w AS prev_played_at,
           lead(s.started_at) OVER w AS next_started_at
    FROM streams s
    WINDOW w AS (PARTITION BY s.user_id ORDER BY s.played_at, s.started_at, s.track_id COLLATE "C")
)
"""

SESSIONS = """,
marked AS (
    SELECT o.*,
           sum(CASE WHEN o.prev_played_at IS NULL
                     OR o.started_at - o.prev_played_at > make_interval(mins => %(session_gap_minutes)s)
                    THEN 1 ELSE 0 END) OVER (PARTITION BY o.user_id ORDER BY o.pos) AS session_no
    FROM ordered o
),
session_rows AS (
    SELECT user_id, session_no,
           (array_agg(started_at ORDER BY pos))[1] AS session_start,
           (array_agg(played_at ORDER BY pos DESC))[1] AS session_end,
           count(*)::int AS streams,
           count(DISTINCT recording)::int AS distinct_tracks,
           sum(ms_played)::bigint AS listening_ms
    FROM marked GROUP BY user_id, session_no
),
session_list AS (
    SELECT r.*,
           to_char(r.session_start AT TIME ZONE u.timezone, 'YYYY-MM') AS month,
           (r.session_start AT TIME ZONE u.timezone)::date AS start_date,
           floor(extract(epoch FROM r.session_start) * 1000)::bigint AS session_id,
           extract(epoch FROM r.session_end - r.session_start) * 1000 AS length_ms
    FROM session_rows r JOIN dim_user u ON u.user_id = r.user_id
)
"""


# Every run of consecutive local dates on which the user streamed an artist, in each period.
STREAKS = """,
artist_days AS (
    SELECT DISTINCT user_id, period, artist_id, local_date
    FROM period_streams WHERE artist_id IS NOT NULL
),
islands AS (  -- consecutive dates share date - (their position among the artist's dates)
    SELECT a.*, a.local_date - (row_number() OVER (PARTITION BY user_id, period, artist_id
                                                   ORDER BY local_date))::int AS island
    FROM artist_days a
),
streaks AS (
    SELECT user_id, period, artist_id, count(*)::int AS days,
           min(local_date) AS streak_start, max(local_date) AS streak_end
    FROM islands GROUP BY user_id, period, artist_id, island
)"""

# A recording's skips in each period: every play whose `skipped` is known, streams or not.
TRACK_SKIPS = """,
track_skips AS (
    SELECT f.user_id, p.period, f.recording, count(*) FILTER (WHERE f.skipped) AS skipped,
           count(*) FILTER (WHERE f.skipped IS NOT NULL) AS known
    FROM plays f """ + _periods_of("f.user_id", "f.local_date") + """
    GROUP BY 1, 2, 3
)"""


# Each recording streamed in each period, by its shown edition (its track with the most streams, then listening
# time, then the lowest id), with its editions in that order.
RECORDINGS = """,
editions AS (
    SELECT user_id, period, recording, track_id, album_id, artist_id, count(*) AS streams,
           sum(ms_played)::bigint AS listening_ms, min(played_at) AS first_played_at,
           max(played_at) AS last_played_at,
           row_number() OVER (PARTITION BY user_id, period, recording
                              ORDER BY count(*) DESC, sum(ms_played) DESC, track_id COLLATE "C") AS n
    FROM period_streams GROUP BY user_id, period, recording, track_id, album_id, artist_id
),
recordings AS (
    SELECT user_id, period, recording, (array_agg(track_id ORDER BY n))[1] AS track_id,
           (array_agg(album_id ORDER BY n))[1] AS album_id, (array_agg(artist_id ORDER BY n))[1] AS artist_id,
           sum(streams) AS streams, sum(listening_ms)::bigint AS listening_ms,
           min(first_played_at) AS first_played_at, max(last_played_at) AS last_played_at,
           array_agg(track_id ORDER BY n) AS editions
    FROM editions GROUP BY user_id, period, recording
)"""


def _counts_by(column: str, values: range) -> str:
    """Aggregate: an integer[] of the group's rows with `column` equal to each of `values`, in order (0 if none)."""
    return "ARRAY[" + ", ".join(f"count(*) FILTER (WHERE {column} = {v})" for v in values) + "]::integer[]"


# The artist that ranked first of each month of a period (streams, listening time, id), ranked on the
# period's own streams of that month, its longest streak, and its streams by local hour and ISO weekday.
ARTIST_EXTRAS = STREAKS + """,
month_artists AS (
    SELECT user_id, period, local_month, artist_id,
           row_number() OVER (PARTITION BY user_id, period, local_month
                              ORDER BY count(*) DESC, sum(ms_played) DESC, artist_id COLLATE "C") AS month_rank
    FROM period_streams WHERE artist_id IS NOT NULL GROUP BY user_id, period, local_month, artist_id
),
months_at_top AS (
    SELECT user_id, period, artist_id, count(*)::int AS months
    FROM month_artists WHERE month_rank = 1 GROUP BY 1, 2, 3
),
longest AS (
    SELECT DISTINCT ON (user_id, period, artist_id) user_id, period, artist_id, days, streak_start, streak_end
    FROM streaks ORDER BY user_id, period, artist_id, days DESC, streak_end DESC
),
profile AS (  -- hours 0..23; local_dow is ISO, 1 = Monday .. 7 = Sunday
    SELECT user_id, period, artist_id, """ + _counts_by("local_hour", range(24)) + """ AS hour_streams,
           """ + _counts_by("local_dow", range(1, 8)) + """ AS weekday_streams
    FROM period_streams WHERE artist_id IS NOT NULL GROUP BY user_id, period, artist_id
)"""


def _top(id_column: str) -> str:
    return f""",
counted AS (
    SELECT user_id, period, {id_column} AS item, count(*) AS streams, sum(ms_played)::bigint AS listening_ms
    FROM period_streams WHERE {id_column} IS NOT NULL
    GROUP BY user_id, period, {id_column}
),
ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY streams DESC, listening_ms DESC, item COLLATE "C") AS rank
    FROM counted c
)
SELECT user_id, period, rank::int AS rank, item AS {id_column}, streams, listening_ms
FROM ranked WHERE rank <= 50
"""


def _ranking(id_column: str, named: dict[str, str], joins: str = "", more: str = "", more_columns: str = "",
             more_joins: str = "") -> str:
    """Every item streamed in the period; `named`: output column -> the expression (of s, a stream, and
    `joins`) that follows from the item; `more`: further CTEs, whose `more_columns` (of c, the item's
    counts, and `more_joins`) follow the ranks."""
    extra = "".join(f"{expression} AS {column}, " for column, expression in named.items())
    grouped = "".join(f", {expression}" for expression in named.values())
    return f""",
counted AS (
    SELECT s.user_id, s.period, s.{id_column} AS item, {extra}count(*) AS streams,
           sum(s.ms_played)::bigint AS listening_ms, min(s.played_at) AS first_played_at,
           max(s.played_at) AS last_played_at
    FROM period_streams s {joins} WHERE s.{id_column} IS NOT NULL
    GROUP BY s.user_id, s.period, s.{id_column}{grouped}
){more}
SELECT c.user_id, c.period, c.item AS {id_column}, {"".join(f"c.{column}, " for column in named)}c.streams,
       c.listening_ms, c.streams::float8 / p.total AS share, c.first_played_at, c.last_played_at,
       row_number() OVER (PARTITION BY c.user_id, c.period
                          ORDER BY c.streams DESC, c.listening_ms DESC, c.item COLLATE "C")::int AS rank,
       row_number() OVER (PARTITION BY c.user_id, c.period
                          ORDER BY c.listening_ms DESC, c.streams DESC, c.item COLLATE "C")::int AS time_rank
       {more_columns}
FROM counted c JOIN periods p ON p.user_id = c.user_id AND p.period = c.period {more_joins}
"""


def _classes(expression: str, classes: list[str], extra_columns: str = "") -> str:
    """Fixed rows per period: streams (and extras) per class of `expression`, share of streams."""
    values = ", ".join(f"('{c}')" for c in classes)
    extra_agg = ", count(DISTINCT track_id)::int AS distinct_tracks" if extra_columns else ""
    extra_out = ", coalesce(n.distinct_tracks, 0) AS distinct_tracks" if extra_columns else ""
    return f""",
counted AS (
    SELECT user_id, period, {expression} AS class, count(*) AS streams{extra_agg}
    FROM period_streams GROUP BY 1, 2, 3
)
SELECT p.user_id, p.period, c.class AS {{column}}, coalesce(n.streams, 0) AS streams{extra_out},
       coalesce(n.streams, 0)::float8 / p.total AS share
FROM periods p CROSS JOIN (VALUES {values}) AS c (class)
LEFT JOIN counted n ON n.user_id = p.user_id AND n.period = p.period AND n.class = c.class
"""


# Every two different users who both allow comparison and both have a row of the period (a rolling period is
# each one's own: the same period name), once each way.
PAIRS = """,
pairs AS (
    SELECT a.user_id, a.period, b.user_id AS other_user_id
    FROM periods a JOIN periods b ON b.period = a.period AND b.user_id <> a.user_id
    JOIN dim_user ua ON ua.user_id = a.user_id JOIN dim_user ub ON ub.user_id = b.user_id
    WHERE ua.compare_consent AND ub.compare_consent
)"""


def _shares(item: str) -> str:
    """`<item>_shares`: each artist (recording) of each user and period, its share of the period's streams (as its
    <item>_ranking row's), its first_played_at in the period, and what names it (`shown`: the artist, the
    recording's shown edition)."""
    if item == "track":
        return """,
track_shares AS (
    SELECT r.user_id, r.period, r.recording AS item, r.track_id AS shown, r.streams::float8 / p.total AS share,
           r.first_played_at
    FROM recordings r JOIN periods p ON p.user_id = r.user_id AND p.period = r.period
)"""
    return f""",
{item}_shares AS (
    SELECT s.user_id, s.period, s.{item}_id AS item, s.{item}_id AS shown, count(*)::float8 / p.total AS share,
           min(s.played_at) AS first_played_at
    FROM period_streams s JOIN periods p ON p.user_id = s.user_id AND p.period = s.period
    WHERE s.{item}_id IS NOT NULL
    GROUP BY s.user_id, s.period, s.{item}_id, p.total
)"""


def _shared(item: str) -> str:
    """`shared_<item>_totals`, per pair sharing at least one artist (track): the sum of the smaller shares, how
    many are shared, the first 10 by smaller share descending then id (code point; a recording named by the lower
    of the two users' shown editions), and for each of those who streamed it first in the period (null on the
    same instant)."""
    return f""",
shared_{item}s AS (
    SELECT p.user_id, p.period, p.other_user_id, a.item, least(a.shown COLLATE "C", b.shown) AS shown,
           least(a.share, b.share) AS share,
           CASE WHEN a.first_played_at < b.first_played_at THEN p.user_id
                WHEN b.first_played_at < a.first_played_at THEN p.other_user_id END AS first_by
    FROM pairs p
    JOIN {item}_shares a ON a.user_id = p.user_id AND a.period = p.period
    JOIN {item}_shares b ON b.user_id = p.other_user_id AND b.period = p.period AND b.item = a.item
),
shared_{item}_totals AS (
    SELECT user_id, period, other_user_id,
           sum(share ORDER BY item COLLATE "C") AS overlap,  -- one order of addition: the same sum both ways
           count(*) AS shared,
           (array_agg(shown ORDER BY share DESC, item COLLATE "C"))[1:10] AS top,
           (array_agg(first_by ORDER BY share DESC, item COLLATE "C"))[1:10] AS first_by
    FROM shared_{item}s GROUP BY user_id, period, other_user_id
)"""


QUERIES: dict[str, str] = {
    "overview": BASE + """,
period_plays AS (  -- every play, streams or not, for the skip rate
    SELECT f.*, p.period
    FROM plays f """ + _periods_of("f.user_id", "f.local_date") + """
),
skips AS (
    SELECT user_id, period, count(*) FILTER (WHERE skipped) AS skipped,
           count(*) FILTER (WHERE skipped IS NOT NULL) AS known
    FROM period_plays GROUP BY user_id, period
),
first_artist AS (
    SELECT DISTINCT ON (user_id, artist_id) user_id, local_date
    FROM ordered WHERE artist_id IS NOT NULL ORDER BY user_id, artist_id, pos
),
first_track AS (  -- of each recording
    SELECT DISTINCT ON (user_id, recording) user_id, local_date
    FROM ordered ORDER BY user_id, recording, pos
),
new_artists AS (
    SELECT a.user_id, p.period, count(*) AS n
    FROM first_artist a """ + _periods_of("a.user_id", "a.local_date") + """
    GROUP BY 1, 2
),
new_tracks AS (
    SELECT t.user_id, p.period, count(*) AS n
    FROM first_track t """ + _periods_of("t.user_id", "t.local_date") + """
    GROUP BY 1, 2
),
totals AS (
    SELECT user_id, period, count(*) AS streams, sum(ms_played)::bigint AS listening_ms,
           count(DISTINCT recording)::int AS distinct_tracks,
           count(DISTINCT artist_id)::int AS distinct_artists,
           count(DISTINCT album_id)::int AS distinct_albums,
           count(DISTINCT local_date)::int AS active_days,
           min(played_at) AS first_played_at, max(played_at) AS last_played_at,
           avg(popularity)::float8 AS mainstream_score,
           min(local_date) AS first_stream_day, max(local_date) AS last_stream_day
    FROM period_streams GROUP BY user_id, period
),
stream_days AS (  -- consecutive dates share date - (their position among the period's dates with a stream)
    SELECT user_id, period, local_date - (row_number() OVER (PARTITION BY user_id, period
                                                             ORDER BY local_date))::int AS island
    FROM (SELECT DISTINCT user_id, period, local_date FROM period_streams) AS d
),
streak AS (
    SELECT user_id, period, max(days) AS longest_streak
    FROM (SELECT user_id, period, count(*)::int AS days FROM stream_days GROUP BY user_id, period, island) AS r
    GROUP BY user_id, period
)
SELECT t.user_id, t.period, t.streams, t.listening_ms, t.distinct_tracks, t.distinct_artists,
       t.distinct_albums, t.active_days, t.first_played_at, t.last_played_at,
       t.streams::float8 / t.active_days AS streams_per_active_day,
       k.skipped::float8 / nullif(k.known, 0) AS skip_rate,
       t.mainstream_score,
       coalesce(na.n, 0)::int AS new_artists, coalesce(nt.n, 0)::int AS new_tracks,
       -- the dates the period spans: 'all' its user's first to latest day with a stream, a rolling period
       -- its window (the `rolling` CTE), a year or a month the whole calendar year or month
       CASE WHEN t.period = 'all' THEN t.first_stream_day
            WHEN w.period IS NOT NULL THEN w.first_day
            WHEN length(t.period) = 4 THEN make_date(t.period::int, 1, 1)
            ELSE make_date(left(t.period, 4)::int, right(t.period, 2)::int, 1) END AS first_day,
       CASE WHEN t.period = 'all' THEN t.last_stream_day
            WHEN w.period IS NOT NULL THEN w.last_day
            WHEN length(t.period) = 4 THEN make_date(t.period::int, 12, 31)
            ELSE (make_date(left(t.period, 4)::int, right(t.period, 2)::int, 1) + interval '1 month')::date - 1
       END AS last_day,
       r.longest_streak,
       coalesce(pl.listens, 0)::bigint AS podcast_listens, coalesce(pl.listening_ms, 0)::bigint AS podcast_listening_ms
FROM totals t
LEFT JOIN (SELECT user_id, period, count(*) AS listens, sum(ms_played) AS listening_ms
           FROM period_listens GROUP BY user_id, period) pl ON pl.user_id = t.user_id AND pl.period = t.period
JOIN skips k ON k.user_id = t.user_id AND k.period = t.period
JOIN streak r ON r.user_id = t.user_id AND r.period = t.period
LEFT JOIN rolling w ON w.user_id = t.user_id AND w.period = t.period
LEFT JOIN new_artists na ON na.user_id = t.user_id AND na.period = t.period
LEFT JOIN new_tracks nt ON nt.user_id = t.user_id AND nt.period = t.period
""",
    "top_tracks": BASE + RECORDINGS + """,
ranked AS (
    SELECT r.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY streams DESC, listening_ms DESC, track_id COLLATE "C") AS rank
    FROM recordings r
)
SELECT user_id, period, rank::int AS rank, track_id, streams, listening_ms FROM ranked WHERE rank <= 50
""",
    "top_artists": BASE + _top("artist_id"),
    "top_albums": BASE + _top("album_id"),
    "hour_of_day": BASE + """,
counted AS (
    SELECT user_id, period, local_hour AS hour, count(*) AS streams, sum(ms_played)::bigint AS listening_ms
    FROM period_streams GROUP BY 1, 2, 3
)
SELECT p.user_id, p.period, h.hour::smallint AS hour, coalesce(n.streams, 0) AS streams,
       coalesce(n.listening_ms, 0) AS listening_ms, coalesce(n.streams, 0)::float8 / p.total AS share
FROM periods p CROSS JOIN generate_series(0, 23) AS h (hour)
LEFT JOIN counted n ON n.user_id = p.user_id AND n.period = p.period AND n.hour = h.hour
""",
    "day_of_week": BASE + """,
counted AS (
    SELECT user_id, period, local_dow AS day_of_week, count(*) AS streams,
           count(DISTINCT recording) AS distinct_tracks, count(DISTINCT artist_id) AS distinct_artists
    FROM period_streams GROUP BY 1, 2, 3
)
SELECT p.user_id, p.period, d.day::smallint AS day_of_week, coalesce(n.streams, 0) AS streams,
       coalesce(n.distinct_tracks, 0)::int AS distinct_tracks,
       coalesce(n.distinct_artists, 0)::int AS distinct_artists,
       coalesce(n.distinct_tracks::float8 / n.streams, 0) AS track_variety,
       coalesce(n.distinct_artists::float8 / n.streams, 0) AS artist_variety
FROM periods p CROSS JOIN generate_series(1, 7) AS d (day)
LEFT JOIN counted n ON n.user_id = p.user_id AND n.period = p.period AND n.day_of_week = d.day
""",
    "listening_clock": BASE + """,
counted AS (
    SELECT user_id, period, local_dow, local_hour, count(*) AS streams
    FROM period_streams GROUP BY 1, 2, 3, 4
)
SELECT p.user_id, p.period, d.day::smallint AS day_of_week, h.hour::smallint AS hour,
       coalesce(n.streams, 0) AS streams
FROM periods p CROSS JOIN generate_series(1, 7) AS d (day) CROSS JOIN generate_series(0, 23) AS h (hour)
LEFT JOIN counted n ON n.user_id = p.user_id AND n.period = p.period
                   AND n.local_dow = d.day AND n.local_hour = h.hour
""",
    "album_completion": BASE + """,
counted AS (
    SELECT s.user_id, s.period, s.album_id, a.total_tracks,
           count(DISTINCT s.track_id)::int AS tracks_played, count(*) AS streams
    FROM period_streams s JOIN dim_album a ON a.album_id = s.album_id
    WHERE a.total_tracks >= %(album_min_tracks)s
    GROUP BY 1, 2, 3, 4
),
scored AS (
    SELECT c.*, least(1::float8, c.tracks_played::float8 / c.total_tracks) AS completion FROM counted c
)
SELECT user_id, period, album_id, total_tracks, tracks_played, completion,
       CASE WHEN completion = 1 THEN 'complete' WHEN completion >= 0.75 THEN 'most'
            WHEN completion >= 0.5 THEN 'half' ELSE 'partial' END AS status,
       streams,
       row_number() OVER (PARTITION BY user_id, period ORDER BY completion DESC, tracks_played DESC,
                          streams DESC, album_id COLLATE "C")::int AS rank
FROM scored
""",
    "artist_streaks": BASE + STREAKS + """,
ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY days DESC, streak_end DESC, artist_id COLLATE "C") AS rank
    FROM streaks s WHERE days >= 2
)
SELECT user_id, period, rank::int AS rank, artist_id, days, streak_start, streak_end
FROM ranked WHERE rank <= 10
""",
    "sessions": BASE + SESSIONS + """
SELECT user_id, session_id, month AS period, session_start, session_end, streams, distinct_tracks,
       listening_ms
FROM session_list
""",
    "session_summary": BASE + SESSIONS + """
SELECT s.user_id, p.period, count(*)::int AS sessions, avg(s.length_ms)::float8 AS avg_session_ms,
       round(max(s.length_ms))::bigint AS longest_session_ms,
       avg(s.streams)::float8 AS avg_streams_per_session
FROM session_list s """ + _periods_of("s.user_id", "s.start_date") + """
GROUP BY s.user_id, p.period
""",
    "play_gaps": BASE + """,
gaps AS (  -- the gap after a stream, in every period of that stream
    SELECT user_id, local_date, greatest(next_started_at - played_at, interval '0') AS gap
    FROM ordered WHERE next_started_at IS NOT NULL
),
counted AS (
    SELECT g.user_id, p.period,
           CASE WHEN g.gap < interval '5 minutes' THEN 'continuous'
                WHEN g.gap < interval '60 minutes' THEN 'short_break' ELSE 'long_break' END AS gap_class,
           count(*) AS gaps
    FROM gaps g """ + _periods_of("g.user_id", "g.local_date") + """
    GROUP BY 1, 2, 3
),
totals AS (SELECT user_id, period, sum(gaps) AS total FROM counted GROUP BY 1, 2)
SELECT p.user_id, p.period, c.gap_class, coalesce(n.gaps, 0) AS gaps,
       coalesce(n.gaps::float8 / t.total, 0) AS share
FROM periods p CROSS JOIN (VALUES ('continuous'), ('short_break'), ('long_break')) AS c (gap_class)
LEFT JOIN counted n ON n.user_id = p.user_id AND n.period = p.period AND n.gap_class = c.gap_class
LEFT JOIN totals t ON t.user_id = p.user_id AND t.period = p.period
""",
    "popularity_distribution": BASE + _classes(
        "CASE WHEN popularity IS NULL THEN 'unknown' ELSE least(popularity / 10, 9)::text END",
        [str(b) for b in range(10)] + ["unknown"], extra_columns="distinct_tracks",
    ).format(column="bracket"),
    "duration_preference": BASE + _classes(
        "CASE WHEN duration_ms IS NULL THEN 'unknown' WHEN duration_ms < 180000 THEN 'short' "
        "WHEN duration_ms < 300000 THEN 'medium' ELSE 'long' END",
        ["short", "medium", "long", "unknown"],
    ).format(column="duration_class"),
    "explicit_preference": BASE + _classes(
        "coalesce(explicit::text, 'unknown')", ["true", "false", "unknown"],
    ).format(column="explicit"),
    "release_years": BASE + """,
dated AS (
    SELECT s.user_id, s.period, s.album_id,
           substring(a.release_date FROM '^[0-9]{4}')::smallint AS release_year
    FROM period_streams s JOIN dim_album a ON a.album_id = s.album_id
)
SELECT user_id, period, release_year, count(*) AS streams, count(DISTINCT album_id)::int AS distinct_albums
FROM dated WHERE release_year IS NOT NULL GROUP BY 1, 2, 3
""",
    "longest_days": BASE + """,
days AS (
    SELECT user_id, period, local_date, sum(ms_played)::bigint AS listening_ms, count(*) AS streams
    FROM period_streams GROUP BY 1, 2, 3
),
ranked AS (
    SELECT d.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY listening_ms DESC, local_date DESC) AS rank
    FROM days d
)
SELECT user_id, period, rank::int AS rank, local_date, listening_ms, streams FROM ranked WHERE rank <= 10
""",
    "genre_distribution": BASE + """,
stream_genres AS (  -- each genre of the stream's primary artist, once
    SELECT s.user_id, s.period, s.play_id, g.genre
    FROM period_streams s JOIN dim_artist a ON a.artist_id = s.artist_id
    CROSS JOIN LATERAL (SELECT DISTINCT u.genre FROM unnest(a.genres) AS u (genre)
                        WHERE u.genre IS NOT NULL) AS g
),
known AS (SELECT user_id, period, count(DISTINCT play_id) AS n FROM stream_genres GROUP BY 1, 2),
ranked AS (
    SELECT user_id, period, genre, count(*) AS streams,
           row_number() OVER (PARTITION BY user_id, period ORDER BY count(*) DESC, genre COLLATE "C") AS rank
    FROM stream_genres GROUP BY 1, 2, 3
)
SELECT r.user_id, r.period, r.genre, r.rank::int AS rank, r.streams, r.streams::float8 / k.n AS share
FROM ranked r JOIN known k ON k.user_id = r.user_id AND k.period = r.period
WHERE r.rank <= 30
UNION ALL
SELECT p.user_id, p.period, 'unknown', NULL::int, p.total - coalesce(k.n, 0),
       (p.total - coalesce(k.n, 0))::float8 / p.total
FROM periods p LEFT JOIN known k ON k.user_id = p.user_id AND k.period = p.period
""",
    "track_ranking": BASE + RECORDINGS + TRACK_SKIPS + """
SELECT r.user_id, r.period, r.track_id, r.album_id, r.artist_id, r.streams, r.listening_ms,
       r.streams::float8 / p.total AS share, r.first_played_at, r.last_played_at,
       row_number() OVER (PARTITION BY r.user_id, r.period
                          ORDER BY r.streams DESC, r.listening_ms DESC, r.track_id COLLATE "C")::int AS rank,
       row_number() OVER (PARTITION BY r.user_id, r.period
                          ORDER BY r.listening_ms DESC, r.streams DESC, r.track_id COLLATE "C")::int AS time_rank,
       k.skipped::float8 / nullif(k.known, 0) AS skip_rate, r.recording AS recording_id, r.editions
FROM recordings r JOIN periods p ON p.user_id = r.user_id AND p.period = r.period
LEFT JOIN track_skips k ON k.user_id = r.user_id AND k.period = r.period AND k.recording = r.recording
""",
    "artist_ranking": BASE + _ranking(
        "artist_id", {}, more=ARTIST_EXTRAS,
        more_columns=", coalesce(m.months, 0) AS months_at_top, l.days AS longest_streak, "
                     "l.streak_start AS longest_streak_start, l.streak_end AS longest_streak_end, "
                     "f.hour_streams, f.weekday_streams",
        more_joins="LEFT JOIN months_at_top m ON m.user_id = c.user_id AND m.period = c.period "
                   "AND m.artist_id = c.item "
                   "LEFT JOIN longest l ON l.user_id = c.user_id AND l.period = c.period AND l.artist_id = c.item "
                   "JOIN profile f ON f.user_id = c.user_id AND f.period = c.period AND f.artist_id = c.item"),
    "album_ranking": BASE + _ranking("album_id", {"artist_id": "a.primary_artist_id"},
                                     joins="LEFT JOIN dim_album a ON a.album_id = s.album_id"),
    "top_shows": BASE + """,
shows AS (
    SELECT user_id, period, show_id, count(*) AS listens, sum(ms_played)::bigint AS listening_ms,
           count(DISTINCT episode_id)::int AS episodes
    FROM period_listens GROUP BY user_id, period, show_id
),
ranked AS (
    SELECT s.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY listening_ms DESC, listens DESC, show_id COLLATE "C") AS rank
    FROM shows s
)
SELECT user_id, period, rank::int AS rank, show_id, listens, listening_ms, episodes FROM ranked WHERE rank <= 50
""",
    "top_episodes": BASE + """,
episodes AS (
    SELECT user_id, period, episode_id, show_id, count(*) AS listens, sum(ms_played)::bigint AS listening_ms
    FROM period_listens GROUP BY user_id, period, episode_id, show_id
),
ranked AS (
    SELECT e.*, row_number() OVER (PARTITION BY user_id, period
                                   ORDER BY listening_ms DESC, listens DESC, episode_id COLLATE "C") AS rank
    FROM episodes e
)
SELECT user_id, period, rank::int AS rank, episode_id, show_id, listens, listening_ms FROM ranked WHERE rank <= 50
""",
    "playlist_completion": BASE + """,
followed AS (
    SELECT DISTINCT u.user_id, t.playlist_id, t.track_id
    FROM dim_user_playlist u JOIN dim_playlist_track t ON t.playlist_id = u.playlist_id
),
totals AS (SELECT user_id, playlist_id, count(*)::int AS total_tracks FROM followed GROUP BY user_id, playlist_id),
heard AS (
    SELECT s.user_id, s.period, f.playlist_id, count(DISTINCT s.track_id)::int AS tracks_played,
           count(*) AS streams, sum(s.ms_played)::bigint AS listening_ms,
           min(s.played_at) AS first_played_at, max(s.played_at) AS last_played_at,
           array_agg(DISTINCT s.track_id COLLATE "C" ORDER BY s.track_id COLLATE "C") AS heard_track_ids
    FROM period_streams s JOIN followed f ON f.user_id = s.user_id AND f.track_id = s.track_id
    GROUP BY s.user_id, s.period, f.playlist_id
),
started AS (
    SELECT s.user_id, s.period,
           substring(s.context_uri FROM '^spotify:(?:user:[^:]+:)?playlist:([0-9A-Za-z]+)$') AS playlist_id,
           count(*) AS context_streams, sum(s.ms_played)::bigint AS context_listening_ms,
           min(s.played_at) AS context_first_played_at, max(s.played_at) AS context_last_played_at
    FROM period_streams s WHERE s.context_uri ~ '^spotify:(?:user:[^:]+:)?playlist:[0-9A-Za-z]+$'
    GROUP BY 1, 2, 3
),
counted AS (
    SELECT coalesce(h.user_id, c.user_id) AS user_id, coalesce(h.period, c.period) AS period,
           coalesce(h.playlist_id, c.playlist_id) AS playlist_id, coalesce(h.tracks_played, 0) AS tracks_played,
           coalesce(h.streams, 0) AS streams, coalesce(h.listening_ms, 0) AS listening_ms,
           h.first_played_at, h.last_played_at, coalesce(c.context_streams, 0) AS context_streams,
           coalesce(c.context_listening_ms, 0) AS context_listening_ms, c.context_first_played_at,
           c.context_last_played_at, coalesce(h.heard_track_ids, '{}') AS heard_track_ids
    FROM heard h FULL JOIN started c
      ON c.user_id = h.user_id AND c.period = h.period AND c.playlist_id = h.playlist_id
),
scored AS (
    SELECT c.*, t.total_tracks, c.tracks_played::float8 / t.total_tracks AS completion
    FROM counted c JOIN totals t ON t.user_id = c.user_id AND t.playlist_id = c.playlist_id
)
SELECT user_id, period, playlist_id, total_tracks, tracks_played, completion, streams, listening_ms,
       first_played_at, last_played_at, context_streams, context_listening_ms, context_first_played_at,
       context_last_played_at, heard_track_ids,
       row_number() OVER (PARTITION BY user_id, period ORDER BY completion DESC, tracks_played DESC, streams DESC,
                          context_streams DESC, playlist_id COLLATE "C")::int AS rank
FROM scored
""",
    "taste_overlap": BASE + RECORDINGS + _shares("artist") + _shares("track") + PAIRS + _shared("artist")
    + _shared("track") + """
SELECT p.user_id, p.period, p.other_user_id, coalesce(a.overlap, 0)::float8 AS overlap,
       coalesce(a.shared, 0)::int AS shared_artists, coalesce(t.shared, 0)::int AS shared_tracks,
       coalesce(a.top, '{}') AS top_shared_artists, coalesce(t.top, '{}') AS top_shared_tracks,
       coalesce(a.first_by, '{}') AS first_streamed_by
FROM pairs p
LEFT JOIN shared_artist_totals a ON a.user_id = p.user_id AND a.period = p.period
                                AND a.other_user_id = p.other_user_id
LEFT JOIN shared_track_totals t ON t.user_id = p.user_id AND t.period = p.period
                               AND t.other_user_id = p.other_user_id
""",
}


def reference_rows(conn: psycopg.Connection, name: str, settings: Settings) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of statistic `name` computed by its reference query on main."""
    cursor = conn.execute(QUERIES[name], {"album_min_tracks": settings.album_min_tracks,
                                          "session_gap_minutes": settings.session_gap_minutes})
    return [c.name for c in cursor.description], [tuple(map(_plain, row)) for row in cursor.fetchall()]


def _plain(value):
    """Decimals from numeric arithmetic as int (integral) or float, like the tables' columns."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
