"""What every statistic starts from: the month-level grains rolled up into the run's periods.

Pure functions on DataFrames. Inputs: the run's `Grains` (spark_scripts/state.py:
recomputed months, stored ones and the rolling periods' months, `with_rolling`) and main's dimensions:
tracks  (dim_track: track_id, album_id, primary_artist_id, duration_ms, explicit, popularity),
albums  (dim_album: album_id, total_tracks, release_year, album_artist_id: its primary artist),
artists (dim_artist: artist_id, genres), and who allows comparison (dim_user) with, in an incremental run, the
published shares that taste_overlap pairs the run's with.

Every stream belongs to three calendar periods: 'all', its local year and its local
month; a calendar month's grains count in those three. A rolling period has grains of
its own (its own plays, by month; ROLLING names it), which count in it alone.
The grains count streams by month; they are spread over their periods only then
(much fewer rows than plays): sums, minimums, maximums and bitwise ORs add up
across months, and a period's distinct tracks are the rows of the track roll-up.
`in_scope` keeps only the calendar periods a run recomputes (spark_scripts/scope.py),
before any statistic is computed; a run reads the rolling periods of its users only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.state import MONTH, ROLLING, Grains, bit

KEY = ["user_id", "period"]
Scope = Callable[[DataFrame], DataFrame]


@dataclass(frozen=True)
class Tables:
    periods: DataFrame  # the (user_id, period) pairs that have streams
    tracks: DataFrame   # per (user_id, period, track_id) streamed: recording_id, streams, listening_ms,
    #                     first_played_at, last_played_at, weekdays, and the track's facts (album_id,
    #                     primary_artist_id, duration_ms, explicit, popularity, total_tracks, release_year, genres)
    recordings: DataFrame  # per (user_id, period, recording_id) streamed (docs/metrics.md, "One song across
    #                        editions"): streams, listening_ms, first_played_at, last_played_at, weekdays, its
    #                        shown edition (track_id, album_id, primary_artist_id) and `editions` in order
    month_tracks: DataFrame  # the track grain of every month of the run's users (ROLLING null) and of their
    #                          rolling periods' months, with the track's facts
    days: DataFrame     # per (user_id, period, local_date) with streams: streams, listening_ms
    clock: DataFrame    # per (user_id, period, local_dow, local_hour) with streams: streams, listening_ms
    skips: DataFrame    # per (user_id, period): skipped, known
    track_skips: DataFrame  # per (user_id, period, recording_id) with a play whose `skipped` is known: skipped,
    #                         known
    gaps: DataFrame     # per (user_id, period, gap_class): gaps
    artist_days: DataFrame  # per (user_id, period, primary_artist_id, local_date) the artist was streamed
    episodes: DataFrame  # per (user_id, period, episode_id, show_id) listened, in a period with streams: listens,
    #                      listening_ms, first_played_at, last_played_at
    contexts: DataFrame  # per (user_id, period, playlist_id) streamed from: streams, listening_ms, first_played_at,
    #                      last_played_at
    playlist_tracks: DataFrame  # user_id, playlist_id, track_id: each distinct track of each playlist followed
    sessions: DataFrame  # one row per session starting in a recomputed month (`period`: that month, no ROLLING)
    session_periods: DataFrame  # a row per session and period it counts in (its month, year, 'all', rolling)
    in_scope: Scope
    album_min_tracks: int
    consenting: DataFrame  # user_id of every user who allows comparison (dim_user.compare_consent)
    # An incremental run's published artist and track shares of the consenting users, in the periods the run's
    # users recompute (spark_scripts/extract.py): user_id, period, kind ('artist' | 'track'), item_id, share,
    # first_played_at; None in a full run, which computes every period.
    published_shares: DataFrame | None

    def spread(self, months: DataFrame) -> DataFrame:
        """Month-level rows (MONTH, ROLLING + any) once per period they count in (a `period` column)."""
        return spread(months, self.in_scope)

    @property
    def reused(self) -> tuple[DataFrame, ...]:
        """The frames several statistics read: worth caching for a run."""
        return self.tracks, self.recordings, self.days, self.clock, self.periods, self.month_tracks


def with_periods(frame: DataFrame, year: str = "local_year", month: str = "local_month") -> DataFrame:
    """One row per period a row belongs to: 'all', its year and its month."""
    return frame.withColumn("period", F.explode(F.array(F.lit("all"), F.col(year), F.col(month))))


def grid(periods: DataFrame, column: str, values: list) -> DataFrame:
    """Every (user_id, period) with every value of `column` (for fixed-size results)."""
    return periods.select(*KEY, F.explode(F.array(*[F.lit(v) for v in values])).alias(column))


def share(count: str) -> Column:
    """count / total of that user and period, 0 when the total is 0."""
    total = F.sum(count).over(Window.partitionBy(*KEY))
    return F.when(total > 0, F.col(count) / total).otherwise(F.lit(0.0))


def day_runs(days: DataFrame, keys: list[str]) -> DataFrame:
    """Every run of consecutive local dates (`local_date`, each once per `keys`), one day long included: the keys,
    days, streak_start, streak_end."""
    in_order = Window.partitionBy(*keys).orderBy("local_date")
    # Consecutive dates minus their position give the same anchor date.
    return (days.withColumn("anchor", F.date_sub("local_date", F.row_number().over(in_order)))
            .groupBy(*keys, "anchor")
            .agg(F.count("*").cast("int").alias("days"), F.min("local_date").alias("streak_start"),
                 F.max("local_date").alias("streak_end"))
            .drop("anchor"))


def every_period(frame: DataFrame) -> DataFrame:
    """Rows with a `period` column: every period of every user (a full run)."""
    return frame


def spread(months: DataFrame, in_scope: Scope) -> DataFrame:
    """Month-level rows once per period they count in: a calendar month's (ROLLING null) in 'all', its year and
    itself, those the run recomputes; a rolling period's month in that period."""
    calendar = in_scope(with_periods(months.where(F.col(ROLLING).isNull()))).drop(ROLLING)
    return calendar.unionByName(months.where(F.col(ROLLING).isNotNull()).withColumnRenamed(ROLLING, "period"))


