"""The analytics job: main's star schema -> every statistic, staged in analytics_staging of main.

`stage` only wires extract -> transform -> load: the plays of the months the run
recomputes become month-level grains, which with the stored grains of the other
months, and the grains of the run's users' rolling periods (from their plays of
the last 12 months), roll up into the run's periods and their statistics; the statistics and
the recomputed grains are staged. The pipeline then validates the
staged run and publishes it (pipeline/analytics.py). spark-submit runs this
file (spark_scripts/submit.py): it stages and stops; `--full` recomputes every
period of every user instead of the incremental default.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from spark_scripts.extract import extract, newest_play
from spark_scripts.ledger import StagedRun, record_staged, run_lock
from spark_scripts.prepare import Tables, prepare
from spark_scripts.scope import RunScope, decide_scope, in_scope, scope_pairs
from spark_scripts.session import cached, spark_session
from spark_scripts.staging import add_vanished_pairs, count_scopes, write_staging
from spark_scripts.state import Grains, grains, rolling_grains, with_rolling
from spark_scripts.statistics import COMPUTE
from warehouse.db import connect
from warehouse.settings import Settings, get_settings


def transform(plays: DataFrame, stored: Grains | None, window: DataFrame, tracks: DataFrame, albums: DataFrame,
              artists: DataFrame, users: DataFrame, playlist_tracks: DataFrame, published_shares: DataFrame | None,
              scope: RunScope, settings: Settings) -> tuple[Grains, Tables, dict[str, DataFrame]]:
    """(the recomputed months' grains, every statistic of the run's periods, those (user, period) pairs)."""
    recomputed = grains(plays, users, settings.session_gap_minutes)
    merged = recomputed if stored is None else recomputed.union(stored)
    rolling = rolling_grains(window, users, settings.session_gap_minutes)
    consenting = users.where("compare_consent").select("user_id")
    tables = prepare(with_rolling(merged, rolling), tracks, albums, artists, settings.album_min_tracks,
                     consenting, playlist_tracks, published_shares, in_scope(scope))
    return recomputed, tables, {name: compute(tables) for name, compute in COMPUTE.items()}


def stage(settings: Settings, full: bool, spark: SparkSession) -> StagedRun | None:
    """Compute the statistics into analytics_staging and record the staged run; None when nothing is new."""
    started = datetime.now(UTC)
    with run_lock(settings):
        with connect("main", settings) as main:
            scope = decide_scope(main, full)
            source_max_played_at = newest_play(main)
        if scope.nothing_to_do:
            return None
        sources = extract(spark, settings, scope)
        # Every statistic reads the plays and the dimensions, several the same grains and roll-ups.
        with cached(*[frame for frame in sources.values() if isinstance(frame, DataFrame)]):
            recomputed, tables, results = transform(**sources, scope=scope, settings=settings)
            with cached(*recomputed.frames, *tables.reused):
                write_staging(results, recomputed, scope_pairs(tables), settings, started, source_max_played_at)
        with connect("main", settings) as main:
            add_vanished_pairs(main, scope.mode == "full")
            return record_staged(main, scope, started, source_max_played_at, count_scopes(main))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="recompute every period of every user")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    spark = spark_session(settings)
    try:
        print(stage(settings, args.full, spark) or "nothing new")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
