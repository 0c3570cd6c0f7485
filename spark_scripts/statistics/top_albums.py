"""top_albums: top 50 by streams, ties by listening_ms desc, then id (docs/metrics.md, 2)."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import Tables
from spark_scripts.statistics._top import top


def top_albums(t: Tables) -> DataFrame:
    return top(t, "album_id", "album_id")
