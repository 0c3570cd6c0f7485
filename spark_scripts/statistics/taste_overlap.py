"""taste_overlap: for every two users who allow comparison, with the same period, how much their listening
overlaps, what they share and who streamed a shared artist first (docs/metrics.md, 17).

One row each way. The run's periods pair with every other consenting user's same period: computed in this
run when it is one of the run's, else as published (an incremental run's `published_shares`)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.statistics._ranking import counted

TOP = 10
EXACT = "decimal(38, 18)"
PAIR = ["user_id", "period", "other_user_id"]
ITEM = ["period", "kind", "item_id"]


def _shares(t: Tables) -> DataFrame:
    """Every consenting user's artist and recording shares in the periods paired: user_id, period, kind, item_id
    (an artist or a recording), shown (the artist, or the user's shown edition of the recording), share,
    first_played_at, run (the period is one of this run's)."""
    artists = counted(t, "primary_artist_id").select(
        *KEY, F.lit("artist").alias("kind"), F.col("primary_artist_id").alias("item_id"),
        F.col("primary_artist_id").alias("shown"), "share", "first_played_at")
    tracks = counted(t, "recording_id", "track_id", items=t.recordings).select(
        *KEY, F.lit("track").alias("kind"), F.col("recording_id").alias("item_id"), F.col("track_id").alias("shown"),
        "share", "first_played_at")
    shares = (artists.unionByName(tracks).join(F.broadcast(t.consenting), "user_id")
              .withColumn("run", F.lit(True)))
    if t.published_shares is None:
        return shares
    published = t.published_shares.join(t.periods, KEY, "left_anti").withColumn("run", F.lit(False))
    return shares.unionByName(published)


def _top(kind: str, *fields: tuple[str, str]) -> list[F.Column]:
    """The first TOP shared items of `kind` by the smaller share, descending, then item id: their `fields`
    ((field, output name) pairs)."""
    items = F.collect_list(F.when(F.col("kind") == kind, F.struct(
        (-F.col("smaller")).alias("order"), "item_id", "shown", "first_by")))
    top = F.slice(F.array_sort(items), 1, TOP)
    return [top.getField(field).alias(name) for field, name in fields]  # an array of structs: the field of each


def taste_overlap(t: Tables) -> DataFrame:
    shares = _shares(t)
    # Every consenting user with the period, and whether the run recomputed it.
    periods = shares.groupBy(*KEY).agg(F.max("run").alias("run"))
    pairs = (periods.join(periods.withColumnRenamed("user_id", "other_user_id").withColumnRenamed("run", "other_run"),
                          "period")
             .where((F.col("user_id") != F.col("other_user_id")) & (F.col("run") | F.col("other_run")))
             .select(*PAIR))
    theirs = shares.select(F.col("user_id").alias("other_user_id"), *ITEM, F.col("share").alias("other_share"),
                           F.col("first_played_at").alias("other_first"), F.col("shown").alias("other_shown"))
    first_by = (F.when(F.col("first_played_at") < F.col("other_first"), F.col("user_id"))
                .when(F.col("first_played_at") > F.col("other_first"), F.col("other_user_id")))
    shared = (shares.join(theirs, ITEM).join(pairs, PAIR)  # the pairs keep only theirs of the paired periods
              .select(*PAIR, *ITEM, F.least("shown", "other_shown").alias("shown"),  # the same both ways
                      F.least("share", "other_share").alias("smaller"),
                      first_by.alias("first_by")))
    artist = F.col("kind") == "artist"
    found = shared.groupBy(*PAIR).agg(
        # summed as exact decimals: the same total in any order (a sum of doubles depends on it)
        F.sum(F.when(artist, F.col("smaller").cast(EXACT))).cast("double").alias("overlap"),
        F.count(F.when(artist, True)).cast("int").alias("shared_artists"),
        F.count(F.when(~artist, True)).cast("int").alias("shared_tracks"),
        *_top("artist", ("item_id", "top_shared_artists"), ("first_by", "first_streamed_by")),
        *_top("track", ("shown", "top_shared_tracks")))
    nothing = F.array().cast("array<string>")
    return pairs.join(found, PAIR, "left").select(
        *PAIR, F.coalesce("overlap", F.lit(0.0)).alias("overlap"),
        F.coalesce("shared_artists", F.lit(0)).alias("shared_artists"),
        F.coalesce("shared_tracks", F.lit(0)).alias("shared_tracks"),
        *[F.coalesce(name, nothing).alias(name) for name in ("top_shared_artists", "top_shared_tracks",
                                                             "first_streamed_by")])
