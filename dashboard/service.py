"""Serving the dashboard: in the foreground, or as a background process (operations.services)
with a pid file (`<runtime_dir>/pids/dashboard.pid`) and a log (`<runtime_dir>/logs/dashboard.log`).

Served by Werkzeug's threaded WSGI server: no other WSGI server is a dependency
of this project; bench/dashboard.py measures this one.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import urllib.error
import urllib.request

from werkzeug.serving import WSGIRequestHandler, make_server

from operations import services
from operations.postgres import port_is_free
from warehouse.settings import Settings

NAME = "dashboard"  # pid file <runtime_dir>/pids/dashboard.pid, log <runtime_dir>/logs/dashboard.log
START_TIMEOUT_S = 30
_SHARE_TOKEN_IN_PATH = re.compile(r"/s/[^ ?\"]+")


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, but share link tokens never reach the log."""

    def log(self, type: str, message: str, *args) -> None:
        super().log(type, "%s", _SHARE_TOKEN_IN_PATH.sub("/s/<token>", message % args))


def base_url(settings: Settings) -> str:
    host = settings.dashboard_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.dashboard_port}"


def serve(settings: Settings, pool_size: int = 8) -> None:
    """Serve in the foreground until SIGTERM or Ctrl-C; `pool_size` replica connections (0: one per query)."""
    from dashboard.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, pool_size)
    server = make_server(settings.dashboard_host, settings.dashboard_port, app, threaded=True,
                         request_handler=RequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"dashboard serving on {base_url(settings)} (replica reader: "
          f"{settings.replica_reader_url.rsplit('@', 1)[-1]})", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        app.extensions["replica"].close()


def answers(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(base_url(settings) + "/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(settings: Settings) -> str:
    """Start in the background unless already running; wait until it answers."""
    pid = services.running_pid(settings, NAME)
    if pid is not None:
        return f"already running (pid {pid}) at {base_url(settings)}"
    if not port_is_free(settings.dashboard_port):
        raise services.ServiceError(f"port {settings.dashboard_port} is taken by another process: "
                                    "stop it or set DASHBOARD_PORT")
    services.start(settings, NAME, [sys.executable, "-m", "dashboard", "serve"], ready=lambda: answers(settings),
                   timeout=START_TIMEOUT_S)
    return f"started (pid {services.running_pid(settings, NAME)}) at {base_url(settings)}"


def stop(settings: Settings) -> str:
    pid = services.running_pid(settings, NAME)
    return f"{services.stop(settings, NAME)} (pid {pid})" if pid else "not running"


def status(settings: Settings) -> str:
    pid = services.running_pid(settings, NAME)
    if pid is None:
        return "not running"
    return f"running (pid {pid}) at {base_url(settings)}" + ("" if answers(settings) else ", not answering")
