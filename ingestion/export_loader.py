"""Loading a Spotify data export into source, in one transaction.

`import_export(paths, user_id)`:
1. In one transaction on source, holding the user's row lock (one import per
   user at a time), read and validate every file (`ingestion.export_reader.read_export`),
   COPYing each play into a temporary table as it passes. A bad file stops the
   import, naming file, record and reason, before any source table is written
   (a record outside the source gate's bounds too, unless `skip_invalid`);
   the rollback discards the temporary table. Records equal on `ts`, item and
   `ms_played` are one play: duplicates across files are collapsed there.
2. Sort every staged record into exactly one outcome:
   - `present`: its identity is already stored (a play, or a record merged before);
   - `merged_api`: it is a play the Web API ingestion already stored. Extended
     record: same user, same track id, `|api played_at - ts| <=
     EXPORT_API_MATCH_SECONDS`. Account-data record: same track and primary
     artist names, API `played_at` within one minute plus that window of `endTime`;
   - `merged_export`: an Account-data record that is the same play as an Extended
     record (same track name and `ms_played`, `ts` within one minute of `endTime`),
     in either order of import;
   - `merged_scrobble`: a Spotify export record that is the same listen as a stored
     Last.fm or ListenBrainz play, or a scrobble that is the same listen as a stored
     play of the other scrobble source (same track: Spotify id, or track and artist
     names compared case-insensitively; the starts within `SCROBBLE_MATCH_SECONDS`);
     a scrobble meeting a Web API or Spotify export play counts as `merged_api` or
     `merged_export` by the same rule;
   - `new`: inserted as a play of its own.
   Pairs are one-to-one (closest first). A merged record keeps the stored play
   (its id, identity, `played_at` and `ms_played`) and fills that play's unknown
   fields (skip, platform, shuffle, album name...; a surrogate track id is
   replaced by the record's Spotify id); the record's identity is kept in
   `export_merges`, so importing it again finds it `present`. A Spotify record
   merged into a scrobble gives the play its source, `played_at` and `ms_played`
   too: Spotify knows how long it played, a scrobble does not.
   A scrobble without a length in its file plays for its track's `duration_ms`
   when source knows it, else 0 (`scrobbles_without_length` in the report).
3. Tracks seen get a `tracks` row (names from the latest record; album and artist
   as surrogates when unknown) and tracks with a Spotify id are queued for
   enrichment.
4. The import is recorded in `export_imports` with its report. An import that
   changes nothing rolls back: re-importing the same export leaves source as it was.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from psycopg.types.json import Jsonb
from tqdm import tqdm

from ingestion.export_reader import (
    ROW_COLUMNS,
    SCROBBLE_SOURCES,
    SURROGATE_PREFIX,
    ExportData,
    ExportLimits,
    read_export,
    surrogate_id,
)
from warehouse.db import connect, copy_into, copy_rows
from warehouse.settings import Settings, get_settings, validate_timezone

log = logging.getLogger(__name__)


class ExportImportError(RuntimeError):
    """The import cannot run (unknown user...); nothing was written."""


@dataclass
class ImportReport:
    user_id: str
    files: list[dict]
    ignored_files: dict[str, str]
    records_read: int
    skipped: dict[str, int]
    duplicates: int
    already_present: int
    merged_api: int
    merged_export: int
    loaded: dict[str, int]  # content type -> new plays
    tracks_changed: int = 0
    queued_for_enrichment: int = 0
    import_id: int | None = None  # None: nothing changed, nothing written
    seconds: float = 0.0
    previous_import_id: int | None = None  # an earlier import of the very same files
    deleted_before: int = 0  # records of plays the user deleted (ingestion/deletions.py): never loaded again
    merged_scrobble: int = 0  # merged with a Last.fm or ListenBrainz play (or a scrobble with the other one's)
    unresolved: int = 0  # new plays of name-only tracks (no Spotify id yet: `ingestion.resolve_names`)
    scrobbles_without_length: int = 0  # new scrobbles of 0 ms: their length neither the file nor source knows

    @property
    def plays_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def accounted(self) -> int:
        """Records with an outcome; always equals records_read."""
        return (sum(self.skipped.values()) + self.duplicates + self.already_present + self.deleted_before
                + self.merged + self.plays_loaded)

    @property
    def merged(self) -> int:
        return self.merged_api + self.merged_export + self.merged_scrobble

    def as_dict(self) -> dict:
        return asdict(self) | {"plays_loaded": self.plays_loaded}

    def __str__(self) -> str:
        loaded = ", ".join(f"{n:,} {kind}s" for kind, n in sorted(self.loaded.items()) if n) or "none"
        lines = [
            f"import of {len(self.files)} file(s) for user {self.user_id}"
            + (f": import {self.import_id}" if self.import_id else ": nothing new, nothing written"),
            *(f"  {f['name']}: {f['format'] or 'empty'}, {f['records']:,} records" for f in self.files),
            *(f"  ignored {name}: {why}" for name, why in self.ignored_files.items()),
            f"records read         {self.records_read:>9,}",
            f"plays loaded         {self.plays_loaded:>9,}  ({loaded})",
            f"duplicates in export {self.duplicates:>9,}",
            f"already imported     {self.already_present:>9,}",
            f"deleted by the user  {self.deleted_before:>9,}",
            f"merged with API      {self.merged_api:>9,}",
            f"merged across formats{self.merged_export:>9,}",
            f"merged with scrobbles{self.merged_scrobble:>9,}",
            f"name-only (unresolved) {self.unresolved:>7,}  plays whose track has no Spotify id yet",
            *([f"length unknown       {self.scrobbles_without_length:>9,}  scrobbles counted with 0 ms"]
              if self.scrobbles_without_length else []),
            *(f"skipped: {reason}  {n:,}" for reason, n in sorted(self.skipped.items())),
            f"tracks, albums, artists new or updated {self.tracks_changed:,}; tracks queued for enrichment "
            f"{self.queued_for_enrichment:,}",
            f"in {self.seconds:.1f} s",
        ]
        if self.previous_import_id:
            lines.insert(1, f"  (these exact files were imported before as import {self.previous_import_id})")
        return "\n".join(lines)


STAGE_TYPES = {
    "played_at": "timestamptz", "offline_timestamp": "double precision", "ms_played": "integer",
    "shuffle": "boolean", "skipped": "boolean", "offline": "boolean", "incognito_mode": "boolean",
}
STAGE_DDL = ", ".join(f"{c} {STAGE_TYPES.get(c, 'text')}" for c in ROW_COLUMNS)
PLAY_COLUMNS = ", ".join(ROW_COLUMNS)
# The stage holds offline_timestamp as Unix seconds (cheaper to COPY than a timestamp).
STAGE_VALUES = PLAY_COLUMNS.replace("offline_timestamp", "to_timestamp(offline_timestamp)")

# Records whose identity is stored (as a play, or as a record merged into one) leave
# the stage; they are counted.
DELETE_PRESENT = [
    """WITH gone AS (DELETE FROM export_stage s USING plays p
                     WHERE p.user_id = %(user)s AND p.play_key = s.play_key RETURNING s.content_type)
       SELECT content_type, count(*) FROM gone GROUP BY 1""",
    """WITH gone AS (DELETE FROM export_stage s USING export_merges m
                     WHERE m.user_id = %(user)s AND m.play_key = s.play_key RETURNING s.content_type)
       SELECT content_type, count(*) FROM gone GROUP BY 1""",
]
# Records of plays the user deleted leave the stage too: a deletion is for good.
DELETE_DELETED = """DELETE FROM export_stage s USING deleted_plays d
                    WHERE d.user_id = %(user)s AND d.play_key = s.play_key"""
# A stored play absorbs at most one record of each export format.
_FREE = ("NOT EXISTS (SELECT 1 FROM export_merges m WHERE m.play_id = p.play_id "
         "AND m.record_source = s.source) "
         "AND NOT EXISTS (SELECT 1 FROM export_pairs x WHERE x.play_id = p.play_id "
         "AND x.record_source = s.source)")
# Candidate (record, stored play, distance in seconds) pairs, one query per rule. Each staged record
# looks its plays up by index (plays_user_played_at): the LATERAL subquery behind OFFSET 0 is not
# flattened and `_merge` turns sequential scans off, so the plan never depends on the statistics of
# `plays`. Those cannot be trusted inside the import's transaction: the pipeline role cannot ANALYZE a
# table it does not own, and autovacuum may analyze `plays` meanwhile and find it empty (this import's
# plays are not committed), which once made PostgreSQL scan `plays` once per record for hours.


def _candidates(record_source: str, plays: str, window: str, joins: str = "", where: str = "") -> str:
    """Pairs of a new staged track record from `record_source` and a stored play of the user matching `plays`
    (a condition on p and s) within `window` of the record's time, that is still free."""
    return f"""
        SELECT s.play_key, p.play_id, abs(extract(epoch FROM p.played_at - s.played_at)) AS distance
        FROM export_stage s CROSS JOIN LATERAL (
            SELECT p.* FROM plays p
            WHERE p.user_id = %(user)s AND {plays}
              AND p.played_at BETWEEN s.played_at - {window} AND s.played_at + {window}
            OFFSET 0) p {joins}
        WHERE s.status = 'new' AND s.source = '{record_source}' AND s.content_type = 'track' {where}
          AND {_FREE}"""


