"""Playlists in source: added by a user, their tracks extracted through the Web API and kept current.

A user adds a playlist by its link, URI or id (`add_playlist`: the account page,
`python -m ingestion playlists add`); it is stored once (`playlists`), whoever
added it (`user_playlists`), and fetched by the user's next poll
(`ingestion.recently_played.ingest_user` calls `refresh_playlists` after
enrichment) or by `python -m ingestion playlists refresh`.

How (docs/spotify-api.md, "Playlists"): `GET /v1/playlists/{id}` for its name,
owner, `snapshot_id` and number of entries; when the snapshot differs from the
stored one (or nothing is stored), `GET /v1/playlists/{id}/items` page by page,
`limit=50` and the offset we compute (never the answer's `next`), through the
same client as enrichment (`SpotifyApi.call`: short Retry-After waited, 5xx
retried, an expired token refreshed). `/items` because Development-Mode apps get
403 from the older `/tracks`; an entry's object is under `item` (Development
Mode) or `track`. A playlist is checked at most every REFRESH_MINUTES.

The whole list is checked, then stored in one transaction with its tracks'
metadata (`ingestion.enrich.store_items`; their artists and albums are enriched
like any other), or not at all:
- a long rate limit or an unavailable Spotify stops the refresh (reported); what
  is stored stays, the next poll starts the playlist again from offset 0;
- a 404 (unknown, or a Spotify-owned playlist that Development Mode hides) or a
  403 marks the playlist `not_found` / `forbidden`, its stored items kept;
- an answer we refuse (a field missing or of the wrong type, more entries than
  `total`, `total` changing between pages, a page ending early, a text the
  database cannot hold) marks it `refused` with the field named.
Episodes, local files and removed tracks in a playlist are entries without a
track: counted in `items_total`, no `playlist_items` row.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import spotipy

from ingestion.answers import Refused, integer, page_items, text
from ingestion.enrich import store_items
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable

log = logging.getLogger(__name__)
PAGE = 50  # Spotify's largest `limit` for a playlist's items
MAX_ITEMS = 10_000  # a playlist holds at most 10,000 entries on Spotify: a larger `total` is refused
REFRESH_MINUTES = 60  # a playlist is checked again after this long
_ID = re.compile(r"[0-9A-Za-z]{22}")
_LINK = re.compile(r"(?:https?://open\.spotify\.com/(?:intl-[a-z-]+/)?playlist/|spotify:playlist:)([0-9A-Za-z]{22})"
                   r"(?:[/?#].*)?")
_TRACK_ID = re.compile(r"[0-9A-Za-z]{22}")


class PlaylistError(ValueError):
    """What the user gave is not a playlist we can add; the message says why."""


class PlaylistRefused(Refused):
    """An answer we do not store; names the playlist and the field."""

    what = "playlist"


@dataclass
class PlaylistReport:
    fetched: int = 0  # playlists whose items were stored
    unchanged: int = 0  # checked: the same snapshot as stored
    failed: list[str] = field(default_factory=list)  # not found, forbidden or refused: one line each
    calls: int = 0
    stopped: RateLimited | SpotifyUnavailable | None = None

    def __str__(self) -> str:
        text = f"playlists: {self.fetched} fetched, {self.unchanged} unchanged, {len(self.failed)} failed"
        return text + (f" (stopped: {self.stopped})" if self.stopped else "")


def parse_playlist(text: str) -> str:
    """The playlist id in a link (`https://open.spotify.com/playlist/<id>?si=...`), a URI or a bare id."""
    text = (text or "").strip()
    if _ID.fullmatch(text):
        return text
    match = _LINK.fullmatch(text)
    if match is None:
        raise PlaylistError(f"not a Spotify playlist link, URI or id: {text[:100]!r} (a playlist's link looks like "
                            "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M)")
    return match.group(1)


def add_playlist(conn: psycopg.Connection, user_id: str, text: str) -> str:
    """Add the playlist for the user (fetched by the next refresh); its id. Adding it again changes nothing."""
    playlist_id = parse_playlist(text)
    with conn.transaction():
        conn.execute("INSERT INTO playlists (playlist_id) VALUES (%s) ON CONFLICT DO NOTHING", (playlist_id,))
        conn.execute("INSERT INTO user_playlists (user_id, playlist_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (user_id, playlist_id))
    return playlist_id


def remove_playlist(conn: psycopg.Connection, user_id: str, playlist_id: str) -> bool:
    """The user no longer follows it; a playlist nobody follows is deleted with its items. False if not theirs."""
    with conn.transaction():
        gone = conn.execute("DELETE FROM user_playlists WHERE user_id = %s AND playlist_id = %s",
                            (user_id, playlist_id)).rowcount
        conn.execute("""DELETE FROM playlists p WHERE p.playlist_id = %s
                        AND NOT EXISTS (SELECT 1 FROM user_playlists u WHERE u.playlist_id = p.playlist_id)""",
                     (playlist_id,))
    return bool(gone)


def list_playlists(conn: psycopg.Connection, user_id: str) -> list[dict]:
    """The user's playlists with what is known of them, newest first."""
    cursor = conn.execute(
        """SELECT p.playlist_id, p.name, p.owner_name, p.items_total, p.status, p.detail, p.fetched_at,
                  (SELECT count(*) FROM playlist_items i WHERE i.playlist_id = p.playlist_id) AS tracks
           FROM user_playlists u JOIN playlists p USING (playlist_id)
           WHERE u.user_id = %s ORDER BY u.added_at DESC, p.playlist_id""", (user_id,))
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- checking answers -------------------------------------------------------------

