"""The dashboard's Flask app: pages, the JSON API, and who may see what.

A user's pages and API answers open only with that user's share link token
(cookie set by /s/<token>, or `Authorization: Bearer <token>`) or with the admin
password (login form, or HTTP Basic for scripts). Anything else, a wrong or a
revoked token included, gets the same 404 as an unknown user, so nothing tells
whether a user exists. Tokens are checked against the replica on every request:
a revoked link stops working as soon as the revocation is replicated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import plotly
from flask import (
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from dashboard.queries import PERIOD_PATTERN, ROW_ORDER, Replica, ReplicaUnavailable, User
from warehouse.catalog import CATALOG, STATISTICS
from warehouse.settings import Settings, get_settings
from warehouse.share_links import hash_token

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SHARE_COOKIE = "wrapped_share"
SHARE_COOKIE_DAYS = 30
NOT_FOUND = "not found: no such user, or this link does not open it"

# One line per statistic for the /api page (docs/metrics.md has the definitions).
DESCRIPTIONS: dict[str, str] = {s.name: s.description for s in CATALOG}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


@dataclass(frozen=True)
class Viewer:
    admin: bool = False
    user_id: str | None = None  # the user a share link opens

    def may_see(self, user_id: str) -> bool:
        return self.admin or self.user_id == user_id


def script_json(text: str) -> Markup:
    """JSON text made safe inside <script type="application/json">."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def group_periods(periods: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Periods for the picker: all time, years, months (newest first)."""
    groups = [("All time", [p for p in periods if p == "all"]),
              ("Years", [p for p in periods if len(p) == 4]),
              ("Months", [p for p in periods if len(p) == 7])]
    return [(label, items) for label, items in groups if items]