# Scrobbles: a listen is compared by when it *started* (a scrobble's own time), its track by Spotify id or
# by names folded alike (lower case of the NFC form) on both sides; the stored play's names are its own or,
# when it has none, its track's and primary artist's. Stored plays of at most an hour are looked up.
SCROBBLE_MATCH_SECONDS = 120
_START = "({0}.played_at - {0}.ms_played * interval '1 millisecond')"
_FOLD = 'lower(normalize({}, NFC) COLLATE "und-x-icu")'  # the clusters' C locale lowers ASCII only
_SAME_TRACK = (f"AND (p.track_id = s.track_id OR ({_FOLD.format('coalesce(p.track_name, t.name)')} = "
               f"{_FOLD.format('s.track_name')} AND {_FOLD.format('coalesce(p.artist_name, a.name)')} = "
               f"{_FOLD.format('s.artist_name')}))")
_NAMES = "LEFT JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_ids[1]"


def _scrobble_candidates(record_source: str, plays: str) -> str:
    """Pairs of a new staged record and a stored track play of the user matching `plays` that is the same
    listen: the same track, the starts at most SCROBBLE_MATCH_SECONDS apart; still free."""
    window = f"interval '{SCROBBLE_MATCH_SECONDS} seconds'"
    s_start, p_start = _START.format("s"), _START.format("p")
    return f"""
        SELECT s.play_key, p.play_id, abs(extract(epoch FROM {p_start} - {s_start})) AS distance
        FROM export_stage s CROSS JOIN LATERAL (
            SELECT p.* FROM plays p
            WHERE p.user_id = %(user)s AND p.content_type = 'track' AND {plays}
              AND p.played_at BETWEEN {s_start} - {window} AND {s_start} + {window} + interval '1 hour'
            OFFSET 0) p {_NAMES}
        WHERE s.status = 'new' AND s.source = '{record_source}' AND s.content_type = 'track' {_SAME_TRACK}
          AND {p_start} BETWEEN {s_start} - {window} AND {s_start} + {window}
          AND {_FREE}"""


