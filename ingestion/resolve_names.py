"""Resolve name-only tracks (surrogate ids from Account-data exports) through Spotify search.

For each surrogate track still played, search `track:<name> artist:<artist>`
(limit 10: Development Mode) and take the first result whose name and one of
whose artists' names equal the export's names (case-insensitively). Then, in
one transaction per track:
- the real track, its album and artists are stored (`ingestion.enrich.store_items`,
  the same rows a recently-played item gives);
- every play of the surrogate (any user) is re-pointed to the real id;
- the resolution is recorded in `surrogate_resolutions`, so later imports map
  the same names straight to the real id;
- the surrogate track, and its surrogate artist/album when nothing else uses
  them, are deleted.
No match: the track stays a surrogate (tried again next time). A rate limit or
Spotify being unavailable stops the run cleanly; what was resolved stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg

from ingestion.enrich import store_items
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable
from ingestion.tokens import NeedsLogin, NotConnected, valid_access_token
from warehouse.db import connect
from warehouse.settings import Settings, SettingsError, get_settings

log = logging.getLogger(__name__)
SEARCH_LIMIT = 10  # Development-Mode apps get at most 10 results

SURROGATES = """
    SELECT t.track_id, t.name, a.name
    FROM tracks t LEFT JOIN artists a ON a.artist_id = t.artist_ids[1]
    WHERE t.is_surrogate AND EXISTS (SELECT 1 FROM plays p WHERE p.track_id = t.track_id)
    ORDER BY t.track_id
"""


@dataclass
class ResolveReport:
    resolved: int = 0
    unresolved: int = 0
    plays_repointed: int = 0
    stopped: str | None = None  # why the run ended early, if it did

    def __str__(self) -> str:
        text = (f"name-only tracks resolved through Spotify search: {self.resolved}, not found: "
                f"{self.unresolved}, plays re-pointed: {self.plays_repointed}")
        return text + (f" (stopped: {self.stopped})" if self.stopped else "")


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").casefold().strip() == (b or "").casefold().strip()


def best_match(items: list[dict], name: str, artist: str | None) -> dict | None:
    """The first search result with the same track name and (when known) artist name."""
    for track in items:
        if track and track.get("id") and _same(track.get("name"), name) and (
                artist is None or any(_same(a.get("name"), artist) for a in track.get("artists", []))):
            return track
    return None


def _quoted(value: str) -> str:
    return '"' + value.replace('"', " ") + '"'


def resolve(conn: psycopg.Connection, api: SpotifyApi, limit: int | None = None) -> ResolveReport:
    """Resolve the surrogate tracks that plays use, at most `limit` searches."""
    report = ResolveReport()
    rows = conn.execute(SURROGATES).fetchall()
    conn.commit()
    for surrogate, name, artist in rows[:limit]:
        query = f"track:{_quoted(name)}" + (f" artist:{_quoted(artist)}" if artist else "")
        try:
            answer = api.call("search", q=query, type="track", limit=SEARCH_LIMIT)
        except (RateLimited, SpotifyUnavailable) as exc:
            report.stopped = str(exc) or type(exc).__name__
            break
        track = best_match((answer.get("tracks") or {}).get("items") or [], name, artist)
        if track is None:
            report.unresolved += 1
            continue
        with conn.transaction():
            store_items(conn, [{"track": track}])
            report.plays_repointed += repoint(conn, surrogate, track["id"])
        report.resolved += 1
    conn.commit()
    log.info("%s", report)
    return report


def repoint(conn: psycopg.Connection, surrogate: str, track_id: str) -> int:
    """Replace surrogate track `surrogate` by Spotify track `track_id` everywhere; plays moved."""
    moved = conn.execute("UPDATE plays SET track_id = %s WHERE track_id = %s", (track_id, surrogate)).rowcount
    conn.execute("INSERT INTO surrogate_resolutions (surrogate_id, track_id) VALUES (%s, %s) "
                 "ON CONFLICT (surrogate_id) DO UPDATE SET track_id = excluded.track_id, resolved_at = now()",
                 (surrogate, track_id))
    gone = conn.execute("DELETE FROM tracks WHERE track_id = %s AND is_surrogate RETURNING album_id, artist_ids",
                        (surrogate,)).fetchone()
    if gone:
        album_id, artist_ids = gone
        conn.execute("""DELETE FROM albums al WHERE al.album_id = %s AND al.is_surrogate
                        AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = al.album_id)""", (album_id,))
        conn.execute("""DELETE FROM artists ar WHERE ar.artist_id = ANY(%s) AND ar.is_surrogate
                        AND NOT EXISTS (SELECT 1 FROM tracks t WHERE ar.artist_id = ANY(t.artist_ids))
                        AND NOT EXISTS (SELECT 1 FROM albums a WHERE ar.artist_id = ANY(a.artist_ids))""",
                     (artist_ids,))
    return moved


def resolve_for_user(user_id: str, settings: Settings | None = None, limit: int | None = None) -> ResolveReport:
    """Resolve with `user_id`'s Spotify connection; a report saying why not when there is none."""
    settings = settings or get_settings()
    with connect("source", settings) as conn:
        connected = conn.execute("SELECT 1 FROM spotify_accounts WHERE user_id = %s", (user_id,)).fetchone()
        if not connected:
            return ResolveReport(stopped=f"{user_id} has not connected Spotify: name-only tracks keep "
                                         "their surrogate ids until a later resolution")
        try:
            api = SpotifyApi(settings, lambda stale: valid_access_token(user_id, settings, stale=stale))
        except (NotConnected, NeedsLogin, SettingsError) as exc:
            return ResolveReport(stopped=f"no usable Spotify connection for {user_id}: {exc}")
        return resolve(conn, api, limit)
