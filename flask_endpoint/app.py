"""The Spotify login service: users connect their account, the pipeline gets tokens.

Blueprints: `login` (`/`, `/login`, `/callback`, `POST /logout`), `account`
(`/account`, its settings and dashboard share links), `internal` (the pipeline's
`/internal/users/<id>/...`, behind `X-API-Key`) and `upload` (`/import`, a Spotify
data export). `/health` checks the source database. No route answers 200 on an error.
Sessions, CSRF checks of every POST and the security headers are `warehouse.web`'s;
an unexpected error is logged with its detail and answered with a generic 500.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from flask_endpoint import account, internal, login, upload
from warehouse import web
from warehouse.db import connect
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
REQUIRED_SECRETS = ("flask_secret_key", "pipeline_api_key", "token_encryption_key", "spotify_client_id")
FAILED = "The server could not answer this request. The error is in the service's log."


def create_app(settings: Settings | None = None) -> Flask:
    """The login service; SettingsError when one of REQUIRED_SECRETS is not set."""
    settings = settings or get_settings()
    for name in REQUIRED_SECRETS:
        settings.require_secret(name)
    app = Flask(__name__)
    app.secret_key = settings.flask_secret_key
    app.config["SETTINGS"] = settings
    # Served where Spotify sends the browser back: https there makes the cookie Secure.
    web.init_app(app, public_url=settings.spotify_redirect_uri, session_hours=settings.session_lifetime_hours,
                 max_content_bytes=settings.upload_max_mb * 2**20)
    for blueprint in (login.bp, account.bp, internal.bp, upload.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/health", view_func=health)
    app.register_error_handler(Exception, failure)
    return app


def health():
    try:
        with connect("source", current_app.config["SETTINGS"], connect_timeout=3) as conn:
            conn.execute("SELECT 1 FROM spotify_accounts LIMIT 1")
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        log.exception("health check: the source database does not answer")
        return jsonify({"status": "unhealthy", "source": "does not answer (the detail is in the log)"}), 503
    return jsonify({"status": "ok"})


def failure(exc: Exception):
    """HTTP errors as they are; anything else logged with its detail and answered with a generic 500
    (JSON under /internal/)."""
    if isinstance(exc, HTTPException):
        return exc
    log.exception("unhandled error on %s", request.path)
    if request.path.startswith("/internal/"):
        return jsonify({"error": "internal_error", "message": FAILED}), 500
    return render_template("message.html", title="Something went wrong", text=FAILED), 500
