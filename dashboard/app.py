"""The dashboard's Flask app: `create_app` builds it from the settings and registers its blueprints.

Who may see what is `dashboard.access`; the HTML pages `dashboard.pages`; the
JSON API `dashboard.api`; error answers `dashboard.errors`; sessions, CSRF checks
and the security headers of every answer `warehouse.web`. Every read goes to the
replica through the `Replica` in `app.extensions["replica"]`.

The session (cookie `wrapped_admin`) only carries the admin login and the CSRF
token. It is signed with a random key made at start: a restart logs the admin out.
"""

from __future__ import annotations

import secrets

from flask import Flask

from dashboard.access import access, new_admin_version
from dashboard.api import api
from dashboard.backoff import Backoff
from dashboard.errors import errors
from dashboard.pages import pages
from dashboard.periods import by_month, period_label
from dashboard.queries import Replica
from warehouse import web
from warehouse.settings import Settings, get_settings

MAX_FORM_BYTES = 64 * 1024  # the admin login and logout forms are all the dashboard receives


def create_app(settings: Settings | None = None, pool_size: int = 8) -> Flask:
    """The dashboard reading the replica with `pool_size` connections (0: a new one per query)."""
    settings = settings or get_settings()
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME="wrapped_admin", ADMIN_PASSWORD=settings.dashboard_admin_password,
                      DEFAULT_TIMEZONE=settings.default_timezone)
    web.init_app(app, public_url=settings.dashboard_link_url, session_hours=settings.session_lifetime_hours,
                 max_content_bytes=MAX_FORM_BYTES, cacheable=("static", "pages.plotly_js"))
    app.extensions["replica"] = Replica(settings.replica_reader_url, pool_size)
    app.extensions["admin_logins"] = Backoff()
    new_admin_version(app)
    app.jinja_env.globals.update(admin_enabled=bool(settings.dashboard_admin_password), period_label=period_label,
                                  by_month=by_month)
    for blueprint in (access, pages, api, errors):
        app.register_blueprint(blueprint)
    return app
