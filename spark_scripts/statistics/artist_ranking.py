"""artist_ranking: every primary artist streamed, ranked by streams and by listening time (docs/metrics.md, 16)."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import Tables
from spark_scripts.statistics._ranking import ranking


def artist_ranking(t: Tables) -> DataFrame:
    return ranking(t, "primary_artist_id", "artist_id", {})
