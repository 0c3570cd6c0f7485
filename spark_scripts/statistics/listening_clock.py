"""listening_clock: all 168 (ISO day, local hour) cells, zeros included (docs/metrics.md, 5)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid
from warehouse.catalog import HOURS, ISO_DAYS


def listening_clock(t: Tables) -> DataFrame:
    counts = t.clock.select(*KEY, F.col("local_dow").alias("day_of_week"), F.col("local_hour").alias("hour"),
                            "streams")
    cells = grid(t.periods, "day_of_week", list(ISO_DAYS)).withColumn(
        "hour", F.explode(F.array(*[F.lit(hour) for hour in HOURS])))
    return (cells.join(counts, [*KEY, "day_of_week", "hour"], "left").fillna(0, ["streams"])
            .select(*KEY, "day_of_week", "hour", "streams"))
