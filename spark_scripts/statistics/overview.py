"""overview: totals of a user and period (docs/metrics.md, 1)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, day_runs
from spark_scripts.state import ROLLING, rolling_first_day
from warehouse.catalog import ROLLING_PERIODS


def _first_ever(t: Tables, column: str, name: str) -> DataFrame:
    """How many `column` values have their first-ever stream of the user in each period: those whose first
    stream in the period is their first ever."""
    known = F.col(column).isNotNull()
    ever = (t.month_tracks.where(known & F.col(ROLLING).isNull()).groupBy("user_id", column)
            .agg(F.min("first_played_at").alias("first_ever")))
    return (t.tracks.where(known).groupBy(*KEY, column).agg(F.min("first_played_at").alias("first_played_at"))
            .join(ever, ["user_id", column]).where(F.col("first_played_at") == F.col("first_ever"))
            .groupBy(*KEY).agg(F.count("*").cast("int").alias(name)))


def overview(t: Tables) -> DataFrame:
    popular = F.col("popularity").isNotNull()
    totals = t.tracks.groupBy(*KEY).agg(
        F.sum("streams").alias("streams"),
        F.sum("listening_ms").alias("listening_ms"),
        F.size(F.collect_set("recording_id")).cast("int").alias("distinct_tracks"),  # recordings
        F.size(F.collect_set("primary_artist_id")).cast("int").alias("distinct_artists"),
        F.size(F.collect_set("album_id")).cast("int").alias("distinct_albums"),
        F.min("first_played_at").alias("first_played_at"),
        F.max("last_played_at").alias("last_played_at"),
        # the mean popularity over the streams whose popularity is known
        (F.sum(F.col("popularity") * F.col("streams")) / F.sum(F.when(popular, F.col("streams"))))
        .alias("mainstream_score"),
    )
    active_days = t.days.groupBy(*KEY).agg(F.count("*").cast("int").alias("active_days"),
                                           F.min("local_date").alias("first_date"),
                                           F.max("local_date").alias("last_date"))
    longest_streak = day_runs(t.days.select(*KEY, "local_date"), KEY).groupBy(*KEY).agg(
        F.max("days").alias("longest_streak"))
    podcasts = t.episodes.groupBy(*KEY).agg(F.sum("listens").alias("podcast_listens"),
                                            F.sum("listening_ms").alias("podcast_listening_ms"))
    # Skip rate: every track play whose `skipped` is known, plays under 30 s included.
    return (
        totals.join(active_days, KEY).join(longest_streak, KEY).join(podcasts, KEY, "left")
        .join(t.skips, KEY, "left")
        .join(_first_ever(t, "primary_artist_id", "new_artists"), KEY, "left")
        .join(_first_ever(t, "recording_id", "new_tracks"), KEY, "left")
        .select(*KEY, "streams", "listening_ms", "distinct_tracks", "distinct_artists", "distinct_albums",
                "active_days", "first_played_at", "last_played_at",
                (F.col("streams") / F.col("active_days")).alias("streams_per_active_day"),
                (F.col("skipped") / F.col("known")).alias("skip_rate"), "mainstream_score",
                F.coalesce("new_artists", F.lit(0)).alias("new_artists"),
                F.coalesce("new_tracks", F.lit(0)).alias("new_tracks"), *_days_spanned(), "longest_streak",
                F.coalesce("podcast_listens", F.lit(0)).alias("podcast_listens"),
                F.coalesce("podcast_listening_ms", F.lit(0)).alias("podcast_listening_ms"))
    )


def _days_spanned() -> tuple[F.Column, F.Column]:
    """first_day and last_day of the period: a calendar year's or month's own, a rolling period's from its first
    day to its latest date with a stream, all's from the first to the latest date with a stream."""
    period = F.col("period")
    month_start = F.to_date(F.concat(period, F.lit("-01")))
    first, last = F.when(period == "all", F.col("first_date")), F.when(period == "all", F.col("last_date"))
    for name in ROLLING_PERIODS:
        first = first.when(period == name, rolling_first_day(name, F.col("last_date")))
        last = last.when(period == name, F.col("last_date"))
    first = first.when(F.length(period) == 4, F.make_date(period.cast("int"), F.lit(1), F.lit(1)))
    last = last.when(F.length(period) == 4, F.make_date(period.cast("int"), F.lit(12), F.lit(31)))
    return (first.otherwise(month_start).alias("first_day"), last.otherwise(F.last_day(month_start)).alias("last_day"))
