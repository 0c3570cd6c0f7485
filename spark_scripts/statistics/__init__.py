"""One module per statistic, named as in docs/metrics.md and warehouse/catalog.py.

`spark_scripts/statistics/<name>.py` defines the pure function `<name>(tables) -> DataFrame`
giving the rows of `analytics.<name>`; COMPUTE finds every module the catalog names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pyspark.sql import DataFrame

from warehouse.catalog import STATISTICS


def _compute(name: str) -> Callable[..., DataFrame]:
    return getattr(importlib.import_module(f"{__name__}.{name}"), name)


COMPUTE: dict[str, Callable[..., DataFrame]] = {name: _compute(name) for name in STATISTICS}
