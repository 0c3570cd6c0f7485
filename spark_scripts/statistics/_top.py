"""The top 50 of a user and period by streams (top_tracks, top_artists, top_albums)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables

TOP = 50


def top(t: Tables, id_column: str, output_id: str, items: DataFrame | None = None) -> DataFrame:
    """`items`: the period's rows to rank (default its tracks)."""
    counts = (t.tracks if items is None else items).where(F.col(id_column).isNotNull()).groupBy(*KEY, id_column).agg(
        F.sum("streams").alias("streams"), F.sum("listening_ms").alias("listening_ms"))
    order = Window.partitionBy(*KEY).orderBy(F.desc("streams"), F.desc("listening_ms"), F.asc(id_column))
    return (counts.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", F.col(id_column).alias(output_id), "streams", "listening_ms"))
