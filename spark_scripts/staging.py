"""The job's load: every statistic and the recomputed (user, period) pairs into analytics_staging of main.

`analytics_staging.<name>` has the shape of `analytics.<name>`; `analytics_staging.scope`
holds the pairs whose published rows publication replaces (spark_scripts/publish.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.publish import table_shape
from spark_scripts.session import write_table
from warehouse.db import connect
from warehouse.settings import Settings

WRITERS = 3  # statistics staged at once


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


def add_vanished_pairs(main: psycopg.Connection) -> None:
    """A full run also empties the published pairs that have no rows any more."""
    main.execute("""INSERT INTO analytics_staging.scope
                    SELECT user_id, period FROM analytics.overview
                    UNION SELECT user_id, period FROM analytics.session_summary
                    EXCEPT SELECT user_id, period FROM analytics_staging.scope""")


def count_scopes(main: psycopg.Connection) -> int:
    (scopes,) = main.execute("SELECT count(*) FROM analytics_staging.scope").fetchone()
    return scopes
