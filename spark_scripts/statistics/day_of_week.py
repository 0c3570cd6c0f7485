"""day_of_week: all 7 ISO days, 1 = Monday, zeros included (docs/metrics.md, 4)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid


def _variety(distinct: str):
    return F.when(F.col("streams") > 0, F.col(distinct) / F.col("streams")).otherwise(F.lit(0.0))


def day_of_week(t: Tables) -> DataFrame:
    counts = t.by_period.groupBy(*KEY, F.col("local_dow").alias("day_of_week")).agg(
        F.count("*").alias("streams"),
        F.countDistinct("track_id").cast("int").alias("distinct_tracks"),
        F.countDistinct("primary_artist_id").cast("int").alias("distinct_artists"))
    return (grid(t.periods, "day_of_week", list(range(1, 8))).join(counts, [*KEY, "day_of_week"], "left")
            .fillna(0, ["streams", "distinct_tracks", "distinct_artists"])
            .select(*KEY, "day_of_week", "streams", "distinct_tracks", "distinct_artists",
                    _variety("distinct_tracks").alias("track_variety"),
                    _variety("distinct_artists").alias("artist_variety")))