SPOTIFY_EXPORTS = ("extended_export", "account_export")
_SCROBBLES = str(SCROBBLE_SOURCES)  # an SQL list of the sources' names
_SAME_EXPORT_PLAY = "p.content_type = 'track' AND p.ms_played = s.ms_played AND p.track_name = s.track_name"
CANDIDATES = {
    ("extended_export", "merged_api"): _candidates(
        "extended_export", "p.source = 'api' AND p.track_id = s.track_id", "%(window)s"),
    ("extended_export", "merged_export"): _candidates(
        "extended_export", f"p.source = 'account_export' AND {_SAME_EXPORT_PLAY}", "interval '1 minute'"),
    ("account_export", "merged_export"): _candidates(
        "account_export", f"p.source = 'extended_export' AND {_SAME_EXPORT_PLAY}", "interval '1 minute'"),
    ("account_export", "merged_api"): _candidates(
        "account_export", "p.source = 'api'", "(interval '1 minute' + %(window)s)",
        joins="LEFT JOIN tracks t ON t.track_id = p.track_id LEFT JOIN artists a ON a.artist_id = t.artist_ids[1]",
        where="AND coalesce(p.track_name, t.name) = s.track_name AND coalesce(p.artist_name, a.name) = s.artist_name"),
    **{(source, "merged_scrobble"): _scrobble_candidates(source, f"p.source IN {_SCROBBLES}")
       for source in SPOTIFY_EXPORTS},
    **{(source, outcome): _scrobble_candidates(source, plays)
       for source in SCROBBLE_SOURCES
       for outcome, plays in (("merged_api", "p.source = 'api'"),
                              ("merged_export", f"p.source IN {SPOTIFY_EXPORTS}"),
                              ("merged_scrobble", f"p.source IN {_SCROBBLES} AND p.source <> '{source}'"))},
}
PAIR = """
    INSERT INTO export_pairs (play_key, play_id, record_source, outcome)
    SELECT play_key, play_id, %(source)s, %(outcome)s FROM (
        SELECT c.*,
               row_number() OVER (PARTITION BY play_key ORDER BY distance, play_id) AS by_record,
               row_number() OVER (PARTITION BY play_id ORDER BY distance, play_key) AS by_play
        FROM ({candidates}) c) ranked
    WHERE by_record = 1 AND by_play = 1
"""
# The stored play keeps its identity, time and duration; it gains what it did not know.
_FILL = ("track_name", "artist_name", "album_name", "platform", "conn_country", "reason_start",
         "reason_end", "shuffle", "skipped", "offline", "incognito_mode")
