"""Deleting a user's plays from source (docs/metrics.md, "What counts"): single plays by id, or every play
ending within a local time range. One transaction: the plays are deleted, the audit row
(`play_deletions`: who, when, what, how many) is written, and each deleted play's identity (and that of the
export records merged into it) is kept in `deleted_plays`, so neither an import of the same export nor a
poll brings it back. The next source -> main load deletes the plays from main and the next analytics run
recomputes the months they were in; the replica follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ingestion.exclusions import RuleError, parse_local

MAX_PLAY_IDS = 1000  # single plays in one deletion


@dataclass(frozen=True)
class Deletion:
    deletion_id: int
    deleted_by: str
    deleted_at: datetime
    description: str
    plays: int


@dataclass(frozen=True)
class PlayRow:
    play_id: int
    local_time: datetime
    track_name: str | None
    artist_name: str | None
    ms_played: int
    source: str


# The user's zone, as the load uses it (NULL = DEFAULT_TIMEZONE).
_ZONE = "coalesce(u.timezone, %(default_timezone)s)"
_LOCAL = f"p.played_at AT TIME ZONE {_ZONE}"
# Plays ending in [from, to) of local time; the UTC band a day wider on each side lets the user's index
# (user_id, played_at) find them.
_RANGE = (f"p.played_at >= (%(from)s::timestamp AT TIME ZONE {_ZONE}) - interval '1 day' "
          f"AND p.played_at < (%(to)s::timestamp AT TIME ZONE {_ZONE}) + interval '1 day' "
          f"AND {_LOCAL} >= %(from)s AND {_LOCAL} < %(to)s")


def delete_plays(conn: psycopg.Connection, user_id: str, deleted_by: str, default_timezone: str, *,
                 play_ids: list[int] | None = None, local_from: str | None = None,
                 local_to: str | None = None) -> Deletion:
    """Delete plays of `user_id` (the caller commits): `play_ids`, or those ending in [local_from, local_to)
    of the user's local time (`local_to` a date alone: the whole day). RuleError names a bad value."""
    if (play_ids is None) == (local_from is None and local_to is None):
        raise RuleError("give either play ids or a time range (from and to)")
    params = {"user": user_id, "default_timezone": default_timezone}
    if play_ids is not None:
        if not play_ids or len(play_ids) > MAX_PLAY_IDS:
            raise RuleError(f"give from 1 to {MAX_PLAY_IDS} play ids")
        params["ids"] = sorted(set(play_ids))
        which, description = "p.play_id = ANY(%(ids)s)", f"plays {', '.join(map(str, params['ids'][:20]))}"
        if len(params["ids"]) > 20:
            description += f" and {len(params['ids']) - 20} more"
    else:
        params["from"], params["to"] = parse_local(local_from, "from"), parse_local(local_to, "to", end=True)
        if params["to"] <= params["from"]:
            raise RuleError(f"to ({local_to}) is not after from ({local_from})")
        which = _RANGE
        description = f"plays ending from {params['from']:%Y-%m-%d %H:%M} to {params['to']:%Y-%m-%d %H:%M} (local)"
    # Locked before the audit row takes its revision: the source -> main load's `LOCK plays IN SHARE MODE`
    # then waits for this transaction, so it never reads past a deletion it cannot see yet.
    conn.execute("LOCK TABLE plays IN ROW EXCLUSIVE MODE")
    if conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (user_id,)).fetchone() is None:
        raise RuleError(f"user {user_id!r} does not exist")
    conn.execute(f"""CREATE TEMP TABLE doomed ON COMMIT DROP AS
                     SELECT p.play_id, p.play_key, p.played_at FROM plays p JOIN users u USING (user_id)
                     WHERE p.user_id = %(user)s AND {which}""", params)
    (found,) = conn.execute("SELECT count(*) FROM doomed").fetchone()
    if play_ids is not None and found != len(params["ids"]):
        raise RuleError(f"{len(params['ids']) - found} of the play ids are not plays of {user_id!r}")
    if not found:
        raise RuleError(f"no play of {user_id!r} ends in that range")
    deletion = conn.cursor(row_factory=class_row(Deletion)).execute(
        """INSERT INTO play_deletions (user_id, deleted_by, description, plays) VALUES (%s, %s, %s, %s)
           RETURNING deletion_id, deleted_by, deleted_at, description, plays""",
        (user_id, deleted_by, description, found)).fetchone()
    conn.execute(
        """INSERT INTO deleted_plays (user_id, play_key, play_id, played_at, deletion_id)
           SELECT %(user)s, play_key, play_id, played_at, %(deletion)s FROM doomed
           UNION ALL
           SELECT %(user)s, m.play_key, m.play_id, d.played_at, %(deletion)s
           FROM export_merges m JOIN doomed d USING (play_id)
           ON CONFLICT DO NOTHING""", {"user": user_id, "deletion": deletion.deletion_id})
    conn.execute("DELETE FROM export_merges m USING doomed d WHERE m.play_id = d.play_id")
    conn.execute("DELETE FROM plays p USING doomed d WHERE p.play_id = d.play_id")
    return deletion


def list_deletions(conn: psycopg.Connection, user_id: str, limit: int = 20) -> list[Deletion]:
    return conn.cursor(row_factory=class_row(Deletion)).execute(
        """SELECT deletion_id, deleted_by, deleted_at, description, plays FROM play_deletions
           WHERE user_id = %s ORDER BY deletion_id DESC LIMIT %s""", (user_id, limit)).fetchall()


def plays_of_day(conn: psycopg.Connection, user_id: str, day: str, default_timezone: str) -> list[PlayRow]:
    """The user's plays ending on a local day, for the account page to delete single plays from."""
    start, end = parse_local(day, "day"), parse_local(day, "day", end=True)
    return conn.cursor(row_factory=class_row(PlayRow)).execute(
        f"""SELECT p.play_id, {_LOCAL} AS local_time, coalesce(p.track_name, t.name, p.episode_name) AS track_name,
                   coalesce(p.artist_name, a.name, p.episode_show_name) AS artist_name, p.ms_played, p.source
            FROM plays p JOIN users u USING (user_id)
            LEFT JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_ids[1]
            WHERE p.user_id = %(user)s AND {_RANGE}
            ORDER BY p.played_at LIMIT 2000""",
        {"user": user_id, "from": start, "to": end, "default_timezone": default_timezone}).fetchall()
