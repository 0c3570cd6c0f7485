"""Which (user, period) pairs a run recomputes.

Full run: every user, every period. Incremental run (the default when main has
been analysed before): only users with plays loaded, changed (an exclusion rule
included) or deleted since the last run, and for
each of them the months from the earliest one a new play can change onward,
their years, and 'all'. That earliest month is the one holding the start of
the user's session in progress before the first new (or changed, or deleted) play (published
`sessions`: the latest one starting before that play starts), because a new play can extend that session,
change the gap after the stream before it, and make later first-ever streams (new_artists,
new_tracks) no longer first; a deleted or newly excluded play changes that gap too, and may have begun
its own session. A user whose followed playlists a load changed (etl.load_runs.playlist_users) has every
period recomputed (`since` EVERY_MONTH), as playlist_completion of each may move. A load that changed existing
dimension rows
(metadata, a time zone, a consent to comparison) makes the run full, and so does a migration that
changed the statistics' tables or their state since the last published run.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_scripts.ledger import last_published, statistics_shape
from spark_scripts.prepare import KEY, Tables, every_period
from warehouse.catalog import ROLLING_PERIODS

EVERY_MONTH = "0000-01"  # a `since` before every local month: all of a user's periods


@dataclass(frozen=True)
class RunScope:
    mode: str                   # 'full' | 'incremental'
    max_load_id: int            # loads <= this are reflected after the run
    users: list[str] | None     # None = every user
    since: dict[str, str]       # user -> first local month ('YYYY-MM') to recompute

    @property
    def nothing_to_do(self) -> bool:
        return self.mode == "incremental" and not self.users


def decide_scope(main: psycopg.Connection, full: bool = False) -> RunScope:
    (max_load_id,) = main.execute("SELECT coalesce(max(load_id), 0) FROM etl.load_runs").fetchone()
    last, shape = last_published(main)
    if full or last is None or shape != statistics_shape(main):
        return RunScope("full", max_load_id, None, {})
    (dims_updated,) = main.execute(
        "SELECT coalesce(sum(dims_updated), 0) FROM etl.load_runs WHERE load_id > %s", (last,)).fetchone()
    if dims_updated:
        return RunScope("full", max_load_id, None, {})
    rows = main.execute(
        """WITH fresh AS (
               SELECT user_id, min(played_at) AS first_new, min(started_at) AS first_start FROM (
                   SELECT user_id, played_at, started_at FROM fact_play WHERE load_id > %(last)s
                   UNION ALL
                   SELECT user_id, played_at, started_at FROM etl.deleted_plays WHERE load_id > %(last)s) changed
               GROUP BY user_id)
           SELECT user_id, min(since) FROM (
               SELECT f.user_id,
                      to_char(least(f.first_new, s.session_start) AT TIME ZONE u.timezone, 'YYYY-MM') AS since
               FROM fresh f
               JOIN dim_user u USING (user_id)
               LEFT JOIN LATERAL (
                   SELECT max(session_start) AS session_start FROM analytics.sessions
                   WHERE user_id = f.user_id AND session_start < f.first_start) s ON true
               UNION ALL
               SELECT DISTINCT p.user_id, %(every)s FROM etl.load_runs r CROSS JOIN unnest(r.playlist_users) p (user_id)
               WHERE r.load_id > %(last)s AND p.user_id IN (SELECT user_id FROM dim_user)) scoped
           GROUP BY user_id ORDER BY 1""",
        {"last": last, "every": EVERY_MONTH},
    ).fetchall()
    return RunScope("incremental", max_load_id, [user for user, _ in rows], dict(rows))


def recomputed_periods(period: str, since: str) -> str:
    """SQL: whether the period `period` is one an incremental run recomputes for a user whose first recomputed
    month is `since`: 'all', the rolling periods, the months from `since` on and their years."""
    rolling = ", ".join(f"'{name}'" for name in ROLLING_PERIODS)
    return (f"({period} = 'all' OR {period} IN ({rolling}) OR (length({period}) = 7 AND {period} >= {since}) "
            f"OR (length({period}) = 4 AND {period} >= left({since}, 4)))")


def in_scope(scope: RunScope):
    """The filter of period rows (`user_id`, `period`) to those the run recomputes."""
    if scope.mode == "full":
        return every_period
    # user -> first month to recompute, as a literal map (no Python data for Spark to ship around)
    since = F.try_element_at(F.create_map(*[F.lit(v) for item in sorted(scope.since.items()) for v in item]),
                             F.col("user_id"))
    period = F.col("period")
    recomputed = since.isNotNull() & (
        (period == "all")
        | ((F.length(period) == 7) & (period >= since))
        | ((F.length(period) == 4) & (period >= F.substring(since, 1, 4))))
    return lambda frame: frame.where(recomputed)


def scope_pairs(t: Tables) -> DataFrame:
    """The (user_id, period) pairs this run recomputes: those with streams, and a session's periods."""
    # A session counts in its start's month, year and 'all', even without a stream there.
    return t.periods.unionByName(t.session_periods.select(*KEY)).distinct()
