"""A user's recording rules in source (docs/metrics.md, "One song across editions"): tracks sharing an ISRC
count as one recording; a user splits a track off (it counts alone) or merges a track into another's
recording, for their own statistics. The next source -> main load re-evaluates the user's plays, the next
analytics run counts them so.

A track is named by a Spotify link, URI or id, or the id of one our metadata holds (an id made from an
export's names); both tracks of a rule must be known to our metadata. Every value is checked here, whoever
sends it (the account page, `python -m ingestion editions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from ingestion.exclusions import RuleError, parse_target

KINDS = ("split", "merge")
MAX_RULES = 500  # per user


@dataclass(frozen=True)
class RecordingRule:
    rule_id: int
    kind: str
    track_id: str
    into_track_id: str | None
    created_by: str
    created_at: datetime
    name: str | None       # the track's name
    into_name: str | None  # the other track's name (merge)

    def describe(self) -> str:
        what = f"{self.name} ({self.track_id})" if self.name else self.track_id
        if self.kind == "split":
            return f"{what} counts alone"
        into = f"{self.into_name} ({self.into_track_id})" if self.into_name else self.into_track_id
        return f"{what} counts as the same song as {into}"


def _known_track(conn: psycopg.Connection, value: str, field: str) -> str:
    try:
        track_id = parse_target("track", value)
    except RuleError as exc:
        raise RuleError(f"{field}: {exc}" if field != "track" else str(exc)) from None
    if conn.execute("SELECT 1 FROM tracks WHERE track_id = %s", (track_id,)).fetchone() is None:
        raise RuleError(f"{field} {track_id!r} is not one of the tracks we know")
    return track_id


def add_recording_rule(conn: psycopg.Connection, user_id: str, kind: str, track: str, created_by: str,
                       into: str | None = None) -> int:
    """Split `track` off, or merge it into `into`'s recording, for `user_id` (committed by the caller); the
    rule's id. A track has one rule: a new one replaces the old."""
    if kind not in KINDS:
        raise RuleError(f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}")
    track_id = _known_track(conn, track, "track")
    into_id = None
    if kind == "merge":
        into_id = _known_track(conn, into or "", "into")
        if into_id == track_id:
            raise RuleError(f"into {into_id!r} is the track itself")
        chained = conn.execute("SELECT into_track_id FROM recording_rules WHERE user_id = %s AND track_id = %s "
                               "AND kind = 'merge'", (user_id, into_id)).fetchone()
        if chained:
            raise RuleError(f"into {into_id!r} is itself merged into {chained[0]!r}: merge into that one")
    elif into:
        raise RuleError("a split names one track only")
    if conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (user_id,)).fetchone() is None:
        raise RuleError(f"user {user_id!r} does not exist")
    if kind == "merge" and conn.execute(
            "SELECT 1 FROM recording_rules WHERE user_id = %s AND into_track_id = %s LIMIT 1",
            (user_id, track_id)).fetchone():
        raise RuleError(f"track {track_id!r} has tracks merged into it: remove those rules first")
    (count,) = conn.execute("SELECT count(*) FROM recording_rules WHERE user_id = %s AND track_id <> %s",
                            (user_id, track_id)).fetchone()
    if count >= MAX_RULES:
        raise RuleError(f"user {user_id!r} has {MAX_RULES} recording rules already: remove one first")
    (rule_id,) = conn.execute(
        """INSERT INTO recording_rules (user_id, track_id, kind, into_track_id, created_by)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT ON CONSTRAINT recording_rules_once DO UPDATE
           SET kind = EXCLUDED.kind, into_track_id = EXCLUDED.into_track_id, created_by = EXCLUDED.created_by,
               created_at = now()
           RETURNING rule_id""", (user_id, track_id, kind, into_id, created_by)).fetchone()
    return rule_id


def remove_recording_rule(conn: psycopg.Connection, user_id: str, rule_id: int) -> bool:
    """Remove a rule of `user_id`; False when the user has no such rule."""
    return conn.execute("DELETE FROM recording_rules WHERE user_id = %s AND rule_id = %s",
                        (user_id, rule_id)).rowcount == 1


def list_recording_rules(conn: psycopg.Connection, user_id: str) -> list[RecordingRule]:
    return conn.cursor(row_factory=class_row(RecordingRule)).execute(
        """SELECT r.rule_id, r.kind, r.track_id, r.into_track_id, r.created_by, r.created_at,
                  t.name, i.name AS into_name
           FROM recording_rules r
           LEFT JOIN tracks t ON t.track_id = r.track_id
           LEFT JOIN tracks i ON i.track_id = r.into_track_id
           WHERE r.user_id = %s ORDER BY r.rule_id""", (user_id,)).fetchall()
