"""The analytics job: main's star schema -> every statistic, staged in analytics_staging of main.

`stage` only wires extract -> transform -> load. The pipeline then validates the
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
from spark_scripts.prepare import KEY, Tables, prepare
from spark_scripts.scope import decide_scope, scope_pairs
from spark_scripts.session import cached, spark_session
from spark_scripts.staging import add_vanished_pairs, count_scopes, write_staging
from spark_scripts.statistics import COMPUTE
from warehouse.db import connect
from warehouse.settings import Settings, get_settings


def transform(t: Tables, pairs: DataFrame | None) -> dict[str, DataFrame]:
    """Every statistic, limited to the recomputed (user, period) pairs (None: a full run, all of them)."""
    if pairs is None:
        return {name: compute(t) for name, compute in COMPUTE.items()}
    return {name: compute(t).join(pairs, KEY, "left_semi") for name, compute in COMPUTE.items()}


def stage(settings: Settings, full: bool, spark: SparkSession) -> StagedRun | None:
    """Compute the statistics into analytics_staging and record the staged run; None when nothing is new."""
    started = datetime.now(UTC)
    with run_lock(settings):
        with connect("main", settings) as main:
            scope = decide_scope(main, full)
            source_max_played_at = newest_play(main)
        if scope.nothing_to_do:
            return None
        tables = prepare(**extract(spark, settings, scope), album_min_tracks=settings.album_min_tracks,
                         session_gap_minutes=settings.session_gap_minutes)
        pairs = scope_pairs(tables, scope)
        with cached(*tables.reused, pairs):
            results = transform(tables, None if scope.mode == "full" else pairs)
            write_staging(results, pairs, settings, started, source_max_played_at)
        with connect("main", settings) as main:
            if scope.mode == "full":
                add_vanished_pairs(main)
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
