"""Your data, taken out: every play of a user and every statistic of every period, in one zip.

`python -m ingestion export --user ID --format csv|json|parquet [--out PATH]` (`make export`) and the account
page's download write the same zip (mode 0600: it is personal data):

- `plays/plays-NNNN.<ext>`: every play in source (tracks, episodes, audiobook chapters), 50,000 a file, in
  the order they were played. The first columns are the Extended streaming history's own (`ts` in whole
  seconds, `ms_played`, `spotify_track_uri`, the names...), so the CSV or JSON files import into an empty
  system as a Spotify export would (`python -m ingestion import`); then ours: the exact `played_at`, the
  local time, the play's id, `source`, `content_type`, `track_id`, `artist_id`, `album_id`, `context_uri`
  and `excluded` (one of the user's exclusion rules matched it at main's last load; docs/metrics.md,
  "What counts"; null for plays main does not hold: audiobooks, and plays newer than its last load).
- `statistics/<statistic>.<ext>`: the user's rows of every published statistic (main's `analytics.*`),
  every period.
- with `json`, `listens.jsonl`: the track plays as ListenBrainz listens (one JSON object a line:
  `listened_at` the Unix second the play started, `track_metadata` with artist, track and release names and
  `additional_info` with the Spotify id, `duration_ms` the time played and `music_service`).

Memory stays bounded: rows stream from server-side cursors a batch at a time, and the excluded flags come
from main in the same play order (a merge, not a lookup table).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.export_reader import SURROGATE_PREFIX
from warehouse.catalog import STATISTICS
from warehouse.db import connect
from warehouse.settings import Settings, get_settings

FORMATS = ("csv", "json", "parquet")
PLAYS_PER_FILE = 50_000
BATCH = 5_000
PLAY_COLUMNS = (
    # the Extended streaming history's fields
    "ts", "ms_played", "spotify_track_uri", "master_metadata_track_name", "master_metadata_album_artist_name",
    "master_metadata_album_album_name", "spotify_episode_uri", "episode_name", "episode_show_name",
    "audiobook_uri", "audiobook_title", "audiobook_chapter_uri", "audiobook_chapter_title",
    "platform", "conn_country", "reason_start", "reason_end", "shuffle", "skipped", "offline", "incognito_mode",
    # ours
    "played_at", "local_time", "play_id", "source", "content_type", "track_id", "artist_id", "album_id",
    "context_uri", "excluded",
)
PLAY_TYPES = {
    "ms_played": pa.int32(), "shuffle": pa.bool_(), "skipped": pa.bool_(), "offline": pa.bool_(),
    "incognito_mode": pa.bool_(), "played_at": pa.timestamp("ms", tz="UTC"), "local_time": pa.timestamp("ms"),
    "play_id": pa.int64(), "excluded": pa.bool_(),
}
# The statistics' column types (PostgreSQL's type names) in Parquet.
ARROW_TYPES = {"text": pa.string(), "int2": pa.int16(), "int4": pa.int32(), "int8": pa.int64(),
               "float8": pa.float64(), "bool": pa.bool_(), "date": pa.date32(),
               "timestamptz": pa.timestamp("us", tz="UTC")}
ARROW_TYPES |= {f"_{name}": pa.list_(kind) for name, kind in ARROW_TYPES.items()}
PLAY_SCHEMA = pa.schema([(name, PLAY_TYPES.get(name, pa.string())) for name in PLAY_COLUMNS])
# The track's metadata when Spotify's is known, else the names the play came with. A surrogate track (known by
# names only) gets no URI: imported again, its names make the same surrogate.
PLAYS_QUERY = f"""
    SELECT to_char(p.played_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), p.ms_played,
           CASE WHEN p.track_id NOT LIKE '{SURROGATE_PREFIX}%%' THEN 'spotify:track:' || p.track_id END,
           coalesce(t.name, p.track_name), coalesce(a.name, p.artist_name), coalesce(al.name, p.album_name),
           p.episode_uri, p.episode_name, p.episode_show_name, p.audiobook_uri, p.audiobook_title,
           p.audiobook_chapter_uri, p.audiobook_chapter_title, p.platform, p.conn_country, p.reason_start,
           p.reason_end, p.shuffle, p.skipped, p.offline, p.incognito_mode,
           p.played_at, p.played_at AT TIME ZONE coalesce(u.timezone, %(default_timezone)s), p.play_id, p.source,
           p.content_type, p.track_id, t.artist_ids[1], t.album_id, p.context_uri
    FROM plays p JOIN users u USING (user_id)
    LEFT JOIN tracks t ON t.track_id = p.track_id
    LEFT JOIN artists a ON a.artist_id = t.artist_ids[1]
    LEFT JOIN albums al ON al.album_id = t.album_id
    WHERE p.user_id = %(user)s
    ORDER BY p.played_at, p.play_id
"""
EXCLUDED_QUERY = ("SELECT played_at, play_id, excluded FROM fact_play WHERE user_id = %s "
                  "ORDER BY played_at, play_id")


class TakeoutError(ValueError):
    pass


@dataclass
class TakeoutReport:
    user_id: str
    format: str
    path: Path
    plays: int = 0
    statistics: dict[str, int] = field(default_factory=dict)  # statistic -> rows

    def __str__(self) -> str:
        return (f"{self.path}: {self.plays:,} plays of {self.user_id} and {sum(self.statistics.values()):,} rows "
                f"of {len(self.statistics)} statistics ({self.format})")


def _batches(conn: psycopg.Connection, query: str, params, name: str) -> Iterator[list[tuple]]:
    with conn.cursor(name=name) as cursor:
        cursor.itersize = BATCH
        cursor.execute(query, params)
        while rows := cursor.fetchmany(BATCH):
            yield rows


def _with_excluded(plays: Iterator[list[tuple]], flags: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    """Each play row with its `excluded` flag from main: both streams are in (played_at, play_id) order, so
    they merge. A play main lacks gets null; main's facts of plays deleted from source since are passed over."""
    flag_rows = (row for batch in flags for row in batch)
    current = next(flag_rows, None)
    at, play_id = PLAY_COLUMNS.index("played_at"), PLAY_COLUMNS.index("play_id")
    for batch in plays:
        rows = []
        for play in batch:
            key = (play[at], play[play_id])
            while current is not None and current[:2] < key:
                current = next(flag_rows, None)
            rows.append((*play, current[2] if current is not None and current[:2] == key else None))
        yield rows


