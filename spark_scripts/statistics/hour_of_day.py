"""hour_of_day: all 24 local hours, zeros included (docs/metrics.md, 3)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid, share
from warehouse.catalog import HOURS


def hour_of_day(t: Tables) -> DataFrame:
    counts = t.clock.groupBy(*KEY, F.col("local_hour").alias("hour")).agg(
        F.sum("streams").alias("streams"), F.sum("listening_ms").alias("listening_ms"))
    return (grid(t.periods, "hour", list(HOURS)).join(counts, [*KEY, "hour"], "left")
            .fillna(0, ["streams", "listening_ms"])
            .select(*KEY, "hour", "streams", "listening_ms", share("streams").alias("share")))
