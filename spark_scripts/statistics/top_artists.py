"""top_artists: top 50 by streams, ties by listening_ms desc, then id (docs/metrics.md, 2)."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import Tables
from spark_scripts.statistics._top import top


def top_artists(t: Tables) -> DataFrame:
    return top(t, "primary_artist_id", "artist_id")
