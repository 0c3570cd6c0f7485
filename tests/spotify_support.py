"""Fixtures of the Spotify tests: the fake Spotify and the login service over real HTTP.

Both run in threads of the test process (werkzeug servers on free ports), so a
test can steer the fake through its `/_admin` endpoints and read its counters.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import pytest
import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from fake_spotify import Client, FakeSpotify, create_app
from fake_spotify.login import log_in
from operations.postgres import free_port
from warehouse.settings import Settings, get_settings

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-client-secret"


class Served:
    """A WSGI app served on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app, port: int):
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@dataclass
class FakeServer:
    fake: FakeSpotify
    url: str

    def admin(self, method: str, endpoint: str, **json) -> dict:
        response = requests.request(method, f"{self.url}/_admin{endpoint}", json=json or None, timeout=10)
        assert response.status_code < 300, response.text
        return response.json()

    def fault(self, **fault) -> None:
        self.admin("POST", "/faults", **fault)

    def window(self, user_id: str) -> list[str]:
        return self.admin("GET", f"/users/{user_id}/plays")["window"]

    def all_plays(self, user_id: str) -> list[str]:
        return self.admin("GET", f"/users/{user_id}/plays")["played_at"]

    def requests(self, endpoint: str) -> int:
        return self.admin("GET", "/stats")["requests"].get(endpoint, 0)

    def refreshes(self, user_id: str) -> int:
        return self.admin("GET", "/stats")["refreshes"].get(user_id, 0)


@pytest.fixture
def flask_port() -> int:
    return free_port()


@pytest.fixture
def fake_spotify(flask_port):
    fake = FakeSpotify.generated(
        seed=7, users=3, days=4,
        clients=[Client(CLIENT_ID, CLIENT_SECRET, [f"http://127.0.0.1:{flask_port}/callback"])])
    served = Served(create_app(fake), free_port())
    yield FakeServer(fake, served.url)
    served.stop()


@pytest.fixture
def spotify_settings(dbs, fake_spotify, flask_port, monkeypatch) -> Settings:
    """Settings pointing at the test databases, the fake Spotify and fresh secrets (also in the environment)."""
    values = {
        "spotify_client_id": CLIENT_ID,
        "spotify_client_secret": CLIENT_SECRET,
        "spotify_redirect_uri": f"http://127.0.0.1:{flask_port}/callback",
        "spotify_api_url": f"{fake_spotify.url}/v1",
        "spotify_accounts_url": fake_spotify.url,
        "token_encryption_key": Fernet.generate_key().decode(),
        "pipeline_api_key": "test-pipeline-key",
        "flask_secret_key": "test-flask-secret-of-at-least-32-characters",
        "flask_port": flask_port,
        "spotify_max_retry_after_seconds": 5,
    }
    for name, value in values.items():
        monkeypatch.setenv(name.upper(), str(value))
    get_settings.cache_clear()
    return Settings(_env_file=None, **{**dbs.model_dump(), **values})


@pytest.fixture
def login_service(spotify_settings, flask_port):
    from flask_endpoint.app import create_app as create_login_app

    served = Served(create_login_app(spotify_settings), flask_port)
    yield served
    served.stop()


@pytest.fixture
def connect_user(login_service, fake_spotify):
    return lambda user_id, tz="Europe/Berlin": log_in(login_service.url, fake_spotify.url, user_id, tz)


def csrf(browser: requests.Session, page_url: str) -> dict:
    """The `csrf_token` field of the forms on `page_url`, as this browser's session gets it."""
    page = browser.get(page_url, timeout=10)
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)}
