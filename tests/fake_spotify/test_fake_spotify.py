"""The fake Spotify answers like the real one (tests/fixtures/recently_played_response.json,
docs/spotify-api.md), failures included."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import FIXTURES
from tests.spotify_support import CLIENT_ID, CLIENT_SECRET

REAL = json.loads((FIXTURES / "recently_played_response.json").read_text())
PLAYED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def authorize(fake_spotify, flask_port, user_id=None, challenge=None) -> str:
    if user_id:
        fake_spotify.admin("POST", "/mode", login_user=user_id)
    params = {"client_id": CLIENT_ID, "response_type": "code", "state": "s1",
              "redirect_uri": f"http://127.0.0.1:{flask_port}/callback", "scope": "user-read-recently-played"}
    if challenge:
        params |= {"code_challenge_method": "S256", "code_challenge": challenge}
    answer = requests.get(f"{fake_spotify.url}/authorize", params=params, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def basic() -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()}


@pytest.fixture
def token(fake_spotify, flask_port) -> str:
    user = fake_spotify.fake.listening.users[0].user_id
    code = authorize(fake_spotify, flask_port, user)
    answer = requests.post(f"{fake_spotify.url}/api/token", headers=basic(), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": f"http://127.0.0.1:{flask_port}/callback"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    return body["access_token"]


def get(fake_spotify, token, path, **params):
    return requests.get(f"{fake_spotify.url}/v1{path}", params=params, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def shape(value):
    """The structure of a JSON value: keys of objects, recursively, and the type of leaves."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k != "available_markets"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_recently_played_has_the_shape_of_a_real_answer(fake_spotify, token):
    answer = get(fake_spotify, token, "/me/player/recently-played", limit=50)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == set(REAL)
    assert len(body["items"]) == 50 and body["limit"] == 50
    real_item, item = REAL["items"][0], body["items"][0]
    assert set(item) == set(real_item)
    real_track = {k for k in real_item["track"]}
    assert set(item["track"]) == real_track
    assert shape(item["track"]["album"]) == shape(real_item["track"]["album"])
    assert shape(item["track"]["artists"]) == shape(real_item["track"]["artists"])
    assert all(PLAYED_AT.match(i["played_at"]) for i in body["items"])
    played = [i["played_at"] for i in body["items"]]
    assert played == sorted(played, reverse=True)  # newest first
    assert body["cursors"]["after"] == str(_ms(played[0])) and body["cursors"]["before"] == str(_ms(played[-1]))
    # Only plays of at least 30 s are listed, with the track's full duration.
    assert played == list(reversed(fake_spotify.window(fake_spotify.fake.listening.users[0].user_id)))


def _ms(played_at: str) -> int:
    from ingestion.recently_played import parse_played_at, to_ms

    return to_ms(parse_played_at(played_at))


def test_after_and_before_are_exclusive_and_exclusive_of_each_other(fake_spotify, token):
    page = get(fake_spotify, token, "/me/player/recently-played", limit=50).json()
    times = [_ms(i["played_at"]) for i in page["items"]]
    after = get(fake_spotify, token, "/me/player/recently-played", limit=50, after=times[10]).json()
    assert [_ms(i["played_at"]) for i in after["items"]] == times[:10]
    before = get(fake_spotify, token, "/me/player/recently-played", limit=5, before=times[10]).json()
    assert [_ms(i["played_at"]) for i in before["items"]] == times[11:16]
    assert before["next"] is not None and f"before={times[15]}" in before["next"]
    empty = get(fake_spotify, token, "/me/player/recently-played", after=times[0]).json()
    assert empty["items"] == [] and empty["cursors"] is None and empty["next"] is None
    assert get(fake_spotify, token, "/me/player/recently-played", after=1, before=2).status_code == 400
    assert get(fake_spotify, token, "/me/player/recently-played", limit=51).status_code == 400
    nothing_older = get(fake_spotify, token, "/me/player/recently-played", limit=50, before=times[-1]).json()
    assert nothing_older["items"] == []  # nothing beyond the 50-play window


