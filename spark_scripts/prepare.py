"""What every statistic starts from: the plays, their periods, a few grains, the sessions.

Pure functions on DataFrames. Inputs are main's tables:
plays  (fact_play: play_id, user_id, track_id, played_at, started_at, ms_played,
        is_stream, skipped, local_date, local_hour, local_dow, local_year, local_month),
tracks (dim_track: track_id, album_id, primary_artist_id, duration_ms, explicit, popularity),
albums (dim_album: album_id, total_tracks, release_year),
artists (dim_artist: artist_id, genres),
users  (dim_user: user_id, timezone).

Every stream belongs to three periods: 'all', its local year and its local month.
Rather than copying each stream into its three periods, the grains below count
streams by month first and only then spread those (much fewer) rows over their
periods: sums, minimums and maximums add up across months, and a period's
distinct tracks are the rows of the track grain. That keeps a full run on a
million plays within a minute on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

KEY = ["user_id", "period"]
MONTH = ["user_id", "local_year", "local_month"]


@dataclass(frozen=True)
class Tables:
    plays: DataFrame    # every track play with its track, album and artist facts
    streams: DataFrame  # the plays that count as streams
    periods: DataFrame  # the (user_id, period) pairs that have streams
    tracks: DataFrame   # per (user_id, period, track_id) streamed: streams, listening_ms, first_played_at,
    #                     last_played_at, and the track's facts (album_id, primary_artist_id, duration_ms,
    #                     explicit, popularity, total_tracks, release_year, genres)
    days: DataFrame     # per (user_id, period, local_date) with streams: streams, listening_ms
    clock: DataFrame    # per (user_id, period, local_dow, local_hour) with streams: streams, listening_ms
    sessions: DataFrame  # one row per listening session
    gaps: DataFrame     # one row per stream that has a next stream: its gap to the next (gap_ms), its month
    album_min_tracks: int

    @property
    def reused(self) -> tuple[DataFrame, ...]:
        """The frames several statistics read: worth caching for a run."""
        return self.plays, self.tracks, self.days, self.clock, self.periods, self.sessions


def with_periods(frame: DataFrame, year: str = "local_year", month: str = "local_month") -> DataFrame:
    """One row per period a row belongs to: 'all', its year and its month."""
    return frame.withColumn("period", F.explode(F.array(F.lit("all"), F.col(year), F.col(month))))


def by_period(frame: DataFrame, keys: list[str], *sums: str, mins: tuple[str, ...] = (),
              maxes: tuple[str, ...] = ()) -> DataFrame:
    """Month-level rows (MONTH + keys) rolled up into every period: sums, minimums, maximums."""
    return with_periods(frame).groupBy(*KEY, *keys).agg(
        *[F.sum(c).alias(c) for c in sums], *[F.min(c).alias(c) for c in mins], *[F.max(c).alias(c) for c in maxes])


def millis(later, earlier):
    """Milliseconds from `earlier` to `later` (timestamps), as a long."""
    return ((F.unix_micros(later) - F.unix_micros(earlier)) / 1000).cast("long")


def grid(periods: DataFrame, column: str, values: list) -> DataFrame:
    """Every (user_id, period) with every value of `column` (for fixed-size results)."""
    return periods.select(*KEY, F.explode(F.array(*[F.lit(v) for v in values])).alias(column))


def share(count: str) -> Column:
    """count / total of that user and period, 0 when the total is 0."""
    total = F.sum(count).over(Window.partitionBy(*KEY))
    return F.when(total > 0, F.col(count) / total).otherwise(F.lit(0.0))


def prepare(plays: DataFrame, tracks: DataFrame, albums: DataFrame, artists: DataFrame,
            users: DataFrame, album_min_tracks: int, session_gap_minutes: int) -> Tables:
    facts = (tracks.join(albums, "album_id", "left")
             .join(artists.withColumnRenamed("artist_id", "primary_artist_id"), "primary_artist_id", "left"))
    enriched = plays.join(F.broadcast(facts.select("track_id", "album_id", "primary_artist_id")), "track_id", "left")
    streams = enriched.where("is_stream")
    count_ms = (F.count("*").alias("streams"), F.sum("ms_played").alias("listening_ms"))
    month_tracks = streams.groupBy(*MONTH, "track_id").agg(
        *count_ms, F.min("played_at").alias("first_played_at"), F.max("played_at").alias("last_played_at"))
    by_track = by_period(month_tracks, ["track_id"], "streams", "listening_ms", mins=("first_played_at",),
                         maxes=("last_played_at",)).join(F.broadcast(facts), "track_id", "left")
    days = by_period(streams.groupBy(*MONTH, "local_date").agg(*count_ms), ["local_date"], "streams", "listening_ms")
    clock = by_period(streams.groupBy(*MONTH, "local_dow", "local_hour").agg(*count_ms), ["local_dow", "local_hour"],
                      "streams", "listening_ms")
    periods = with_periods(streams.select(*MONTH).distinct()).select(*KEY).distinct()
    sessions, gaps = _sessions_and_gaps(streams, users, session_gap_minutes * 60_000)
    return Tables(enriched, streams, periods, by_track, days, clock, sessions, gaps, album_min_tracks)


def _not_negative(gap):
    """A negative gap counts as 0; no gap (first or last stream) stays null."""
    return F.when(gap < 0, F.lit(0).cast("long")).otherwise(gap)


def _sessions_and_gaps(streams: DataFrame, users: DataFrame, gap_ms: int):
    # A user's streams in order: played_at, then started_at, then track id (play id last,
    # so that equal plays still have one order).
    order = Window.partitionBy("user_id").orderBy("played_at", "started_at", "track_id", "play_id")
    ordered = (
        streams.select("user_id", "play_id", "track_id", "played_at", "started_at", "ms_played",
                       "local_year", "local_month")
        .withColumn("gap_before", _not_negative(millis(F.col("started_at"), F.lag("played_at").over(order))))
        .withColumn("gap_after", _not_negative(millis(F.lead("started_at").over(order), F.col("played_at"))))
        .withColumn("new_session", F.when(F.col("gap_before").isNull() | (F.col("gap_before") > gap_ms), 1)
                    .otherwise(0))
        .withColumn("session_no", F.sum("new_session").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    )
    position = F.struct("played_at", "started_at", "track_id", "play_id")
    sessions = (
        ordered.groupBy("user_id", "session_no")
        .agg(F.min_by("started_at", position).alias("session_start"),
             F.max_by("played_at", position).alias("session_end"),
             F.count("*").alias("streams"),
             F.size(F.collect_set("track_id")).alias("distinct_tracks"),
             F.sum("ms_played").alias("listening_ms"))
        .join(users.select("user_id", "timezone"), "user_id")
        .withColumn("local_start", F.from_utc_timestamp("session_start", F.col("timezone")))
        .select("user_id",
                (F.unix_micros("session_start") / 1000).cast("long").alias("session_id"),
                F.date_format("local_start", "yyyy-MM").alias("period"),
                F.date_format("local_start", "yyyy").alias("start_year"),
                "session_start", "session_end",
                F.col("streams").cast("int").alias("streams"),
                F.col("distinct_tracks").cast("int").alias("distinct_tracks"),
                "listening_ms")
    )
    gaps = ordered.where(F.col("gap_after").isNotNull()).select(*MONTH, F.col("gap_after").alias("gap_ms"))
    return sessions, gaps
