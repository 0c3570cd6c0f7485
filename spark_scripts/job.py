"""The analytics job: main's star schema -> analytics.* of main.

`main` only wires extract -> transform -> stage -> publish. Launch it with
spark-submit (see spark_scripts/submit.py, `make etl`); `--full` rebuilds every
period of every user instead of the incremental default.
"""

from __future__ import annotations

import argparse
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.gates import GateFailed, analytics_gate
from spark_scripts.prepare import KEY, Tables, prepare, with_periods
from spark_scripts.publish import PublishCounts, publish, table_shape
from spark_scripts.scope import RunScope, decide_scope
from spark_scripts.session import read_query, spark_session, write_table
from spark_scripts.statistics import COMPUTE
from warehouse.db import connect
from warehouse.settings import Settings, get_settings

log = logging.getLogger("spark_scripts.job")
RUN_LOCK = "SELECT pg_advisory_lock(hashtext('spotify_analytics'))"
WRITERS = 3  # statistics staged at once


@dataclass(frozen=True)
class StagedRun:
    run_id: int
    mode: str
    users: int | None
    scopes: int


@dataclass(frozen=True)
class RunReport:
    mode: str
    users: int | None
    scopes: int
    counts: PublishCounts

    def __str__(self) -> str:
        who = "all users" if self.users is None else f"{self.users} users"
        return (f"{self.mode} run over {who}: {self.scopes} (user, period) scopes, "
                f"{self.counts.inserted} rows inserted, {self.counts.updated} updated, "
                f"{self.counts.deleted} deleted")


# -- extract -------------------------------------------------------------------
def extract(spark: SparkSession, settings: Settings, scope: RunScope) -> dict[str, DataFrame]:
    url = settings.main_database_url
    where = "" if scope.users is None else (
        "WHERE user_id IN (" + ", ".join("'" + u.replace("'", "''") + "'" for u in scope.users) + ")")
    with connect("main", settings) as main:
        low, high = main.execute(f"SELECT coalesce(min(play_id), 0), coalesce(max(play_id), 0) "
                                 f"FROM fact_play {where}").fetchone()
    plays = read_query(
        spark, url,
        "SELECT play_id, user_id, track_id, played_at, started_at, ms_played, is_stream, skipped, "
        f"local_date, local_hour, local_dow, local_year, local_month FROM fact_play {where}",
        partition=("play_id", low, high + 1, 4))
    return {
        "plays": plays,
        "tracks": read_query(spark, url, "SELECT track_id, album_id, primary_artist_id, duration_ms, explicit, "
                                         "popularity FROM dim_track"),
        "albums": read_query(spark, url, "SELECT album_id, total_tracks, release_year FROM dim_album"),
        "artists": read_query(spark, url, "SELECT artist_id, genres FROM dim_artist"),
        "users": read_query(spark, url, "SELECT user_id, timezone FROM dim_user"),
    }


# -- transform -----------------------------------------------------------------
def scope_pairs(t: Tables, scope: RunScope) -> DataFrame:
    """The (user_id, period) pairs this run recomputes."""
    # A session counts in its start's month, year and 'all', even without a stream there.
    session_periods = with_periods(t.sessions.withColumnRenamed("period", "start_month"), "start_year",
                                   "start_month").select(*KEY)
    pairs = t.periods.unionByName(session_periods).distinct()
    if scope.mode == "full":
        return pairs
    # user -> first month to recompute, as a literal map (no Python data for Spark to ship around)
    since = F.try_element_at(F.create_map(*[F.lit(v) for item in sorted(scope.since.items()) for v in item]),
                         F.col("user_id"))
    period = F.col("period")
    return pairs.withColumn("since", since).where(F.col("since").isNotNull() & (
        (period == "all")
        | ((F.length(period) == 7) & (period >= F.col("since")))
        | ((F.length(period) == 4) & (period >= F.substring("since", 1, 4))))
    ).select(*KEY)


def transform(t: Tables, pairs: DataFrame | None) -> dict[str, DataFrame]:
    """Every statistic, limited to the recomputed (user, period) pairs (None: a full run, all of them)."""
    if pairs is None:
        return {name: compute(t) for name, compute in COMPUTE.items()}
    return {name: compute(t).join(pairs, KEY, "left_semi") for name, compute in COMPUTE.items()}


# -- stage and publish -------------------------------------------------------------
def write_staging(results: dict[str, DataFrame], pairs: DataFrame, settings: Settings, computed_at: datetime,
                  source_max_played_at: datetime | None) -> None:
    url = settings.main_database_url
    with connect("main", settings) as main:
        shapes = {name: table_shape(main, name)[0] for name in results}
    write_table(pairs, url, "analytics_staging.scope")

    def write(name: str) -> None:
        frame = (results[name].withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
                 .withColumn("source_max_played_at", F.lit(source_max_played_at).cast("timestamp")))
        write_table(frame.select(*shapes[name]), url, f"analytics_staging.{name}")

    # Spark runs jobs from several threads at once: one statistic's JDBC writes and planning
    # overlap another's computing.
    with ThreadPoolExecutor(WRITERS) as pool:
        for finished in [pool.submit(write, name) for name in results]:
            finished.result()


