"""artist_streaks: runs of consecutive local dates with the same artist (docs/metrics.md, 7).

Only the period's own streams count, so a year or month streak is cut at its edges."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, day_runs

TOP = 10


def streak_runs(t: Tables) -> DataFrame:
    """Every run of consecutive local dates on which the user streamed the artist, one day long included:
    KEY, primary_artist_id, days, streak_start, streak_end."""
    # each (artist, local date) once per period: a date lies in one month and one year
    return day_runs(t.artist_days, [*KEY, "primary_artist_id"])


def artist_streaks(t: Tables) -> DataFrame:
    runs = streak_runs(t).where(F.col("days") >= 2)
    order = Window.partitionBy(*KEY).orderBy(F.desc("days"), F.desc("streak_end"), F.asc("primary_artist_id"))
    return (runs.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", F.col("primary_artist_id").alias("artist_id"), "days", "streak_start",
                    "streak_end"))
