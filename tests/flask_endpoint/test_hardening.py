"""Web hardening of the login service, over real HTTP with real Postgres: CSRF and Origin checks,
sessions that end at logout and after their lifetime, the body limit on chunked uploads,
non-ASCII secrets, security headers, generic error pages, share links that expire."""

from __future__ import annotations

import http.client
import logging
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests

from operations.postgres import free_port
from testkit.web_session import log_in_client
from tests.spotify_support import Served, csrf
from warehouse.db import connect

API_KEY = {"X-API-Key": "test-pipeline-key"}


@pytest.fixture
def account(fake_spotify, connect_user, login_service):
    """A user logged in: (user_id, browser, the service's URL, the account page's form token)."""
    user_id = fake_spotify.fake.listening.users[0].user_id
    browser = connect_user(user_id)
    return user_id, browser, login_service.url, csrf(browser, f"{login_service.url}/account")


def user_row(settings, user_id, columns: str = "email, timezone"):
    with connect("source", settings) as conn:
        return conn.execute(f"SELECT {columns} FROM users WHERE user_id = %s", (user_id,)).fetchone()


def test_a_post_from_another_origin_or_without_the_token_changes_nothing(spotify_settings, account):
    user_id, browser, url, token = account
    before = user_row(spotify_settings, user_id)
    form = {"timezone": "Asia/Tokyo", "email": "attacker@example.org"}
    # A page on another port of 127.0.0.1 (same site: SameSite=Lax does not help) posts the victim's form.
    evil = f"http://127.0.0.1:{free_port()}"
    refused = [
        browser.post(f"{url}/account/settings", data=form, headers={"Origin": evil}, timeout=10),
        browser.post(f"{url}/account/settings", data={**form, **token}, headers={"Origin": evil}, timeout=10),
        browser.post(f"{url}/account/settings", data=form, headers={"Origin": "null"}, timeout=10),
        browser.post(f"{url}/account/settings", data={**form, **token}, headers={"Referer": f"{evil}/x"},
                     timeout=10),
        browser.post(f"{url}/account/settings", data=form, timeout=10),  # no token
        browser.post(f"{url}/account/settings", data={**form, "csrf_token": "forged"}, timeout=10),
        browser.post(f"{url}/account/share-links", data={}, headers={"Origin": evil}, timeout=10),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    assert user_row(spotify_settings, user_id) == before
    with connect("main", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM dashboard_share_links").fetchone()[0] == 0
    # The service's own page, with its token, from its own origin: saved.
    saved = browser.post(f"{url}/account/settings", data={**form, **token}, headers={"Origin": url},
                         allow_redirects=False, timeout=10)
    assert saved.status_code == 302
    assert user_row(spotify_settings, user_id) == ("attacker@example.org", "Asia/Tokyo")


def test_a_copied_session_cookie_is_refused_after_logout(spotify_settings, fake_spotify, connect_user,
                                                          login_service):
    user_id = fake_spotify.fake.listening.users[1].user_id
    browser = connect_user(user_id)
    url = login_service.url
    token = csrf(browser, f"{url}/account")
    cookie = browser.cookies["session"]
    copied = requests.Session()
    copied.cookies.update({"session": cookie})
    assert copied.get(f"{url}/account", allow_redirects=False, timeout=10).status_code == 200
    assert browser.post(f"{url}/logout", data=token, allow_redirects=False, timeout=10).status_code == 302
    # The copy still carries a validly signed session of the old version: it is no login any more.
    page = copied.get(f"{url}/account", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and urlsplit(page.headers["Location"]).path == "/"
    replay = requests.Session()  # the copy as it was, sent again with its form token
    replay.cookies.update({"session": cookie})
    before = user_row(spotify_settings, user_id)
    refused = replay.post(f"{url}/account/settings", data={"timezone": "Asia/Tokyo", "email": "x@example.org",
                                                           **token}, allow_redirects=False, timeout=10)
    assert refused.status_code in (401, 403) and user_row(spotify_settings, user_id) == before
    assert replay.get(f"{url}/account", allow_redirects=False, timeout=10).status_code == 302
    assert user_row(spotify_settings, user_id, "session_version") == (1,)  # incremented by the logout


def test_sessions_end_after_their_lifetime_and_are_secure_over_https(spotify_settings, fake_spotify, connect_user):
    from flask_endpoint.app import create_app

    user_id = fake_spotify.fake.listening.users[1].user_id
    with connect("source", spotify_settings) as conn:
        conn.execute("INSERT INTO users (user_id) VALUES (%s)", (user_id,))
    client = create_app(spotify_settings.model_copy(update={"session_lifetime_hours": 2})).test_client()
    log_in_client(client, user_id=user_id, version=0)
    assert client.get("/account").status_code == 200
    with client.session_transaction() as session:
        session["since"] = time.time() - 2 * 3600 - 5  # logged in a little over 2 hours ago
    assert client.get("/account").status_code == 302  # however active it was since
    https = create_app(spotify_settings.model_copy(
        update={"spotify_redirect_uri": "https://wrapped.example.org/callback"})).test_client()
    cookie = https.get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in client.get("/login").headers["Set-Cookie"]


def chunked_post(url: str, path: str, headers: dict, body: bytes) -> int:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length); the answer's status."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("POST", path)
    for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    try:
        for start in range(0, len(body), 65536):
            chunk = body[start:start + 65536]
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered before reading it all
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_chunked_upload_over_the_limit_gets_413(spotify_settings, fake_spotify, connect_user, login_service):
    from flask_endpoint.app import create_app

    user_id = fake_spotify.fake.listening.users[2].user_id
    browser = connect_user(user_id)
    token = csrf(browser, f"{login_service.url}/import")["csrf_token"]
    small = Served(create_app(spotify_settings.model_copy(update={"upload_max_mb": 1})), free_port())
    try:
        boundary = "limit-test"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"export\"; filename=\"big.json\"\r\n"
                "Content-Type: application/json\r\n\r\n").encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Cookie": f"session={browser.cookies['session']}"}
        records = b"[" + b",".join([b'{"ts": "2024-01-01T00:00:00Z", "ms_played": 1000}'] * 40_000) + b"]"
        assert len(records) > 2**20
        assert chunked_post(small.url, "/import", headers, head + records + f"\r\n--{boundary}--\r\n".encode()) == 413
        small_file = b"[]"
        assert chunked_post(small.url, "/import", headers,
                            head + small_file + f"\r\n--{boundary}--\r\n".encode()) == 200  # under it: read
    finally:
        small.stop()
    with connect("source", spotify_settings) as conn:
        assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == 0


def test_non_ascii_state_or_api_key_is_refused_not_a_500(spotify_settings, fake_spotify, login_service):
    url = login_service.url
    browser = requests.Session()
    browser.get(f"{url}/login", allow_redirects=False, timeout=10)  # a state waits in the session
    answer = browser.get(f"{url}/callback", params={"state": "état-ключ", "code": "x"}, timeout=10)
    assert answer.status_code == 400 and "state mismatch" in answer.text
    assert requests.get(f"{url}/internal/users/u/token", headers={"X-API-Key": "clé"}, timeout=10).status_code == 401
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(url).port, timeout=10)
    conn.putrequest("GET", "/internal/users/u/token")
    conn.putheader("X-API-Key", "ключ".encode())  # UTF-8 bytes in a header
    conn.endheaders()
    assert conn.getresponse().status == 401
    conn.close()


