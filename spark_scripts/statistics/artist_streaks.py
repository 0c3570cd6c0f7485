"""artist_streaks: runs of consecutive local dates with the same artist (docs/metrics.md, 7).

Only the period's own streams count, so a year or month streak is cut at its edges."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables

TOP = 10


def streak_runs(t: Tables) -> DataFrame:
    """Every run of consecutive local dates on which the user streamed the artist, one day long included:
    KEY, primary_artist_id, days, streak_start, streak_end."""
    days = t.artist_days  # each (artist, local date) once per period: a date lies in one month and one year
    in_order = Window.partitionBy(*KEY, "primary_artist_id").orderBy("local_date")
    # Consecutive dates minus their position give the same anchor date.
    return (days.withColumn("anchor", F.date_sub("local_date", F.row_number().over(in_order)))
            .groupBy(*KEY, "primary_artist_id", "anchor")
            .agg(F.count("*").cast("int").alias("days"), F.min("local_date").alias("streak_start"),
                 F.max("local_date").alias("streak_end"))
            .drop("anchor"))


def artist_streaks(t: Tables) -> DataFrame:
    runs = streak_runs(t).where(F.col("days") >= 2)
    order = Window.partitionBy(*KEY).orderBy(F.desc("days"), F.desc("streak_end"), F.asc("primary_artist_id"))
    return (runs.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", F.col("primary_artist_id").alias("artist_id"), "days", "streak_start",
                    "streak_end"))