def _integer(playlist_id: str, name: str, value, low: int, high: int) -> int:
    return integer(PlaylistRefused, playlist_id, name, value, low, high)


def _text(playlist_id: str, name: str, value, optional: bool = False) -> str | None:
    return None if value is None and optional else text(PlaylistRefused, playlist_id, name, value)


def _added_at(playlist_id: str, name: str, value) -> datetime | None:
    if value is None:
        return None
    text = _text(playlist_id, name, value)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PlaylistRefused(playlist_id, name, f"is not a time: {text!r}") from None


def _total(playlist_id: str, answer: dict) -> int:
    """The number of entries a playlist object announces (under `items`, or `tracks` before February 2026)."""
    summary = answer.get("items") if isinstance(answer.get("items"), dict) else answer.get("tracks")
    if not isinstance(summary, dict):
        raise PlaylistRefused(playlist_id, "items", "is missing: no summary of the playlist's entries")
    return _integer(playlist_id, "items.total", summary.get("total"), 0, MAX_ITEMS)


def check_playlist(playlist_id: str, answer) -> dict:
    """The stored fields of `GET /v1/playlists/{id}`'s answer."""
    if not isinstance(answer, dict):
        raise PlaylistRefused(playlist_id, "answer", f"must be a playlist object, got {type(answer).__name__}")
    owner = answer.get("owner")
    if not isinstance(owner, dict):
        raise PlaylistRefused(playlist_id, "owner", "is missing")
    return {"name": _text(playlist_id, "name", answer.get("name")),
            "owner_id": _text(playlist_id, "owner.id", owner.get("id")),
            "owner_name": _text(playlist_id, "owner.display_name", owner.get("display_name"), optional=True),
            "snapshot_id": _text(playlist_id, "snapshot_id", answer.get("snapshot_id")),
            "items_total": _total(playlist_id, answer)}


def entry_row(playlist_id: str, index: int, entry) -> tuple[tuple, dict] | None:
    """The `playlist_items` row of the `index`-th entry (0-based over all pages) and its track object; None for
    an entry without a track (an episode, a local file, a track removed from Spotify)."""
    where = f"items[{index}]"
    if not isinstance(entry, dict):
        raise PlaylistRefused(playlist_id, where, f"must be a playlist entry, got {type(entry).__name__}")
    obj = entry.get("item", entry.get("track"))
    if obj is None or entry.get("is_local"):
        return None
    if not isinstance(obj, dict):
        raise PlaylistRefused(playlist_id, f"{where}.item", f"must be an object, got {type(obj).__name__}")
    if obj.get("type", "track") != "track" or obj.get("is_local") or obj.get("id") is None:
        return None
    track_id = _text(playlist_id, f"{where}.item.id", obj["id"])
    if not _TRACK_ID.fullmatch(track_id):
        raise PlaylistRefused(playlist_id, f"{where}.item.id", f"is not a Spotify id: {track_id!r}")
    _text(playlist_id, f"{where}.item.name", obj.get("name"))
    album = obj.get("album")
    if not isinstance(album, dict) or not isinstance(album.get("id"), str) or not isinstance(album.get("name"), str):
        raise PlaylistRefused(playlist_id, f"{where}.item.album", "must be an album object with an id and a name")
    artists = obj.get("artists")
    if not isinstance(artists, list) or not all(isinstance(a, dict) and isinstance(a.get("name"), str)
                                                for a in artists):
        raise PlaylistRefused(playlist_id, f"{where}.item.artists", "must be a list of artists with names")
    return (playlist_id, index, track_id, _added_at(playlist_id, f"{where}.added_at", entry.get("added_at"))), obj


