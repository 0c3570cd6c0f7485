"""The login service over real HTTP against the fake Spotify, with real Postgres."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.fernet import Fernet

from fake_spotify.login import allow_comparison
from ingestion.recently_played import ingest_user
from tests.spotify_support import csrf
from warehouse.db import connect

API_KEY = {"X-API-Key": "test-pipeline-key"}


def account_row(settings, user_id):
    with connect("source", settings) as conn:
        return conn.execute(
            """SELECT a.access_token_encrypted, a.refresh_token_encrypted, a.token_expires_at, u.timezone,
                      u.email, u.needs_login, u.needs_login_reason
               FROM users u LEFT JOIN spotify_accounts a USING (user_id) WHERE u.user_id = %s""",
            (user_id,)).fetchone()


def decrypt(settings, blob) -> str:
    return Fernet(settings.token_encryption_key).decrypt(bytes(blob)).decode()


def test_login_stores_the_user_and_encrypted_tokens(spotify_settings, fake_spotify, connect_user, login_service):
    user = fake_spotify.fake.listening.users[1]
    browser = connect_user(user.user_id, tz="America/New_York")
    access_enc, refresh_enc, _, timezone, email, needs_login, _ = account_row(spotify_settings, user.user_id)
    assert (timezone, email, needs_login) == ("America/New_York", user.email, False)
    access, refresh = decrypt(spotify_settings, access_enc), decrypt(spotify_settings, refresh_enc)
    # The stored tokens are the ones the fake issued, and they are not stored in clear.
    assert fake_spotify.fake.access_tokens[access].user_id == user.user_id
    assert fake_spotify.fake.refresh_tokens[refresh].user_id == user.user_id
    assert access.encode() not in bytes(access_enc) and refresh.encode() not in bytes(refresh_enc)
    page = browser.get(f"{login_service.url}/account", timeout=10)
    assert page.status_code == 200 and 'id="status">Connected' in page.text
    assert "Dashboard share links" in page.text
    # Logout forgets the tokens.
    token = csrf(browser, f"{login_service.url}/account")
    assert browser.post(f"{login_service.url}/logout", data=token, allow_redirects=False, timeout=10).status_code == 302
    assert account_row(spotify_settings, user.user_id)[0] is None
    assert browser.get(f"{login_service.url}/account", allow_redirects=False, timeout=10).status_code == 302


def test_state_mismatch_is_refused(spotify_settings, fake_spotify, login_service):
    browser = requests.Session()
    start = browser.get(f"{login_service.url}/login", allow_redirects=False, timeout=10)
    approved = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])
    code = parse_qs(callback.query)["code"][0]
    # Another browser (no session) or a forged state: refused, nothing stored.
    other = requests.get(f"{login_service.url}/callback", params={"code": code, "state": "forged"}, timeout=10)
    assert other.status_code == 400 and "state mismatch" in other.text
    forged = browser.get(f"{login_service.url}/callback", params={"code": code, "state": "forged"}, timeout=10)
    assert forged.status_code == 400
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM spotify_accounts").fetchone()[0] == 0


def test_pkce_verifier_is_checked_by_the_token_endpoint(spotify_settings, fake_spotify, login_service):
    browser = requests.Session()
    start = browser.get(f"{login_service.url}/login", allow_redirects=False, timeout=10)
    authorize = parse_qs(urlsplit(start.headers["Location"]).query)
    assert authorize["code_challenge_method"] == ["S256"] and authorize["code_challenge"][0]
    approved = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    # Whoever steals the code without the browser's verifier gets nothing.
    stolen = requests.post(f"{fake_spotify.url}/api/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": "test-client",
        "redirect_uri": spotify_settings.spotify_redirect_uri, "code_verifier": "not-the-verifier"})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The code is now used: the real callback is refused too, with a page that is not 200.
    late = browser.get(approved.headers["Location"], allow_redirects=False, timeout=10)
    assert late.status_code == 400 and "Spotify refused the code" in late.text


def test_internal_token_endpoint_needs_the_api_key(spotify_settings, fake_spotify, connect_user, login_service):
    user_id = fake_spotify.fake.listening.users[0].user_id
    connect_user(user_id)
    url = f"{login_service.url}/internal/users/{user_id}/token"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"X-API-Key": "wrong"}, timeout=10).status_code == 401
    answer = requests.get(url, headers=API_KEY, timeout=10)
    assert answer.status_code == 200
    assert fake_spotify.fake.access_tokens[answer.json()["access_token"]].user_id == user_id
    assert requests.get(f"{login_service.url}/internal/users/nobody/token", headers=API_KEY,
                        timeout=10).status_code == 404
    page = requests.get(f"{login_service.url}/internal/users/{user_id}/recently-played", headers=API_KEY,
                        params={"after": 0}, timeout=10)
    assert page.status_code == 200 and len(page.json()["items"]) == 50
    assert requests.get(f"{login_service.url}/health", timeout=10).json() == {"status": "ok"}


def test_concurrent_token_requests_cause_one_refresh(spotify_settings, fake_spotify, connect_user, login_service):
    user_id = fake_spotify.fake.listening.users[0].user_id
    connect_user(user_id)
    fake_spotify.admin("POST", "/mode", refresh_policy="omit")
    _, refresh_before, *_ = account_row(spotify_settings, user_id)
    with connect("source", spotify_settings) as conn:  # 30 s left: under the 60 s margin
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now() + interval '30 seconds'")
    barrier = threading.Barrier(8)
    tokens = []

    def ask():
        barrier.wait()
        answer = requests.get(f"{login_service.url}/internal/users/{user_id}/token", headers=API_KEY, timeout=30)
        tokens.append((answer.status_code, answer.json().get("access_token")))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake_spotify.refreshes(user_id) == 1
    assert {status for status, _ in tokens} == {200} and len({token for _, token in tokens}) == 1
    access_enc, refresh_after, expires_at, *_ = account_row(spotify_settings, user_id)
    assert decrypt(spotify_settings, access_enc) == tokens[0][1]
    # Spotify omitted refresh_token: the old one is kept, and still works.
    assert decrypt(spotify_settings, refresh_after) == decrypt(spotify_settings, refresh_before)
    fake_spotify.admin("POST", f"/users/{user_id}/expire-access-tokens")
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now()")
    again = requests.get(f"{login_service.url}/internal/users/{user_id}/token", headers=API_KEY, timeout=10)
    assert again.status_code == 200 and fake_spotify.refreshes(user_id) == 2


def test_invalid_grant_flags_the_user_who_is_then_skipped(spotify_settings, fake_spotify, connect_user,
                                                          login_service):
    user_id = fake_spotify.fake.listening.users[2].user_id
    browser = connect_user(user_id)
    fake_spotify.admin("POST", f"/users/{user_id}/revoke")
    with connect("source", spotify_settings) as conn:
        conn.execute("UPDATE spotify_accounts SET token_expires_at = now()")
    answer = requests.get(f"{login_service.url}/internal/users/{user_id}/token", headers=API_KEY, timeout=10)
    assert answer.status_code == 409 and answer.json()["error"] == "needs_login"
    row = account_row(spotify_settings, user_id)
    assert row[5] is True and "revoked" in row[6]
    calls = fake_spotify.requests("recently_played")
    result = ingest_user(user_id, spotify_settings)
    assert result.status == "needs_login" and "log in again" in result.detail
    assert fake_spotify.requests("recently_played") == calls  # skipped: Spotify not even asked
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT status, detail FROM ingestion_runs WHERE user_id = %s",
                            (user_id,)).fetchone()[0] == "needs_login"
        assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == 0
    assert 'id="needs-login"' in browser.get(f"{login_service.url}/", timeout=10).text
    assert "Needs a new login" in browser.get(f"{login_service.url}/account", timeout=10).text
    # Logging in again clears the flag, and ingestion resumes.
    browser = connect_user(user_id)
    assert account_row(spotify_settings, user_id)[5] is False
    assert ingest_user(user_id, spotify_settings).plays_inserted == 50


def test_account_settings_and_share_links(spotify_settings, fake_spotify, connect_user, login_service):
    import re

    user_id = fake_spotify.fake.listening.users[0].user_id
    browser = connect_user(user_id)
    url = login_service.url
    token = csrf(browser, f"{url}/account")
    bad = browser.post(f"{url}/account/settings", data={"timezone": "Mars/Olympus", "email": "", **token}, timeout=10)
    assert bad.status_code == 400 and "Mars/Olympus" in bad.text
    bad = browser.post(f"{url}/account/settings", data={"timezone": "Asia/Tokyo", "email": "nope", **token},
                       timeout=10)
    assert bad.status_code == 400
    saved = browser.post(f"{url}/account/settings",
                         data={"timezone": "Asia/Tokyo", "email": "me@example.org", **token},
                         allow_redirects=False, timeout=10)
    assert saved.status_code == 302
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT timezone, timezone_source, email, compare_consent FROM users "
                            "WHERE user_id = %s", (user_id,)).fetchone() == ("Asia/Tokyo", "asked", "me@example.org",
                                                                             False)
    # Comparison is off until the user turns it on (as the demo does, fake_spotify.login.allow_comparison: the
    # other settings stay as they were), and off again when the box is left unticked.
    def settings_row() -> tuple:
        with connect("source", spotify_settings) as conn:
            return conn.execute("SELECT timezone, email, recap_opt_out, compare_consent FROM users "
                                "WHERE user_id = %s", (user_id,)).fetchone()
    assert 'id="compare" name="compare" type="checkbox" value="1">' in browser.get(f"{url}/account", timeout=10).text
    allow_comparison(url, browser)
    assert settings_row() == ("Asia/Tokyo", "me@example.org", True, True)
    assert 'id="compare" name="compare" type="checkbox" value="1" checked>' in \
        browser.get(f"{url}/account", timeout=10).text
    browser.post(f"{url}/account/settings", data={"timezone": "Asia/Tokyo", "email": "me@example.org", **token},
                 timeout=10)
    assert settings_row() == ("Asia/Tokyo", "me@example.org", True, False)
    page = browser.post(f"{url}/account/share-links", data=token, timeout=10)  # follows the redirect to /account
    assert page.status_code == 200
    link = re.search(r'id="new-link">/s/([\w-]+)<', page.text).group(1)
    with connect("main", spotify_settings) as conn:
        (token_hash,) = conn.execute("SELECT token_hash FROM dashboard_share_links WHERE user_id = %s "
                                     "AND revoked_at IS NULL", (user_id,)).fetchone()
    assert link not in token_hash  # only the hash is stored
    assert browser.post(f"{url}/account/share-links/{'0' * 12}/revoke", data=token, timeout=10).status_code == 404
    revoked = browser.post(f"{url}/account/share-links/{token_hash[:12]}/revoke", data=token, timeout=10)
    assert revoked.status_code == 200 and "revoked" in revoked.text
    with connect("main", spotify_settings) as conn:
        assert conn.execute("SELECT revoked_at IS NOT NULL FROM dashboard_share_links").fetchone() == (True,)
    assert requests.post(f"{url}/account/share-links", timeout=10).status_code == 403  # no session, no token
    anonymous = requests.Session()  # a session with its token, but nobody logged in
    assert anonymous.post(f"{url}/account/share-links", data=csrf(anonymous, f"{url}/import"),
                          timeout=10).status_code == 401
    # The export upload (flask_endpoint/upload.py) is registered and knows who is logged in.
    assert 'id="import"' in browser.get(f"{url}/account", timeout=10).text
    assert browser.get(f"{url}/import", timeout=10).status_code == 200
    assert requests.get(f"{url}/import", timeout=10).status_code == 401


def test_account_page_shows_the_latest_run_and_its_gap(spotify_settings, fake_spotify, connect_user, login_service):
    user_id = fake_spotify.fake.listening.users[0].user_id
    browser = connect_user(user_id)
    assert "No ingestion yet" in browser.get(f"{login_service.url}/account", timeout=10).text
    with connect("source", spotify_settings) as conn:
        conn.execute("""INSERT INTO ingestion_runs (user_id, started_at, finished_at, status, plays_inserted,
                                                    gap_from, gap_to)
                        VALUES (%s, '2026-03-01 11:59+00', '2026-03-01 12:00+00', 'ok', 50,
                                '2026-03-01 08:00+00', '2026-03-01 11:00+00')""", (user_id,))
    page = browser.get(f"{login_service.url}/account", timeout=10).text
    assert 'id="last-run">Last ingestion 2026-03-01 12:00 UTC: ok,\n50 new plays.' in page
    assert "Plays between 2026-03-01 08:00 and\n2026-03-01 11:00 UTC may be missing" in page
    assert 'id="timezone" name="timezone" value="Europe/Berlin"' in page  # the browser's, sent at login
