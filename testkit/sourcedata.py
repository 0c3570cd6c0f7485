"""Hand-written source rows for tests."""

from __future__ import annotations

from datetime import datetime

from warehouse.plays import api_play_key, export_play_key


def add_user(conn, user_id: str, timezone: str | None = "UTC") -> None:
    conn.execute("INSERT INTO users (user_id, display_name, timezone) VALUES (%s, %s, %s)",
                 (user_id, user_id.title(), timezone))


def add_track(conn, track_id: str, artist_id: str = "ar1", album_id: str = "al1", **fields) -> None:
    """A track, its artist and album; `name` and `artist_name` default to `Track <id>`, `Artist <id>`."""
    conn.execute("INSERT INTO artists (artist_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                 (artist_id, fields.pop("artist_name", f"Artist {artist_id}")))
    name = fields.pop("name", f"Track {track_id}")
    conn.execute(
        "INSERT INTO albums (album_id, name, artist_ids, total_tracks, release_date) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (album_id, f"Album {album_id}", [artist_id], fields.pop("total_tracks", 10),
         fields.pop("release_date", "2001-05-01")))
    columns = ["track_id", "name", "album_id", "artist_ids", *fields]
    conn.execute(
        f"INSERT INTO tracks ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        (track_id, name, album_id, [artist_id], *fields.values()))


def add_play(conn, user_id: str, track_id: str, played_at: str, ms_played: int = 200_000,
             source: str = "api", skipped: bool | None = None) -> None:
    at = datetime.fromisoformat(played_at.replace("Z", "+00:00"))
    key = (api_play_key(at) if source == "api"
           else export_play_key(at, f"spotify:track:{track_id}", ms_played))
    conn.execute(
        "INSERT INTO plays (user_id, play_key, source, played_at, ms_played, track_id, skipped) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (user_id, key, source, at, ms_played, track_id, skipped))