APPLY_MERGES = f"""
    UPDATE plays p SET {", ".join(f"{c} = coalesce(p.{c}, s.{c})" for c in _FILL)},
        offline_timestamp = coalesce(p.offline_timestamp, to_timestamp(s.offline_timestamp)),
        track_id = CASE WHEN p.track_id LIKE '{SURROGATE_PREFIX}%%'
                         AND s.track_id NOT LIKE '{SURROGATE_PREFIX}%%' THEN s.track_id
                        ELSE p.track_id END
    FROM export_pairs x JOIN export_stage s USING (play_key)
    WHERE p.play_id = x.play_id AND x.record_source = %(source)s AND x.outcome = %(outcome)s
      AND s.status = 'new'  -- this round's pairs
"""
# A Spotify record merged into a scrobble: the play takes Spotify's word for when and how long.
TAKE_OVER = """
    UPDATE plays p SET source = s.source, played_at = s.played_at, ms_played = s.ms_played
    FROM export_pairs x JOIN export_stage s USING (play_key)
    WHERE p.play_id = x.play_id AND x.record_source = %(source)s AND x.outcome = 'merged_scrobble'
      AND s.status = 'new'  -- this round's pairs
"""
MARK_MERGED = """
    UPDATE export_stage s SET status = x.outcome FROM export_pairs x
    WHERE x.play_key = s.play_key AND x.record_source = %(source)s AND x.outcome = %(outcome)s
      AND s.status = 'new'
"""
# No ON CONFLICT: present records are marked, and the user's row lock keeps other
# imports of this user out until commit (Web API keys never equal export keys).
INSERT_NEW = f"""
    INSERT INTO plays (user_id, {PLAY_COLUMNS})
    SELECT %(user)s, {STAGE_VALUES} FROM export_stage WHERE status = 'new' AND source = %(source)s
    ORDER BY play_key  -- 'export:<ts>|...': both indexes of plays fill in order
"""
# What the newest export record of each track seen says about it (across all users).
# Stored export and scrobble plays, and this import's Extended records that were merged
# into another play (they are not plays of their own but still name their track).
LATEST_TRACK_FACTS = f"""
    SELECT DISTINCT ON (track_id) track_id, track_name, artist_name, album_name
    FROM (SELECT p.track_id, p.track_name, p.artist_name, p.album_name, p.played_at
          FROM plays p JOIN import_track_ids i USING (track_id)
          WHERE p.source IN ('extended_export', {_SCROBBLES[1:-1]}) OR (p.source = 'account_export'
                                                 AND p.track_id LIKE '{SURROGATE_PREFIX}%%')
          UNION ALL
          SELECT track_id, track_name, artist_name, album_name, played_at FROM export_stage
          WHERE source = 'extended_export' AND content_type = 'track' AND status <> 'new') seen
    ORDER BY track_id, played_at DESC, album_name NULLS LAST
"""
# Tracks with Spotify's own metadata (enriched, or a real album) are never overwritten.
UPSERT_TRACKS = f"""
    INSERT INTO tracks AS t (track_id, name, album_id, artist_ids, is_surrogate)
    SELECT track_id, name, album_id, artist_ids, is_surrogate FROM import_tracks
    ON CONFLICT (track_id) DO UPDATE
    SET name = excluded.name, album_id = excluded.album_id, artist_ids = excluded.artist_ids,
        updated_at = now()
    WHERE t.fetched_at IS NULL
      AND coalesce(t.album_id, '{SURROGATE_PREFIX}') LIKE '{SURROGATE_PREFIX}%%'
      AND coalesce(t.artist_ids[1], '{SURROGATE_PREFIX}') LIKE '{SURROGATE_PREFIX}%%'
      AND (t.name, t.album_id, t.artist_ids) IS DISTINCT FROM
          (excluded.name, excluded.album_id, excluded.artist_ids)
"""
# Scrobbles whose file gave no length play for their track's duration when source knows it (then the
# play ends that long after it started), else for 0 ms.
FILL_DURATIONS = [
    """UPDATE export_stage s SET ms_played = t.duration_ms,
                                played_at = s.played_at + t.duration_ms * interval '1 millisecond'
       FROM tracks t WHERE s.ms_played IS NULL AND t.track_id = s.track_id AND t.duration_ms IS NOT NULL""",
    "UPDATE export_stage SET ms_played = 0 WHERE ms_played IS NULL",
]
QUEUE_TRACKS = """
    INSERT INTO enrichment_queue (entity_type, entity_id)
    SELECT 'track', t.track_id FROM import_tracks i JOIN tracks t USING (track_id)
    WHERE NOT t.is_surrogate AND t.fetched_at IS NULL
    ON CONFLICT DO NOTHING
"""


