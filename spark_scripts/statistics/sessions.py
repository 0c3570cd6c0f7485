"""sessions: a user's listening sessions (docs/metrics.md, 8).

A new session starts when the gap from the previous stream's end exceeds
SESSION_GAP_MINUTES; the sessions themselves are cut in spark_scripts/prepare.py.
`period` is the month of the session's local start; session_id its start in Unix ms."""

from pyspark.sql import DataFrame

from spark_scripts.prepare import Tables


def sessions(t: Tables) -> DataFrame:
    return t.sessions.select("user_id", "session_id", "period", "session_start", "session_end", "streams",
                             "distinct_tracks", "listening_ms")
