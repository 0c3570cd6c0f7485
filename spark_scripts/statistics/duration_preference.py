"""duration_preference: short (< 3 min), medium, long (>= 5 min), unknown (docs/metrics.md, 11)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid, share
from warehouse.catalog import DURATION_CLASSES


def duration_preference(t: Tables) -> DataFrame:
    duration_class = (F.when(F.col("duration_ms").isNull(), "unknown")
                      .when(F.col("duration_ms") < 180_000, "short")
                      .when(F.col("duration_ms") < 300_000, "medium").otherwise("long"))
    counts = t.tracks.groupBy(*KEY, duration_class.alias("duration_class")).agg(F.sum("streams").alias("streams"))
    return (grid(t.periods, "duration_class", list(DURATION_CLASSES)).join(counts, [*KEY, "duration_class"], "left")
            .fillna(0, ["streams"]).select(*KEY, "duration_class", "streams", share("streams").alias("share")))
