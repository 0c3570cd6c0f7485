"""warehouse.serving (gunicorn) as a real process: workers, redacted logs, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request

from operations.postgres import free_port
from testkit import served
from testkit.served import wait_until
from testkit.stack_env import identity
from warehouse.settings import PROJECT_ROOT

APP = '''
import logging
import os
from pathlib import Path

def redact(line):
    return line.replace("secret-", "<hidden>-")

def make():
    def app(environ, start_response):
        logging.getLogger("app").warning("answering %s", environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"pid {os.getpid()}".encode()]
    return app

def closed(app):
    Path(os.environ["CLOSED_DIR"], str(os.getpid())).touch()
'''


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Server"], response.read().decode()


def test_gunicorn_workers_redacted_logs_and_a_clean_stop_on_sigterm(tmp_path):
    (tmp_path / "app_under_test.py").write_text(APP)
    closed = tmp_path / "closed"
    closed.mkdir()
    port = free_port()
    code = textwrap.dedent(f"""
        import app_under_test as app
        from warehouse.serving import serve
        serve(app.make, name="serving-test", host="127.0.0.1", port={port}, workers=2, threads=2,
              redact=app.redact, on_worker_exit=app.closed, ready_message="ready on {port}")
    """)
    log = tmp_path / "server.log"
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}:{PROJECT_ROOT}", CLOSED_DIR=str(closed))
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    workers: dict[int, str] = {}
    try:
        wait_until(lambda: "ready on" in log.read_text(), server, log)
        workers = served.forked_workers(server.pid, 2)
        assert identity(server.pid)[2] == "gunicorn: master [serving-test]"
        answered = {get(f"http://127.0.0.1:{port}/page/secret-{n}") for n in range(20)}
        assert {(status, header) for status, header, _ in answered} == {(200, "gunicorn")}
        assert {body for _, _, body in answered} <= {f"pid {pid}" for pid in workers}
    finally:
        status, orphans = served.stop(server, workers)
    text = log.read_text()
    assert (status, orphans) == (0, []), text  # exit status 0, no worker left
    assert sorted(int(path.name) for path in closed.iterdir()) == sorted(workers)  # each worker closed its app
    assert '"GET /page/<hidden>-7 HTTP/1.1" 200' in text  # the access log, redacted
    assert "answering /page/<hidden>-7" in text  # the app's own logging, redacted
    assert "secret-" not in text