def test_answers_carry_the_security_headers(account):
    _, browser, url, token = account
    with_link = browser.post(f"{url}/account/share-links", data=token, timeout=10)  # shows the new link
    assert 'id="new-link"' in with_link.text
    for answer in (with_link, browser.get(f"{url}/account", timeout=10), browser.get(f"{url}/import", timeout=10),
                   requests.get(f"{url}/", timeout=10), requests.get(f"{url}/nothing", timeout=10),
                   requests.get(f"{url}/internal/users/u/token", timeout=10)):
        headers = answer.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], answer.url
        assert "script-src 'self';" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "no-store" in headers["Cache-Control"]
    script = requests.get(f"{url}/static/login.js", timeout=10)  # the login page's script, allowed by the CSP
    assert script.status_code == 200 and "timeZone" in script.text
    assert '<script src="/static/login.js">' in requests.get(f"{url}/", timeout=10).text


def test_error_pages_are_generic_and_the_log_has_the_detail(spotify_settings, fake_spotify, connect_user,
                                                             login_service, monkeypatch, caplog):
    import flask_endpoint.account
    import flask_endpoint.internal

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail: password=hunter2 at db.internal:5433")

    browser = connect_user(fake_spotify.fake.listening.users[0].user_id)
    monkeypatch.setattr(flask_endpoint.account, "latest_run", broken)
    monkeypatch.setattr(flask_endpoint.internal, "valid_access_token", broken)
    with caplog.at_level(logging.ERROR):
        page = browser.get(f"{login_service.url}/account", timeout=10)
        api = requests.get(f"{login_service.url}/internal/users/u/token", headers=API_KEY, timeout=10)
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert api.status_code == 500 and api.json()["error"] == "internal_error"
    for answer in (page, api):
        assert "secret detail" not in answer.text and "hunter2" not in answer.text
    assert caplog.text.count("secret detail: password=hunter2") >= 2  # the log has it, with the traceback
    assert "Traceback" in caplog.text


def test_a_share_link_made_on_the_account_page_may_expire(spotify_settings, account):
    user_id, browser, url, token = account
    assert browser.post(f"{url}/account/share-links", data={**token, "expires_days": "0"}, timeout=10).status_code \
        == 400
    page = browser.post(f"{url}/account/share-links", data={**token, "expires_days": "7"}, timeout=10)
    assert page.status_code == 200 and "live until" in page.text
    browser.post(f"{url}/account/share-links", data={**token, "expires_days": ""}, timeout=10)  # never expires
    with connect("main", spotify_settings) as conn:
        expiries = [row[0] for row in conn.execute(
            "SELECT expires_at FROM dashboard_share_links WHERE user_id = %s ORDER BY created_at", (user_id,))]
    assert len(expiries) == 2 and expiries[1] is None
    assert abs(expiries[0] - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
