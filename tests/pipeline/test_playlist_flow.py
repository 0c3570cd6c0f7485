"""A followed playlist from the fake Spotify to the replica (issue 18, part 6): 250 tracks paged in both API
modes, plays started from it through recently-played, then load, Spark and the replica; the published numbers
against ones computed by hand from what the fake answered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingestion.playlists import add_playlist
from ingestion.recently_played import ingest_user
from pipeline import analytics
from star_schema.load import load_main
from tests.recap_support import copy_main_to_replica
from warehouse.db import connect

pytestmark = pytest.mark.slow


def instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def expected_row(fake, user: str, playlist) -> dict:
    """The playlist's row of all time, by hand: the 50 plays recently-played answered (each a stream of its whole
    track), the playlist's tracks."""
    on_list = {value for kind, value in playlist.entries if kind == "track"}
    window = fake.window(user)
    heard = [p for p in window if p.track_id in on_list]
    started = [p for p in window if p.context == ("playlist", playlist.playlist_id)]
    assert len(started) == 12 and len(heard) > len(started)  # the generated listening holds playlist tracks too
    tracks_played = len({p.track_id for p in heard})
    return {
        "total_tracks": 250, "tracks_played": tracks_played, "completion": tracks_played / 250,
        "streams": len(heard), "listening_ms": sum(fake.tracks[p.track_id].duration_ms for p in heard),
        "first_played_at": instant(min(p.played_at_ms for p in heard)),
        "last_played_at": instant(max(p.played_at_ms for p in heard)),
        "context_streams": 12, "context_listening_ms": sum(fake.tracks[p.track_id].duration_ms for p in started),
        "context_first_played_at": instant(started[0].played_at_ms),
        "context_last_played_at": instant(started[-1].played_at_ms),
        "heard_track_ids": sorted({p.track_id for p in heard}), "rank": 1,
    }


def test_a_playlists_numbers_from_the_fake_spotify_to_the_replica_in_both_api_modes(spotify_settings, fake_spotify,
                                                                                    connect_user, spark):
    fake = fake_spotify.fake
    # One listener's app in Extended Quota mode, the other's in Development Mode (the fake's mode is global: each
    # listener's playlist and plays are fetched while it is set).
    followed = {}
    for user, development in ((fake.listening.users[0].user_id, False), (fake.listening.users[1].user_id, True)):
        fake_spotify.admin("POST", "/mode", development=development)
        connect_user(user)
        playlist = fake.add_playlist(250, owner_id=user, episodes=1)
        with connect("source", spotify_settings) as conn:
            add_playlist(conn, user, f"spotify:playlist:{playlist.playlist_id}")
        fake.add_plays(user, 12, playlist.playlist_id)  # started from the playlist
        result = ingest_user(user, spotify_settings)
        assert result.status == "ok" and result.playlists.fetched == 1 and result.plays_inserted == 50
        followed[user] = playlist
    load_main(spotify_settings)
    analytics.run(spotify_settings, full=True, spark=spark)
    copy_main_to_replica(spotify_settings)

    for user, playlist in followed.items():
        expected = expected_row(fake, user, playlist)
        with connect("replica", spotify_settings) as conn:
            cursor = conn.execute(
                f"SELECT {', '.join(expected)} FROM analytics.playlist_completion "
                "WHERE user_id = %s AND period = 'all' AND playlist_id = %s", (user, playlist.playlist_id))
            found = [dict(zip(expected, row, strict=True)) for row in cursor.fetchall()]
            listed = conn.execute("SELECT position, track_id FROM dim_playlist_track WHERE playlist_id = %s "
                                  "ORDER BY position", (playlist.playlist_id,)).fetchall()
        assert found == [expected], user
        assert listed == [(at, value) for at, (kind, value) in enumerate(playlist.entries) if kind == "track"]
