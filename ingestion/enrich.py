"""Spotify metadata in source: from recently-played items, then by enrichment.

A recently-played item carries a full track object (stored as fetched) with a
simplified album (every column `albums` holds) and simplified artists (id and
name only). Artists, and any track or album known by id only, are enriched:
batch endpoints when allowed (50 tracks, 20 albums, 50 artists per call),
single-item calls when a batch answers 403 (Development Mode). What cannot be
fetched now (a long rate limit, an unknown id, an answer `ingestion.metadata`
refuses) waits in `enrichment_queue`.
Last, the track lists of albums that have none yet (`ingestion.album_tracks`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import psycopg
import spotipy

from ingestion.album_tracks import TrackListReport, fetch_track_lists
from ingestion.enrichment_queue import MAX_ATTEMPTS, record_failures
from ingestion.metadata import CHECK, MetadataRefused
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable

KINDS = ("track", "album", "artist")
TABLES = {"track": ("tracks", "track_id"), "album": ("albums", "album_id"), "artist": ("artists", "artist_id")}
BATCH = {"track": ("tracks", 50), "album": ("albums", 20), "artist": ("artists", 50)}
SINGLE = {"track": "track", "album": "album", "artist": "artist"}
QUEUE_TAKE = 200  # queued ids retried per run

log = logging.getLogger(__name__)


@dataclass
class EnrichReport:
    fetched: Counter = field(default_factory=Counter)
    queued: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)  # answers not stored (queued with the reason)
    single_calls: int = 0
    batch_calls: int = 0
    batch_forbidden: bool = False
    stopped: RateLimited | SpotifyUnavailable | None = None  # why enrichment stopped early
    track_lists: TrackListReport = field(default_factory=TrackListReport)


def _image(obj: dict) -> str | None:
    images = obj.get("images") or []
    return images[0]["url"] if images else None


def track_row(track: dict) -> tuple:
    return (track["id"], track["name"], (track.get("album") or {}).get("id"),
            [a["id"] for a in track.get("artists", []) if a.get("id")], track.get("duration_ms"),
            track.get("explicit"), track.get("popularity"), track.get("track_number"),
            track.get("disc_number"), (track.get("external_ids") or {}).get("isrc"), track.get("is_local"))


def album_row(album: dict) -> tuple:
    return (album["id"], album["name"], album.get("album_type"),
            [a["id"] for a in album.get("artists", []) if a.get("id")], album.get("release_date"),
            album.get("release_date_precision"), album.get("total_tracks"), _image(album))


def artist_row(artist: dict) -> tuple:
    return (artist["id"], artist["name"], artist.get("genres", []), artist.get("popularity"),
            (artist.get("followers") or {}).get("total"), _image(artist))


UPSERT = {
    "track": """INSERT INTO tracks (track_id, name, album_id, artist_ids, duration_ms, explicit, popularity,
                                    track_number, disc_number, isrc, is_local, fetched_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (track_id) DO UPDATE SET name = EXCLUDED.name, album_id = EXCLUDED.album_id,
                    artist_ids = EXCLUDED.artist_ids, duration_ms = EXCLUDED.duration_ms,
                    explicit = EXCLUDED.explicit,
                    popularity = COALESCE(EXCLUDED.popularity, tracks.popularity),
                    track_number = EXCLUDED.track_number, disc_number = EXCLUDED.disc_number,
                    isrc = EXCLUDED.isrc, is_local = EXCLUDED.is_local, fetched_at = now(), updated_at = now()
                WHERE (tracks.name, tracks.album_id, tracks.artist_ids, tracks.duration_ms, tracks.popularity)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.album_id, EXCLUDED.artist_ids,
                                        EXCLUDED.duration_ms, COALESCE(EXCLUDED.popularity, tracks.popularity))
                   OR tracks.fetched_at IS NULL""",
    "album": """INSERT INTO albums (album_id, name, album_type, artist_ids, release_date, release_date_precision,
                                    total_tracks, image_url, fetched_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (album_id) DO UPDATE SET name = EXCLUDED.name, album_type = EXCLUDED.album_type,
                    artist_ids = EXCLUDED.artist_ids, release_date = EXCLUDED.release_date,
                    release_date_precision = EXCLUDED.release_date_precision,
                    total_tracks = EXCLUDED.total_tracks, image_url = EXCLUDED.image_url,
                    fetched_at = now(), updated_at = now()
                WHERE (albums.name, albums.album_type, albums.artist_ids, albums.release_date,
                       albums.total_tracks, albums.image_url)
                      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.album_type, EXCLUDED.artist_ids,
                                        EXCLUDED.release_date, EXCLUDED.total_tracks, EXCLUDED.image_url)
                   OR albums.fetched_at IS NULL""",
    "artist": """INSERT INTO artists (artist_id, name, genres, popularity, followers, image_url, fetched_at)
                 VALUES (%s, %s, %s, %s, %s, %s, now())
                 ON CONFLICT (artist_id) DO UPDATE SET name = EXCLUDED.name, genres = EXCLUDED.genres,
                     popularity = COALESCE(EXCLUDED.popularity, artists.popularity),
                     followers = COALESCE(EXCLUDED.followers, artists.followers),
                     image_url = EXCLUDED.image_url, fetched_at = now(), updated_at = now()""",
}
ROW = {"track": track_row, "album": album_row, "artist": artist_row}


def store_items(conn: psycopg.Connection, items: list[dict]) -> dict[str, set[str]]:
    """Upsert the metadata carried by recently-played items; return the ids seen, by kind."""
    tracks = {i["track"]["id"]: i["track"] for i in items}
    albums = {t["album"]["id"]: t["album"] for t in tracks.values() if t.get("album")}
    artists = {a["id"]: a["name"] for obj in [*tracks.values(), *albums.values()]
               for a in obj.get("artists", []) if a.get("id")}
    with conn.cursor() as cur:
        # Sorted ids: concurrent runs of other users lock rows in the same order (no deadlock).
        cur.executemany("""INSERT INTO artists (artist_id, name) VALUES (%s, %s)
                           ON CONFLICT (artist_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
                           WHERE artists.name IS DISTINCT FROM EXCLUDED.name""", sorted(artists.items()))
        cur.executemany(UPSERT["album"], [album_row(albums[i]) for i in sorted(albums)])
        cur.executemany(UPSERT["track"], [track_row(tracks[i]) for i in sorted(tracks)])
    return {"track": set(tracks), "album": set(albums), "artist": set(artists)}


def to_enrich(conn: psycopg.Connection, seen: dict[str, set[str]]) -> dict[str, list[str]]:
    """Ids among `seen` not fetched yet, plus queued ids still worth a try; and under "album_tracks"
    the albums seen, whose track lists (when not stored yet) are fetched before any other's."""
    wanted = {"album_tracks": sorted(seen.get("album", ()))}
    for kind in KINDS:
        table, key = TABLES[kind]
        rows = conn.execute(
            f"""SELECT {key} FROM {table} WHERE {key} = ANY(%s) AND fetched_at IS NULL AND NOT is_surrogate
                UNION
                SELECT entity_id FROM (SELECT entity_id FROM enrichment_queue
                                       WHERE entity_type = %s AND attempts < %s
                                       ORDER BY queued_at LIMIT %s) q""",
            (sorted(seen.get(kind, ())), kind, MAX_ATTEMPTS, QUEUE_TAKE)).fetchall()
        wanted[kind] = sorted(r[0] for r in rows)
    return wanted


def _save(conn: psycopg.Connection, kind: str, objects: list[dict]) -> None:
    if kind == "track":
        # A track names its album and artists: store them with it (never a dangling id), and
        # queue the artists, known by name only, for their own enrichment.
        seen = store_items(conn, [{"track": track} for track in objects])
        conn.execute("""INSERT INTO enrichment_queue (entity_type, entity_id)
                        SELECT 'artist', artist_id FROM artists
                        WHERE artist_id = ANY(%s) AND fetched_at IS NULL
                        ON CONFLICT (entity_type, entity_id) DO NOTHING""", (sorted(seen["artist"]),))
    else:
        conn.cursor().executemany(UPSERT[kind], [ROW[kind](o) for o in sorted(objects, key=lambda o: o["id"])])
    conn.execute("DELETE FROM enrichment_queue WHERE entity_type = %s AND entity_id = ANY(%s)",
                 (kind, [o["id"] for o in objects]))


def _fetch_chunk(api: SpotifyApi, kind: str, ids: list[str], report: EnrichReport) -> list:
    """What Spotify answers for each of `ids`, in order (None: unknown); `MetadataRefused` when a batch
    answer is no list of as many."""
    method, _ = BATCH[kind]
    if not report.batch_forbidden:
        try:
            report.batch_calls += 1
            answer = api.call(method, ids)
            found = answer.get(method) if isinstance(answer, dict) else None
            if not isinstance(found, list) or len(found) != len(ids):
                raise MetadataRefused(f"{len(ids)} {method}", method,
                                      f"must be a list of {len(ids)}, one per id asked, got {type(found).__name__}"
                                      + (f" of {len(found)}" if isinstance(found, list) else ""))
            return found
        except spotipy.SpotifyException as exc:
            if exc.http_status != 403:
                raise
            report.batch_forbidden = True  # Development Mode: single-item calls from now on
    found = []
    for object_id in ids:
        report.single_calls += 1
        try:
            found.append(api.call(SINGLE[kind], object_id))
        except spotipy.SpotifyException as exc:
            if exc.http_status not in (400, 404):
                raise
            found.append(None)
    return found


def _checked(kind: str, asked: list[str], answered: list) -> tuple[list[dict], list[str], list[tuple[str, str]]]:
    """The objects answered for `asked` that `ingestion.metadata` accepts; the ids Spotify does not know (None);
    the ids refused, each with the reason."""
    found, missing, refused = [], [], []
    for object_id, obj in zip(asked, answered, strict=True):
        if obj is None:
            missing.append(object_id)
            continue
        try:
            found.append(CHECK[kind](obj))
        except MetadataRefused as exc:
            refused.append((object_id, str(exc)))
    return found, missing, refused


def enrich(conn: psycopg.Connection, api: SpotifyApi, wanted: dict[str, list[str]]) -> EnrichReport:
    """Fetch and store `wanted` metadata, committing chunk by chunk, then album track lists.

    A long rate limit or an unavailable Spotify stops it: the ids left are
    queued and the report says so (an album without its list is simply tried
    again by the next run).
    """
    report = EnrichReport()
    for kind in KINDS:
        ids = wanted.get(kind, [])
        size = BATCH[kind][1]
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            try:
                objects = _fetch_chunk(api, kind, chunk, report)
            except (RateLimited, SpotifyUnavailable) as exc:
                report.stopped = exc
                for later in KINDS[KINDS.index(kind):]:
                    rest = ids[start:] if later == kind else wanted.get(later, [])
                    record_failures(conn, later, rest, str(exc))
                    report.queued[later] += len(rest)
                conn.commit()
                return report
            except MetadataRefused as exc:  # the whole answer: every id of the chunk waits, with the reason
                found, missing, refused = [], [], [(object_id, str(exc)) for object_id in chunk]
            else:
                found, missing, refused = _checked(kind, chunk, objects)
            _save(conn, kind, found)
            record_failures(conn, kind, missing, "unknown id: Spotify answered null or 404")
            for object_id, reason in refused:
                log.warning("%s %s not stored: %s", kind, object_id, reason)
                record_failures(conn, kind, [object_id], reason)
            conn.commit()
            report.fetched[kind] += len(found)
            report.queued[kind] += len(missing) + len(refused)
            report.refused[kind] += len(refused)
    report.track_lists = fetch_track_lists(conn, api, wanted.get("album_tracks", []))
    report.stopped = report.track_lists.stopped
    return report
