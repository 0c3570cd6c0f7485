"""The track list of each album, in source's `album_tracks`: the last step of enrichment.

Which albums: those in `albums` that Spotify knows (`fetched_at` set, not a
surrogate) and whose list is not stored yet, the albums of this run's plays
first, then any other, at most TRACK_LISTS_PER_RUN per run; an album whose list
was refused MAX_ATTEMPTS times is left alone (`enrichment_queue`, entity type
`album_tracks`, says why).

How: `GET /v1/albums/{id}/tracks` (spotipy's `album_tracks`) page by page,
`limit=50` and the offset we compute (never the answer's `next` URL), through
the same client as the rest of enrichment (`SpotifyApi.call`: short Retry-After
waited, 5xx retried, an expired token refreshed). The whole list of one album is
checked, then stored in one transaction, or not at all:

- a long rate limit or an unavailable Spotify stops the step (the run reports
  it); the album has no list and the next run starts it again from offset 0;
- an answer we refuse (a field missing or of the wrong type, more items than
  `total`, `total` changing between pages, a page ending early, two tracks at
  the same disc and track number, a text the database cannot hold) raises
  `TrackListRefused`, naming the album and the field: nothing of the album is
  stored, the refusal is logged and queued, the step goes on with the next
  album; so does a 400, 403 or 404 for one album.

Memory: one album's rows at a time, at most MAX_ALBUM_TRACKS (a larger `total`
is refused before any row is read).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
import spotipy

from ingestion.answers import INT_MAX, Refused, integer, page_items, text
from ingestion.bounds import MS_PLAYED_MAX
from ingestion.enrichment_queue import MAX_ATTEMPTS, record_failures
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable

log = logging.getLogger(__name__)
ENTITY = "album_tracks"  # its entity type in enrichment_queue
PAGE = 50  # Spotify's largest `limit`
TRACK_LISTS_PER_RUN = 50  # albums per run: each costs one call per 50 tracks
MAX_ALBUM_TRACKS = 5_000  # larger lists are refused: one album's rows stay small in memory

COLUMNS = ("album_id", "disc_number", "track_number", "track_id", "name", "duration_ms")


class TrackListRefused(Refused):
    """An answer of `GET /v1/albums/{id}/tracks` we do not store; names the album and the field."""

    what = "album"

    @property
    def album_id(self) -> str:
        return self.subject


@dataclass
class TrackListReport:
    stored: int = 0  # albums whose list was stored by this run
    tracks: int = 0  # rows stored
    calls: int = 0  # pages asked
    refused: list[str] = field(default_factory=list)  # why each album failed, one line each
    stopped: RateLimited | SpotifyUnavailable | None = None


def _integer(album_id: str, name: str, value, low: int, high: int = INT_MAX) -> int:
    return integer(TrackListRefused, album_id, name, value, low, high)


def _text(album_id: str, name: str, value, empty_ok: bool) -> str:
    return text(TrackListRefused, album_id, name, value, empty_ok)


def track_row(album_id: str, index: int, item) -> tuple:
    """The `album_tracks` row of the `index`-th item of the list (0-based over all pages)."""
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise TrackListRefused(album_id, where, f"must be a track object, got {type(item).__name__}")
    for name in ("id", "name", "disc_number", "track_number", "duration_ms"):
        if item.get(name) is None:
            raise TrackListRefused(album_id, f"{where}.{name}", "is missing")
    return (album_id,
            _integer(album_id, f"{where}.disc_number", item["disc_number"], 1),
            _integer(album_id, f"{where}.track_number", item["track_number"], 1),
            _text(album_id, f"{where}.id", item["id"], empty_ok=False),
            _text(album_id, f"{where}.name", item["name"], empty_ok=True),
            _integer(album_id, f"{where}.duration_ms", item["duration_ms"], 0, MS_PLAYED_MAX))


def fetch_track_list(api: SpotifyApi, album_id: str, report: TrackListReport | None = None) -> list[tuple]:
    """Every track of the album as `album_tracks` rows, checked; `TrackListRefused` when an answer is wrong."""
    rows: list[tuple] = []
    places: set[tuple[int, int]] = set()
    total: int | None = None
    while total is None or len(rows) < total:
        offset = len(rows)
        if report is not None:
            report.calls += 1
        page = api.call("album_tracks", album_id, limit=PAGE, offset=offset)
        if not isinstance(page, dict):
            raise TrackListRefused(album_id, "answer", f"must be a paging object, got {type(page).__name__}")
        for name in ("items", "total"):
            if page.get(name) is None:
                raise TrackListRefused(album_id, name, f"is missing (page at offset {offset})")
        page_total = _integer(album_id, "total", page["total"], 0)
        if total is None:
            if page_total > MAX_ALBUM_TRACKS:
                raise TrackListRefused(album_id, "total", f"is {page_total}: more than the {MAX_ALBUM_TRACKS} "
                                                          "tracks we store for one album")
            if page_total == 0:
                raise TrackListRefused(album_id, "total", "is 0: Spotify lists no track of this album")
            total = page_total
        elif page_total != total:
            raise TrackListRefused(album_id, "total", f"changed between pages: {total}, then {page_total} "
                                                      f"(page at offset {offset})")
        items = page_items(TrackListRefused, album_id, page, offset, total, PAGE, "tracks")
        for index, item in enumerate(items, offset):
            row = track_row(album_id, index, item)
            if (row[1], row[2]) in places:
                raise TrackListRefused(album_id, f"items[{index}].track_number",
                                       f"repeats disc {row[1]} track {row[2]}")
            places.add((row[1], row[2]))
            rows.append(row)
    return rows


def store_track_list(conn: psycopg.Connection, album_id: str, rows: list[tuple]) -> int:
    """Store one album's whole list in one transaction; 0 when a list of it is stored already (a retry,
    or another user's run that got there first: the list stored first stays, never a mix of two)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('album_tracks'), hashtext(%s))", (album_id,))
        if conn.execute("SELECT 1 FROM album_tracks WHERE album_id = %s LIMIT 1", (album_id,)).fetchone():
            stored = 0
        else:
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO album_tracks ({', '.join(COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s)",
                                rows)
            stored = len(rows)
        conn.execute("DELETE FROM enrichment_queue WHERE entity_type = %s AND entity_id = %s", (ENTITY, album_id))
    return stored


def _refused(conn: psycopg.Connection, album_id: str, error: str) -> None:
    with conn.transaction():
        record_failures(conn, ENTITY, [album_id], error)


def albums_to_list(conn: psycopg.Connection, first: list[str], limit: int = TRACK_LISTS_PER_RUN) -> list[str]:
    """Albums Spotify knows whose track list is not stored: those of `first` before the others, the least
    tried first, then by id; without those refused MAX_ATTEMPTS times."""
    rows = conn.execute(
        """SELECT a.album_id FROM albums a
           LEFT JOIN enrichment_queue q ON q.entity_type = %(entity)s AND q.entity_id = a.album_id
           WHERE a.fetched_at IS NOT NULL AND NOT a.is_surrogate AND coalesce(q.attempts, 0) < %(attempts)s
             AND NOT EXISTS (SELECT 1 FROM album_tracks t WHERE t.album_id = a.album_id)
           ORDER BY a.album_id = ANY(%(first)s) DESC, coalesce(q.attempts, 0), a.album_id
           LIMIT %(limit)s""",
        {"entity": ENTITY, "attempts": MAX_ATTEMPTS, "first": sorted(first), "limit": limit}).fetchall()
    return [album_id for (album_id,) in rows]


def fetch_track_lists(conn: psycopg.Connection, api: SpotifyApi, first: list[str],
                      limit: int = TRACK_LISTS_PER_RUN) -> TrackListReport:
    """Fetch and store the lists of `albums_to_list`, album by album (see the module's docstring)."""
    report = TrackListReport()
    albums = albums_to_list(conn, first, limit)
    conn.commit()  # no transaction stays open while Spotify is asked
    for album_id in albums:
        try:
            rows = fetch_track_list(api, album_id, report)
        except (RateLimited, SpotifyUnavailable) as exc:
            report.stopped = exc
            log.warning("album track lists stopped at album %s: %s", album_id, exc)
            break
        except TrackListRefused as exc:
            _refused(conn, album_id, str(exc))
            report.refused.append(str(exc))
            log.warning("track list refused, nothing stored: %s", exc)
            continue
        except spotipy.SpotifyException as exc:
            if exc.http_status not in (400, 403, 404):
                raise
            error = f"album {album_id}: Spotify answered {exc.http_status} to its tracks"
            _refused(conn, album_id, error)
            report.refused.append(error)
            log.warning("%s", error)
            continue
        stored = store_track_list(conn, album_id, rows)
        report.stored += stored > 0
        report.tracks += stored
    return report
