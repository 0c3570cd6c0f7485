"""The job's load: every statistic, the recomputed grains and (user, period) pairs into analytics_staging of main.

`analytics_staging.<name>` has the shape of `analytics.<name>`, `analytics_staging.state_<grain>`
that of `analytics_state.<grain>`; `analytics_staging.scope` holds the pairs whose published rows
publication replaces (spark_scripts/publish.py).

Each table's rows come out of Spark as CSV lines (Spark's own CSV writer), fetched
as Arrow batches and COPY'd into main: far cheaper than JDBC's batched INSERTs.
Three tables at a time, each its own Spark job: measured faster than one job for
all of them (a union of every table's plan), whose planning alone costs seconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField

from spark_scripts.publish import table_shape
from spark_scripts.scope import recomputed_periods
from spark_scripts.state import STORED, Grains
from warehouse.db import connect
from warehouse.settings import Settings

# Spark's CSV as PostgreSQL's COPY reads it: quotes doubled, microseconds, ISO dates; null is an
# empty field, an empty string "".
CSV = {"escape": '"', "timestampFormat": "yyyy-MM-dd HH:mm:ss.SSSSSSXXX", "dateFormat": "yyyy-MM-dd"}
LINES_PER_WRITE = 50_000
WRITERS = 3  # tables staged at once


def staged_frames(results: dict[str, DataFrame], recomputed: Grains, pairs: DataFrame, shapes: dict[str, list[str]],
                  computed_at: datetime, source_max_played_at: datetime | None) -> dict[str, DataFrame]:
    """analytics_staging table -> its rows, columns in the table's order."""
    frames = {"analytics_staging.scope": pairs}
    for name, frame in results.items():
        frames[f"analytics_staging.{name}"] = (
            frame.withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
            .withColumn("source_max_played_at", F.lit(source_max_played_at).cast("timestamp"))
            .select(*shapes[name]))
    for name in STORED:
        frames[f"analytics_staging.state_{name}"] = getattr(recomputed, name)
    return frames


def _quoted(text: F.Column) -> F.Column:
    """A text array element as PostgreSQL's array literal writes it: in double quotes, `\\` and `"` escaped by a
    backslash; NULL for null."""
    escaped = F.regexp_replace(F.regexp_replace(text, r"\\", r"\\\\"), '"', r'\\"')
    return F.when(text.isNull(), F.lit("NULL")).otherwise(F.concat(F.lit('"'), escaped, F.lit('"')))


def as_lines(frame: DataFrame) -> DataFrame:
    """The frame's rows as CSV lines (one column, `line`); an array as PostgreSQL's literal (`{1,2}`,
    `{"a",NULL}`)."""
    def field(column: StructField) -> F.Column:
        if not isinstance(column.dataType, ArrayType):
            return F.col(column.name)
        values = F.col(column.name)
        if isinstance(column.dataType.elementType, StringType):
            values = F.transform(values, _quoted)
        elements = F.array_join(values.cast("array<string>"), ",")
        return F.concat(F.lit("{"), elements, F.lit("}")).alias(column.name)

    return frame.select(F.to_csv(F.struct(*[field(c) for c in frame.schema.fields]), CSV).alias("line"))


def copy_lines(conn: psycopg.Connection, table: str, columns: list[str], lines: pa.ChunkedArray) -> None:
    """Replace `table`'s rows with the CSV `lines`."""
    conn.execute(f"TRUNCATE {table}")
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(lines), LINES_PER_WRITE):
            chunk = lines.slice(start, LINES_PER_WRITE).combine_chunks()
            joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(chunk)], pa.int32()), chunk), "\n")
            copy.write(joined[0].as_py().encode() + b"\n")


def write_staging(results: dict[str, DataFrame], recomputed: Grains, pairs: DataFrame, settings: Settings,
                  computed_at: datetime, source_max_played_at: datetime | None) -> None:
    with connect("main", settings) as main:
        shapes = {name: table_shape(main, name)[0] for name in results}
    frames = staged_frames(results, recomputed, pairs, shapes, computed_at, source_max_played_at)

    def write(table: str) -> None:
        lines = as_lines(frames[table]).toArrow()["line"]
        with connect("main", settings) as main:
            copy_lines(main, table, frames[table].columns, lines)

    # Spark runs jobs from several threads at once: one table's COPY and planning overlap
    # another's computing.
    with ThreadPoolExecutor(WRITERS) as pool:
        for finished in [pool.submit(write, table) for table in frames]:
            finished.result()


def add_vanished_pairs(main: psycopg.Connection, full: bool) -> None:
    """The run also empties the published pairs it recomputed that have no rows any more: a full run's, and
    an incremental run's users' periods whose plays were all excluded or deleted since."""
    recomputed = "" if full else (
        f"JOIN analytics_staging.run_users r USING (user_id) WHERE {recomputed_periods('o.period', 'r.since')}")
    main.execute(f"""INSERT INTO analytics_staging.scope
                     SELECT o.user_id, o.period FROM (SELECT user_id, period FROM analytics.overview
                                                      UNION SELECT user_id, period FROM analytics.session_summary) o
                     {recomputed}
                     EXCEPT SELECT user_id, period FROM analytics_staging.scope""")


def count_scopes(main: psycopg.Connection) -> int:
    (scopes,) = main.execute("SELECT count(*) FROM analytics_staging.scope").fetchone()
    return scopes
