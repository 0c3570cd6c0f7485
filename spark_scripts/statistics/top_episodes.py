"""top_episodes: the top 50 podcast episodes by listening time, ties by listens, then id (docs/metrics.md, 19)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.statistics._top import TOP


def top_episodes(t: Tables) -> DataFrame:
    order = Window.partitionBy(*KEY).orderBy(F.desc("listening_ms"), F.desc("listens"), F.asc("episode_id"))
    return (t.episodes.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", "episode_id", "show_id", "listens", "listening_ms"))