def create_app(settings: Settings | None = None, pool_size: int = 8) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    admin_password = settings.dashboard_admin_password
    # The session only carries the admin flag; a new password logs every admin out. A slow
    # key derivation keeps a captured cookie from being a cheap way to guess the password.
    app.secret_key = (hashlib.pbkdf2_hmac("sha256", admin_password.encode(), b"wrapped-dashboard-session",
                                          200_000) if admin_password else secrets.token_bytes(32))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="wrapped_admin", JSON_SORT_KEYS=False)
    replica = Replica(settings.replica_reader_url, pool_size)
    app.extensions["replica"] = replica
    app.jinja_env.globals.update(admin_enabled=bool(admin_password), period_label=period_label)

    @app.context_processor
    def who_is_viewing():  # never queries: error pages render when the replica is down
        return {"viewer": g.get("viewer", Viewer())}

    def is_admin_password(candidate: str | None) -> bool:
        return bool(admin_password) and candidate is not None and hmac.compare_digest(
            candidate.encode(), admin_password.encode())

    def viewer() -> Viewer:
        if "viewer" in g:
            return g.viewer
        auth = request.authorization
        admin = bool(admin_password) and (
            session.get("admin") is True
            or (auth is not None and auth.type == "basic" and is_admin_password(auth.password)))
        token = (auth.token if auth is not None and auth.type == "bearer" else None) or \
            request.cookies.get(SHARE_COOKIE)
        user_id = replica.share_link_user(hash_token(token)) if token else None
        g.viewer = Viewer(admin, user_id)
        return g.viewer

    def is_api() -> bool:
        return request.path == "/api" or request.path.startswith("/api/")

    def visible_user(user_id: str) -> User:
        """The user, if this request may see them; else the same 404 whether they exist or not."""
        if not viewer().may_see(user_id):
            abort(404, NOT_FOUND)
        user = replica.user(user_id)
        if user is None and viewer().user_id == user_id:
            return User(user_id, None, None, ())  # a share link made before the user's data arrived
        if user is None:
            abort(404, NOT_FOUND if not viewer().admin else f"unknown user {user_id!r}")
        return user

    def checked_period(user: User, period: str) -> str:
        if not PERIOD_PATTERN.match(period):
            abort(404, f"bad period {period!r}: give 'all', a year 'YYYY' or a month 'YYYY-MM'")
        if period not in user.periods:
            abort(404, f"no statistics for user {user.user_id!r} and period {period!r}; "
                       f"see /api/users/{user.user_id}/periods")
        return period

    def page_context(user: User) -> dict:
        users = json.loads(replica.users_json()) if viewer().admin else []
        return {"user": user, "users": users, "viewer": viewer(), "replication": replica.replication(),
                "timezone": user.timezone or settings.default_timezone}

    # -- pages -------------------------------------------------------------------
    @app.get("/")
    def home():
        if not replica.has_data():
            return render_template("empty.html")
        if viewer().admin:
            return redirect(url_for("users_page"))
        if viewer().user_id:
            return redirect(url_for("overview_page", user_id=viewer().user_id))
        return render_template("landing.html")

    @app.get("/s/<token>")
    def open_share_link(token: str):
        user_id = replica.share_link_user(hash_token(token))
        if user_id is None:
            abort(404, "this share link is wrong or was revoked")
        response = redirect(url_for("overview_page", user_id=user_id))
        response.set_cookie(SHARE_COOKIE, token, max_age=SHARE_COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=request.is_secure)
        return response

    @app.route("/admin/login", methods=["GET", "POST"])
    def admin_login():
        if not admin_password:
            abort(404, "the admin login is disabled: set DASHBOARD_ADMIN_PASSWORD")
        if request.method == "POST":
            if is_admin_password(request.form.get("password")):
                session.clear()
                session["admin"] = True
                return redirect(url_for("users_page"))
            return render_template("landing.html", error="Wrong password."), 403
        return render_template("landing.html")

    @app.post("/logout")
    def logout():
        session.clear()
        response = redirect(url_for("home"))
        response.delete_cookie(SHARE_COOKIE)
        return response

    @app.get("/users")
    def users_page():
        if not viewer().admin:
            abort(404, NOT_FOUND)
        if request.args.get("user"):  # the user picker without JavaScript
            return redirect(url_for("overview_page", user_id=request.args["user"]))
        return render_template("users.html", users=json.loads(replica.users_json()),
                               has_data=replica.has_data())

    @app.get("/users/<user_id>")
    def overview_page(user_id: str):
        user = visible_user(user_id)
        if not user.periods:
            return render_template("empty.html", **page_context(user))
        period = checked_period(user, request.args.get("period", "all"))
        return render_template("overview.html", period=period, periods=group_periods(user.periods),
                               data=script_json(replica.page(user_id, period)), **page_context(user))

    @app.get("/users/<user_id>/wrapped")
    @app.get("/users/<user_id>/wrapped/<year>")
    def wrapped_page(user_id: str, year: str | None = None):
        user = visible_user(user_id)
        if not user.years:
            return render_template("empty.html", **page_context(user))
        if year is None:  # the year picker without JavaScript sends ?year=
            return redirect(url_for("wrapped_page", user_id=user_id, year=request.args.get("year", user.years[0])))
        if len(year) != 4:
            abort(404, f"bad year {year!r}: give a year 'YYYY'")
        checked_period(user, year)
        return render_template("wrapped.html", period=year, years=user.years,
                               data=script_json(replica.page(user_id, year)), **page_context(user))

    @app.get("/vendor/plotly.min.js")
    def plotly_js():
        return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400, conditional=True)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "replica_has_data": replica.has_data()}

    # -- JSON API ----------------------------------------------------------------
    @app.get("/api")
    def api_docs():
        return render_template("api.html", statistics=STATISTICS, descriptions=DESCRIPTIONS,
                               orders=ROW_ORDER, columns=replica.columns())

    @app.get("/api/users")
    def api_users():
        if not viewer().admin:
            abort(404, "not found: the user list is for the admin only")
        return Response('{"users": ' + replica.users_json() + "}", mimetype="application/json")

    @app.get("/api/users/<user_id>/periods")
    def api_periods(user_id: str):
        user = visible_user(user_id)
        return {"user_id": user.user_id, "timezone": user.timezone or settings.default_timezone,
                "periods": list(user.periods)}

    @app.get("/api/users/<user_id>/<statistic>")
    def api_statistic(user_id: str, statistic: str):
        if not viewer().may_see(user_id):
            abort(404, NOT_FOUND)
        if statistic not in STATISTICS:
            abort(404, f"unknown statistic {statistic!r}; the statistics are: {', '.join(STATISTICS)}")
        period = request.args.get("period", "all")
        if not PERIOD_PATTERN.match(period):
            abort(404, f"bad period {period!r}: give 'all', a year 'YYYY' or a month 'YYYY-MM'")
        found = replica.statistic(user_id, statistic, period)
        if not found.user_known and viewer().user_id != user_id:
            abort(404, NOT_FOUND if not viewer().admin else f"unknown user {user_id!r}")
        if not found.period_known:
            abort(404, f"no statistics for user {user_id!r} and period {period!r}; "
                       f"see /api/users/{user_id}/periods")
        head = json.dumps({"user_id": user_id, "statistic": statistic, "period": period})
        return Response(head[:-1] + ', "rows": ' + found.rows_json + "}", mimetype="application/json")

    # -- errors and headers ------------------------------------------------------
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        message = error.description
        if is_api():
            return {"error": error.name.lower(), "message": message, "status": error.code}, error.code
        return render_template("error.html", code=error.code, title=error.name, message=message), error.code

    @app.errorhandler(ReplicaUnavailable)
    def replica_down(error: ReplicaUnavailable):
        app.logger.error("%s", error)
        message = "the replica database does not answer; try again in a moment"
        if is_api():
            return {"error": "service unavailable", "message": message, "status": 503}, 503
        return render_template("error.html", code=503, title="Service unavailable", message=message), 503

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.endpoint not in ("static", "plotly_js"):
            response.headers["Cache-Control"] = "private, no-store"
        return response

    return app


def period_label(period: str) -> str:
    """'all' -> 'All time', '2024' -> '2024', '2024-03' -> 'March 2024'."""
    if period == "all":
        return "All time"
    if len(period) == 7:
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        return f"{months[int(period[5:]) - 1]} {period[:4]}"
    return period

