"""spark-submit on SPARK_MASTER, in one place: the cold analytics job, and the warm engine's server.

`submit` launches spark_scripts/job.py (a JVM per run); `engine_command` is the
Spark Connect server that `make spark` keeps running (operations/spark_cluster.py),
to which a run submits its plans instead (spark_scripts/session.engine_session).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from spark_scripts import job
from spark_scripts.session import (
    CONNECT_ENVIRONMENT,
    ENGINE_CONF,
    JVM_OPTIONS,
    SQL_CONF,
    engine_address,
    postgres_jdbc_jar,
)
from warehouse.settings import Settings

CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
# On a cluster the long-lived engine gives its executors back once idle: their memory, and the cores
# a cold spark-submit on the same cluster needs (local[*] has no executors to give back).
IDLE_EXECUTORS_GO = {
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.executorIdleTimeout": "30s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "30s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "30s",
}
# What the engine remembers of past runs for its (disabled) UI: by default 1,000 jobs, stages and SQL
# executions and 100,000 tasks; a run is ~250 queries, so the defaults keep several runs' worth.
RETAIN_LITTLE = {
    "spark.ui.retainedJobs": "50",
    "spark.ui.retainedStages": "50",
    "spark.ui.retainedTasks": "1000",
    "spark.sql.ui.retainedExecutions": "20",
}


def _spark_submit(settings: Settings) -> list[str]:
    """spark-submit with what every launch shares: master, memory, JVM options, the JDBC driver."""
    spark_submit = Path(sys.executable).parent / "spark-submit"
    return [str(spark_submit), "--master", settings.spark_master, "--driver-memory", settings.spark_driver_memory,
            "--driver-java-options", JVM_OPTIONS, "--conf", f"spark.executor.extraJavaOptions={JVM_OPTIONS}",
            "--jars", postgres_jdbc_jar(), "--conf", "spark.ui.showConsoleProgress=false",
            *[arg for key, value in ENGINE_CONF.items() for arg in ("--conf", f"{key}={value}")]]


def submit_command(settings: Settings, full: bool = False) -> list[str]:
    return [*_spark_submit(settings), job.__file__, *(["--full"] if full else [])]


def engine_command(settings: Settings) -> list[str]:
    """The warm engine: a Spark Connect server on SPARK_MASTER, listening where SPARK_CONNECT_URL points."""
    host, port = engine_address(settings.spark_connect_url)
    confs = {**SQL_CONF, "spark.connect.grpc.binding.address": host, "spark.connect.grpc.binding.port": str(port),
             "spark.ui.enabled": "false", **IDLE_EXECUTORS_GO, **RETAIN_LITTLE}
    return [*_spark_submit(settings), "--class", CONNECT_SERVER, "--name", "spotify_analytics engine",
            *[arg for key, value in confs.items() for arg in ("--conf", f"{key}={value}")], "spark-internal"]


def submit(settings: Settings, full: bool = False) -> subprocess.CompletedProcess:
    """Stage a run to completion; raise CalledProcessError (with its output) when the job fails."""
    env = {name: value for name, value in os.environ.items() if name not in CONNECT_ENVIRONMENT}
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return subprocess.run(submit_command(settings, full), env=env, check=True, text=True, capture_output=True)