# The order records are merged and inserted in: Extended first, it knows most; scrobbles last, they
# know least.
SOURCES = ("extended_export", "account_export", *SCROBBLE_SOURCES)


def _ensure_user(conn, user_id: str, create: bool, timezone: str | None) -> None:
    if create:
        if timezone is not None:
            validate_timezone(timezone)
        conn.execute("INSERT INTO users (user_id, display_name, timezone) VALUES (%s, %s, %s) "
                     "ON CONFLICT (user_id) DO NOTHING", (user_id, user_id, timezone))
    found = conn.execute("SELECT 1 FROM users WHERE user_id = %s FOR UPDATE", (user_id,)).fetchone()
    if not found:
        raise ExportImportError(f"user {user_id!r} does not exist in source: log in through the web "
                                "service first, or create it with --create-user [--timezone ZONE]")


def _merge(conn, user_id: str, source: str, window: timedelta) -> None:
    for (record_source, outcome), candidates in CANDIDATES.items():
        if record_source != source:
            continue
        params = {"user": user_id, "window": window, "source": source, "outcome": outcome}
        # Each round pairs the records and plays that are each other's closest; a record whose closest play
        # went to a closer record tries its next one in the following round.
        while True:
            conn.execute("SET LOCAL enable_seqscan = off")  # plays by index, whatever its statistics say
            paired = conn.execute(PAIR.format(candidates=candidates), params).rowcount
            conn.execute("SET LOCAL enable_seqscan = on")
            if not paired:
                break
            conn.execute(APPLY_MERGES, params)
            if source in SPOTIFY_EXPORTS and outcome == "merged_scrobble":
                conn.execute(TAKE_OVER, params)
            conn.execute(MARK_MERGED, params)
            conn.execute("ANALYZE export_pairs")


