"""top_tracks: top 50 by streams, ties by listening_ms desc, then id (docs/metrics.md, 2)."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import Tables
from spark_scripts.statistics._top import top


def top_tracks(t: Tables) -> DataFrame:
    return top(t, "track_id", "track_id", t.recordings)  # a recording, by its shown edition
