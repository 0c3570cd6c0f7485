"""Hand-written inputs for the statistics, as main holds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pyspark.sql import functions as F

from spark_scripts.prepare import Tables, prepare
from spark_scripts.state import grains, rolling_grains, with_rolling


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


PLAY_SCHEMA = ("play_id long, user_id string, content_type string, track_id string, recording_id string, "
               "episode_id string, "
               "show_id string, played_at timestamp, started_at timestamp, ms_played int, is_stream boolean, "
               "skipped boolean, context_uri string, local_date date, local_hour smallint, local_dow smallint, "
               "local_year string, local_month string")


def tables(spark, plays, tracks, users=None, albums=None, artists=None, album_min_tracks=5,
           session_gap_minutes=30, consenting=(), episodes=(), recordings=None, playlists=None) -> Tables:
    """Inputs as main holds them, from short hand-written rows.

    plays:  (user_id, track_id, played_at 'Z', ms_played[, source 'api'|'extended_export'[, skipped[,
            context_uri]]])
    tracks: {track_id: (album_id, primary_artist_id, duration_ms, explicit, popularity)}
    users:  {user_id: timezone}, default UTC for every user seen
    albums: {album_id: (total_tracks, release_year[, primary artist id])}: by default the album's artist is
            that of its first track listed
    artists: {artist_id: genres list or None}
    consenting: the users who allow comparison
    episodes: podcast episode plays (user_id, episode_id, show_id, played_at 'Z', ms_played)
    recordings: {track_id: recording_id} (fact_play.recording_id); by default each track is its own
    playlists: {(user_id, playlist_id): track ids}: the playlists each user follows, with their tracks
    """
    users = users or {}
    recordings = recordings or {}
    rows = []
    items = [(play, "track") for play in plays] + [(play, "episode") for play in episodes]
    for number, (play, kind) in enumerate(items, start=1):
        if kind == "track":
            user_id, track_id, played_at, ms_played, *rest = play
            episode_id = show_id = None
        else:
            (user_id, episode_id, show_id, played_at, ms_played), track_id, rest = play, None, []
        source = rest[0] if rest else "api"
        skipped = rest[1] if len(rest) > 1 else None
        context_uri = rest[2] if len(rest) > 2 else None
        end = at(played_at)
        local = end.astimezone(ZoneInfo(users.setdefault(user_id, "UTC")))
        recording_id = recordings.get(track_id, track_id) if kind == "track" else None
        rows.append((number, user_id, kind, track_id, recording_id, episode_id, show_id, end,
                     end - timedelta(milliseconds=ms_played), ms_played,
                     kind == "track" and (source == "api" or ms_played >= 30_000), skipped, context_uri, local.date(),
                     local.hour, local.isoweekday(), f"{local.year}", f"{local.year}-{local.month:02d}"))
    albums = albums or {}
    artists = artists or {}
    album_artist = {}
    for album_id, artist_id, *_ in tracks.values():
        album_artist.setdefault(album_id, artist_id)
        albums.setdefault(album_id, (10, 2001))
        artists.setdefault(artist_id, ["pop"])
    albums = {k: (*v, album_artist.get(k))[:3] for k, v in albums.items()}
    users_frame = spark.createDataFrame(list(users.items()), "user_id string, timezone string")
    plays_frame = spark.createDataFrame(rows, PLAY_SCHEMA).withColumn("before", F.lit(False))
    return prepare(
        with_rolling(grains(plays_frame, users_frame, session_gap_minutes),
                     rolling_grains(plays_frame, users_frame, session_gap_minutes)),
        spark.createDataFrame([(k, *v) for k, v in tracks.items()],
                              "track_id string, album_id string, primary_artist_id string, duration_ms int, "
                              "explicit boolean, popularity smallint"),
        spark.createDataFrame([(k, *v) for k, v in albums.items()],
                              "album_id string, total_tracks int, release_year smallint, album_artist_id string"),
        spark.createDataFrame(list(artists.items()), "artist_id string, genres array<string>"),
        album_min_tracks,
        spark.createDataFrame([(user,) for user in consenting], "user_id string"),
        spark.createDataFrame(sorted({(user, playlist, track) for (user, playlist), ids in (playlists or {}).items()
                                      for track in ids}), "user_id string, playlist_id string, track_id string"),
    )


def rows(frame, *order) -> list[dict]:
    """Collected rows as dicts, sorted by `order` columns."""
    found = [r.asDict() for r in frame.collect()]
    return sorted(found, key=lambda r: tuple((r[c] is None, r[c]) for c in order))


def utc(text: str) -> datetime:
    """A UTC instant as Spark returns it (naive, in the session's UTC zone)."""
    return at(text).astimezone(UTC).replace(tzinfo=None)
