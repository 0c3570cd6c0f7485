"""Web hardening of the dashboard over real HTTP: admin sessions that end at logout, back-off on
wrong admin passwords, CSRF and Origin checks, share links that expire, generic error pages."""

from __future__ import annotations

import base64
import http.client
import logging
import re
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from dashboard.backoff import Backoff
from operations.postgres import free_port
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, replicate_share_links
from warehouse.share_links import create_share_link


def form_token(browser: requests.Session, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url, timeout=10).text).group(1)


def admin_login(browser: requests.Session, url: str, password: str = ADMIN_PASSWORD, **headers):
    token = form_token(browser, f"{url}/")
    return browser.post(f"{url}/admin/login", data={"password": password, "csrf_token": token}, headers=headers,
                        allow_redirects=False, timeout=10)


def basic(password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


def test_a_copied_admin_cookie_is_refused_after_logout(server):
    browser = requests.Session()
    assert admin_login(browser, server.url).status_code == 302
    copied = requests.Session()
    copied.cookies.update({"wrapped_admin": browser.cookies["wrapped_admin"]})
    assert copied.get(f"{server.url}/users", timeout=10).status_code == 200
    token = form_token(browser, f"{server.url}/users")
    assert browser.post(f"{server.url}/logout", data={"csrf_token": token}, allow_redirects=False,
                        timeout=10).status_code == 302
    assert copied.get(f"{server.url}/users", timeout=10).status_code == 404
    assert copied.get(f"{server.url}/api/users", timeout=10).status_code == 404
    again = requests.Session()  # logging in again works, with a new session
    assert admin_login(again, server.url).status_code == 302
    assert again.get(f"{server.url}/users", timeout=10).status_code == 200
    assert copied.get(f"{server.url}/users", timeout=10).status_code == 404


def test_admin_login_from_another_origin_or_without_the_token_is_refused(server):
    browser = requests.Session()
    token = form_token(browser, f"{server.url}/")
    evil = f"http://127.0.0.1:{free_port()}"
    for data, headers in (({"password": ADMIN_PASSWORD, "csrf_token": token}, {"Origin": evil}),
                          ({"password": ADMIN_PASSWORD}, {}),
                          ({"password": ADMIN_PASSWORD, "csrf_token": token + "x"}, {})):
        answer = browser.post(f"{server.url}/admin/login", data=data, headers=headers, allow_redirects=False,
                              timeout=10)
        assert answer.status_code == 403
        assert browser.get(f"{server.url}/users", timeout=10).status_code == 404  # not logged in
    assert browser.post(f"{server.url}/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token},
                        headers={"Origin": server.url}, allow_redirects=False, timeout=10).status_code == 302


def get_from(address: str, url: str, path: str, headers: dict | None = None) -> tuple[int, dict]:
    """A GET from the client address `address` (any of 127.0.0.0/8); status and headers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(address, 0))
    conn.request("GET", path, headers=headers or {})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status, dict(answer.headers)


def test_wrong_admin_passwords_back_off_per_client_address(server):
    browser = requests.Session()
    answers = [admin_login(browser, server.url, "wrong password!") for _ in range(5)]
    assert [a.status_code for a in answers] == [403] * 5
    # Backing off now: the right password is refused too, by the form and by HTTP Basic.
    refused = admin_login(browser, server.url)
    assert refused.status_code == 429 and 25 <= int(refused.headers["Retry-After"]) <= 30
    assert "try again in" in refused.text
    status, headers = get_from("127.0.0.1", server.url, "/api/users", basic(ADMIN_PASSWORD))
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert browser.get(f"{server.url}/users", timeout=10).status_code == 404
    # Another client address is not slowed down by this one's guesses.
    assert get_from("127.0.0.2", server.url, "/api/users", basic(ADMIN_PASSWORD))[0] == 200
    assert get_from("127.0.0.2", server.url, "/api/users", basic("wrong password!"))[0] == 404


def test_backoff_doubles_forgets_and_stays_bounded():
    now = [1000.0]
    backoff = Backoff(free=3, first_wait=10, max_wait=40, max_addresses=100, clock=lambda: now[0])
    for _ in range(2):
        backoff.failed("a")
    assert backoff.retry_after("a") == 0
    waits = []
    for _ in range(4):
        backoff.failed("a")
        waits.append(backoff.retry_after("a"))
    assert waits == [10, 20, 40, 40]  # doubling, at most max_wait
    now[0] += 41
    assert backoff.retry_after("a") == 0
    backoff.succeeded("a")
    backoff.failed("a")
    assert backoff.retry_after("a") == 0  # a right password cleared the count
    for n in range(1000):
        backoff.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(backoff) == 100  # the least recently failed addresses are forgotten


def test_an_expired_share_link_opens_nothing(server, filled):
    token = create_share_link(filled, "alice", expires_days=1)
    replicate_share_links(filled)
    opened = requests.get(f"{server.url}/s/{token}", allow_redirects=False, timeout=10)
    assert opened.status_code == 302
    cookie = {"wrapped_share": token}
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{server.url}/users/alice", cookies=cookie, timeout=10).status_code == 200
    assert requests.get(f"{server.url}/api/users/alice/overview", headers=bearer, timeout=10).status_code == 200
    with psycopg.connect(filled.main_database_url) as conn:
        conn.execute("UPDATE dashboard_share_links SET expires_at = now() - interval '1 second'")
    replicate_share_links(filled)
    assert requests.get(f"{server.url}/s/{token}", allow_redirects=False, timeout=10).status_code == 404
    assert requests.get(f"{server.url}/users/alice", cookies=cookie, timeout=10).status_code == 404
    assert requests.get(f"{server.url}/api/users/alice/overview", headers=bearer, timeout=10).status_code == 404
    with pytest.raises(ValueError, match="1 day or more"):
        create_share_link(filled, "alice", expires_days=0)


def test_an_unexpected_error_is_a_generic_500_with_the_detail_in_the_log(server, monkeypatch, caplog):
    from dashboard.queries import Replica

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail: relation analytics.x at 10.0.0.5")

    monkeypatch.setattr(Replica, "user", broken)
    with caplog.at_level(logging.ERROR):
        page = requests.get(f"{server.url}/users/alice", headers=basic(ADMIN_PASSWORD), timeout=10)
        api = requests.get(f"{server.url}/api/users/alice/periods", headers=basic(ADMIN_PASSWORD), timeout=10)
    assert page.status_code == 500 and "500" in page.text
    assert api.status_code == 500 and api.json()["status"] == 500
    for answer in (page, api):
        assert "secret detail" not in answer.text and "10.0.0.5" not in answer.text
        assert answer.headers["X-Frame-Options"] == "DENY" and "no-store" in answer.headers["Cache-Control"]
    assert caplog.text.count("secret detail: relation analytics.x") >= 2 and "Traceback" in caplog.text


def test_answers_carry_the_security_headers_and_bodies_are_limited(server):
    for path, cacheable in (("/", False), ("/api", False), ("/nothing", False), ("/vendor/plotly.min.js", True),
                            ("/static/dashboard.js", True)):
        headers = requests.get(f"{server.url}{path}", timeout=10).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        assert ("no-store" in headers.get("Cache-Control", "")) is not cacheable, path
    browser = requests.Session()
    token = form_token(browser, f"{server.url}/")
    big = browser.post(f"{server.url}/admin/login", data={"password": "x" * 100_000, "csrf_token": token},
                       timeout=10)
    assert big.status_code == 413
