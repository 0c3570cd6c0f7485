"""PySpark jobs: the statistics of docs/metrics.md, from main's star schema into
main's `analytics` schema. `job.py` wires read -> transform -> publish; each
statistic is a pure function in `statistics/<name>.py`."""
