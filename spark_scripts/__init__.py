"""PySpark jobs: the statistics of docs/metrics.md, from main's star schema into
main's `analytics` schema. `job.py` only wires extract (`extract.py`, for the
run's `scope.py`) -> transform -> load into analytics_staging (`staging.py`) and
records the staged run in the ledger (`ledger.py`); `publish.py` publishes it.
Each statistic is a pure function in `statistics/<name>.py`."""
