"""Web API ingestion against the fake Spotify over HTTP, into real Postgres: no play lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ingestion.recently_played import ingest_all, ingest_user, parse_played_at, to_ms, within_bounds
from operations.postgres import free_port
from tests.ingestion.conftest import Sleeps
from warehouse.db import connect
from warehouse.plays import api_play_key


def stored(settings, user_id) -> list[str]:
    """played_at of the user's API plays in source, as Spotify wrote them, oldest first."""
    with connect("source", settings) as conn:
        rows = conn.execute("SELECT play_key FROM plays WHERE user_id = %s AND source = 'api' ORDER BY played_at",
                            (user_id,)).fetchall()
    return [key.removeprefix("api:") for (key,) in rows]


def cursor(settings, user_id) -> int | None:
    with connect("source", settings) as conn:
        row = conn.execute("SELECT after_ms FROM ingestion_cursors WHERE user_id = %s", (user_id,)).fetchone()
    return row[0] if row else None


def test_twice_no_duplicates_and_the_cursor_follows(spotify_settings, fake_spotify, user):
    first = ingest_user(user, spotify_settings)
    window = fake_spotify.window(user)
    assert (first.status, first.plays_inserted, first.gap_from) == ("ok", 50, None)
    assert stored(spotify_settings, user) == window
    assert cursor(spotify_settings, user) == to_ms(parse_played_at(window[-1]))
    second = ingest_user(user, spotify_settings)
    assert (second.status, second.plays_fetched, second.plays_inserted) == ("ok", 0, 0)
    assert stored(spotify_settings, user) == window
    added = fake_spotify.admin("POST", f"/users/{user}/plays", count=7)["played_at"]
    third = ingest_user(user, spotify_settings)
    assert (third.plays_inserted, third.gap_from) == (7, None)
    assert stored(spotify_settings, user) == window + added
    assert cursor(spotify_settings, user) == to_ms(parse_played_at(added[-1]))
    with connect("source", spotify_settings) as conn:
        row = conn.execute(
            """SELECT p.ms_played, t.duration_ms, p.track_name, p.context_type, p.source FROM plays p
               JOIN tracks t USING (track_id) WHERE p.play_key = %s""",
            (api_play_key(parse_played_at(added[-1])),)).fetchone()
        assert row[0] == row[1] and row[2] and row[3] == "album" and row[4] == "api"
        runs = conn.execute("SELECT status, plays_inserted FROM ingestion_runs ORDER BY run_id").fetchall()
    assert runs == [("ok", 50), ("ok", 0), ("ok", 7)]