def _track_rows(facts) -> tuple[list, list, list]:
    tracks, albums, artists = [], {}, {}
    for track_id, name, artist, album in facts:
        artist_ids = []
        if artist:
            artist_ids = [surrogate_id("artist", artist)]
            artists[artist_ids[0]] = (artist_ids[0], artist, True)
        album_id = None
        if album:
            album_id = surrogate_id("album", album, artist)
            albums[album_id] = (album_id, album, artist_ids, True)
        tracks.append((track_id, name or "(no name in the export)", album_id, artist_ids,
                       track_id.startswith(SURROGATE_PREFIX)))
    return tracks, list(albums.values()), list(artists.values())


def _load_metadata(conn, data: ExportData) -> tuple[int, int]:
    copy_rows(conn, "import_track_ids", "track_id text PRIMARY KEY", ((t,) for t in data.tracks))
    facts = conn.execute(LATEST_TRACK_FACTS).fetchall()
    tracks, albums, artists = _track_rows(facts)
    changed = copy_into(conn, "artists", ("artist_id", "name", "is_surrogate"), artists, "(artist_id)")
    changed += copy_into(conn, "albums", ("album_id", "name", "artist_ids", "is_surrogate"),
                          albums, "(album_id)")
    copy_rows(conn, "import_tracks", "track_id text, name text, album_id text, artist_ids text[], "
                                 "is_surrogate boolean", tracks)
    changed += conn.execute(UPSERT_TRACKS).rowcount
    queued = conn.execute(QUEUE_TRACKS).rowcount
    return changed, queued


def _record_import(conn, report: ImportReport, fingerprint: str) -> None:
    """The import in `export_imports` (its report and file hashes), and its merged records in `export_merges`."""
    (report.import_id,) = conn.execute(
        "INSERT INTO export_imports (user_id, fingerprint, files, report) "
        "VALUES (%s, %s, %s, '{}') RETURNING import_id",
        (report.user_id, fingerprint, Jsonb(report.files))).fetchone()
    conn.execute(
        "INSERT INTO export_merges (user_id, play_key, play_id, record_source, import_id) "
        "SELECT %s, play_key, play_id, record_source, %s FROM export_pairs",
        (report.user_id, report.import_id))
    conn.execute("UPDATE export_imports SET report = %s WHERE import_id = %s",
                 (Jsonb(report.as_dict()), report.import_id))


