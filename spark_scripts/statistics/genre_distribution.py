"""genre_distribution: genres of the primary artist, top 30, plus `unknown` (docs/metrics.md, 15)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables

TOP = 30


def genre_distribution(t: Tables) -> DataFrame:
    genres = F.array_compact(F.array_distinct("genres"))  # each genre once, no null elements
    known = F.col("genres").isNotNull() & (F.size(genres) > 0)
    totals = t.tracks.groupBy(*KEY).agg(
        F.sum("streams").alias("all_streams"), F.sum(F.when(known, F.col("streams")).otherwise(0))
        .alias("known_streams"))
    credits = (t.tracks.where(known).select(*KEY, F.explode(genres).alias("genre"), "streams")
               .groupBy(*KEY, "genre").agg(F.sum("streams").alias("streams")))
    order = Window.partitionBy(*KEY).orderBy(F.desc("streams"), F.asc("genre"))
    top = (credits.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
           .join(totals, KEY)
           .select(*KEY, "genre", "rank", "streams", (F.col("streams") / F.col("known_streams")).alias("share")))
    unknown = totals.select(
        *KEY, F.lit("unknown").alias("genre"), F.lit(None).cast("int").alias("rank"),
        (F.col("all_streams") - F.col("known_streams")).alias("streams"),
        ((F.col("all_streams") - F.col("known_streams")) / F.col("all_streams")).alias("share"))
    return top.unionByName(unknown)
