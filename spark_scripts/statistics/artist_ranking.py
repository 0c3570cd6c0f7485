"""artist_ranking: every primary artist streamed, ranked by streams and by listening time, with the months
it topped, its longest streak and its hour and weekday profile (docs/metrics.md, 16)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.state import MONTH, ROLLING
from spark_scripts.statistics._ranking import ranking
from spark_scripts.statistics.artist_streaks import streak_runs
from warehouse.catalog import HOURS, ISO_DAYS

ITEM = [*KEY, "artist_id"]


def _months_at_top(t: Tables) -> DataFrame:
    """Per period and artist: the months of the period in which the artist ranked first of the month (of a
    rolling period's month, on the period's own streams)."""
    month = [*MONTH, ROLLING]
    months = (t.month_tracks.where(F.col("primary_artist_id").isNotNull())
              .groupBy(*month, "primary_artist_id")
              .agg(F.sum("streams").alias("streams"), F.sum("listening_ms").alias("listening_ms")))
    order = Window.partitionBy(*month).orderBy(F.desc("streams"), F.desc("listening_ms"), F.asc("primary_artist_id"))
    tops = months.withColumn("month_rank", F.row_number().over(order)).where(F.col("month_rank") == 1)
    return (t.spread(tops).groupBy(*KEY, F.col("primary_artist_id").alias("artist_id"))
            .agg(F.count("*").cast("int").alias("months_at_top")))


def _longest_streaks(t: Tables) -> DataFrame:
    """Per period and artist: its longest run of consecutive days (the later one on ties)."""
    longest = F.max_by(F.struct("streak_start", "streak_end"), F.struct("days", "streak_end"))
    return (streak_runs(t).groupBy(*KEY, F.col("primary_artist_id").alias("artist_id"))
            .agg(F.max("days").alias("longest_streak"), longest.alias("run"))
            .select(*ITEM, "longest_streak", F.col("run.streak_start").alias("longest_streak_start"),
                    F.col("run.streak_end").alias("longest_streak_end")))


def _profiles(t: Tables) -> DataFrame:
    """Per period and artist: its streams by local hour and by ISO weekday (the month grains' counts, summed
    position by position)."""
    def summed(column: str, size: int) -> F.Column:
        return F.array(*[F.sum(F.col(column)[i]).cast("int") for i in range(size)]).alias(column)

    return (t.spread(t.month_tracks.where(F.col("primary_artist_id").isNotNull()))
            .groupBy(*KEY, F.col("primary_artist_id").alias("artist_id"))
            .agg(summed("hour_streams", len(HOURS)), summed("weekday_streams", len(ISO_DAYS))))


def artist_ranking(t: Tables) -> DataFrame:
    return (ranking(t, "primary_artist_id", "artist_id", {})
            .join(_months_at_top(t), ITEM, "left").join(_longest_streaks(t), ITEM).join(_profiles(t), ITEM)
            .withColumn("months_at_top", F.coalesce("months_at_top", F.lit(0))))
