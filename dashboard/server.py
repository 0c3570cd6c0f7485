"""Serving the dashboard in the foreground (`python -m dashboard serve`; in the background it runs as
the supervisor program `dashboard`: `python -m operations start dashboard`, `make dashboard`).

Served by gunicorn (`warehouse.serving`): DASHBOARD_WORKERS processes of DASHBOARD_THREADS threads, each
process with its own pool of replica connections; bench/dashboard.py measures it as `make up` runs it.
Share-link tokens never reach the log: `/s/<token>` paths are written `/s/<token>`.
"""

from __future__ import annotations

import re

from warehouse.serving import serve as serve_wsgi
from warehouse.settings import Settings

_SHARE_TOKEN_IN_PATH = re.compile(r"/s/[^ ?\"]+")


def without_share_tokens(line: str) -> str:
    return _SHARE_TOKEN_IN_PATH.sub("/s/<token>", line)


def serve(settings: Settings, pool_size: int | None = None) -> None:
    """Serve in the foreground until SIGTERM or Ctrl-C; `pool_size` replica connections per worker
    (default DASHBOARD_THREADS, one per thread; 0: a new one per query)."""
    from dashboard.app import create_app

    pool = settings.dashboard_threads if pool_size is None else pool_size
    serve_wsgi(lambda: create_app(settings, pool), name="python -m dashboard serve",
               host=settings.dashboard_host, port=settings.dashboard_port,
               workers=settings.dashboard_workers, threads=settings.dashboard_threads,
               redact=without_share_tokens, on_worker_exit=lambda app: app.extensions["replica"].close(),
               ready_message=f"dashboard serving on {settings.dashboard_url} ({settings.dashboard_workers} "
                             f"workers x {settings.dashboard_threads} threads; replica reader: "
                             f"{settings.replica_reader_url.rsplit('@', 1)[-1]})")
