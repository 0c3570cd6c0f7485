"""The analytics run, named in one place: build -> validate -> publish.

- build: the Spark job stages every statistic into analytics_staging and records
  the staged run (spark_scripts/job.py), in a given Spark session, else in a
  session of the warm engine (SPARK_CONNECT_URL, `make spark`) when it answers,
  else with a cold spark-submit on SPARK_MASTER;
- validate: the analytics gate on the staged results; a failure marks the run
  rejected (it is never published) and stops the run;
- publish: the staged run into analytics.*, in one transaction (spark_scripts/publish.py).

`etl` is the whole chain from source, as `make etl` and the DAG spotify_analytics run it:
source gate -> load main -> main gate -> build -> validate -> publish.
"""

from __future__ import annotations

import logging

from pyspark.sql import SparkSession

from pipeline.gates import GateFailed, analytics_gate, main_gate, source_gate
from spark_scripts.job import stage
from spark_scripts.ledger import NOTHING_NEW, NothingStaged, RunReport, StagedRun, latest_staged, mark_rejected
from spark_scripts.publish import publish_staged
from spark_scripts.session import engine_session
from spark_scripts.submit import submit
from star_schema.load import load_main
from warehouse.db import connect
from warehouse.settings import Settings

log = logging.getLogger(__name__)


def staged_run(settings: Settings) -> StagedRun | None:
    """The run waiting for validation and publication, if any."""
    with connect("main", settings) as main:
        try:
            return latest_staged(main)
        except NothingStaged:
            return None


def build(settings: Settings, full: bool = False, spark: SparkSession | None = None) -> StagedRun | None:
    """Stage the statistics (in `spark`, else the warm engine, else spark-submit); the run now waiting, or None."""
    if spark is not None:
        stage(settings, full, spark)
    else:
        with engine_session(settings) as engine:
            if engine is not None:
                stage(settings, full, engine)
            else:
                submit(settings, full)
    staged = staged_run(settings)
    log.info("%s", staged or "nothing staged")
    return staged


def validate(settings: Settings) -> StagedRun | None:
    """The analytics gate on the waiting run; GateFailed (the run marked rejected) when a check fails."""
    staged = staged_run(settings)
    if staged is None:
        return None
    try:
        analytics_gate(settings)
    except GateFailed as failed:
        with connect("main", settings) as main:
            mark_rejected(main, staged, str(failed))
        raise
    return staged


def publish(settings: Settings) -> RunReport:
    """The validated run into analytics.*; NothingStaged when no run waits."""
    return publish_staged(settings)


def run(settings: Settings, full: bool = False, spark: SparkSession | None = None) -> RunReport:
    """build -> validate -> publish."""
    if build(settings, full, spark) is None:
        return NOTHING_NEW
    validate(settings)
    return publish(settings)


def etl(settings: Settings, full: bool = False) -> RunReport:
    """source gate -> load main -> main gate -> build -> validate -> publish."""
    source_gate(settings)
    log.info("%s", load_main(settings))
    main_gate(settings)
    return run(settings, full)
