"""Reading Spotify personal data exports: find the files, detect the format, validate.

Two formats (docs of `spotify-api.md`, "Personal data exports"), told apart by
the keys of each record, never by the file name:

- Extended streaming history (`Streaming_History_Audio_*.json`, older
  `endsong_*.json`): records with `ts` and `ms_played`; tracks carry a URI,
  podcast episodes and audiobook chapters have null track fields.
- Account data (`StreamingHistory_music_N.json`, older `StreamingHistoryN.json`):
  records with `endTime` (minute precision) and `msPlayed`, names only;
  `StreamingHistory_podcast_N.json` records carry `podcastName`/`episodeName`.

A CSV file whose header names the Extended fields (the plays files of our own
takeout, `ingestion/takeout.py`) is read as Extended records: an empty field is
null, `true`/`false` are flags, digits are numbers.

Listens from elsewhere (docs/imports.md, "From Last.fm and ListenBrainz"):
- Last.fm scrobbles, as CSV the common export tools write: without a header,
  `artist,album,track,date` with dates like `31 Jan 2021 12:34` (UTC, to the
  minute), or with a header naming `uts` (Unix seconds) or `date`/`utc_time`,
  `artist`, `album` and `track` (`title` is taken for `track`);
- ListenBrainz listens, as JSON lines (`.jsonl`, one listen per line) or a JSON
  list: `listened_at` (Unix seconds) and `track_metadata` (`artist_name`,
  `track_name`, `release_name`, and in `additional_info` a `spotify_id` link
  and `duration_ms` or `duration` when the listen carries them).
A scrobble marks when the listen *started*: its play ends that long after, or
its track's duration once known (`ingestion.export_loader`); errors in these
files name the line.

`read_export(paths, write_row, limits)` takes files, folders and zips, validates every
record and hands each play to `write_row` as a row ready for COPY (the first
record of each play identity; later ones are counted as duplicates). A bad
file raises `ExportError` naming the file, the record index and the reason.
IP addresses, user agents and usernames are dropped while reading: they never
reach a row.

Memory stays bounded whatever the upload (`ExportLimits`, from the settings
EXPORT_MAX_FILE_MB, EXPORT_MAX_TOTAL_MB, EXPORT_MAX_COMPRESSION_RATIO): before
anything is read, every file's (or zip member's) declared size, every zip
member's compression ratio and their total are checked; then each file is read
one at a time, at most the file limit plus one byte (a declared size is never
trusted), and the bytes actually read count against the total.
A record outside the source gate's bounds (`ingestion.bounds`) is refused, or
skipped and counted by kind with `skip_invalid`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from tqdm import tqdm

from ingestion.bounds import OutOfBounds, check_ms_played, check_played_at, check_texts
from warehouse.plays import export_play_key, scrobble_play_key
from warehouse.settings import Settings

EXTENDED = "extended"
ACCOUNT = "account"
LASTFM = "lastfm"
LISTENBRAINZ = "listenbrainz"
SCROBBLE_SOURCES = (LASTFM, LISTENBRAINZ)  # plays.source of listens from elsewhere
SURROGATE_PREFIX = "sur:"
# Stage columns: the plays columns an export fills (see ingestion.export_loader).
ROW_COLUMNS = (
    "play_key", "source", "content_type", "played_at", "ms_played", "track_id", "track_name",
    "artist_name", "album_name", "episode_uri", "episode_name", "episode_show_name",
    "audiobook_uri", "audiobook_title", "audiobook_chapter_uri", "audiobook_chapter_title",
    "platform", "conn_country", "reason_start", "reason_end", "shuffle", "skipped", "offline",
    "offline_timestamp", "incognito_mode",
)
TRACK_ID = ROW_COLUMNS.index("track_id")
PLAY_KEY = ROW_COLUMNS.index("play_key")

# Keys every record of a format must have (values may be null where the format allows).
EXTENDED_KEYS = ("ts", "ms_played", "master_metadata_track_name",
                 "master_metadata_album_artist_name", "master_metadata_album_album_name",
                 "spotify_track_uri", "spotify_episode_uri")
ACCOUNT_MUSIC_KEYS = ("endTime", "artistName", "trackName", "msPlayed")
ACCOUNT_PODCAST_KEYS = ("endTime", "podcastName", "episodeName", "msPlayed")
# Names of history files, only used to decide whether an odd JSON file found in
# a folder or zip is history (then it must be valid) or another part of the export.
HISTORY_NAME = re.compile(r"(StreamingHistory|Streaming_History|endsong)[^/]*\.json$", re.I)

_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
_END_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d\Z")
_TRACK_URI = re.compile(r"spotify:track:([0-9A-Za-z]{22})\Z")
_TRACK_LINK = re.compile(r"(?:https?://open\.spotify\.com/track/|spotify:track:)([0-9A-Za-z]{22})(?:\?[^\s]*)?\Z")
# Last.fm dates as the export tools write them: `31 Jan 2021 12:34` or `31 Jan 2021, 12:34` (UTC).
_LASTFM_DATE = re.compile(r"(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}),? (\d\d):(\d\d)\Z")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
# Last.fm CSV headers: the column names each field may have.
_LASTFM_COLUMNS = {"artist": ("artist", "artist_name"), "track": ("track", "title", "track_name"),
                   "album": ("album", "album_name", "release"), "uts": ("uts", "timestamp"),
                   "date": ("date", "utc_time")}
MB = 2**20
# Zip members smaller than this are not held to the compression ratio (tiny files compress oddly).
RATIO_CHECK_ABOVE = MB
# A Spotify export zip holds a few dozen files; reading a zip's directory costs memory per entry,
# so one with more entries than this is refused before its directory is read.
MAX_ZIP_ENTRIES = 10_000
# offline_timestamp: seconds or milliseconds (values > 2e9 are ms); earlier than
# 2000-01-01 is junk (Spotify writes 0 or tiny values) and is stored as NULL.
_OFFLINE_MS_ABOVE = 2_000_000_000
_OFFLINE_MIN_SECONDS = 946_684_800


class ExportError(ValueError):
    """A file of the export is not a valid streaming history; names file, record and reason."""

    def __init__(self, file: str, reason: str, index: int | None = None, line: int | None = None):
        self.file, self.reason, self.index, self.line = file, reason, index, line
        where = (f"{file}: line {line}" if line is not None else
                 f"{file}: record {index}" if index is not None else file)
        super().__init__(f"{where}: {reason}")


def surrogate_id(kind: str, *names: str | None) -> str:
    """Stable id of a track, album or artist known by names only.

    track: (artist name, track name); album: (album name, album artist name);
    artist: (name,). Same names, same id, in every import and on every machine.
    """
    joined = "\x1f".join(name or "" for name in names)
    return f"{SURROGATE_PREFIX}{kind}:{hashlib.sha256(joined.encode()).hexdigest()[:24]}"


@dataclass
class ExportFile:
    name: str
    sha256: str
    format: str | None  # EXTENDED, ACCOUNT, LASTFM, LISTENBRAINZ, or None for an empty list
    records: int


@dataclass
class ExportData:
    """Every record of an export, accounted for."""

    files: list[ExportFile] = field(default_factory=list)
    ignored_files: dict[str, str] = field(default_factory=dict)  # name -> why
    records_read: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> records
    duplicates: int = 0
    keys: set[str] = field(default_factory=set)  # play identities written (first of each)
    tracks: set[str] = field(default_factory=set)  # ids of the tracks played

    @property
    def fingerprint(self) -> str:
        """The same set of files (by content) gives the same fingerprint."""
        return hashlib.sha256("".join(sorted(f.sha256 for f in self.files)).encode()).hexdigest()


@dataclass(frozen=True)
class ExportLimits:
    """How much an export may hold; an export over one is refused before it is read."""

    max_file_bytes: int
    max_total_bytes: int
    max_compression_ratio: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportLimits:
        return cls(settings.export_max_file_mb * MB, settings.export_max_total_mb * MB,
                   settings.export_max_compression_ratio)


# -- finding the files ---------------------------------------------------------

@dataclass(frozen=True)
class _Candidate:
    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]
    explicit: bool  # named by the user (must be history) or found in a folder/zip
    size: int  # as declared (zip) or found (file): checked first, never trusted when reading
    compressed: int | None = None  # zip members: the size stored in the zip


_SUFFIXES = (".json", ".jsonl", ".csv")


def zip_entry_count(path: Path) -> int | None:
    """The entry count the zip's end-of-central-directory record declares (zip64 too), read from the
    file's last 64 kB; None when there is no such record (zipfile then says what is wrong)."""
    with open(path, "rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - 65_557))  # the record (22 bytes) and a comment of at most 65,535
        tail = file.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    zip64 = tail.rfind(b"PK\x06\x06", 0, at)
    if entries == 0xFFFF and zip64 >= 0 and len(tail) >= zip64 + 40:
        (entries,) = struct.unpack_from("<Q", tail, zip64 + 32)
    return entries


def _zip_candidates(path: Path, explicit: bool) -> list[_Candidate]:
    entries = zip_entry_count(path)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise ExportError(str(path), f"the zip declares {entries:,} entries, more than {MAX_ZIP_ENTRIES:,}: "
                                     "not a Spotify export")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ExportError(str(path), f"not a readable zip file ({exc})") from None
    found = []
    with archive:
        for info in archive.infolist():
            member = info.filename
            if info.is_dir() or not member.lower().endswith(_SUFFIXES) or "__MACOSX/" in member:
                continue
            found.append(_Candidate(f"{path}:{member}", _zip_opener(path, member), False, info.file_size,
                                    info.compress_size))
    if explicit and not found:
        raise ExportError(str(path), "the zip holds no JSON, JSON lines or CSV file")
    return found


def _zip_opener(path: Path, member: str) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    @contextmanager
    def open_member():
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            yield stream
    return open_member


def _file_opener(path: Path) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    return lambda: path.open("rb")


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB" if size >= MB // 10 else f"{size:,} bytes"


def check_limits(candidates: list[_Candidate], limits: ExportLimits, where: str) -> None:
    """Refuse, before reading anything, files or zip members that declare too much."""
    total = 0
    for c in candidates:
        if c.size > limits.max_file_bytes:
            raise ExportError(c.name, f"{_mb(c.size)} uncompressed, more than the limit for one file "
                                      f"(EXPORT_MAX_FILE_MB={limits.max_file_bytes // MB})")
        if (c.compressed is not None and c.size > RATIO_CHECK_ABOVE
                and c.size > limits.max_compression_ratio * max(c.compressed, 1)):
            raise ExportError(c.name, f"expands {c.size / max(c.compressed, 1):,.0f} times ({_mb(c.compressed)} to "
                                      f"{_mb(c.size)}), more than EXPORT_MAX_COMPRESSION_RATIO="
                                      f"{limits.max_compression_ratio}: not a Spotify export")
        total += c.size
    if total > limits.max_total_bytes:
        raise ExportError(where, f"{_mb(total)} of JSON in all, more than "
                                 f"EXPORT_MAX_TOTAL_MB={limits.max_total_bytes // MB}")


def _read_capped(candidate: _Candidate, limit: int) -> bytes:
    """At most `limit` bytes of the file, whatever its declared size; over it, ExportError."""
    try:
        with candidate.open() as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        where = "from the zip " if candidate.compressed is not None else ""
        raise ExportError(candidate.name, f"cannot be read {where}({exc})") from None
    if len(data) > limit:
        raise ExportError(candidate.name, f"holds more than its declared size and the limit for one file "
                                          f"(EXPORT_MAX_FILE_MB={limit // MB})")
    return data


def find_files(paths: list[Path]) -> list[_Candidate]:
    """JSON files named, found in folders (recursively) or inside zips, sorted by name."""
    found: list[_Candidate] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in _SUFFIXES:
                    found.append(_Candidate(str(child), _file_opener(child), False, child.stat().st_size))
                elif child.is_file() and child.suffix.lower() == ".zip":
                    found += _zip_candidates(child, False)
        elif path.is_file() and zipfile.is_zipfile(path):
            found += _zip_candidates(path, True)
        elif path.is_file():
            found.append(_Candidate(str(path), _file_opener(path), True, path.stat().st_size))
        else:
            raise ExportError(str(path), "no such file or folder")
    if not found:
        raise ExportError(", ".join(map(str, paths)), "no JSON, JSON lines or CSV file found")
    return sorted(found, key=lambda c: c.name)


# -- parsing -------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


def _locate_json_error(name: str, text: str, exc: json.JSONDecodeError) -> ExportError:
    """Which record of a top-level array breaks the JSON (truncated files, stray bytes)."""
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()
    if not text.startswith("[", pos):
        return ExportError(name, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    pos = _WS.match(text, pos + 1).end()
    index = 0
    while True:
        try:
            _, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as inner:
            cut = inner.pos >= len(text.rstrip()) or inner.msg.startswith("Unterminated")
            what = "truncated" if cut else f"not valid JSON ({inner.msg})"
            return ExportError(name, f"{what} at line {inner.lineno} column {inner.colno}", index)
        pos = _WS.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()
            index += 1
            continue
        if pos >= len(text):
            return ExportError(name, "truncated: the file ends inside the list", index)
        return ExportError(name, f"not valid JSON after this record: {exc.msg} at line "
                                 f"{exc.lineno} column {exc.colno}", index)


def _load_json(name: str, data: bytes):
    text = _text(name, data)
    try:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _locate_json_error(name, text, exc) from None
    except RecursionError:
        raise ExportError(name, "not a streaming history: JSON nested too deeply") from None


_CSV_NUMBERS = frozenset({"ms_played", "offline_timestamp"})
_CSV_FLAGS = {"true": True, "false": False}


def _csv_value(key: str, text: str):
    if text == "":
        return None
    if key in _CSV_NUMBERS and text.isascii() and text.isdigit():
        return int(text)
    if key in _EXT_FLAGS:
        return _CSV_FLAGS.get(text.lower(), text)
    return text


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportError(name, f"not UTF-8 text (byte {exc.start})") from None


def _lastfm_header(header: list[str]) -> dict[str, int] | None:
    """Where each Last.fm field is in a header row, or None when the row is not a Last.fm header."""
    names = [h.strip().lower() for h in header]
    found = {field: next((names.index(n) for n in options if n in names), None)
             for field, options in _LASTFM_COLUMNS.items()}
    if found["artist"] is None or found["track"] is None or (found["uts"] is None and found["date"] is None):
        return None
    return {field: at for field, at in found.items() if at is not None}


def _load_csv(name: str, data: bytes) -> tuple[list[dict], list[int] | None]:
    """The rows of a CSV file as records, and the line each starts on (Last.fm files; None for Extended
    rows, whose errors name the record). A header with the Extended fields gives Extended records typed
    as the module's doc says; a Last.fm header, or a first row that is a headerless scrobble, Last.fm
    records; any other header, records with its keys (not a streaming history)."""
    reader = csv.reader(io.StringIO(_text(name, data), newline=""), strict=True)
    rows, lines = [], []
    try:
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ExportError(name, f"not valid CSV ({exc})", line=reader.line_num) from None
    if not rows:
        return [], None
    header = rows[0]
    if len(header) == 4 and _LASTFM_DATE.match(header[3].strip()):  # headerless Last.fm
        columns, first = {"artist": 0, "album": 1, "track": 2, "date": 3}, 0
    elif "ts" in header and "ms_played" in header:
        return [{key: _csv_value(key, value) for key, value in zip(header, row, strict=False)}
                for row in rows[1:]], None
    else:
        columns, first = _lastfm_header(header), 1
        if columns is None:
            return [dict(zip(header, row, strict=False)) for row in rows[1:]], None
    width = len(header)
    records, where = [], []
    for row, line in zip(rows[first:], lines[first:], strict=True):
        if not row:
            continue
        if len(row) != width:
            raise ExportError(name, f"{len(row)} fields where the file has {width}", line=line)
        records.append({field: row[at] for field, at in columns.items()})
        where.append(line)
    return records, where


def _load_jsonl(name: str, data: bytes) -> tuple[list, list[int]]:
    """JSON lines: one JSON value a line (blank lines skipped), and the line of each."""
    records, lines = [], []
    for number, line in enumerate(_text(name, data).splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ExportError(name, f"not valid JSON ({exc.msg} at column {exc.colno})", line=number) from None
        except RecursionError:
            raise ExportError(name, "JSON nested too deeply", line=number) from None
        lines.append(number)
    return records, lines


def _record_format(record) -> str | None:
    if not isinstance(record, dict):
        return None
    if "ts" in record or "ms_played" in record:
        return EXTENDED
    if "endTime" in record or "msPlayed" in record:
        return ACCOUNT
    if "listened_at" in record or "track_metadata" in record:
        return LISTENBRAINZ
    if "track" in record and ("uts" in record or "date" in record):
        return LASTFM
    return None


# -- validating one record -----------------------------------------------------

class _Bad(Exception):
    """A record-level problem; the caller adds file and index."""


# Extended records: text fields (str or null) and flags (bool or null), read in bulk.
_EXT_TEXT = ("spotify_track_uri", "spotify_episode_uri", "audiobook_chapter_uri", "audiobook_uri",
             "master_metadata_track_name", "master_metadata_album_artist_name",
             "master_metadata_album_album_name", "episode_name", "episode_show_name",
             "audiobook_title", "audiobook_chapter_title",
             "platform", "conn_country", "reason_start", "reason_end")
_EXT_FLAGS = ("shuffle", "skipped", "offline", "incognito_mode")
_EXT_REQUIRED = frozenset(EXTENDED_KEYS)
_TEXT_TYPES = frozenset({str, type(None)})
_FLAG_TYPES = frozenset({bool, type(None)})
_NO_CONTENT = "no track, episode or audiobook in the record"


def _check_types(record: dict, keys: tuple[str, ...], values: list, allowed: frozenset, what: str) -> None:
    if not set(map(type, values)) <= allowed:
        key, value = next((k, v) for k, v in zip(keys, values, strict=True) if type(v) not in allowed)
        raise _Bad(f"{key} must be {what}, got {value!r}")


def _ms(value, key: str) -> int:
    if type(value) is not int:
        raise _Bad(f"{key} must be a whole number of milliseconds >= 0, got {value!r}")
    return value


def _require(record: dict, keys: tuple[str, ...], required: frozenset | None = None) -> None:
    if not record.keys() >= (required or set(keys)):
        missing = [k for k in keys if k not in record]
        raise _Bad(f"missing key {', '.join(map(repr, missing))}")


def _offline_seconds(value) -> float | None:
    """`offline_timestamp` as Unix seconds: seconds or ms in the export, junk -> None."""
    if value is None:
        return None
    if type(value) not in (int, float):
        raise _Bad(f"offline_timestamp must be a number or null, got {value!r}")
    seconds = value / 1000 if value > _OFFLINE_MS_ABOVE else value
    return seconds if _OFFLINE_MIN_SECONDS <= seconds <= 4_102_444_800 else None  # 2000 .. 2100


def _parse_ts(value) -> datetime:
    if type(value) is not str or not _TS.match(value):
        raise _Bad(f"ts must look like 2023-06-04T22:06:13Z, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"ts is not a real instant: {value!r}") from None


def _from_unix(seconds: int, key: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise _Bad(f"{key} is not a real instant: {seconds!r}") from None


def _lastfm_date(value: str) -> datetime:
    match = _LASTFM_DATE.match(value)
    if match is None or match.group(2) not in _MONTHS:
        raise _Bad(f"date must look like 31 Jan 2021 12:34, got {value!r}")
    day, month, year, hour, minute = match.groups()
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), tzinfo=UTC)
    except ValueError:
        raise _Bad(f"date is not a real instant: {value!r}") from None


def _parse_end_time(value) -> datetime:
    if type(value) is not str or not _END_TIME.match(value):
        raise _Bad(f"endTime must look like 2023-06-04 22:06, got {value!r}")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise _Bad(f"endTime is not a real instant: {value!r}") from None


class _Reader:
    """Turns validated records into rows; keeps the first of each play identity."""

    def __init__(self, data: ExportData, write_row: Callable[[tuple], None], resolved: dict[str, str],
                 limits: ExportLimits, skip_invalid: bool):
        self.data = data
        self.write_row = write_row
        self.resolved = resolved  # surrogate track id -> Spotify id resolved earlier
        self.limits = limits
        self.bytes_read = 0
        self.skip_invalid = skip_invalid  # out of bounds: skipped and counted, not refused
        self.now = datetime.now(UTC)  # "in the future" is after the import started (and the tolerance)
        # Names repeat across hundreds of thousands of records: keep one copy each.
        self._intern = {}.setdefault

    def _add(self, row: tuple) -> None:
        keys = self.data.keys
        if row[PLAY_KEY] in keys:
            self.data.duplicates += 1
        else:
            keys.add(row[PLAY_KEY])
            self.write_row(row)
            if row[TRACK_ID] is not None:
                self.data.tracks.add(row[TRACK_ID])

    def _surrogate_track(self, artist: str | None, name: str | None) -> str:
        surrogate = surrogate_id("track", artist, name)
        return self.resolved.get(surrogate, surrogate)

    def extended(self, record: dict) -> None:
        _require(record, EXTENDED_KEYS, _EXT_REQUIRED)
        get = record.get
        texts = [get(k) for k in _EXT_TEXT]
        _check_types(record, _EXT_TEXT, texts, _TEXT_TYPES, "a string or null")
        flags = [get(k) for k in _EXT_FLAGS]
        _check_types(record, _EXT_FLAGS, flags, _FLAG_TYPES, "true, false or null")
        intern = self._intern
        (track_uri, episode_uri, chapter_uri, book_uri, track, artist, album, episode, show,
         book, chapter, *common) = [v if v is None else intern(v, v) for v in texts]
        played_at = _parse_ts(record["ts"])
        ms = _ms(record["ms_played"], "ms_played")
        shuffle, skipped, offline, incognito = flags
        tail = (*common, shuffle, skipped, offline, _offline_seconds(get("offline_timestamp")), incognito)
        if track_uri is not None:
            match = _TRACK_URI.match(track_uri)
            if match:
                item, track_id = track_uri, match.group(1)
            elif track_uri.startswith("spotify:local:"):  # a local file: known by names
                item, track_id = f"{artist or ''}|{track or ''}", self._surrogate_track(artist, track)
            else:
                raise _Bad(f"spotify_track_uri is not a Spotify track URI: {track_uri!r}")
            content = ("track", track_id, track, artist, album, None, None, None, None, None, None, None)
        elif episode_uri is not None:
            item = episode_uri
            content = ("episode", None, None, None, None, episode_uri, episode, show, None, None, None, None)
        elif chapter_uri is not None or book_uri is not None:
            item = chapter_uri or book_uri
            content = ("audiobook", None, None, None, None, None, None, None, book_uri, book, chapter_uri,
                       chapter)
        elif track is not None:  # names but no URI (local files in old exports)
            item = f"{artist or ''}|{track}"
            content = ("track", self._surrogate_track(artist, track), track, artist, album,
                       None, None, None, None, None, None, None)
        else:
            self.data.skipped[_NO_CONTENT] += 1
            return
        self._in_bounds(played_at, "ts", ms, "ms_played", _EXT_TEXT, texts)
        self._add((export_play_key(played_at, item, ms), "extended_export", content[0], record["ts"], ms,
                   *content[1:], *tail))

    def account(self, record: dict) -> None:
        podcast = "podcastName" in record or "episodeName" in record
        keys = ACCOUNT_PODCAST_KEYS if podcast else ACCOUNT_MUSIC_KEYS
        _require(record, keys)
        first, second = record[keys[1]], record[keys[2]]
        _check_types(record, keys[1:3], [first, second], _TEXT_TYPES, "a string or null")
        played_at = _parse_end_time(record["endTime"])
        ms = _ms(record["msPlayed"], "msPlayed")
        if first is None and second is None:
            self.data.skipped[_NO_CONTENT] += 1
            return
        self._in_bounds(played_at, "endTime", ms, "msPlayed", keys[1:3], [first, second])
        first = first if first is None else self._intern(first, first)
        at = played_at.isoformat()
        key = export_play_key(played_at, f"{first or ''}|{second or ''}", ms)
        unknown = (None,) * 9  # platform .. incognito_mode: Account data does not say
        if podcast:
            self._add((key, "account_export", "episode", at, ms, None, None, None, None, None,
                       second, first, None, None, None, None, *unknown))
        else:
            name = second if second is None else self._intern(second, second)
            self._add((key, "account_export", "track", at, ms, self._surrogate_track(first, name), name,
                       first, None, None, None, None, None, None, None, None, *unknown))

    def lastfm(self, record: dict) -> None:
        artist, track, album = (record.get(k, "").strip() for k in ("artist", "track", "album"))
        if not artist or not track:
            raise _Bad(f"a scrobble needs an artist and a track, got artist {artist!r}, track {track!r}")
        if "uts" in record:
            uts = record["uts"].strip()
            if not (uts.isascii() and uts.isdigit()):
                raise _Bad(f"uts must be a Unix time in seconds, got {uts!r}")
            started = _from_unix(int(uts), "uts")
        else:
            started = _lastfm_date(record["date"].strip())
        self._scrobble(LASTFM, started, "uts" if "uts" in record else "date", None, "", None,
                       ("artist", "track", "album"), [artist, track, album or None])

    def listenbrainz(self, record: dict) -> None:
        at = record.get("listened_at")
        if type(at) is not int:
            raise _Bad(f"listened_at must be a Unix time in whole seconds, got {at!r}")
        meta = record.get("track_metadata")
        if not isinstance(meta, dict):
            raise _Bad(f"track_metadata must be an object, got {meta!r}")
        keys = ("track_metadata.artist_name", "track_metadata.track_name", "track_metadata.release_name")
        texts = [meta.get(k.split(".")[1]) for k in keys]
        _check_types(meta, keys, texts, _TEXT_TYPES, "a string or null")
        if not texts[0] or not texts[1]:
            raise _Bad("a listen needs track_metadata.artist_name and track_metadata.track_name")
        info = meta.get("additional_info") or {}
        if not isinstance(info, dict):
            raise _Bad(f"track_metadata.additional_info must be an object, got {info!r}")
        ms_key = "track_metadata.additional_info.duration_ms"
        ms = info.get("duration_ms")
        if ms is None and info.get("duration") is not None:
            ms_key = ms_key.removesuffix("_ms")
            ms = _ms(info["duration"], ms_key) * 1000
        elif ms is not None:
            ms = _ms(ms, ms_key)
        link = info.get("spotify_id")
        track_id = None
        if link is not None:
            match = _TRACK_LINK.match(link) if isinstance(link, str) else None
            if match is None:
                raise _Bad(f"track_metadata.additional_info.spotify_id is not a Spotify track link: {link!r}")
            track_id = match.group(1)
        self._scrobble(LISTENBRAINZ, _from_unix(at, "listened_at"), "listened_at", ms, ms_key, track_id, keys,
                       texts)

    def _scrobble(self, source: str, started: datetime, time_key: str, ms: int | None, ms_key: str,
                  track_id: str | None, keys: tuple[str, ...], texts: list) -> None:
        """A listen that started at `started` (read from `time_key`); `ms` None: its length is not in the
        file (the loader takes the track's duration when known)."""
        artist, track, album = (v if v is None else self._intern(v, v) for v in texts)
        played_at = started + timedelta(milliseconds=ms or 0)
        self._in_bounds(played_at, time_key, ms or 0, ms_key, keys, texts)
        self._add((scrobble_play_key(source, started, artist, track), source, "track", played_at.isoformat(), ms,
                   track_id or self._surrogate_track(artist, track), track, artist, album,
                   *(None,) * 16))

    def _in_bounds(self, played_at: datetime, time_key: str, ms: int, ms_key: str,
                   text_keys: tuple[str, ...], texts: list) -> None:
        """The source gate's bounds (ingestion.bounds); raises OutOfBounds."""
        check_played_at(time_key, played_at, self.now)
        check_ms_played(ms_key, ms)
        check_texts(text_keys, texts)

    def read_file(self, candidate: _Candidate) -> None:
        data = _read_capped(candidate, self.limits.max_file_bytes)
        self.bytes_read += len(data)
        if self.bytes_read > self.limits.max_total_bytes:
            raise ExportError(candidate.name, f"the export holds more than {_mb(self.limits.max_total_bytes)} "
                                              f"of JSON in all (EXPORT_MAX_TOTAL_MB) with this file")
        sha = hashlib.sha256(data).hexdigest()
        lowered = candidate.name.lower()
        lines = None  # the line each record starts on, where errors name lines
        if lowered.endswith(".csv"):
            records, lines = _load_csv(candidate.name, data)
        elif lowered.endswith(".jsonl"):
            records, lines = _load_jsonl(candidate.name, data)
        else:
            records = _load_json(candidate.name, data)
        del data
        looks_like_history = candidate.explicit or HISTORY_NAME.search(candidate.name)
        if not isinstance(records, list):
            if looks_like_history:
                raise ExportError(candidate.name, f"must be a JSON list of records, got a JSON "
                                                  f"{type(records).__name__}")
            self.data.ignored_files[candidate.name] = "not a streaming history (not a list)"
            return
        first = _record_format(records[0]) if records else None
        if records and first is None and not looks_like_history:
            self.data.ignored_files[candidate.name] = "not a streaming history (other keys)"
            return
        readers = {EXTENDED: self.extended, ACCOUNT: self.account, LASTFM: self.lastfm,
                   LISTENBRAINZ: self.listenbrainz}
        for index, record in enumerate(records):
            kind = _record_format(record)
            line = lines[index] if lines is not None else None
            if kind is None:
                what = sorted(record)[:6] if isinstance(record, dict) else type(record).__name__
                raise ExportError(candidate.name, f"not a streaming-history record (keys {what})", index, line)
            try:
                readers[kind](record)
            except _Bad as exc:
                raise ExportError(candidate.name, str(exc), index, line) from None
            except OutOfBounds as exc:
                if not self.skip_invalid:
                    raise ExportError(candidate.name, f"{exc} (outside the source gate's bounds: skip invalid "
                                                      "records to import the rest)", index, line) from None
                self.data.skipped[exc.kind] += 1
        self.data.records_read += len(records)
        self.data.files.append(ExportFile(candidate.name, sha, first, len(records)))


def read_export(paths: list[Path], write_row: Callable[[tuple], None], limits: ExportLimits,
                resolved: dict[str, str] | None = None, progress: bool = False,
                skip_invalid: bool = False) -> ExportData:
    """Read and validate every file; raise ExportError at the first bad one.

    Each play (the first record of each identity, as a `ROW_COLUMNS` tuple) goes
    to `write_row` as soon as it is validated; a caller that writes them must
    discard what it wrote when an ExportError comes (ingestion.export_loader
    stages them in a temporary table of the transaction it rolls back).
    `resolved` maps surrogate track ids to the Spotify ids found for them since.
    `progress` shows a progress bar (bytes read) on the terminal. Nothing is read
    before the declared sizes passed `limits`. `skip_invalid`: a record outside
    the source gate's bounds is skipped and counted (`skipped`, by kind) instead
    of refusing the export.
    """
    data = ExportData()
    reader = _Reader(data, write_row, resolved or {}, limits, skip_invalid)
    candidates = find_files(paths)
    check_limits(candidates, limits, ", ".join(map(str, paths)))
    with tqdm(total=sum(c.size for c in candidates), unit="B", unit_scale=True,
              desc="reading export", disable=not progress, leave=False) as bar:
        for candidate in candidates:
            bar.set_postfix_str(Path(candidate.name).name[-40:], refresh=False)
            reader.read_file(candidate)
            bar.update(candidate.size)
    return data
