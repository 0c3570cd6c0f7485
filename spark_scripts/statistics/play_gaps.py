"""play_gaps: the gap from each stream to the user's next one (docs/metrics.md, 9)."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import KEY, Tables, grid, share
from warehouse.catalog import GAP_CLASSES


def play_gaps(t: Tables) -> DataFrame:
    counts = t.gaps  # the classes: spark_scripts/state.gap_class
    return (grid(t.periods, "gap_class", list(GAP_CLASSES)).join(counts, [*KEY, "gap_class"], "left")
            .fillna(0, ["gaps"]).select(*KEY, "gap_class", "gaps", share("gaps").alias("share")))
