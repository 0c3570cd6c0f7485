"""Helpers of the dashboard tests: replication of share links, a server in a thread, replica reads."""

from __future__ import annotations

import threading

import psycopg
from werkzeug.serving import make_server

from dashboard.app import create_app
from operations.postgres import free_port
from warehouse.db import connect

ADMIN_PASSWORD = "correct horse battery staple"


def replicate_share_links(settings) -> None:
    """Copy main's share links to the replica, as the Debezium replication does (upsert by key)."""
    with connect("main", settings) as main:
        rows = main.execute(
            "SELECT token_hash, user_id, created_at, revoked_at, expires_at FROM public.dashboard_share_links"
        ).fetchall()
    with connect("replica", settings) as replica:
        replica.cursor().executemany(
            "INSERT INTO public.dashboard_share_links (token_hash, user_id, created_at, revoked_at, expires_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (token_hash) DO UPDATE SET "
            "user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at, "
            "expires_at = EXCLUDED.expires_at",
            rows)


class RunningServer:
    def __init__(self, settings):
        self.app = create_app(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(10)
        self.app.extensions["replica"].close()


def replica_rows(settings, query: str, params=()) -> list[dict]:
    """Rows read straight from the replica (admin URL), as Python values."""
    with psycopg.connect(settings.replica_database_url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(query, params).fetchall()