def fetch_items(api: SpotifyApi, playlist_id: str, total: int, report: PlaylistReport) -> tuple[list[tuple], list]:
    """Every entry of the playlist as rows (tracks only) and the tracks' objects, checked."""
    rows, tracks, seen = [], [], 0
    while seen < total:
        report.calls += 1
        page = api.call("playlist_items", playlist_id, limit=PAGE, offset=seen)
        if not isinstance(page, dict):
            raise PlaylistRefused(playlist_id, "answer", f"must be a paging object, got {type(page).__name__}")
        page_total = _integer(playlist_id, "total", page.get("total"), 0, MAX_ITEMS)
        if page_total != total:
            raise PlaylistRefused(playlist_id, "total", f"changed: {total}, then {page_total} (page at offset {seen})")
        items = page_items(PlaylistRefused, playlist_id, page, seen, total, PAGE, "entries")
        for index, entry in enumerate(items, seen):
            found = entry_row(playlist_id, index, entry)
            if found:
                rows.append(found[0])
                tracks.append(found[1])
        seen += len(items)
    return rows, tracks


def store_playlist(conn: psycopg.Connection, playlist_id: str, meta: dict, rows: list[tuple], tracks: list) -> None:
    """The playlist's fields, its whole list and its tracks' metadata, in one transaction."""
    with conn.transaction():
        store_items(conn, [{"track": track} for track in tracks])
        conn.execute("DELETE FROM playlist_items WHERE playlist_id = %s", (playlist_id,))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO playlist_items (playlist_id, position, track_id, added_at) "
                            "VALUES (%s, %s, %s, %s)", rows)
        conn.execute("""UPDATE playlists SET name = %(name)s, owner_id = %(owner_id)s, owner_name = %(owner_name)s,
                            snapshot_id = %(snapshot_id)s, items_total = %(items_total)s, status = 'ok',
                            detail = NULL, checked_at = now(), fetched_at = now()
                        WHERE playlist_id = %(playlist_id)s""", {**meta, "playlist_id": playlist_id})


def _mark(conn: psycopg.Connection, playlist_id: str, status: str, detail: str | None) -> None:
    with conn.transaction():
        conn.execute("UPDATE playlists SET status = %s, detail = %s, checked_at = now() WHERE playlist_id = %s",
                     (status, detail, playlist_id))


def due(conn: psycopg.Connection, user_id: str, now: datetime | None = None) -> list[tuple[str, str | None]]:
    """The user's playlists to check now: never checked, or not for REFRESH_MINUTES; (id, stored snapshot)."""
    since = (now or datetime.now(UTC)) - timedelta(minutes=REFRESH_MINUTES)
    return conn.execute(
        """SELECT p.playlist_id, CASE WHEN p.status = 'ok' THEN p.snapshot_id END
           FROM user_playlists u JOIN playlists p USING (playlist_id)
           WHERE u.user_id = %s AND (p.checked_at IS NULL OR p.checked_at < %s)
           ORDER BY p.checked_at NULLS FIRST, p.playlist_id""", (user_id, since)).fetchall()


def refresh_playlists(conn: psycopg.Connection, api: SpotifyApi, user_id: str,
                      now: datetime | None = None) -> PlaylistReport:
    """Check the user's due playlists and store those whose snapshot changed (see the module's docstring)."""
    report = PlaylistReport()
    playlists = due(conn, user_id, now)
    conn.commit()  # no transaction stays open while Spotify is asked
    for playlist_id, snapshot in playlists:
        try:
            report.calls += 1
            meta = check_playlist(playlist_id, api.call("playlist", playlist_id))
            if meta["snapshot_id"] == snapshot:
                _mark(conn, playlist_id, "ok", None)
                report.unchanged += 1
                continue
            rows, tracks = fetch_items(api, playlist_id, meta["items_total"], report)
        except (RateLimited, SpotifyUnavailable) as exc:
            report.stopped = exc
            log.warning("playlists stopped at %s: %s", playlist_id, exc)
            break
        except PlaylistRefused as exc:
            _mark(conn, playlist_id, "refused", str(exc))
            report.failed.append(str(exc))
            log.warning("playlist refused, nothing stored: %s", exc)
            continue
        except spotipy.SpotifyException as exc:
            if exc.http_status not in (400, 403, 404):
                raise
            status = "forbidden" if exc.http_status == 403 else "not_found"
            detail = f"Spotify answered {exc.http_status}" + (
                " (unknown, or owned by Spotify: Development-Mode apps cannot read those)"
                if exc.http_status == 404 else "")
            _mark(conn, playlist_id, status, detail)
            report.failed.append(f"playlist {playlist_id}: {detail}")
            continue
        store_playlist(conn, playlist_id, meta, rows, tracks)
        report.fetched += 1
    log.info("%s: %s", user_id, report)
    return report
