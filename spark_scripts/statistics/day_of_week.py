"""day_of_week: all 7 ISO days, 1 = Monday, zeros included (docs/metrics.md, 4)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables, grid
from spark_scripts.state import bit
from warehouse.catalog import ISO_DAYS


def _variety(distinct: str):
    return F.when(F.col("streams") > 0, F.col(distinct) / F.col("streams")).otherwise(F.lit(0.0))


def _on_each_day(items: DataFrame, name: str) -> DataFrame:
    """How many of `items` (rows with a `weekdays` bit set) were streamed on each ISO day."""
    days = items.select(*KEY, "weekdays", F.explode(F.array(*[F.lit(day) for day in ISO_DAYS])).alias("day_of_week"))
    return (days.where(F.col("weekdays").bitwiseAND(bit("day_of_week - 1")) != 0)
            .groupBy(*KEY, "day_of_week").agg(F.count("*").cast("int").alias(name)))


def day_of_week(t: Tables) -> DataFrame:
    streams = t.clock.groupBy(*KEY, F.col("local_dow").alias("day_of_week")).agg(F.sum("streams").alias("streams"))
    # The period's tracks, and its artists, streamed on each weekday: the bits of their `weekdays`.
    artists = t.tracks.where(F.col("primary_artist_id").isNotNull()).groupBy(*KEY, "primary_artist_id").agg(
        F.bit_or("weekdays").alias("weekdays"))
    distinct = (_on_each_day(t.recordings, "distinct_tracks")
                .join(_on_each_day(artists, "distinct_artists"), [*KEY, "day_of_week"], "full"))
    return (grid(t.periods, "day_of_week", list(ISO_DAYS))
            .join(streams, [*KEY, "day_of_week"], "left").join(distinct, [*KEY, "day_of_week"], "left")
            .fillna(0, ["streams", "distinct_tracks", "distinct_artists"])
            .select(*KEY, "day_of_week", "streams", "distinct_tracks", "distinct_artists",
                    _variety("distinct_tracks").alias("track_variety"),
                    _variety("distinct_artists").alias("artist_variety")))
