"""`python -m fake_spotify serve` as a real process: gunicorn with one worker, its state shared by every request."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from operations.postgres import free_port
from testkit import served
from testkit.served import wait_until
from testkit.stack_env import identity
from warehouse.settings import PROJECT_ROOT

TITLE = "python -m fake_spotify serve"


def health(url: str) -> bool:
    try:
        return requests.get(f"{url}/_admin/health", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_fake_is_served_by_one_gunicorn_worker_and_stops_on_sigterm(tmp_path):
    port = free_port()
    url, log = f"http://127.0.0.1:{port}", tmp_path / "fake.log"
    workers: dict[int, str] = {}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "fake_spotify", "serve", "--port", str(port), "--users", "2", "--days", "3"],
            cwd=PROJECT_ROOT, env=dict(os.environ, ENV_FILE=os.devnull), stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: health(url), server, log)
        answer = requests.get(f"{url}/_admin/health", timeout=5)
        assert answer.headers["Server"] == "gunicorn"
        workers = served.forked_workers(server.pid, 1)
        assert identity(server.pid)[2] == f"gunicorn: master [{TITLE}]"
        assert list(workers.values()) == [f"gunicorn: worker [{TITLE}]"]  # its state lives in one process
        user = requests.get(f"{url}/_admin/stats", timeout=5).json()["users"][0]
        before = len(requests.get(f"{url}/_admin/users/{user}/plays", timeout=5).json()["played_at"])
        for _ in range(3):  # what one request changes, the next ones see
            assert requests.post(f"{url}/_admin/users/{user}/plays", json={"count": 2}, timeout=5).status_code == 201
        after = requests.get(f"{url}/_admin/users/{user}/plays", timeout=5).json()["played_at"]
        assert len(after) == before + 6
    finally:
        status, orphans = served.stop(server, workers)
    text = log.read_text()
    assert (status, orphans) == (0, []), text
    assert "/_admin/health" not in text  # no access log: a line per request would only fill the log
