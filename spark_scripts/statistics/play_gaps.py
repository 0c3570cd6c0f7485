"""play_gaps: the gap from each stream to the user's next one (docs/metrics.md, 9)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.prepare import KEY, MONTH, Tables, by_period, grid, share
from warehouse.catalog import GAP_CLASSES


def play_gaps(t: Tables) -> DataFrame:
    gap_class = (F.when(F.col("gap_ms") < 5 * 60_000, "continuous")
                 .when(F.col("gap_ms") < 60 * 60_000, "short_break").otherwise("long_break"))
    counts = by_period(t.gaps.groupBy(*MONTH, gap_class.alias("gap_class")).agg(F.count("*").alias("gaps")),
                       ["gap_class"], "gaps")
    return (grid(t.periods, "gap_class", list(GAP_CLASSES)).join(counts, [*KEY, "gap_class"], "left")
            .fillna(0, ["gaps"]).select(*KEY, "gap_class", "gaps", share("gaps").alias("share")))
