"""longest_days: the 10 local dates with the most listening (docs/metrics.md, 14)."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, Tables

TOP = 10


def longest_days(t: Tables) -> DataFrame:
    order = Window.partitionBy(*KEY).orderBy(F.desc("listening_ms"), F.desc("local_date"))
    return (t.days.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= TOP)
            .select(*KEY, "rank", "local_date", "listening_ms", "streams"))
