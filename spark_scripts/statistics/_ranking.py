"""The whole ranking of a user and period (track_ranking, artist_ranking, album_ranking)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables


def counted(t: Tables, id_column: str, *named: str, items: DataFrame | None = None) -> DataFrame:
    """Per period and `id_column` value streamed (with the `named` columns that follow from it): streams,
    listening_ms, share of the period's streams, first_played_at, last_played_at. `items`: the period's rows
    (default its tracks)."""
    items = t.tracks if items is None else items
    totals = items.groupBy(*KEY).agg(F.sum("streams").alias("period_streams"))  # unknown ids included
    return (items.where(F.col(id_column).isNotNull()).groupBy(*KEY, id_column, *named)
            .agg(F.sum("streams").alias("streams"), F.sum("listening_ms").alias("listening_ms"),
                 F.min("first_played_at").alias("first_played_at"),
                 F.max("last_played_at").alias("last_played_at"))
            .join(totals, KEY).withColumn("share", F.col("streams") / F.col("period_streams")))


def ranking(t: Tables, id_column: str, output_id: str, named: dict[str, str], items: DataFrame | None = None
            ) -> DataFrame:
    """Every `id_column` value streamed in the period, ranked by streams and by listening time; `named`: the
    columns that follow from the id (source -> output name), kept beside it; `items` as in `counted`."""
    by_streams = Window.partitionBy(*KEY).orderBy(F.desc("streams"), F.desc("listening_ms"), F.asc(id_column))
    by_time = Window.partitionBy(*KEY).orderBy(F.desc("listening_ms"), F.desc("streams"), F.asc(id_column))
    return (counted(t, id_column, *named, items=items)
            .select(*KEY, F.col(id_column).alias(output_id), *[F.col(c).alias(a) for c, a in named.items()],
                    "streams", "listening_ms", "share",
                    "first_played_at", "last_played_at", F.row_number().over(by_streams).alias("rank"),
                    F.row_number().over(by_time).alias("time_rank")))
