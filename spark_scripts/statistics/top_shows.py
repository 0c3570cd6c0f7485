"""top_shows: the top 50 podcast shows by listening time, ties by listens, then id (docs/metrics.md, 18)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.statistics._top import TOP


def top_shows(t: Tables) -> DataFrame:
    shows = t.episodes.groupBy(*KEY, "show_id").agg(
        F.sum("listens").alias("listens"), F.sum("listening_ms").alias("listening_ms"),
        F.count("*").cast("int").alias("episodes"))  # one row per episode listened
    order = Window.partitionBy(*KEY).orderBy(F.desc("listening_ms"), F.desc("listens"), F.asc("show_id"))
    return (shows.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", "show_id", "listens", "listening_ms", "episodes"))
