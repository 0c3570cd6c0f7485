"""The month-level grains: what every period's statistics roll up from, kept in main as state.

Pure functions on DataFrames. `grains` computes them from plays (fact_play's
columns, with `before`: true for the one stream a run reads from before its
first recomputed month, so that the sessions and gaps at that edge come out as
in a full run). `Grains` of a run are the recomputed months (`grains` of the
plays since each user's first recomputed month) and the stored ones of the
months before (analytics_state.*, and the published analytics.sessions), read
by spark_scripts/extract.py; spark_scripts/prepare.py rolls them up into every
period. Publication stores the recomputed months (spark_scripts/publish.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from warehouse.catalog import HOURS, ISO_DAYS, ROLLING_PERIODS

MONTH = ["user_id", "local_year", "local_month"]
LISTEN_MS = 30_000  # a podcast listen: an episode play of at least this long (docs/metrics.md, "Podcasts")
ROLLING = "rolling"  # the rolling period (warehouse/catalog.py ROLLING_PERIODS) a window play is read for
# analytics_state.<name>; the sessions' grain is analytics.sessions
STORED = ("tracks", "days", "clock", "skips", "gaps", "episodes", "contexts")
# A playlist context's URI (docs/metrics.md, 20): spotify:playlist:ID, or the older spotify:user:OWNER:playlist:ID.
PLAYLIST_CONTEXT = r"^spotify:(?:user:[^:]+:)?playlist:([0-9A-Za-z]+)$"
SESSION_COLUMNS = ("user_id", "session_id", "period", "session_start", "session_end", "streams",
                   "distinct_tracks", "listening_ms")


@dataclass(frozen=True)
class Grains:
    tracks: DataFrame    # MONTH, track_id, recording_id (docs/metrics.md, "One song across editions"): streams,
    #                      listening_ms, first_played_at, last_played_at,
    #                      weekdays (bit d-1: streamed on ISO day d), month_days (bit n-1: on day n),
    #                      hour_streams (24 stream counts by local hour), weekday_streams (7, by ISO day)
    days: DataFrame      # MONTH, local_date: streams, listening_ms
    clock: DataFrame     # MONTH, local_dow, local_hour: streams, listening_ms
    skips: DataFrame     # MONTH, track_id, recording_id: skipped, known (track plays whose `skipped` is known)
    gaps: DataFrame      # MONTH, gap_class: gaps (after the month's streams, to the user's next stream)
    episodes: DataFrame  # MONTH, episode_id: show_id, listens, listening_ms, first_played_at, last_played_at
    #                      (podcast listens: episode plays of at least 30 s)
    contexts: DataFrame  # MONTH, playlist_id: streams, listening_ms, first_played_at, last_played_at (streams
    #                      started from that playlist)
    sessions: DataFrame  # SESSION_COLUMNS: one row per session, `period` the month of its local start

    @property
    def frames(self) -> tuple[DataFrame, ...]:
        return tuple(getattr(self, name) for name in (*STORED, "sessions"))

    def union(self, other: Grains) -> Grains:
        return Grains(*[mine.unionByName(theirs) for mine, theirs in zip(self.frames, other.frames, strict=True)])


def with_rolling(calendar: Grains, rolling: Grains) -> Grains:
    """The calendar months' grains (ROLLING null) and the rolling periods' (`rolling_grains`) as one."""
    return Grains(*[month.withColumn(ROLLING, F.lit(None).cast("string")).unionByName(cut)
                    for month, cut in zip(calendar.frames, rolling.frames, strict=True)])


def millis(later, earlier):
    """Milliseconds from `earlier` to `later` (timestamps), as a long."""
    return ((F.unix_micros(later) - F.unix_micros(earlier)) / 1000).cast("long")


def bit(position: str) -> F.Column:
    """The int with bit `position` (an SQL expression, 0 = lowest) set."""
    return F.expr(f"shiftleft(1, int({position}))")


def counts_by(column: str, values: tuple[int, ...]) -> F.Column:
    """An aggregate: the array of how many rows have each of `values` in `column`, in that order."""
    return F.array(*[F.count(F.when(F.col(column) == value, True)).cast("int") for value in values])


def grains(plays: DataFrame, users: DataFrame, session_gap_minutes: int, by: tuple[str, ...] = ()) -> Grains:
    """The month grains of `plays`; `by`: columns that split a user's plays into separate listenings (the
    rolling periods of `rolling_grains`), each with its own `before` stream, kept in every grain."""
    keys = [*MONTH, *by]
    counted = plays.where(~F.col("before"))
    streams = counted.where("is_stream")
    count_ms = (F.count("*").alias("streams"), F.sum("ms_played").alias("listening_ms"))
    tracks = streams.groupBy(*keys, "track_id", "recording_id").agg(
        *count_ms, F.min("played_at").alias("first_played_at"), F.max("played_at").alias("last_played_at"),
        F.bit_or(bit("local_dow - 1")).alias("weekdays"),
        F.bit_or(bit("day(local_date) - 1")).alias("month_days"),
        counts_by("local_hour", HOURS).alias("hour_streams"), counts_by("local_dow", ISO_DAYS).alias("weekday_streams"))
    skips = (counted.where(F.col("skipped").isNotNull() & (F.col("content_type") == "track"))
             .groupBy(*keys, "track_id", "recording_id")
             .agg(F.sum(F.col("skipped").cast("long")).alias("skipped"), F.count("*").alias("known")))
    listens = counted.where((F.col("content_type") == "episode") & (F.col("ms_played") >= LISTEN_MS))
    episodes = listens.groupBy(*keys, "episode_id", "show_id").agg(
        F.count("*").alias("listens"), F.sum("ms_played").alias("listening_ms"),
        F.min("played_at").alias("first_played_at"), F.max("played_at").alias("last_played_at"))
    playlist_id = F.regexp_extract("context_uri", PLAYLIST_CONTEXT, 1)
    contexts = (streams.where(F.col("context_uri").rlike(PLAYLIST_CONTEXT))
                .groupBy(*keys, playlist_id.alias("playlist_id"))
                .agg(*count_ms, F.min("played_at").alias("first_played_at"),
                     F.max("played_at").alias("last_played_at")))
    sessions, gaps = _sessions_and_gaps(plays.where("is_stream"), users, session_gap_minutes * 60_000, list(by))
    return Grains(
        tracks,
        streams.groupBy(*keys, "local_date").agg(*count_ms),
        streams.groupBy(*keys, "local_dow", "local_hour").agg(*count_ms),
        skips, gaps, episodes, contexts, sessions)


def rolling_first_day(name: str, last_day: F.Column) -> F.Column:
    """The first local date of the rolling period `name` that ends on the local date `last_day`."""
    amount, unit = ROLLING_PERIODS[name]
    back = F.date_sub(last_day, 7 * amount) if unit == "weeks" else F.add_months(last_day, -amount)
    return F.date_add(back, 1)


def rolling_plays(plays: DataFrame) -> DataFrame:
    """Each play once per rolling period whose days hold it (column ROLLING), and per rolling period the user's
    last stream before its first day (`before`): the input of that period's grains (docs/metrics.md, "Rolling
    periods"). `plays`: every play of a user from the longest period's first day on, and at least the last
    stream before it (a full run: every play)."""
    counted = plays.where(~F.col("before"))
    latest = counted.where("is_stream").groupBy("user_id").agg(F.max("local_date").alias("last_day"))
    windows = latest.select("user_id", "last_day", F.explode(F.array(*[
        F.struct(F.lit(name).alias(ROLLING), rolling_first_day(name, F.col("last_day")).alias("first_day"))
        for name in ROLLING_PERIODS])).alias("window")).select("user_id", "last_day", "window.*")
    inside = (counted.join(windows, "user_id")
              .where(F.col("local_date").between(F.col("first_day"), F.col("last_day"))))
    # The last stream before each period in the streams' order (an aggregate: no sort of the history).
    before = (plays.where("is_stream").join(windows, "user_id").where(F.col("local_date") < F.col("first_day"))
              .groupBy("user_id", ROLLING).agg(F.max_by(F.struct(*plays.columns, "first_day", "last_day"), F.struct(
                  "played_at", "started_at", "track_id", "play_id")).alias("edge"))
              .select("edge.*", ROLLING).withColumn("before", F.lit(True)))
    return inside.unionByName(before).drop("last_day")


def rolling_grains(plays: DataFrame, users: DataFrame, session_gap_minutes: int) -> Grains:
    """The month grains of each rolling period's own plays, keyed also by ROLLING (a month cut by a period's
    first day holds only its days inside); its sessions those whose local start lies in the period."""
    made = grains(rolling_plays(plays), users, session_gap_minutes, (ROLLING, "first_day"))
    local_start = F.to_date(F.from_utc_timestamp("session_start", F.col("timezone")))
    sessions = (made.sessions.join(users.select("user_id", "timezone"), "user_id")
                .where(local_start >= F.col("first_day")).drop("timezone"))
    return Grains(*[frame.drop("first_day") for frame in (*made.frames[:-1], sessions)])


def gap_class(gap_ms) -> F.Column:
    return (F.when(gap_ms < 5 * 60_000, "continuous")
            .when(gap_ms < 60 * 60_000, "short_break").otherwise("long_break"))


def _not_negative(gap):
    """A negative gap counts as 0; no gap (first or last stream) stays null."""
    return F.when(gap < 0, F.lit(0).cast("long")).otherwise(gap)


def _sessions_and_gaps(streams: DataFrame, users: DataFrame, gap_ms: int, by: list[str]
                       ) -> tuple[DataFrame, DataFrame]:
    # A user's streams in order: played_at, then started_at, then track id (play id last,
    # so that equal plays still have one order).
    order = Window.partitionBy("user_id", *by).orderBy("played_at", "started_at", "track_id", "play_id")
    ordered = (
        streams.select("user_id", *by, "play_id", "track_id", "recording_id", "played_at", "started_at", "ms_played",
                       "local_year", "local_month", "before")
        .withColumn("gap_before", _not_negative(millis(F.col("started_at"), F.lag("played_at").over(order))))
        .withColumn("gap_after", _not_negative(millis(F.lead("started_at").over(order), F.col("played_at"))))
        .withColumn("new_session", F.when(F.col("gap_before").isNull() | (F.col("gap_before") > gap_ms), 1)
                    .otherwise(0))
        .withColumn("session_no", F.sum("new_session").over(order.rowsBetween(Window.unboundedPreceding, 0)))
    )
    position = F.struct("played_at", "started_at", "track_id", "play_id")
    sessions = (
        ordered.groupBy("user_id", *by, "session_no")
        .agg(F.min_by("started_at", position).alias("session_start"),
             F.max_by("played_at", position).alias("session_end"),
             F.count("*").alias("streams"),
             F.size(F.collect_set("recording_id")).alias("distinct_tracks"),  # recordings
             F.sum("ms_played").alias("listening_ms"),
             F.bool_or("before").alias("before"))
        .where(~F.col("before"))  # the stored session that the stream before the run's months belongs to
        .join(users.select("user_id", "timezone"), "user_id")
        .withColumn("local_start", F.from_utc_timestamp("session_start", F.col("timezone")))
        .select("user_id", *by,
                (F.unix_micros("session_start") / 1000).cast("long").alias("session_id"),
                F.date_format("local_start", "yyyy-MM").alias("period"),
                "session_start", "session_end",
                F.col("streams").cast("int").alias("streams"),
                F.col("distinct_tracks").cast("int").alias("distinct_tracks"),
                "listening_ms")
    )
    gaps = (ordered.where(F.col("gap_after").isNotNull() & ~F.col("before"))
            .groupBy(*MONTH, *by, gap_class(F.col("gap_after")).alias("gap_class")).agg(F.count("*").alias("gaps")))
    return sessions, gaps