def prepare(grains: Grains, tracks: DataFrame, albums: DataFrame, artists: DataFrame, album_min_tracks: int,
            consenting: DataFrame, playlist_tracks: DataFrame, published_shares: DataFrame | None = None,
            in_scope: Scope = every_period) -> Tables:
    facts = (tracks.join(albums, "album_id", "left")
             .join(artists.withColumnRenamed("artist_id", "primary_artist_id"), "primary_artist_id", "left"))

    def by_period(frame: DataFrame, keys: list[str], *sums: str, mins=(), maxes=(), ors=()) -> DataFrame:
        """Month-level rows (MONTH, ROLLING + keys) rolled up into the run's periods."""
        return spread(frame, in_scope).groupBy(*KEY, *keys).agg(
            *[F.sum(c).alias(c) for c in sums], *[F.min(c).alias(c) for c in mins],
            *[F.max(c).alias(c) for c in maxes], *[F.bit_or(c).alias(c) for c in ors])

    month_tracks = grains.tracks.join(F.broadcast(facts), "track_id", "left")
    by_track = by_period(grains.tracks, ["track_id", "recording_id"], "streams", "listening_ms",
                         mins=("first_played_at",),
                         maxes=("last_played_at",), ors=("weekdays",)).join(F.broadcast(facts), "track_id", "left")
    calendar_sessions = grains.sessions.where(F.col(ROLLING).isNull()).drop(ROLLING)
    session_periods = spread(grains.sessions.withColumn("local_year", F.substring("period", 1, 4))
                             .withColumnRenamed("period", "local_month"), in_scope)
    periods = spread(grains.tracks.select(*MONTH, ROLLING).distinct(), in_scope).select(*KEY).distinct()
    return Tables(
        periods=periods,
        tracks=by_track,
        recordings=recordings(by_track),
        month_tracks=month_tracks,
        days=by_period(grains.days, ["local_date"], "streams", "listening_ms"),
        clock=by_period(grains.clock, ["local_dow", "local_hour"], "streams", "listening_ms"),
        skips=by_period(grains.skips, [], "skipped", "known"),
        track_skips=by_period(grains.skips, ["recording_id"], "skipped", "known"),
        gaps=by_period(grains.gaps, ["gap_class"], "gaps"),
        artist_days=_artist_days(month_tracks, in_scope),
        # Podcast listens count in the periods music streams make (docs/metrics.md, "Podcasts").
        episodes=by_period(grains.episodes, ["episode_id", "show_id"], "listens", "listening_ms",
                           mins=("first_played_at",), maxes=("last_played_at",)).join(periods, KEY, "left_semi"),
        contexts=by_period(grains.contexts, ["playlist_id"], "streams", "listening_ms", mins=("first_played_at",),
                           maxes=("last_played_at",)),
        playlist_tracks=playlist_tracks,
        sessions=in_scope(calendar_sessions),
        session_periods=session_periods,
        in_scope=in_scope,
        album_min_tracks=album_min_tracks,
        consenting=consenting,
        published_shares=published_shares,
    )


def recordings(tracks: DataFrame) -> DataFrame:
    """The period's tracks rolled up into their recordings, each shown by its edition with the most streams, then
    listening time, then the lowest id; `editions` in that order."""
    order = Window.partitionBy(*KEY, "recording_id").orderBy(F.desc("streams"), F.desc("listening_ms"), "track_id")
    editions = tracks.withColumn("edition", F.row_number().over(order))
    shown = F.min_by(F.struct("track_id", "album_id", "primary_artist_id"), "edition")
    return (editions.groupBy(*KEY, "recording_id")
            .agg(F.sum("streams").alias("streams"), F.sum("listening_ms").alias("listening_ms"),
                 F.min("first_played_at").alias("first_played_at"), F.max("last_played_at").alias("last_played_at"),
                 F.bit_or("weekdays").alias("weekdays"), shown.alias("shown"),
                 F.array_sort(F.collect_list(F.struct("edition", "track_id"))).getField("track_id").alias("editions"))
            .select("*", "shown.*").drop("shown"))


def _artist_days(month_tracks: DataFrame, in_scope: Scope) -> DataFrame:
    """Each (artist, local date) streamed, from the month grain's day bits, once per period."""
    artists = (month_tracks.where(F.col("primary_artist_id").isNotNull())
               .groupBy(*MONTH, ROLLING, "primary_artist_id").agg(F.bit_or("month_days").alias("month_days")))
    first = F.to_date(F.concat(F.col("local_month"), F.lit("-01")))
    days = (artists.select(*MONTH, ROLLING, "primary_artist_id", "month_days",
                           F.explode(F.sequence(F.lit(0), F.lit(30))).alias("day"))
            .where(F.col("month_days").bitwiseAND(bit("day")) != 0)
            .select(*MONTH, ROLLING, "primary_artist_id", F.date_add(first, F.col("day")).alias("local_date")))
    return spread(days, in_scope).select(*KEY, "primary_artist_id", "local_date")
