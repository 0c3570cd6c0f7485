"""session_summary: sessions per period of their local start (docs/metrics.md, 8)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables
from spark_scripts.state import millis


def session_summary(t: Tables) -> DataFrame:
    spans = t.session_periods.withColumn("length_ms", millis(F.col("session_end"), F.col("session_start")))
    return (spans.groupBy(*KEY)
            .agg(F.count("*").cast("int").alias("sessions"),
                 F.avg("length_ms").alias("avg_session_ms"),
                 F.max("length_ms").alias("longest_session_ms"),
                 F.avg("streams").alias("avg_streams_per_session")))
