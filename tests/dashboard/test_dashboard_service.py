"""`python -m operations start|status|stop dashboard` (the supervisor program, gunicorn) and
`python -m dashboard serve|share` as real processes."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from operations import supervisor
from operations.postgres import free_port, port_is_free
from testkit import served
from testkit.stack_env import identity
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, replicate_share_links
from warehouse.settings import PROJECT_ROOT, Settings
from warehouse.share_links import create_share_link


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def alive(pid: int) -> bool:
    """True if the process runs (a zombie left to an init that does not reap is not running)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def runtime(tmp_path):
    """A private runtime folder; its supervisord is shut down at the end."""
    yield tmp_path
    supervisor.shutdown(Settings(_env_file=None, runtime_dir=tmp_path))


def test_start_is_idempotent_listens_on_loopback_and_stops(filled, runtime):
    port = free_port()
    env = dict(os.environ, DASHBOARD_PORT=str(port), DASHBOARD_ADMIN_PASSWORD=ADMIN_PASSWORD,
               RUNTIME_DIR=str(runtime), DASHBOARD_WORKERS="3")
    started = run(["operations", "start", "dashboard"], env)
    workers: dict[int, str] = {}
    try:
        assert started.returncode == 0, started.stderr
        match = re.search(rf"dashboard started \(pid (\d+)\) at http://127\.0\.0\.1:{port}", started.stdout)
        assert match, started.stdout
        pid = int(match.group(1))
        # gunicorn's master and DASHBOARD_WORKERS workers, titled with the command supervisord runs
        assert identity(pid)[2] == "gunicorn: master [python -m dashboard serve]"
        workers = served.forked_workers(pid, 3)
        assert list(workers.values()) == ["gunicorn: worker [python -m dashboard serve]"] * 3, workers
        assert listening_addresses(port) == {"127.0.0.1"}

        again = run(["operations", "start", "dashboard"], env)
        assert again.returncode == 0 and f"dashboard already running (pid {pid})" in again.stdout
        status = run(["operations", "status", "dashboard"], env).stdout
        assert re.match(rf"dashboard +running +healthy +pids {pid}\n +http://127\.0\.0\.1:{port}$", status.strip())

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/users",
            headers={"Authorization": "Basic " + base64.b64encode(f"a:{ADMIN_PASSWORD}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Server"] == "gunicorn"
            assert [u["user_id"] for u in json.load(response)["users"]] == ["alice", "bob", "carol", "erin"]
        token = create_share_link(filled, "bob")
        replicate_share_links(filled)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(f"http://127.0.0.1:{port}/s/{token}", timeout=10) as response:
            assert response.url.endswith("/users/bob") and "Bob" in response.read().decode()
        log = (runtime / "logs" / "dashboard.log").read_text()
        assert "GET /api/users" in log and "GET /s/<token>" in log
        assert token not in log  # share tokens never reach the log
    finally:
        stopped = run(["operations", "stop", "dashboard"], env)
    assert stopped.returncode == 0 and f"dashboard: stopped (pid {pid})" in stopped.stdout
    assert not alive(pid) and not any(alive(worker) for worker in workers)
    assert "stopped: dashboard (exit status 0)" in (runtime / "logs" / "supervisord.log").read_text()  # SIGTERM
    assert port_is_free(port)
    assert re.match(r"dashboard +stopped", run(["operations", "status", "dashboard"], env).stdout)
    assert run(["operations", "stop", "dashboard"], env).stdout.strip() == "dashboard: not running"


def test_serve_refuses_a_bad_setting_before_it_starts(tmp_path):
    env = dict(os.environ, DASHBOARD_THREADS="0", RUNTIME_DIR=str(tmp_path))
    result = run(["dashboard", "serve"], env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: bad setting: DASHBOARD_THREADS"), result.stderr
    assert "gunicorn" not in result.stdout + result.stderr  # no server started


def test_start_on_a_taken_port_says_so(reader, runtime):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, DASHBOARD_PORT=str(port), RUNTIME_DIR=str(runtime))
        result = run(["operations", "start", "dashboard"], env)
    assert result.returncode == 1
    assert f"error: dashboard did not start: port {port} is taken" in result.stderr
    assert "DASHBOARD_PORT" in result.stderr


def test_share_command_creates_lists_and_revokes(filled, tmp_path):
    env = dict(os.environ, DASHBOARD_PORT="8123")
    created = run(["dashboard", "share", "create", "alice"], env)
    assert created.returncode == 0, created.stderr
    token = re.search(r"http://127\.0\.0\.1:8123/s/([A-Za-z0-9_-]{43})", created.stdout).group(1)
    listed = run(["dashboard", "share", "list", "alice"], env).stdout
    link_id = re.match(r"([0-9a-f]{12})  created .* live", listed).group(1)
    assert token not in listed
    revoked = run(["dashboard", "share", "revoke", link_id], env)
    assert revoked.returncode == 0 and f"revoked share link {link_id} of alice" in revoked.stdout
    assert "revoked 20" in run(["dashboard", "share", "list", "alice"], env).stdout
    unknown = run(["dashboard", "share", "create", "nobody"], env)
    assert unknown.returncode == 1 and "unknown user 'nobody'" in unknown.stderr
    public = dict(env, DASHBOARD_PUBLIC_URL="https://wrapped.example.org/")
    expiring = run(["dashboard", "share", "create", "--expires-days", "7", "bob"], public)
    assert expiring.returncode == 0 and "it expires in 7 days" in expiring.stdout
    assert re.search(r"^https://wrapped\.example\.org/s/[A-Za-z0-9_-]{43}$", expiring.stdout, re.M)
    assert re.match(r"[0-9a-f]{12}  created .*  live until 20", run(["dashboard", "share", "list", "bob"], env).stdout)
    never = run(["dashboard", "share", "create", "--expires-days", "0", "bob"], env)
    assert never.returncode == 1 and "1 day or more" in never.stderr
