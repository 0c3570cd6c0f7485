"""`python -m flask_endpoint serve` as a real process: gunicorn, a login through it, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from fake_spotify.login import log_in
from testkit import served
from testkit.served import wait_until
from testkit.stack_env import identity
from warehouse.db import connect
from warehouse.settings import PROJECT_ROOT

TITLE = "python -m flask_endpoint serve"


def listening(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
    except requests.ConnectionError:
        return False
    return True


def test_serve_runs_gunicorn_logs_a_user_in_and_stops_on_sigterm(spotify_settings, fake_spotify, tmp_path):
    url = spotify_settings.login_service_url
    log = tmp_path / "flask.log"
    workers: dict[int, str] = {}
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "flask_endpoint", "serve"], cwd=PROJECT_ROOT,
                                  env=dict(os.environ, FLASK_WORKERS="2"), stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: listening(url), server, log)
        health = requests.get(f"{url}/health", timeout=5)
        assert (health.status_code, health.headers["Server"]) == (200, "gunicorn")
        workers = served.forked_workers(server.pid, 2)
        assert identity(server.pid)[2] == f"gunicorn: master [{TITLE}]"
        assert list(workers.values()) == [f"gunicorn: worker [{TITLE}]"] * 2
        # /login and /callback may meet different workers: the OAuth state travels in the session cookie
        user = fake_spotify.fake.listening.users[0].user_id
        browser = log_in(url, fake_spotify.url, user)
        assert browser.get(f"{url}/account", timeout=10).status_code == 200
        with connect("source", spotify_settings) as conn:
            assert conn.execute("SELECT count(*) FROM spotify_accounts WHERE user_id = %s",
                                (user,)).fetchone() == (1,)
    finally:
        status, orphans = served.stop(server, workers)
    text = log.read_text()
    assert (status, orphans) == (0, []), text  # exit status 0, no worker left
    assert '"GET /health HTTP/1.1" 200' in text  # the access log, on stdout
    assert re.search(r'"GET /callback\?code=<code>&state=\S+ HTTP/1.1" 302', text), text  # no OAuth code


def test_serve_refuses_a_missing_secret_before_it_starts(tmp_path):
    env = dict(os.environ, SPOTIFY_CLIENT_ID="someone", FLASK_SECRET_KEY="", RUNTIME_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "flask_endpoint", "serve"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "error: FLASK_SECRET_KEY is not set" in result.stderr, result.stderr
    assert "gunicorn" not in result.stdout + result.stderr  # no server started
