"""album_completion: how much of each album a user streamed (docs/metrics.md, 6)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables


def album_completion(t: Tables) -> DataFrame:
    counts = (t.tracks.where(F.col("total_tracks") >= t.album_min_tracks)
              .groupBy(*KEY, "album_id", "total_tracks")
              .agg(F.count("*").cast("int").alias("tracks_played"),  # one row per track streamed
                   F.sum("streams").alias("streams")))
    completion = F.least(F.lit(1.0), F.col("tracks_played") / F.col("total_tracks"))
    order = Window.partitionBy(*KEY).orderBy(F.desc("completion"), F.desc("tracks_played"), F.desc("streams"),
                                             F.asc("album_id"))
    return (counts.withColumn("completion", completion)
            .withColumn("status", F.when(F.col("completion") >= 1.0, "complete")
                        .when(F.col("completion") >= 0.75, "most")
                        .when(F.col("completion") >= 0.5, "half").otherwise("partial"))
            .withColumn("rank", F.row_number().over(order))
            .select(*KEY, "album_id", "total_tracks", "tracks_played", "completion", "status", "streams", "rank"))
