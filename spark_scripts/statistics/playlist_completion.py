"""playlist_completion: how much of each playlist a user follows they streamed, and how much they streamed from
it (docs/metrics.md, 20)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables


def playlist_completion(t: Tables) -> DataFrame:
    followed = t.playlist_tracks
    totals = followed.groupBy("user_id", "playlist_id").agg(F.count("*").cast("int").alias("total_tracks"))
    heard = (t.tracks.join(followed, ["user_id", "track_id"])  # one row per track streamed in the period
             .groupBy(*KEY, "playlist_id")
             .agg(F.count("*").cast("int").alias("tracks_played"), F.sum("streams").alias("streams"),
                  F.sum("listening_ms").alias("listening_ms"), F.min("first_played_at").alias("first_played_at"),
                  F.max("last_played_at").alias("last_played_at"),
                  F.array_sort(F.collect_list("track_id")).alias("heard_track_ids")))
    started = t.contexts.join(totals.select("user_id", "playlist_id"), ["user_id", "playlist_id"], "left_semi").select(
        *KEY, "playlist_id", F.col("streams").alias("context_streams"),
        F.col("listening_ms").alias("context_listening_ms"), F.col("first_played_at").alias("context_first_played_at"),
        F.col("last_played_at").alias("context_last_played_at"))
    zero = F.lit(0).cast("long")
    rows = (heard.join(started, [*KEY, "playlist_id"], "full").join(totals, ["user_id", "playlist_id"])
            .select(*KEY, "playlist_id", "total_tracks",
                    F.coalesce("tracks_played", F.lit(0)).alias("tracks_played"),
                    F.coalesce("streams", zero).alias("streams"),
                    F.coalesce("listening_ms", zero).alias("listening_ms"),
                    "first_played_at", "last_played_at",
                    F.coalesce("context_streams", zero).alias("context_streams"),
                    F.coalesce("context_listening_ms", zero).alias("context_listening_ms"),
                    "context_first_played_at", "context_last_played_at",
                    F.coalesce("heard_track_ids", F.array().cast("array<string>")).alias("heard_track_ids"))
            .withColumn("completion", F.col("tracks_played") / F.col("total_tracks")))  # a total is 1 at least
    order = Window.partitionBy(*KEY).orderBy(F.desc("completion"), F.desc("tracks_played"), F.desc("streams"),
                                             F.desc("context_streams"), F.asc("playlist_id"))
    return rows.withColumn("rank", F.row_number().over(order)).select(
        *KEY, "playlist_id", "total_tracks", "tracks_played", "completion", "streams", "listening_ms",
        "first_played_at", "last_played_at", "context_streams", "context_listening_ms", "context_first_played_at",
        "context_last_played_at", "heard_track_ids", "rank")
