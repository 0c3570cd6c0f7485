"""The account page's exclusion rules and deletion of plays, over real HTTP with real Postgres."""

from __future__ import annotations

import html
import io
import re
import zipfile

import requests

from ingestion.recently_played import ingest_user
from tests.spotify_support import csrf
from warehouse.db import connect


def test_rules_and_deletions_from_the_account_page(spotify_settings, fake_spotify, connect_user, login_service):
    users = fake_spotify.fake.listening.users
    user_id, other = users[0].user_id, users[1].user_id
    browser = connect_user(user_id)  # in Europe/Berlin
    assert ingest_user(user_id, spotify_settings).plays_inserted == 50
    url = f"{login_service.url}/account"
    token = csrf(browser, url)
    assert "No rule: every play counts." in browser.get(url, timeout=10).text

    bad = browser.post(f"{url}/exclusions", data={"kind": "artist", "target": "<script>", **token}, timeout=10)
    assert bad.status_code == 400 and "&#39;&lt;script&gt;&#39; is not a Spotify link, URI or id" in bad.text
    bad = browser.post(f"{url}/exclusions", data={"kind": "time", "from": "2024-03-02", "to": "2024-03-01", **token},
                       timeout=10)
    assert bad.status_code == 400 and "is not after from" in bad.text
    added = browser.post(f"{url}/exclusions", data={"kind": "time", "from": "2024-12-24 18:00", "to": "2024-12-26",
                                                    **token}, allow_redirects=False, timeout=10)
    assert added.status_code == 302
    page = browser.get(url, timeout=10).text
    assert "plays ending from 2024-12-24 18:00 to 2024-12-27 00:00 (local time)" in page
    with connect("source", spotify_settings) as conn:
        (mine,) = conn.execute("SELECT rule_id FROM exclusion_rules WHERE user_id = %s AND created_by = %s",
                               (user_id, user_id)).fetchone()
        conn.execute("INSERT INTO users (user_id) VALUES (%s)", (other,))
        (theirs,) = conn.execute("INSERT INTO exclusion_rules (user_id, kind, target, created_by) "
                                 "VALUES (%s, 'track', '4uLU6hMCjMI75M1A2tKUQC', 'x') RETURNING rule_id",
                                 (other,)).fetchone()
    assert browser.post(f"{url}/exclusions/{theirs}/remove", data=token, timeout=10).status_code == 404
    assert browser.post(f"{url}/exclusions/{mine}/remove", data=token, timeout=10).status_code == 200
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT user_id FROM exclusion_rules").fetchall() == [(other,)]

    # Single plays, from the list of a local day's plays.
    with connect("source", spotify_settings) as conn:
        play_id, day = conn.execute(
            "SELECT play_id, (played_at AT TIME ZONE 'Europe/Berlin')::date::text FROM plays WHERE user_id = %s "
            "ORDER BY played_at DESC LIMIT 1", (user_id,)).fetchone()
        (on_day,) = conn.execute("SELECT count(*) FROM plays WHERE user_id = %s "
                                 "AND (played_at AT TIME ZONE 'Europe/Berlin')::date = %s", (user_id, day)).fetchone()
        (others,) = conn.execute(
            "INSERT INTO plays (user_id, play_key, source, played_at, ms_played, track_id) "
            "SELECT %s, play_key, source, played_at, ms_played, track_id FROM plays WHERE play_id = %s "
            "RETURNING play_id", (other, play_id)).fetchone()
    listed = browser.get(url, params={"day": day}, timeout=10).text
    assert len(re.findall(r'name="play_id" value="(\d+)"', listed)) == on_day
    assert browser.get(url, params={"day": "soon"}, timeout=10).status_code == 400
    unconfirmed = browser.post(f"{url}/plays/delete", data={"play_id": play_id, **token}, timeout=10)
    assert unconfirmed.status_code == 400 and "confirms" in unconfirmed.text
    assert browser.post(f"{url}/plays/delete", data={"play_id": "1 OR 1=1", "confirm": "yes", **token},
                        timeout=10).status_code == 400
    assert browser.post(f"{url}/plays/delete", data={"play_id": others, "confirm": "yes", **token},
                        timeout=10).status_code == 400  # another user's play
    deleted = browser.post(f"{url}/plays/delete", data={"play_id": play_id, "confirm": "yes", **token}, timeout=10)
    assert deleted.status_code == 200 and html.escape(f"plays {play_id}") in deleted.text
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM plays WHERE user_id = %s", (user_id,)).fetchone() == (49,)
        assert conn.execute("SELECT deleted_by, plays FROM play_deletions").fetchall() == [(user_id, 1)]
        # Polling from the start again does not bring the deleted play back.
        conn.execute("UPDATE ingestion_cursors SET after_ms = NULL WHERE user_id = %s", (user_id,))
    assert ingest_user(user_id, spotify_settings).plays_inserted == 0
    assert browser.post(f"{url}/plays/delete", data={"from": "2024-01-01", "to": "2024-01-01", **token},
                        timeout=10).status_code == 400  # not confirmed

    # The takeout, downloaded: the user's plays (49 now), nobody else's.
    download = browser.get(f"{url}/export", params={"format": "csv"}, timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
    assert f'filename=wrapped-{user_id}-csv.zip' in download.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.read("plays/plays-0001.csv").decode().count("\n") == 1 + 49
    assert browser.get(f"{url}/export", params={"format": "xml"}, timeout=10).status_code == 400
    assert requests.get(f"{url}/export", params={"format": "csv"}, timeout=10).status_code == 401


def test_recording_rules_from_the_account_page(spotify_settings, fake_spotify, connect_user, login_service):
    user_id = fake_spotify.fake.listening.users[0].user_id
    browser = connect_user(user_id)
    ingest_user(user_id, spotify_settings)
    with connect("source", spotify_settings) as conn:
        one, two = (track_id for (track_id,) in conn.execute(
            "SELECT DISTINCT track_id FROM plays WHERE user_id = %s ORDER BY track_id LIMIT 2", (user_id,)))
    url = f"{login_service.url}/account"
    token = csrf(browser, url)
    assert "No rule: songs are matched by their ISRC." in browser.get(url, timeout=10).text
    bad = browser.post(f"{url}/recording-rules", data={"kind": "merge", "track": one, "into": "<b>", **token},
                       timeout=10)
    assert bad.status_code == 400 and "into: track &#39;&lt;b&gt;&#39; is not a Spotify link, URI or id" in bad.text
    added = browser.post(f"{url}/recording-rules", data={
        "kind": "merge", "track": f"https://open.spotify.com/track/{one}", "into": f"spotify:track:{two}", **token},
        allow_redirects=False, timeout=10)
    assert added.status_code == 302
    with connect("source", spotify_settings) as conn:
        (rule_id, kind, track_id, into, by) = conn.execute(
            "SELECT rule_id, kind, track_id, into_track_id, created_by FROM recording_rules").fetchone()
    assert (kind, track_id, into, by) == ("merge", one, two, user_id)
    assert "counts as the same song as" in browser.get(url, timeout=10).text
    assert browser.post(f"{url}/recording-rules/{rule_id + 1}/remove", data=token, timeout=10).status_code == 404
    assert browser.post(f"{url}/recording-rules/{rule_id}/remove", data=token, timeout=10).status_code == 200
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM recording_rules").fetchone() == (0,)
