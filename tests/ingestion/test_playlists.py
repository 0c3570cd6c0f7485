"""Playlists in source (issue 18, part 6): added by link, extracted page by page through the fake Spotify in
both API modes, kept current by snapshot, stored whole or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fake_spotify.state import Fault
from ingestion.playlists import PlaylistError, add_playlist, list_playlists, parse_playlist, refresh_playlists
from ingestion.recently_played import ingest_user
from ingestion.spotify_client import SpotifyApi
from ingestion.tokens import valid_access_token
from tests.spotify_support import csrf
from warehouse.db import connect


def stored(settings, playlist_id: str) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute("SELECT position, track_id FROM playlist_items WHERE playlist_id = %s ORDER BY position",
                            (playlist_id,)).fetchall()


def playlist_row(settings, playlist_id: str) -> dict:
    with connect("source", settings) as conn:
        cursor = conn.execute("SELECT * FROM playlists WHERE playlist_id = %s", (playlist_id,))
        return dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))


def follow(settings, user: str, text: str) -> str:
    with connect("source", settings) as conn:
        return add_playlist(conn, user, text)


def refresh(settings, user: str, now: datetime | None = None):
    api = SpotifyApi(settings, lambda stale: valid_access_token(user, settings, stale=stale))
    with connect("source", settings) as conn:
        return refresh_playlists(conn, api, user, now)


def later(minutes: int = 61) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


@pytest.mark.parametrize("development", [False, True])
def test_a_playlist_of_250_tracks_is_paged_whole_in_both_modes_and_kept_current(spotify_settings, fake_spotify,
                                                                                user, development):
    fake = fake_spotify.fake
    fake_spotify.admin("POST", "/mode", development=development)
    playlist = fake.add_playlist(250, owner_id=user, episodes=2, local_files=1)
    follow(spotify_settings, user, f"https://open.spotify.com/playlist/{playlist.playlist_id}?si=a1b2c3")
    result = ingest_user(user, spotify_settings)  # the poll fetches it
    assert result.status == "ok" and result.playlists.fetched == 1 and result.playlists.failed == []
    tracks = [value for kind, value in playlist.entries if kind == "track"]
    assert stored(spotify_settings, playlist.playlist_id) == list(enumerate(tracks))
    assert fake_spotify.requests("playlist_items") == 6  # 253 entries, 50 a page
    row = playlist_row(spotify_settings, playlist.playlist_id)
    assert (row["name"], row["owner_id"], row["items_total"], row["status"], row["snapshot_id"]) == (
        playlist.name, user, 253, "ok", playlist.snapshot_id)
    with connect("source", spotify_settings) as conn:  # the tracks' metadata came along
        known = conn.execute("SELECT count(*) FROM tracks WHERE track_id = ANY(%s) AND album_id IS NOT NULL "
                             "AND fetched_at IS NOT NULL", (tracks,)).fetchone()[0]
    assert known == 250

    # The next poll does not ask again; an hour later, the same snapshot costs one call and no page.
    assert ingest_user(user, spotify_settings).playlists.calls == 0
    unchanged = refresh(spotify_settings, user, later())
    assert (unchanged.unchanged, unchanged.calls) == (1, 1) and fake_spotify.requests("playlist_items") == 6
    # Changed on Spotify: stored anew, whole.
    fake.change_playlist(playlist.playlist_id, add=3, remove=2)
    changed = refresh(spotify_settings, user, later(122))
    assert changed.fetched == 1
    # Positions are the entries' (after the episodes and the local file, the 3 new tracks are entries 251-253).
    now = [(at, value) for at, (kind, value) in enumerate(fake.playlists[playlist.playlist_id].entries)
           if kind == "track"]
    assert stored(spotify_settings, playlist.playlist_id) == now and len(now) == 251 and now[-1][0] == 253


def test_spotify_owned_playlists_are_hidden_in_development_mode(spotify_settings, fake_spotify, user):
    fake = fake_spotify.fake
    editorial = fake.add_playlist(30, owner_id="spotify", name="Today's Top Hits")
    follow(spotify_settings, user, f"spotify:playlist:{editorial.playlist_id}")
    fake_spotify.admin("POST", "/mode", development=True)
    report = refresh(spotify_settings, user)
    assert report.fetched == 0 and len(report.failed) == 1
    row = playlist_row(spotify_settings, editorial.playlist_id)
    assert row["status"] == "not_found" and "owned by Spotify" in row["detail"]
    fake_spotify.admin("POST", "/mode", development=False)  # an Extended-Quota app reads it
    assert refresh(spotify_settings, user, later()).fetched == 1
    assert len(stored(spotify_settings, editorial.playlist_id)) == 30
    assert playlist_row(spotify_settings, editorial.playlist_id)["status"] == "ok"


def test_a_long_rate_limit_stores_nothing_of_the_playlist_and_the_next_refresh_does(spotify_settings, fake_spotify,
                                                                                    user):
    fake = fake_spotify.fake
    made = fake_spotify.admin("POST", "/playlists", tracks=120, owner_id=user)  # steered as a demo would
    playlist = fake.playlists[made["playlist_id"]]
    follow(spotify_settings, user, playlist.playlist_id)
    fake.add_fault(Fault(f"/v1/playlists/{playlist.playlist_id}/items", 429, retry_after=3600,
                         query={"offset": "100"}))
    result = ingest_user(user, spotify_settings)
    assert result.status == "rate_limited" and "playlists' refresh stopped" in result.detail
    assert stored(spotify_settings, playlist.playlist_id) == []
    assert playlist_row(spotify_settings, playlist.playlist_id)["status"] == "pending"
    assert refresh(spotify_settings, user).fetched == 1  # the fault is spent: not due by time, never fetched
    assert len(stored(spotify_settings, playlist.playlist_id)) == 120


def test_a_wrong_answer_is_refused_naming_the_field_and_nothing_is_stored(spotify_settings, fake_spotify, user):
    fake = fake_spotify.fake
    playlist = fake.add_playlist(60, owner_id=user)
    follow(spotify_settings, user, playlist.playlist_id)
    page = fake.playlist_page("http://x/", playlist.playlist_id, "items", 50, 50)
    page["items"][3]["track"]["id"] = 12345
    fake.add_fault(Fault(f"/v1/playlists/{playlist.playlist_id}/items", None, query={"offset": "50"}, body=page))
    report = refresh(spotify_settings, user)
    assert report.failed == [f"playlist {playlist.playlist_id}: items[53].item.id must be a string, got int 12345"]
    assert stored(spotify_settings, playlist.playlist_id) == []
    assert playlist_row(spotify_settings, playlist.playlist_id)["status"] == "refused"


def test_what_the_user_gives_is_parsed_or_refused():
    pid = "37i9dQZF1DXcBWIGoYBM5M"
    for text in (pid, f"spotify:playlist:{pid}", f"https://open.spotify.com/playlist/{pid}",
                 f"https://open.spotify.com/intl-de/playlist/{pid}?si=0a1b2c3d4e5f", f"  {pid}  "):
        assert parse_playlist(text) == pid
    for bad in ("", "spotify:album:37i9dQZF1DXcBWIGoYBM5M", "https://example.com/playlist/37i9dQZF1DXcBWIGoYBM5M",
                pid[:-1], f"{pid}<script>"):
        with pytest.raises(PlaylistError, match="not a Spotify playlist link"):
            parse_playlist(bad)


def test_the_account_page_adds_lists_and_removes_playlists(spotify_settings, fake_spotify, connect_user,
                                                           login_service):
    user = fake_spotify.fake.listening.users[1].user_id
    browser = connect_user(user)
    page = f"{login_service.url}/account"
    pid = "37i9dQZF1DXcBWIGoYBM5M"
    added = browser.post(f"{login_service.url}/account/playlists", data={"playlist": f"spotify:playlist:{pid}",
                                                               **csrf(browser, page)}, timeout=10)
    assert added.status_code == 200 and "not fetched yet" in added.text  # redirected back to the page
    refused = browser.post(f"{login_service.url}/account/playlists", data={"playlist": "my favourite songs",
                                                                           **csrf(browser, page)}, timeout=10)
    assert refused.status_code == 400 and "not a Spotify playlist link" in refused.text
    with connect("source", spotify_settings) as conn:
        assert [p["playlist_id"] for p in list_playlists(conn, user)] == [pid]
    removed = browser.post(f"{login_service.url}/account/playlists/{pid}/remove", data=csrf(browser, page), timeout=10)
    assert removed.status_code == 200 and "No playlist yet." in removed.text
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM playlists").fetchone()[0] == 0  # nobody follows it
    other = browser.post(f"{login_service.url}/account/playlists/{pid}/remove", data=csrf(browser, page), timeout=10)
    assert other.status_code == 404
