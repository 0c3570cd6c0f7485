"""explicit_preference: explicit true / false / unknown (docs/metrics.md, 12)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid, share
from warehouse.catalog import EXPLICIT_VALUES


def explicit_preference(t: Tables) -> DataFrame:
    value = F.when(F.col("explicit").isNull(), "unknown").otherwise(F.lower(F.col("explicit").cast("string")))
    counts = t.tracks.groupBy(*KEY, value.alias("explicit")).agg(F.sum("streams").alias("streams"))
    return (grid(t.periods, "explicit", list(EXPLICIT_VALUES)).join(counts, [*KEY, "explicit"], "left")
            .fillna(0, ["streams"]).select(*KEY, "explicit", "streams", share("streams").alias("share")))
