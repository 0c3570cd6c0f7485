"""overview: totals of a user and period (docs/metrics.md, 1)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, with_periods


def _first_ever(t: Tables, column: str, name: str) -> DataFrame:
    """How many `column` values have their first-ever stream of the user in each period."""
    first = t.streams.where(F.col(column).isNotNull()).groupBy("user_id", column).agg(
        F.min_by(F.struct("local_year", "local_month"), F.struct("played_at", "play_id")).alias("first"))
    return (with_periods(first, "first.local_year", "first.local_month")
            .groupBy(*KEY).agg(F.count("*").cast("int").alias(name)))


def overview(t: Tables) -> DataFrame:
    totals = t.by_period.groupBy(*KEY).agg(
        F.count("*").alias("streams"),
        F.sum("ms_played").alias("listening_ms"),
        F.countDistinct("track_id").cast("int").alias("distinct_tracks"),
        F.countDistinct("primary_artist_id").cast("int").alias("distinct_artists"),
        F.countDistinct("album_id").cast("int").alias("distinct_albums"),
        F.countDistinct("local_date").cast("int").alias("active_days"),
        F.min("played_at").alias("first_played_at"),
        F.max("played_at").alias("last_played_at"),
        F.avg("popularity").alias("mainstream_score"),  # over streams whose popularity is known
    )
    # Skip rate: every track play whose `skipped` is known, plays under 30 s included.
    skips = with_periods(t.plays.where(F.col("skipped").isNotNull())).groupBy(*KEY).agg(
        F.avg(F.col("skipped").cast("double")).alias("skip_rate"))
    return (
        totals.join(skips, KEY, "left")
        .join(_first_ever(t, "primary_artist_id", "new_artists"), KEY, "left")
        .join(_first_ever(t, "track_id", "new_tracks"), KEY, "left")
        .select(*KEY, "streams", "listening_ms", "distinct_tracks", "distinct_artists", "distinct_albums",
                "active_days", "first_played_at", "last_played_at",
                (F.col("streams") / F.col("active_days")).alias("streams_per_active_day"),
                "skip_rate", "mainstream_score",
                F.coalesce("new_artists", F.lit(0)).alias("new_artists"),
                F.coalesce("new_tracks", F.lit(0)).alias("new_tracks"))
    )
