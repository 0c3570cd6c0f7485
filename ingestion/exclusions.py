"""A user's exclusion rules in source (docs/metrics.md, "What counts"): what of their listening counts in no
statistic. The plays stay in source; the next source -> main load marks the plays a rule matches (and
unmarks them when it is removed), and the next analytics run leaves them out.

A rule names an artist, album or track (a Spotify link, URI or id, or the id of one our metadata holds,
such as an id made from an export's names),
a context (the URI or link of a playlist, album, artist or show the plays were started from; the Web API
says, exports do not), or a time range in the user's local time: a day, a night, a span of dates.
Every value is checked here, whoever sends it (the account page, `python -m ingestion exclude`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import psycopg
from psycopg.rows import class_row

ID_KINDS = ("artist", "album", "track")
CONTEXT_KINDS = ("playlist", "album", "artist", "show")
KINDS = (*ID_KINDS, "context", "time")
MAX_RULES = 500  # per user
_SPOTIFY_ID = r"[0-9A-Za-z]{22}"
_LINK = re.compile(rf"^https://open\.spotify\.com/(?:intl-[a-z-]+/)?([a-z]+)/({_SPOTIFY_ID})/?(?:\?.*)?$")
_URI = re.compile(rf"^spotify:([a-z]+):({_SPOTIFY_ID})$")
_ID = re.compile(rf"^{_SPOTIFY_ID}$")
# Any other id must be one our metadata holds (an id the importer made from names, `sur:...`).
_OUR_ID = re.compile(r"^[0-9A-Za-z:_-]{1,120}$")
NAMES = {"artist": "SELECT name FROM artists WHERE artist_id = %s",
         "album": "SELECT name FROM albums WHERE album_id = %s",
         "track": "SELECT name FROM tracks WHERE track_id = %s"}


class RuleError(ValueError):
    """A rule that cannot be made: the message names the field and why."""


@dataclass(frozen=True)
class Rule:
    rule_id: int
    kind: str
    target: str | None
    local_from: datetime | None
    local_to: datetime | None
    created_by: str
    created_at: datetime
    name: str | None  # the artist's, album's or track's name when our metadata has it

    def describe(self) -> str:
        if self.kind == "time":
            return f"plays ending from {self.local_from:%Y-%m-%d %H:%M} to {self.local_to:%Y-%m-%d %H:%M} (local time)"
        what = f"{self.name} ({self.target})" if self.name else self.target
        return f"{self.kind} {what}"


def parse_target(kind: str, value: str) -> str:
    """The stored target of an artist, album, track or context rule from a link, URI or id."""
    value = (value or "").strip()
    if not value:
        raise RuleError(f"{kind}: give a Spotify link, URI or id")
    link = _LINK.match(value) or _URI.match(value)
    if kind == "context":
        if not link or link.group(1) not in CONTEXT_KINDS:
            raise RuleError(f"context {value[:80]!r} is not the link or URI of a Spotify "
                            f"{', '.join(CONTEXT_KINDS)}")
        return f"spotify:{link.group(1)}:{link.group(2)}"
    if link:
        if link.group(1) != kind:
            raise RuleError(f"{kind}: {value[:80]!r} is the link of a {link.group(1)}, not of a {kind}")
        return link.group(2)
    if _ID.match(value) or _OUR_ID.match(value):
        return value
    raise RuleError(f"{kind} {value[:80]!r} is not a Spotify link, URI or id")


def parse_local(value: str, field: str, end: bool = False) -> datetime:
    """A local date ('2024-03-01': its start, or with `end` the start of the next day) or date and time
    ('2024-03-01 22:30' or '2024-03-01T22:30')."""
    value = (value or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise RuleError(f"{field} {value[:40]!r} is not a date (YYYY-MM-DD) or a date and time "
                        "(YYYY-MM-DD HH:MM)") from None
    if moment.tzinfo is not None:
        raise RuleError(f"{field} {value[:40]!r}: give the local time without a zone")
    if not 2006 <= moment.year <= 2100:
        raise RuleError(f"{field} {value[:40]!r} is not a year from 2006 to 2100")
    return moment


def add_rule(conn: psycopg.Connection, user_id: str, kind: str, created_by: str, *, target: str | None = None,
             local_from: str | None = None, local_to: str | None = None) -> int:
    """Add a rule of `user_id` (committed by the caller); its id. The same rule twice is one rule: the id of
    the existing one. `local_to` of a date alone is inclusive (the whole day)."""
    if kind not in KINDS:
        raise RuleError(f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}")
    start = end = None
    if kind == "time":
        start, end = parse_local(local_from, "from"), parse_local(local_to, "to", end=True)
        if end <= start:
            raise RuleError(f"to ({local_to}) is not after from ({local_from})")
    else:
        target = parse_target(kind, target)
        if kind != "context" and not _ID.match(target) and conn.execute(NAMES[kind], (target,)).fetchone() is None:
            raise RuleError(f"{kind} {target!r} is neither a Spotify id nor one of the {kind}s we know")
    if conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (user_id,)).fetchone() is None:
        raise RuleError(f"user {user_id!r} does not exist")
    (count,) = conn.execute("SELECT count(*) FROM exclusion_rules WHERE user_id = %s", (user_id,)).fetchone()
    row = conn.execute(
        """INSERT INTO exclusion_rules (user_id, kind, target, local_from, local_to, created_by)
           SELECT %s, %s, %s, %s, %s, %s WHERE %s < %s
           ON CONFLICT ON CONSTRAINT exclusion_rules_once DO NOTHING RETURNING rule_id""",
        (user_id, kind, target, start, end, created_by, count, MAX_RULES)).fetchone()
    if row:
        return row[0]
    existing = conn.execute(
        """SELECT rule_id FROM exclusion_rules WHERE user_id = %s AND kind = %s
           AND target IS NOT DISTINCT FROM %s AND local_from IS NOT DISTINCT FROM %s
           AND local_to IS NOT DISTINCT FROM %s""", (user_id, kind, target, start, end)).fetchone()
    if existing is None:
        raise RuleError(f"user {user_id!r} has {MAX_RULES} rules already: remove one first")
    return existing[0]


def remove_rule(conn: psycopg.Connection, user_id: str, rule_id: int) -> bool:
    """Remove a rule of `user_id`; False when the user has no such rule."""
    return conn.execute("DELETE FROM exclusion_rules WHERE user_id = %s AND rule_id = %s",
                        (user_id, rule_id)).rowcount == 1


def list_rules(conn: psycopg.Connection, user_id: str) -> list[Rule]:
    return conn.cursor(row_factory=class_row(Rule)).execute(
        """SELECT r.rule_id, r.kind, r.target, r.local_from, r.local_to, r.created_by, r.created_at,
                  coalesce(a.name, al.name, t.name) AS name
           FROM exclusion_rules r
           LEFT JOIN artists a ON r.kind = 'artist' AND a.artist_id = r.target
           LEFT JOIN albums al ON r.kind = 'album' AND al.album_id = r.target
           LEFT JOIN tracks t ON r.kind = 'track' AND t.track_id = r.target
           WHERE r.user_id = %s ORDER BY r.rule_id""", (user_id,)).fetchall()
