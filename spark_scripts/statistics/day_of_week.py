"""day_of_week: all 7 ISO days, 1 = Monday, zeros included (docs/metrics.md, 4)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, MONTH, Tables, grid, with_periods
from warehouse.catalog import ISO_DAYS


def _variety(distinct: str):
    return F.when(F.col("streams") > 0, F.col(distinct) / F.col("streams")).otherwise(F.lit(0.0))


def day_of_week(t: Tables) -> DataFrame:
    streams = t.clock.groupBy(*KEY, F.col("local_dow").alias("day_of_week")).agg(F.sum("streams").alias("streams"))
    # the tracks and artists of each month's weekday, then their union over each period
    months = t.streams.groupBy(*MONTH, F.col("local_dow").alias("day_of_week")).agg(
        F.collect_set("track_id").alias("tracks"), F.collect_set("primary_artist_id").alias("artists"))
    distinct = with_periods(months).groupBy(*KEY, "day_of_week").agg(
        *[F.size(F.array_distinct(F.flatten(F.collect_list(items)))).cast("int").alias(f"distinct_{items}")
          for items in ("tracks", "artists")])
    return (grid(t.periods, "day_of_week", list(ISO_DAYS))
            .join(streams, [*KEY, "day_of_week"], "left").join(distinct, [*KEY, "day_of_week"], "left")
            .fillna(0, ["streams", "distinct_tracks", "distinct_artists"])
            .select(*KEY, "day_of_week", "streams", "distinct_tracks", "distinct_artists",
                    _variety("distinct_tracks").alias("track_variety"),
                    _variety("distinct_artists").alias("artist_variety")))