def test_metadata_single_batch_trailing_slash_and_unknown_ids(fake_spotify, token):
    fake = fake_spotify.fake
    track_ids = [t.track_id for t in fake.listening.tracks[:3]]
    unknown = "0" * 22
    for path in ("/tracks", "/tracks/"):
        body = get(fake_spotify, token, path, ids=",".join([*track_ids, unknown])).json()
        assert [t and t["id"] for t in body["tracks"]] == [*track_ids, None]
    assert get(fake_spotify, token, "/tracks", ids=",".join([track_ids[0]] * 51)).status_code == 400
    album_ids = [a.album_id for a in fake.listening.albums[:21]]
    assert get(fake_spotify, token, "/albums/", ids=",".join(album_ids)).status_code == 400
    assert len(get(fake_spotify, token, "/albums/", ids=",".join(album_ids[:20])).json()["albums"]) == 20
    artist = get(fake_spotify, token, f"/artists/{fake.listening.artists[0].artist_id}").json()
    assert {"genres", "popularity", "followers", "images", "name"} <= set(artist)
    assert get(fake_spotify, token, f"/tracks/{unknown}").status_code == 404


def test_development_mode(fake_spotify, token):
    fake_spotify.admin("POST", "/mode", development=True)
    fake = fake_spotify.fake
    ids = ",".join(a.artist_id for a in fake.listening.artists[:2])
    forbidden = get(fake_spotify, token, "/artists", ids=ids)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["status"] == 403
    artist = get(fake_spotify, token, f"/artists/{fake.listening.artists[0].artist_id}").json()
    assert "popularity" not in artist and "followers" not in artist
    items = get(fake_spotify, token, "/me/player/recently-played", limit=50).json()["items"]
    assert all("popularity" not in i["track"] for i in items)
    word = fake.listening.tracks[0].name.split()[0]
    assert get(fake_spotify, token, "/search", q=word, type="track", limit=11).status_code == 400
    found = get(fake_spotify, token, "/search", q=word, type="track", limit=10).json()["tracks"]
    assert 1 <= len(found["items"]) <= 10 and found["total"] >= 1


