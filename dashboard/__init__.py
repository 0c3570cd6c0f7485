"""The web dashboard: every statistic of docs/metrics.md, for every user and
period, read from the replica through its read-only role.

`python -m dashboard --help` runs it; `dashboard.app.create_app` builds the
Flask app; `python -m dashboard.share` manages share links.
"""
