"""release_years: streams by the album's release year; unknown dates left out (docs/metrics.md, 13)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables


def release_years(t: Tables) -> DataFrame:
    return (t.tracks.where(F.col("release_year").isNotNull())
            .groupBy(*KEY, "release_year")
            .agg(F.sum("streams").alias("streams"),
                 F.size(F.collect_set("album_id")).cast("int").alias("distinct_albums")))
