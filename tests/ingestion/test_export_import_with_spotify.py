"""The import next to the Web API ingestion and Spotify search, against the fake Spotify."""

from __future__ import annotations

from collections import Counter

import requests

from fake_spotify.generate import write_account_export, write_extended_export
from ingestion.export_loader import import_export
from ingestion.export_reader import surrogate_id
from ingestion.recently_played import ingest_user
from ingestion.resolve_names import resolve_for_user
from tests.ingestion.conftest import count, source_checksums
from tests.spotify_support import csrf
from warehouse.db import connect


def test_plays_polled_by_the_ingestion_are_merged_with_the_export(spotify_settings, fake_spotify, connect_user,
                                                                   tmp_path):
    user = fake_spotify.fake.listening.users[0].user_id
    connect_user(user)
    assert ingest_user(user, spotify_settings).status == "ok"
    polled = count(spotify_settings, "SELECT count(*) FROM plays WHERE source = 'api'")
    assert polled == len(fake_spotify.window(user)) > 0

    write_extended_export(fake_spotify.fake.listening, tmp_path)
    mine = [p for p in fake_spotify.fake.listening.plays if p.user_id == user]
    report = import_export([tmp_path / user], user, spotify_settings)
    # Every polled play is in the export (same track, played_at within a second of ts): merged.
    assert report.merged_api == polled
    assert report.plays_loaded == len(mine) - polled
    assert count(spotify_settings, "SELECT count(*) FROM plays WHERE user_id = %s", user) == len(mine)
    # The polled rows now know what only the export knows.
    assert count(spotify_settings, "SELECT count(*) FROM plays WHERE source = 'api' AND skipped IS NULL") == 0
    before = source_checksums(spotify_settings)
    assert import_export([tmp_path / user], user, spotify_settings).import_id is None
    assert source_checksums(spotify_settings) == before


def test_name_only_tracks_are_resolved_through_search(spotify_settings, fake_spotify, connect_user, tmp_path):
    listening = fake_spotify.fake.listening
    user = listening.users[1].user_id
    not_connected = resolve_for_user(user, spotify_settings)
    assert not_connected.resolved == 0 and "has not connected Spotify" in not_connected.stopped
    connect_user(user)
    write_account_export(listening, tmp_path)
    report = import_export([tmp_path / user], user, spotify_settings)
    assert report.loaded["track"] > 0
    tracks = {t.track_id: t for t in listening.tracks}
    artists = {a.artist_id: a.name for a in listening.artists}
    played = Counter(p.track_id for p in listening.plays if p.user_id == user and p.track_id)
    surrogates = count(spotify_settings, "SELECT count(*) FROM tracks WHERE is_surrogate")
    assert surrogates == len({(artists[tracks[t].artist_ids[0]], tracks[t].name) for t in played})

    resolved = resolve_for_user(user, spotify_settings)
    assert resolved.stopped is None
    assert resolved.resolved == surrogates and resolved.unresolved == 0
    with connect("source", spotify_settings) as conn:
        now = Counter(dict(conn.execute(
            "SELECT track_id, count(*) FROM plays WHERE user_id = %s GROUP BY 1", (user,)).fetchall()))
        # Every play points at a real Spotify track with its names; at its very track when
        # no other track of the catalogue has the same name and artist.
        names = {t: (artists[tracks[t].artist_ids[0]], tracks[t].name) for t in tracks}
        assert Counter(names[t] for t in now.elements()) == Counter(names[t] for t in played.elements())
        shared = {n for n, k in Counter(names.values()).items() if k > 1}
        assert {t: n for t, n in now.items() if names[t] not in shared} == \
            {t: n for t, n in played.items() if names[t] not in shared}
        assert conn.execute("SELECT count(*) FROM tracks WHERE is_surrogate").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM artists WHERE is_surrogate").fetchone()[0] == 0
        some = next(iter(played))
        name = (artists[tracks[some].artist_ids[0]], tracks[some].name)
        assert conn.execute("SELECT track_id FROM surrogate_resolutions WHERE surrogate_id = %s",
                            (surrogate_id("track", *name),)).fetchone()[0] == some
        assert conn.execute("SELECT fetched_at IS NOT NULL FROM tracks WHERE track_id = %s", (some,)).fetchone()[0]

    # The same export again: the names map to the resolved ids, nothing changes.
    before = source_checksums(spotify_settings)
    again = import_export([tmp_path / user], user, spotify_settings)
    assert again.import_id is None and again.already_present == again.records_read
    assert source_checksums(spotify_settings) == before


def test_upload_through_the_login_service(spotify_settings, fake_spotify, connect_user, login_service, tmp_path):
    user = fake_spotify.fake.listening.users[2].user_id
    browser = connect_user(user)  # a real login: the session cookie names the user
    assert browser.get(f"{login_service.url}/import", timeout=10).status_code == 200
    files = write_extended_export(fake_spotify.fake.listening, tmp_path)
    mine = [f for f in files if f.parent.name == user]
    answer = browser.post(f"{login_service.url}/import", timeout=60, data=csrf(browser, f"{login_service.url}/import"),
                          files=[("export", (f.name, f.read_bytes(), "application/json")) for f in mine])
    assert answer.status_code == 200, answer.text
    expected = sum(p.user_id == user for p in fake_spotify.fake.listening.plays)
    assert f"Imported: {expected} new plays." in answer.text
    assert count(spotify_settings, "SELECT count(*) FROM plays WHERE user_id = %s", user) == expected
    anonymous = requests.post(f"{login_service.url}/import", timeout=10,
                              files=[("export", (mine[0].name, mine[0].read_bytes()))])
    assert anonymous.status_code == 403  # no session, so no CSRF token either


def test_scrobbled_tracks_are_resolved_through_search_where_spotify_has_them(spotify_settings, fake_spotify,
                                                                               connect_user, tmp_path):
    listening = fake_spotify.fake.listening
    user = listening.users[0].user_id
    connect_user(user)
    artists = {a.artist_id: a.name for a in listening.artists}
    names = Counter((artists[t.artist_ids[0]], t.name) for t in listening.tracks)
    known = [t for t in listening.tracks if names[(artists[t.artist_ids[0]], t.name)] == 1][:2]
    lines = [f'"{artists[t.artist_ids[0]]}",,"{t.name}",0{day} Mar 2024 10:00' for day, t in enumerate(known, 1)]
    lines.append("Nobody Spotify Knows,,A Song of Nowhere,05 Mar 2024 10:00")
    (tmp_path / "scrobbles.csv").write_text("\n".join(lines) + "\n")
    report = import_export([tmp_path / "scrobbles.csv"], user, spotify_settings)
    assert (report.plays_loaded, report.unresolved) == (3, 3)

    resolved = resolve_for_user(user, spotify_settings)
    assert (resolved.resolved, resolved.unresolved, resolved.plays_repointed) == (2, 1, 2)
    with connect("source", spotify_settings) as conn:
        tracks = dict(conn.execute("SELECT track_name, track_id FROM plays WHERE user_id = %s", (user,)).fetchall())
    assert {tracks[t.name] for t in known} == {t.track_id for t in known}
    assert tracks["A Song of Nowhere"] == surrogate_id("track", "Nobody Spotify Knows", "A Song of Nowhere")
