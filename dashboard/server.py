"""Serving the dashboard in the foreground (`python -m dashboard serve`; in the background it runs as
the supervisor program `dashboard`: `python -m operations start dashboard`, `make dashboard`).

Served by Werkzeug's threaded WSGI server: no other WSGI server is a dependency
of this project; bench/dashboard.py measures this one.
"""

from __future__ import annotations

import logging
import re
import signal
import sys

from werkzeug.serving import WSGIRequestHandler, make_server

from warehouse.settings import Settings

_SHARE_TOKEN_IN_PATH = re.compile(r"/s/[^ ?\"]+")


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, but share link tokens never reach the log."""

    def log(self, type: str, message: str, *args) -> None:
        super().log(type, "%s", _SHARE_TOKEN_IN_PATH.sub("/s/<token>", message % args))


def serve(settings: Settings, pool_size: int = 8) -> None:
    """Serve in the foreground until SIGTERM or Ctrl-C; `pool_size` replica connections (0: one per query)."""
    from dashboard.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, pool_size)
    server = make_server(settings.dashboard_host, settings.dashboard_port, app, threaded=True,
                         request_handler=RequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"dashboard serving on {settings.dashboard_url} (replica reader: "
          f"{settings.replica_reader_url.rsplit('@', 1)[-1]})", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        app.extensions["replica"].close()