def test_more_than_50_plays_between_runs_loads_the_50_and_reports_the_gap(spotify_settings, fake_spotify, user):
    ingest_user(user, spotify_settings)
    before = cursor(spotify_settings, user)
    added = fake_spotify.admin("POST", f"/users/{user}/plays", count=63)["played_at"]
    result = ingest_user(user, spotify_settings)
    assert result.plays_inserted == 50
    assert stored(spotify_settings, user)[-50:] == added[-50:] == fake_spotify.window(user)
    assert to_ms(result.gap_from) == before
    assert result.gap_to == parse_played_at(added[-50])
    with connect("source", spotify_settings) as conn:
        gap = conn.execute("SELECT gap_from, gap_to FROM ingestion_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    assert gap == (result.gap_from, result.gap_to)
    # Exactly 50 new plays: a full page cannot tell whether a 51st was lost, so it is reported;
    # 49 fit in the window with room to spare: no gap.
    fake_spotify.admin("POST", f"/users/{user}/plays", count=50)
    assert ingest_user(user, spotify_settings).gap_from is not None
    fake_spotify.admin("POST", f"/users/{user}/plays", count=49)
    assert ingest_user(user, spotify_settings).gap_from is None


def test_short_retry_after_is_waited(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/me/player/recently-played", status=429, retry_after=2, times=2)
    sleeps = Sleeps()
    result = ingest_user(user, spotify_settings, sleep=sleeps)
    assert result.status == "ok" and result.plays_inserted == 50
    assert sleeps == [2, 2]
    assert stored(spotify_settings, user) == fake_spotify.window(user)


def test_long_retry_after_ends_the_run_cleanly_and_the_next_resumes(spotify_settings, fake_spotify, user):
    ingest_user(user, spotify_settings)
    before = cursor(spotify_settings, user)
    added = fake_spotify.admin("POST", f"/users/{user}/plays", count=12)["played_at"]
    fake_spotify.fault(path="/v1/me/player/recently-played", status=429, retry_after=3600)
    sleeps = Sleeps()
    stopped = ingest_user(user, spotify_settings, sleep=sleeps)
    assert stopped.status == "rate_limited" and "3600" in stopped.detail and sleeps == []
    assert cursor(spotify_settings, user) == before
    resumed = ingest_user(user, spotify_settings)
    assert resumed.status == "ok" and resumed.plays_inserted == 12
    assert stored(spotify_settings, user)[-12:] == added


def test_quota_exceeded_stops_without_waiting(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/me/player", status=429, retry_after=1, reason="QUOTA_EXCEEDED")
    sleeps = Sleeps()
    result = ingest_user(user, spotify_settings, sleep=sleeps)
    assert result.status == "rate_limited" and "quota" in result.detail and sleeps == []
    assert stored(spotify_settings, user) == []


def test_server_errors_are_retried_then_fail_without_moving_the_cursor(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/me/player", status=502, times=2)
    sleeps = Sleeps()
    assert ingest_user(user, spotify_settings, sleep=sleeps).plays_inserted == 50
    assert len(sleeps) == 2
    before = cursor(spotify_settings, user)
    added = fake_spotify.admin("POST", f"/users/{user}/plays", count=5)["played_at"]
    fake_spotify.fault(path="/v1/me/player", status=503, times=-1)
    failed = ingest_user(user, spotify_settings, sleep=Sleeps())
    assert failed.status == "failed" and "503" in failed.detail
    assert cursor(spotify_settings, user) == before
    fake_spotify.admin("DELETE", "/faults")
    assert ingest_user(user, spotify_settings).plays_inserted == 5
    assert stored(spotify_settings, user)[-5:] == added


def test_slow_answer_times_out_and_is_retried(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/me/player", status=None, delay=2.5)
    result = ingest_user(user, spotify_settings, sleep=Sleeps(), timeout=1)
    assert result.status == "ok" and result.plays_inserted == 50


def test_expired_access_token_is_refreshed_once(spotify_settings, fake_spotify, user):
    fake_spotify.admin("POST", f"/users/{user}/expire-access-tokens")
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok" and result.plays_inserted == 50
    assert fake_spotify.refreshes(user) == 1


def artists_state(settings):
    with connect("source", settings) as conn:
        return conn.execute(
            """SELECT count(*), count(fetched_at), count(popularity), count(genres),
                      (SELECT count(*) FROM tracks WHERE fetched_at IS NULL),
                      (SELECT count(*) FROM enrichment_queue)
               FROM artists""").fetchone()


def test_extended_quota_enriches_in_batches(spotify_settings, fake_spotify, user):
    result = ingest_user(user, spotify_settings)
    artists, fetched, popular, with_genres, unfetched_tracks, queued = artists_state(spotify_settings)
    assert artists > 0 and fetched == artists == popular == with_genres and unfetched_tracks == queued == 0
    assert result.enrichment.batch_calls >= 1 and result.enrichment.single_calls == 0
    assert fake_spotify.requests("batch_artists") == result.enrichment.batch_calls


def test_development_mode_falls_back_to_single_items(spotify_settings, fake_spotify, user):
    fake_spotify.admin("POST", "/mode", development=True)
    result = ingest_user(user, spotify_settings)
    artists, fetched, popular, with_genres, unfetched_tracks, queued = artists_state(spotify_settings)
    assert result.status == "ok" and result.plays_inserted == 50
    assert artists == fetched == with_genres and popular == 0 and queued == 0  # popularity unknown, not 0
    assert result.enrichment.batch_forbidden and result.enrichment.single_calls == artists
    assert fake_spotify.requests("single_artists") == artists
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM tracks WHERE popularity IS NOT NULL").fetchone()[0] == 0


def test_rate_limit_during_enrichment_keeps_the_plays_and_queues_the_rest(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/artists", status=429, retry_after=7200)
    result = ingest_user(user, spotify_settings, sleep=Sleeps())
    assert result.status == "rate_limited" and result.plays_inserted == 50
    assert stored(spotify_settings, user) == fake_spotify.window(user)
    artists, fetched, *_, queued = artists_state(spotify_settings)
    assert fetched == 0 and queued == artists
    # The next run fetches what was queued.
    again = ingest_user(user, spotify_settings)
    assert again.status == "ok" and again.plays_inserted == 0
    artists, fetched, *_, queued = artists_state(spotify_settings)
    assert fetched == artists and queued == 0


def test_ingest_all_runs_every_connected_user(spotify_settings, fake_spotify, connect_user):
    users = [u.user_id for u in fake_spotify.fake.listening.users]
    for user_id in users:
        connect_user(user_id)
    fake_spotify.admin("POST", f"/users/{users[1]}/revoke")
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now() WHERE user_id = %s", (users[1],))
    results = {r.user_id: r for r in ingest_all(spotify_settings)}
    assert [results[u].status for u in users] == ["ok", "needs_login", "ok"]
    for user_id in (users[0], users[2]):
        assert stored(spotify_settings, user_id) == fake_spotify.window(user_id)
    assert stored(spotify_settings, users[1]) == []


def runs(settings, user_id) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute("SELECT status, plays_inserted, cursor_after, detail FROM ingestion_runs "
                            "WHERE user_id = %s ORDER BY run_id", (user_id,)).fetchall()


def test_a_failed_token_refresh_fails_that_user_only(spotify_settings, fake_spotify, connect_user):
    """The token endpoint answering 502 to one user's refresh: a `failed` run for that user, cursor
    unchanged, not marked needs_login; the next user in the same `ingest_all` is still polled."""
    first, second = sorted(u.user_id for u in fake_spotify.fake.listening.users)[:2]
    for user_id in (first, second):
        connect_user(user_id)
    fake_spotify.admin("POST", f"/users/{first}/expire-access-tokens")
    fake_spotify.fault(path="/api/token", status=502)
    results = {r.user_id: r for r in ingest_all(spotify_settings)}
    assert (results[first].status, results[second].status) == ("failed", "ok")
    [(status, inserted, cursor_after, detail)] = runs(spotify_settings, first)
    assert (status, inserted, cursor_after) == ("failed", 0, None)
    assert "token endpoint answered HTTP 502" in detail and "Bad gateway" in detail
    assert stored(spotify_settings, first) == [] and cursor(spotify_settings, first) is None
    assert stored(spotify_settings, second) == fake_spotify.window(second)
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT needs_login FROM users WHERE user_id = %s", (first,)).fetchone()[0] is False
    # The fault is gone: the next run refreshes and stores the first user's plays.
    assert ingest_user(first, spotify_settings).plays_inserted == 50
    assert stored(spotify_settings, first) == fake_spotify.window(first)


def test_an_unreachable_token_endpoint_fails_the_run(spotify_settings, user):
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now() WHERE user_id = %s", (user,))
    unreachable = spotify_settings.model_copy(update={"spotify_accounts_url": f"http://127.0.0.1:{free_port()}"})
    result = ingest_user(user, unreachable)
    assert result.status == "failed" and "token endpoint is unreachable" in result.detail
    assert [run[0] for run in runs(spotify_settings, user)] == ["failed"]
    assert cursor(spotify_settings, user) is None


def test_an_enriched_track_brings_its_album_and_artists(spotify_settings, fake_spotify, user):
    """An imported track (surrogate album and artist, queued) re-pointed by enrichment to the
    real album and artists: those are stored too, so no id dangles (the main gate checks it)."""
    window = set(fake_spotify.window(user))
    listened = {p.track_id for p in fake_spotify.fake.listening.plays if p.user_id == user}
    imported = next(t for t in fake_spotify.fake.listening.tracks
                    if t.track_id not in window and t.track_id not in listened)
    with connect("source", spotify_settings) as conn:
        conn.execute("INSERT INTO artists (artist_id, name, is_surrogate) VALUES ('sur:artist:x', 'X', true)")
        conn.execute("INSERT INTO albums (album_id, name, artist_ids, is_surrogate) "
                     "VALUES ('sur:album:x', 'X', '{sur:artist:x}', true)")
        conn.execute("INSERT INTO tracks (track_id, name, album_id, artist_ids) "
                     "VALUES (%s, 'Imported', 'sur:album:x', '{sur:artist:x}')", (imported.track_id,))
        conn.execute("INSERT INTO enrichment_queue (entity_type, entity_id) VALUES ('track', %s)",
                     (imported.track_id,))
    assert ingest_user(user, spotify_settings).status == "ok"
    with connect("source", spotify_settings) as conn:
        album_id, artist_ids = conn.execute("SELECT album_id, artist_ids FROM tracks WHERE track_id = %s",
                                            (imported.track_id,)).fetchone()
        assert (album_id, artist_ids) == (imported.album_id, imported.artist_ids)
        dangling = conn.execute(
            """SELECT count(*) FROM tracks t
               WHERE NOT EXISTS (SELECT 1 FROM albums a WHERE a.album_id = t.album_id)
                  OR EXISTS (SELECT 1 FROM unnest(t.artist_ids) id
                             WHERE NOT EXISTS (SELECT 1 FROM artists r WHERE r.artist_id = id))""").fetchone()[0]
        assert dangling == 0
        unfetched = conn.execute("SELECT count(*) FROM artists WHERE fetched_at IS NULL AND NOT is_surrogate "
                                 "AND artist_id NOT IN (SELECT entity_id FROM enrichment_queue)").fetchone()[0]
        assert unfetched == 0


def test_a_play_imported_from_an_export_first_is_not_stored_twice(spotify_settings, fake_spotify, user):
    """Import, then connect: the first poll sees plays the export already holds (same track,
    `ts` within EXPORT_API_MATCH_SECONDS of the API's played_at): they are not added again."""
    from datetime import UTC, datetime, timedelta

    from warehouse.plays import export_play_key

    plays = fake_spotify.fake.history[user][-3:]  # the newest three, in the 50-play window
    with connect("source", spotify_settings) as conn:
        for play in plays:
            ts = datetime.fromtimestamp(play.played_at_ms // 1000, UTC) + timedelta(seconds=1)
            conn.execute("INSERT INTO tracks (track_id, name) VALUES (%s, 'x') ON CONFLICT DO NOTHING",
                         (play.track_id,))
            conn.execute(
                "INSERT INTO plays (user_id, play_key, source, played_at, ms_played, track_id) "
                "VALUES (%s, %s, 'extended_export', %s, 200000, %s)",
                (user, export_play_key(ts, f"spotify:track:{play.track_id}", 200000), ts, play.track_id))
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok" and result.plays_inserted == 50 - len(plays)
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM plays WHERE user_id = %s", (user,)).fetchone()[0] == 50


def test_any_unexpected_failure_of_one_user_is_recorded_and_the_others_are_polled(
        spotify_settings, fake_spotify, connect_user):
    """A user whose stored tokens no longer decrypt (a bug or a damaged row, not one of Spotify's
    documented failures): `failed` for that user, recorded, and the next user is still polled."""
    first, second = sorted(u.user_id for u in fake_spotify.fake.listening.users)[:2]
    for user_id in (first, second):
        connect_user(user_id)
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET access_token_encrypted = 'damaged' WHERE user_id = %s", (first,))
    results = {r.user_id: r for r in ingest_all(spotify_settings)}
    assert (results[first].status, results[second].status) == ("failed", "ok")
    [(status, inserted, cursor_after, detail)] = runs(spotify_settings, first)
    assert (status, inserted, cursor_after) == ("failed", 0, None)
    assert detail == "unexpected error (SettingsError; see the log)"
    assert stored(spotify_settings, first) == [] and stored(spotify_settings, second) == fake_spotify.window(second)


def queue(settings) -> list[tuple]:
    with connect("source", settings) as conn:
        return conn.execute("SELECT entity_type, entity_id, last_error FROM enrichment_queue "
                            "ORDER BY entity_type, entity_id").fetchall()


def test_a_malformed_artist_is_queued_with_its_field_and_the_others_are_stored(spotify_settings, fake_spotify,
                                                                               user):
    fake_spotify.fault(path="/v1/artists", status=429, retry_after=7200)
    ingest_user(user, spotify_settings, sleep=Sleeps())  # every artist queued, known by id
    bad = queue(spotify_settings)[0][1]
    fake_spotify.admin("POST", "/mode", development=True)  # one call per artist: one answer malformed
    fake_spotify.fault(path=f"/v1/artists/{bad}", body={"id": bad, "name": "Ok", "genres": ["rock", 7],
                                                        "popularity": 50, "followers": {"total": 3}, "images": []})
    result = ingest_user(user, spotify_settings)
    assert result.status == "ok" and dict(result.enrichment.refused) == {"artist": 1}
    artists, fetched, *_, queued = artists_state(spotify_settings)
    assert (fetched, queued) == (artists - 1, 1)
    assert queue(spotify_settings) == [
        ("artist", bad, f"metadata of artist {bad!r}: genres[1] must be a string, got int 7")]
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT name, genres, fetched_at FROM artists WHERE artist_id = %s",
                            (bad,)).fetchone()[1:] == (None, None)
    assert ingest_user(user, spotify_settings).enrichment.fetched["artist"] == 1  # the fault is gone
    assert artists_state(spotify_settings)[1] == artists and queue(spotify_settings) == []


def test_a_batch_answer_of_the_wrong_length_queues_its_ids(spotify_settings, fake_spotify, user):
    fake_spotify.fault(path="/v1/artists", body={"artists": [None]})
    result = ingest_user(user, spotify_settings)
    artists, fetched, *_, queued = artists_state(spotify_settings)
    assert result.status == "ok" and result.plays_inserted == 50
    assert fetched == 0 and queued == artists == result.enrichment.refused["artist"] and artists > 1
    assert {error for _, _, error in queue(spotify_settings)} == {
        f"metadata of {artists} artists: artists must be a list of {artists}, one per id asked, got list of 1"}
    ingest_user(user, spotify_settings)
    assert artists_state(spotify_settings)[1] == artists and queue(spotify_settings) == []


def test_malformed_recently_played_items_are_dropped_and_named(caplog):
    items = json.loads((Path(__file__).parents[1] / "fixtures" / "recently_played_response.json").read_text())["items"]
    broken = [json.loads(json.dumps(item)) for item in items[:5]]
    broken[0]["track"]["popularity"] = "high"
    broken[1]["context"] = ["spotify:playlist:x"]
    broken[2]["track"]["album"]["release_date"] = "soon"
    broken[3]["played_at"] = 17
    broken[4]["track"]["artists"][0]["name"] = None
    kept = within_bounds("me", broken + items[5:], datetime.now(UTC))
    assert kept == items[5:] and len(kept) > 0
    track = [repr(item["track"]["id"]) for item in broken]
    assert [record.getMessage().split(" dropped: ")[1] for record in caplog.records] == [
        f"metadata of track {track[0]}: popularity must be an integer, got str 'high'",
        "metadata of recently-played item 1: context must be an object, got list",
        f"metadata of track {track[2]}: album.release_date must be a year, year-month or date, got 'soon'",
        "metadata of recently-played item 3: played_at must be a string, got int 17",
        f"metadata of track {track[4]}: artists[0].name must be a string, got NoneType None"]