def import_export(paths: list[Path | str], user_id: str, settings: Settings | None = None, *,
                  create_user: bool = False, timezone: str | None = None,
                  progress: bool = False, skip_invalid: bool = False) -> ImportReport:
    """Import the export files under `paths` for `user_id`, all or nothing.

    `skip_invalid`: records outside the source gate's bounds (`ingestion.bounds`) are
    skipped and counted in the report instead of refusing the import.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    window = timedelta(seconds=settings.export_api_match_seconds)
    with connect("source", settings) as conn:
        # Staging tables live in memory (temp_buffers must be set before their first use).
        conn.execute("SET temp_buffers = '512MB'")
        conn.execute("SET work_mem = '64MB'")
        _ensure_user(conn, user_id, create_user, timezone)
        resolved = dict(conn.execute("SELECT surrogate_id, track_id FROM surrogate_resolutions").fetchall())
        # Plays are staged as they are validated; an ExportError rolls the stage back with
        # the transaction. No source table is written before every record passed.
        conn.execute(f"CREATE TEMP TABLE export_stage ({STAGE_DDL}) ON COMMIT DROP")
        with conn.cursor().copy("COPY export_stage FROM STDIN") as copy:
            data = read_export([Path(p) for p in paths], copy.write_row, ExportLimits.from_settings(settings),
                               resolved, progress=progress, skip_invalid=skip_invalid)
        conn.execute("ALTER TABLE export_stage ADD COLUMN status text NOT NULL DEFAULT 'new'")
        for statement in FILL_DURATIONS:
            conn.execute(statement)
        conn.execute("CREATE TEMP TABLE export_pairs (play_key text PRIMARY KEY, play_id bigint, "
                     "record_source text, outcome text) ON COMMIT DROP")
        conn.execute("ANALYZE export_stage")
        steps = tqdm(total=2 + len(SOURCES), desc="loading into source", unit="step", disable=not progress, leave=False)
        present = sum(count for statement in DELETE_PRESENT
                      for _, count in conn.execute(statement, {"user": user_id}))
        deleted_before = conn.execute(DELETE_DELETED, {"user": user_id}).rowcount
        steps.update()
        inserted = 0
        for source in SOURCES:
            _merge(conn, user_id, source, window)
            new = conn.execute(INSERT_NEW, {"user": user_id, "source": source}).rowcount
            if new:  # the plans below must know how many records are left new
                conn.execute("ANALYZE export_stage")
            inserted += new
            steps.update()
        tracks_changed, queued = _load_metadata(conn, data)
        steps.update()
        steps.close()

        outcomes = Counter()
        loaded = Counter()
        unresolved = unknown_length = 0
        for content_type, status, count, surrogates, zero in conn.execute(
                f"SELECT content_type, status, count(*), count(*) FILTER (WHERE track_id LIKE '{SURROGATE_PREFIX}%'), "
                f"count(*) FILTER (WHERE source IN {_SCROBBLES} AND ms_played = 0) FROM export_stage GROUP BY 1, 2"):
            outcomes[status] += count
            if status == "new":
                loaded[content_type] += count
                unresolved += surrogates
                unknown_length += zero
        previous = conn.execute(
            "SELECT max(import_id) FROM export_imports WHERE user_id = %s AND fingerprint = %s",
            (user_id, data.fingerprint)).fetchone()[0]
        report = ImportReport(
            user_id=user_id, files=[asdict(f) for f in data.files], ignored_files=data.ignored_files,
            records_read=data.records_read, skipped=dict(data.skipped), duplicates=data.duplicates,
            already_present=present, deleted_before=deleted_before, merged_api=outcomes["merged_api"],
            merged_export=outcomes["merged_export"], merged_scrobble=outcomes["merged_scrobble"],
            unresolved=unresolved, scrobbles_without_length=unknown_length,
            loaded={kind: loaded[kind] for kind in ("track", "episode", "audiobook")},
            tracks_changed=tracks_changed, queued_for_enrichment=queued, previous_import_id=previous,
        )
        if report.accounted != report.records_read:  # every record has exactly one outcome
            raise ExportImportError(f"the import does not account for every record: {report.as_dict()}")
        if not (inserted or report.merged or tracks_changed or queued):
            conn.rollback()
        else:
            report.seconds = round(time.perf_counter() - started, 1)
            _record_import(conn, report, data.fingerprint)
            conn.commit()
    report.seconds = round(time.perf_counter() - started, 1)
    log.info("%s", report)
    return report