def test_faults(fake_spotify, token):
    fake_spotify.fault(path="/v1/me/player", status=429, retry_after=7)
    limited = get(fake_spotify, token, "/me/player/recently-played")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    fake_spotify.fault(path="/v1/", status=429, reason="QUOTA_EXCEEDED")
    quota = get(fake_spotify, token, "/me")
    assert quota.json() == {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
    fake_spotify.fault(path="/v1/", status=502)
    assert get(fake_spotify, token, "/me").status_code == 502
    assert get(fake_spotify, token, "/me").status_code == 200  # a fault hits `times` requests only
    fake_spotify.admin("POST", f"/users/{fake_spotify.fake.login_user}/expire-access-tokens")
    expired = get(fake_spotify, token, "/me")
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "The access token expired"


def test_token_errors_pkce_and_refresh(fake_spotify, flask_port):
    redirect_uri = f"http://127.0.0.1:{flask_port}/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = f"{fake_spotify.url}/api/token"
    code = authorize(fake_spotify, flask_port, challenge=challenge)
    wrong = requests.post(url, timeout=10, data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": redirect_uri, "client_id": CLIENT_ID,
                                                 "code_verifier": verifier + "x"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = authorize(fake_spotify, flask_port, challenge=challenge)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID, "code_verifier": verifier}
    good = requests.post(url, data=form, timeout=10)
    assert good.status_code == 200, good.text
    reused = requests.post(url, data=form, timeout=10)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    bad_client = requests.post(url, data={**form, "client_id": "nobody"}, timeout=10)
    assert bad_client.json()["error"] == "invalid_client"
    refresh = good.json()["refresh_token"]
    fake_spotify.admin("POST", "/mode", refresh_policy="omit")
    again = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": refresh,
                                     "client_id": CLIENT_ID}, timeout=10)
    assert again.status_code == 200 and "refresh_token" not in again.json()
    fake_spotify.admin("POST", f"/users/{fake_spotify.fake.login_user}/revoke")
    revoked = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": refresh,
                                       "client_id": CLIENT_ID}, timeout=10)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    localhost = requests.get(f"{fake_spotify.url}/authorize", allow_redirects=False, timeout=10, params={
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": f"http://localhost:{flask_port}/callback"})
    assert localhost.status_code == 400


def test_requests_are_counted_by_view_name_and_admin_is_not(fake_spotify, token):
    track_id = fake_spotify.fake.listening.tracks[0].track_id
    before = Counter(fake_spotify.admin("GET", "/stats")["requests"])
    for path, params in [("/me", {}), ("/me/", {}), ("/tracks", {"ids": track_id}), ("/tracks/", {"ids": track_id}),
                         (f"/tracks/{track_id}", {}), ("/me/player/recently-played", {}), ("/nothing/here", {})]:
        get(fake_spotify, token, path, **params)
    counted = Counter(fake_spotify.admin("GET", "/stats")["requests"]) - before
    # The names bench/ingestion.py and the ingestion tests read; a slash route counts as its plain twin.
    assert counted == {"me": 2, "batch_tracks": 2, "single_tracks": 1, "recently_played": 1, "unknown": 1}


def test_plays_added_faster_than_real_time_are_cut_short_before_the_clock_moves(fake_spotify):
    """A listener skipping: each new play lasts at least 30 s, none ends after now while 30 s each fit."""
    fake = fake_spotify.fake
    user = fake.listening.users[0].user_id
    with fake.lock:
        fake.history[user][-1].played_at_ms = fake.now_ms() - 100_000  # its latest play ended 100 s ago
        offset = fake.clock_offset_ms
    added = [datetime.fromisoformat(at.replace("Z", "+00:00")) for at in
             fake_spotify.admin("POST", f"/users/{user}/plays", count=3)["played_at"]]
    assert fake.clock_offset_ms == offset  # 3 × 30 s fit in 100 s: real time, no jump
    assert all((later - earlier).total_seconds() >= 30 for earlier, later in itertools.pairwise(added))
    assert added[-1] <= datetime.now(UTC)
    fake_spotify.admin("POST", f"/users/{user}/plays", count=3)  # no room left at all: the clock moves
    assert fake.clock_offset_ms > offset


def made_album(fake_spotify, tracks: int, discs: int = 1) -> dict:
    return fake_spotify.admin("POST", "/albums", tracks=tracks, discs=discs)


SIMPLIFIED_TRACK = {"artists", "available_markets", "disc_number", "duration_ms", "explicit", "external_urls", "href",
                    "id", "is_local", "name", "preview_url", "track_number", "type", "uri"}


def test_album_tracks_pages_an_album_of_more_than_50_tracks(fake_spotify, token):
    made = made_album(fake_spotify, 120, discs=2)
    album_id, track_ids = made["album_id"], made["track_ids"]
    path = f"/albums/{album_id}/tracks"
    first = get(fake_spotify, token, path).json()  # limit 20 when absent
    assert (len(first["items"]), first["limit"], first["offset"], first["total"]) == (20, 20, 0, 120)
    assert first["previous"] is None and "offset=20" in first["next"] and "limit=20" in first["next"]
    assert set(first["items"][0]) == SIMPLIFIED_TRACK  # no album, popularity or external_ids
    # Following `next` with limit=50: three pages, every track once, in disc and track order.
    pages, url = [], f"{fake_spotify.url}/v1{path}?limit=50"
    while url:
        page = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        pages.append(page)
        url = page["next"]
    assert [len(p["items"]) for p in pages] == [50, 50, 20] and {p["total"] for p in pages} == {120}
    assert [p["offset"] for p in pages] == [0, 50, 100] and pages[1]["previous"].endswith("offset=0&limit=50")
    items = [i for p in pages for i in p["items"]]
    assert [i["id"] for i in items] == track_ids
    assert [(i["disc_number"], i["track_number"]) for i in items] == \
        [(1, n) for n in range(1, 61)] + [(2, n) for n in range(1, 61)]
    # spotipy's form (trailing slash), an offset inside a page, a market (accepted, no relinking here).
    middle = get(fake_spotify, token, f"{path}/", limit=7, offset=55, market="DE").json()
    assert [i["id"] for i in middle["items"]] == track_ids[55:62] and "market=DE" in middle["next"]
    # The full album object carries the first 50, with `next` to the rest.
    embedded = get(fake_spotify, token, f"/albums/{album_id}").json()["tracks"]
    assert (len(embedded["items"]), embedded["total"]) == (50, 120) and "offset=50" in embedded["next"]
    # A generated album: its tracks, numbered from 1, on one page.
    album = fake_spotify.fake.listening.albums[0]
    listed = get(fake_spotify, token, f"/albums/{album.album_id}/tracks", limit=50).json()
    assert [i["id"] for i in listed["items"]] == album.track_ids and listed["next"] is None
    assert [i["track_number"] for i in listed["items"]] == list(range(1, album.total_tracks + 1))


def test_album_tracks_limits_and_unknown_albums(fake_spotify, token):
    album_id = made_album(fake_spotify, 3)["album_id"]
    path = f"/albums/{album_id}/tracks"
    for params in ({"limit": 0}, {"limit": 51}, {"limit": "ten"}, {"offset": -1}, {"market": "germany"}):
        answer = get(fake_spotify, token, path, **params)
        assert answer.status_code == 400 and answer.json()["error"]["status"] == 400, params
    beyond = get(fake_spotify, token, path, offset=3).json()
    assert beyond["items"] == [] and beyond["next"] is None and beyond["total"] == 3
    assert get(fake_spotify, token, path, market="from_token").status_code == 200
    assert get(fake_spotify, token, f"/albums/{'0' * 22}/tracks").status_code == 404
    assert get(fake_spotify, token, "/albums/not-an-id/tracks").status_code == 400
    for wrong in ({"tracks": 0}, {"tracks": 3, "discs": 4}, {"tracks": "many"}, {"tracks": 2, "artist_id": "x"}):
        assert requests.post(f"{fake_spotify.url}/_admin/albums", json=wrong, timeout=10).status_code == 400


def test_album_tracks_faults_tokens_and_development_mode(fake_spotify, token):
    album_id = made_album(fake_spotify, 60)["album_id"]
    path = f"/albums/{album_id}/tracks"
    fake_spotify.fault(path=f"/v1{path}", query={"offset": 50}, status=429, retry_after=3)
    assert get(fake_spotify, token, path, limit=50).status_code == 200  # offset 0: not hit
    limited = get(fake_spotify, token, path, limit=50, offset=50)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert len(get(fake_spotify, token, path, limit=50, offset=50).json()["items"]) == 10
    fake_spotify.fault(path=f"/v1{path}", status=503)
    assert get(fake_spotify, token, path).status_code == 503
    fake_spotify.fault(path=f"/v1{path}", body={"items": "broken"})
    assert get(fake_spotify, token, path).json() == {"items": "broken"}
    assert requests.get(f"{fake_spotify.url}/v1{path}", timeout=10).status_code == 401
    fake_spotify.admin("POST", "/mode", development=True)
    served = get(fake_spotify, token, path, limit=50)
    assert served.status_code == 200 and len(served.json()["items"]) == 50  # not a batch endpoint: no 403
    fake_spotify.admin("POST", f"/users/{fake_spotify.fake.login_user}/expire-access-tokens")
    expired = get(fake_spotify, token, path)
    assert expired.status_code == 401 and expired.json()["error"]["message"] == "The access token expired"
    assert fake_spotify.requests("album_tracks") == 8  # faults and refusals counted too
