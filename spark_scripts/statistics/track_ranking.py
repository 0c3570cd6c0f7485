"""track_ranking: every track streamed, ranked by streams and by listening time, with its skip rate
(docs/metrics.md, 16)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.statistics._ranking import ranking


def track_ranking(t: Tables) -> DataFrame:
    # Skip rate: the track's plays in the period whose `skipped` is known, plays under 30 s included.
    skip_rate = F.when(F.col("known") > 0, F.col("skipped") / F.col("known"))
    # A recording, by its shown edition (docs/metrics.md, "One song across editions").
    named = {"album_id": "album_id", "primary_artist_id": "artist_id", "recording_id": "recording_id",
             "editions": "editions"}
    return (ranking(t, "track_id", "track_id", named, items=t.recordings)
            .join(t.track_skips, [*KEY, "recording_id"], "left")
            .withColumn("skip_rate", skip_rate).drop("skipped", "known"))