def _files(batches: Iterator[list[tuple]]) -> Iterator[Iterator[list[tuple]]]:
    """The batches in runs of PLAYS_PER_FILE rows, one file each (each run is read before the next is asked for)."""
    batches = iter(batches)
    while (first := next(batches, None)) is not None:
        yield itertools.chain([first], itertools.islice(batches, PLAYS_PER_FILE // BATCH - 1))


class _Writer:
    """Writes tables into the zip in one format."""

    def __init__(self, archive: zipfile.ZipFile, fmt: str):
        self.archive, self.fmt = archive, fmt

    def table(self, name: str, columns: list[str], batches: Iterator[list[tuple]], schema: pa.Schema) -> int:
        count = 0
        if self.fmt == "parquet":
            # Parquet needs a seekable file: written beside, then stored.
            with tempfile.NamedTemporaryFile(suffix=".parquet") as spool:
                with pq.ParquetWriter(spool.name, schema) as writer:
                    for rows in batches:
                        writer.write_table(pa.Table.from_pylist(
                            [dict(zip(columns, row, strict=True)) for row in rows], schema=schema))
                        count += len(rows)
                self.archive.write(spool.name, f"{name}.parquet")
            return count
        with self.archive.open(f"{name}.{self.fmt}", "w", force_zip64=True) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as out:
            if self.fmt == "csv":
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(columns)
                for rows in batches:
                    writer.writerows([_csv(v) for v in row] for row in rows)
                    count += len(rows)
            else:
                out.write("[")
                for rows in batches:
                    for row in rows:
                        out.write(",\n" if count else "\n")
                        out.write(json.dumps(dict(zip(columns, row, strict=True)), default=_json_default,
                                             ensure_ascii=False))
                        count += 1
                out.write("\n]\n")
        return count


def _csv(value):
    """A CSV field: empty for null, true/false, ISO times, a list as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _json_default(value):
    """Times and dates as ISO text, decimals as numbers."""
    return value.isoformat() if hasattr(value, "isoformat") else float(value)


def _listens(batches: Iterator[list[tuple]]) -> Iterator[str]:
    col = {name: i for i, name in enumerate(PLAY_COLUMNS)}
    for rows in batches:
        for row in rows:
            if row[col["content_type"]] != "track":
                continue
            info = {"duration_ms": row[col["ms_played"]], "music_service": "spotify.com",
                    "submission_client": "spotify-wrapped-anytime"}
            if row[col["spotify_track_uri"]]:
                info["spotify_id"] = "https://open.spotify.com/track/" + row[col["track_id"]]
            started = row[col["played_at"]].timestamp() - row[col["ms_played"]] / 1000
            yield json.dumps({"listened_at": int(started), "track_metadata": {
                "artist_name": row[col["master_metadata_album_artist_name"]],
                "track_name": row[col["master_metadata_track_name"]],
                "release_name": row[col["master_metadata_album_album_name"]], "additional_info": info}},
                ensure_ascii=False) + "\n"


def export_user(user_id: str, fmt: str, out: Path | None = None, settings: Settings | None = None) -> TakeoutReport:
    """Write the user's takeout zip to `out` (default `wrapped-<user>-<format>.zip` here); its report."""
    if fmt not in FORMATS:
        raise TakeoutError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    settings = settings or get_settings()
    out = Path(out or f"wrapped-{user_id}-{fmt}.zip")
    report = TakeoutReport(user_id, fmt, out)
    part = out.with_name(out.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with connect("source", settings) as source, connect("main", settings) as main, \
                os.fdopen(fd, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
            if source.execute("SELECT 1 FROM users WHERE user_id = %s", (user_id,)).fetchone() is None:
                raise TakeoutError(f"user {user_id!r} does not exist")
            writer = _Writer(archive, fmt)
            params = {"user": user_id, "default_timezone": settings.default_timezone}
            plays = _with_excluded(_batches(source, PLAYS_QUERY, params, "takeout_plays"),
                                   _batches(main, EXCLUDED_QUERY, (user_id,), "takeout_flags"))
            for number, chunk in enumerate(_files(plays), start=1):
                report.plays += writer.table(f"plays/plays-{number:04d}", list(PLAY_COLUMNS), chunk, PLAY_SCHEMA)
            if fmt == "json":
                with archive.open("listens.jsonl", "w", force_zip64=True) as raw:
                    for line in _listens(_batches(source, PLAYS_QUERY, params, "takeout_listens")):
                        raw.write(line.encode())
            for name in STATISTICS:
                shape = main.execute(
                    "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = 'analytics' "
                    "AND table_name = %s ORDER BY ordinal_position", (name,)).fetchall()
                schema = pa.schema([(column, ARROW_TYPES[kind]) for column, kind in shape])
                report.statistics[name] = writer.table(
                    f"statistics/{name}", schema.names,
                    _batches(main, f"SELECT * FROM analytics.{name} WHERE user_id = %s ORDER BY 1, 2",
                             (user_id,), f"takeout_{name}"), schema)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    return report