class NothingStaged(RuntimeError):
    pass


def stage(settings: Settings | None = None, full: bool = False, spark: SparkSession | None = None
          ) -> StagedRun | None:
    """Compute the statistics into analytics_staging; None when there is nothing new."""
    settings = settings or get_settings()
    started = datetime.now(UTC)
    with connect("main", settings, autocommit=True) as lock:
        lock.execute(RUN_LOCK)  # one analytics run at a time; released when `lock` closes
        with connect("main", settings) as main:
            scope = decide_scope(main, full)
            (source_max_played_at,) = main.execute("SELECT max(played_at) FROM fact_play").fetchone()
        if scope.nothing_to_do:
            return None
        spark = spark or spark_session(settings)
        sources = extract(spark, settings, scope)
        tables = prepare(**sources, album_min_tracks=settings.album_min_tracks,
                         session_gap_minutes=settings.session_gap_minutes)
        cached = [frame.persist() for frame in (tables.plays, tables.tracks, tables.days, tables.clock,
                                                tables.periods, tables.sessions)]
        pairs = scope_pairs(tables, scope).persist()
        write_staging(transform(tables, None if scope.mode == "full" else pairs), pairs, settings, started,
                      source_max_played_at)
        for frame in (*cached, pairs):
            frame.unpersist()
        with connect("main", settings) as main:
            if scope.mode == "full":  # pairs that vanished altogether are emptied too
                main.execute("""INSERT INTO analytics_staging.scope
                                SELECT user_id, period FROM analytics.overview
                                UNION SELECT user_id, period FROM analytics.session_summary
                                EXCEPT SELECT user_id, period FROM analytics_staging.scope""")
            (scopes,) = main.execute("SELECT count(*) FROM analytics_staging.scope").fetchone()
            (run_id,) = main.execute(
                """INSERT INTO etl.analytics_runs (status, mode, started_at, max_load_id, source_max_played_at,
                       scopes) VALUES ('staged', %s, %s, %s, %s, %s) RETURNING run_id""",
                (scope.mode, started, scope.max_load_id, source_max_played_at, scopes)).fetchone()
    return StagedRun(run_id, scope.mode, None if scope.users is None else len(scope.users), scopes)


def _latest_staged(main) -> StagedRun:
    row = main.execute("SELECT run_id, status, mode, scopes FROM etl.analytics_runs "
                       "ORDER BY run_id DESC LIMIT 1 FOR UPDATE").fetchone()
    if row is None or row[1] != "staged":
        raise NothingStaged("no staged analytics run waits for publication")
    return StagedRun(row[0], row[2], None, row[3])


def publish_staged(settings: Settings | None = None) -> RunReport:
    """Publish the latest staged run into analytics.*, in one transaction."""
    settings = settings or get_settings()
    with connect("main", settings) as main:
        main.execute(RUN_LOCK.replace("pg_advisory_lock", "pg_advisory_xact_lock"))
        staged = _latest_staged(main)
        counts = publish(main)
        main.execute(
            """UPDATE etl.analytics_runs SET status = 'published', published_at = now(), rows_inserted = %s,
                   rows_updated = %s, rows_deleted = %s WHERE run_id = %s""",
            (counts.inserted, counts.updated, counts.deleted, staged.run_id))
    report = RunReport(staged.mode, staged.users, staged.scopes, counts)
    log.info("%s", report)
    return report


def reject_staged(settings: Settings, reason: str) -> None:
    """Mark the latest staged run rejected (its results are never published)."""
    with connect("main", settings) as main:
        staged = _latest_staged(main)
        main.execute("UPDATE etl.analytics_runs SET status = 'rejected', rejection = %s WHERE run_id = %s",
                     (reason, staged.run_id))


def check_staged(settings: Settings | None = None) -> None:
    """The analytics gate on the staged results; a failure rejects them (never published)."""
    settings = settings or get_settings()
    try:
        analytics_gate(settings)
    except GateFailed as failed:
        reject_staged(settings, str(failed))
        raise


def run(settings: Settings | None = None, full: bool = False, spark: SparkSession | None = None) -> RunReport:
    """Stage, gate, then publish: the whole analytics run."""
    settings = settings or get_settings()
    staged = stage(settings, full, spark)
    if staged is None:
        return RunReport("incremental", 0, 0, PublishCounts())
    check_staged(settings)
    report = publish_staged(settings)
    return RunReport(staged.mode, staged.users, staged.scopes, report.counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="recompute every period of every user")
    parser.add_argument("--stage-only", action="store_true",
                        help="stage the results and stop (an orchestrator gates and publishes them)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.stage_only:
        staged = stage(full=args.full)
        print(f"staged run {staged.run_id}: {staged.mode}, {staged.scopes} scopes" if staged else "nothing new")
    else:
        print(run(full=args.full))
    return 0


if __name__ == "__main__":
    sys.exit(main())
