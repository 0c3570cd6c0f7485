"""popularity_distribution: brackets of ten, 100 in bracket 9, and `unknown` (docs/metrics.md, 10)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid, share
from warehouse.catalog import POPULARITY_BRACKETS


def popularity_distribution(t: Tables) -> DataFrame:
    bracket = (F.when(F.col("popularity").isNull(), "unknown")
               .otherwise(F.least(F.floor(F.col("popularity") / 10), F.lit(9)).cast("string")))
    counts = t.tracks.groupBy(*KEY, bracket.alias("bracket")).agg(
        F.sum("streams").alias("streams"), F.count("*").cast("int").alias("distinct_tracks"))
    return (grid(t.periods, "bracket", list(POPULARITY_BRACKETS)).join(counts, [*KEY, "bracket"], "left")
            .fillna(0, ["streams", "distinct_tracks"])
            .select(*KEY, "bracket", "streams", "distinct_tracks", share("streams").alias("share")))
