"""The dashboard's Flask app: `create_app` builds it from the settings and registers its blueprints.

Who may see what is `dashboard.access`; the HTML pages `dashboard.pages`; the
JSON API `dashboard.api`; error answers `dashboard.errors`; the security headers
of every answer `dashboard.security_headers`. Every read goes to the replica
through the `Replica` in `app.extensions["replica"]`.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Flask

from dashboard.access import access
from dashboard.api import api
from dashboard.errors import errors
from dashboard.pages import pages
from dashboard.periods import period_label
from dashboard.queries import Replica
from dashboard.security_headers import security_headers
from warehouse.settings import Settings, get_settings


def session_key(admin_password: str) -> bytes:
    """The session only carries the admin flag; a new password logs every admin out. A slow
    key derivation keeps a captured cookie from being a cheap way to guess the password."""
    if not admin_password:
        return secrets.token_bytes(32)
    return hashlib.pbkdf2_hmac("sha256", admin_password.encode(), b"wrapped-dashboard-session", 200_000)


def create_app(settings: Settings | None = None, pool_size: int = 8) -> Flask:
    """The dashboard reading the replica with `pool_size` connections (0: a new one per query)."""
    settings = settings or get_settings()
    app = Flask(__name__)
    app.secret_key = session_key(settings.dashboard_admin_password)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="wrapped_admin", ADMIN_PASSWORD=settings.dashboard_admin_password,
                      DEFAULT_TIMEZONE=settings.default_timezone)
    app.extensions["replica"] = Replica(settings.replica_reader_url, pool_size)
    app.jinja_env.globals.update(admin_enabled=bool(settings.dashboard_admin_password), period_label=period_label)
    for blueprint in (access, pages, api, errors, security_headers):
        app.register_blueprint(blueprint)
    return app
