"""The Spotify login service: users connect their account, the pipeline gets tokens.

Blueprints: `login` (`/`, `/login`, `/callback`, `POST /logout`), `account`
(`/account`, its settings and dashboard share links), `internal` (the pipeline's
`/internal/users/<id>/...`, behind `X-API-Key`) and `upload` (`/import`, a Spotify
data export). `/health` checks the source database. No route answers 200 on an error.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from flask_endpoint import account, internal, login, upload
from warehouse.db import connect
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
REQUIRED_SECRETS = ("flask_secret_key", "pipeline_api_key", "token_encryption_key", "spotify_client_id")


def create_app(settings: Settings | None = None) -> Flask:
    """The login service; SettingsError when one of REQUIRED_SECRETS is not set."""
    settings = settings or get_settings()
    for name in REQUIRED_SECRETS:
        settings.require_secret(name)
    app = Flask(__name__)
    app.secret_key = settings.flask_secret_key
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SETTINGS=settings)
    for blueprint in (login.bp, account.bp, internal.bp, upload.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/health", view_func=health)
    app.register_error_handler(Exception, failure)
    return app


def health():
    try:
        with connect("source", current_app.config["SETTINGS"], connect_timeout=3) as conn:
            conn.execute("SELECT 1 FROM spotify_accounts LIMIT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return jsonify({"status": "unhealthy", "source": str(exc).splitlines()[0]}), 503
    return jsonify({"status": "ok"})


def failure(exc: Exception):
    """HTTP errors as they are; anything else logged and answered 500 (JSON under /internal/)."""
    if isinstance(exc, HTTPException):
        return exc
    log.exception("unhandled error on %s", request.path)
    if request.path.startswith("/internal/"):
        return jsonify({"error": "internal_error", "message": str(exc)}), 500
    return render_template("message.html", title="Something went wrong", text=str(exc)), 500
