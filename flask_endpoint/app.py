"""The Spotify login service: users connect their account, the pipeline gets tokens.

Pages (Flask session): `/` and `/login` (authorization code + PKCE, `state` bound
to the browser session), `/callback`, `/logout` (POST), `/account` (connection,
last ingestion, time zone and e-mail, dashboard share links).

Internal endpoints for the pipeline (header `X-API-Key: PIPELINE_API_KEY`):
`GET /internal/users/<id>/token` and `GET /internal/users/<id>/recently-played?after=<ms>`.

`/health` checks the source database. No route answers 200 on an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import secrets
from functools import wraps

from flask import Flask, abort, jsonify, redirect, render_template, request, session, url_for
from spotipy.oauth2 import SpotifyOauthError
from werkzeug.exceptions import HTTPException

from ingestion.recently_played import PAGE_LIMIT
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable
from ingestion.tokens import NeedsLogin, NotConnected, forget_tokens, pkce_manager, store_login, valid_access_token
from warehouse import share_links
from warehouse.db import connect
from warehouse.settings import Settings, get_settings, validate_timezone

log = logging.getLogger(__name__)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask(__name__)
    app.secret_key = settings.require_secret("flask_secret_key")
    api_key = settings.require_secret("pipeline_api_key")
    settings.require_secret("token_encryption_key")
    settings.require_secret("spotify_client_id")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SETTINGS=settings)
    if importlib.util.find_spec("flask_endpoint.upload") is not None:  # the export upload, when installed
        app.register_blueprint(importlib.import_module("flask_endpoint.upload").bp)

    def user_row(user_id: str):
        with connect("source", settings) as conn:
            return conn.execute(
                """SELECT u.user_id, u.display_name, u.email, u.timezone, u.needs_login, u.needs_login_reason,
                          a.user_id IS NOT NULL, a.authorized_at, u.recap_opt_out
                   FROM users u LEFT JOIN spotify_accounts a USING (user_id) WHERE u.user_id = %s""",
                (user_id,)).fetchone()

    # -- pages -------------------------------------------------------------------

    @app.get("/")
    def index():
        user = user_row(session["user_id"]) if "user_id" in session else None
        if user is not None and user[6] and not user[4]:
            return redirect(url_for("account"))
        return render_template("login.html", user=user)

    @app.get("/login")
    def login():
        timezone = request.args.get("tz")
        if timezone:
            try:
                validate_timezone(timezone)
            except ValueError:
                timezone = None  # a browser guess we cannot use: the account page asks
        manager = pkce_manager(settings, state=secrets.token_urlsafe(24))
        manager.get_pkce_handshake_parameters()
        session["oauth"] = {"state": manager.state, "verifier": manager.code_verifier, "tz": timezone}
        return redirect(manager.get_authorize_url())

    @app.get("/callback")
    def callback():
        pending = session.pop("oauth", None)
        if pending is None or not secrets.compare_digest(request.args.get("state", ""), pending["state"]):
            return render_template("message.html", title="Login refused",
                                   text="This login answer does not belong to this browser session "
                                        "(state mismatch). Start again from the login page."), 400
        if "error" in request.args:
            return render_template("message.html", title="Login cancelled",
                                   text=f"Spotify answered: {request.args['error']}."), 400
        manager = pkce_manager(settings, state=pending["state"])
        manager.code_verifier = pending["verifier"]
        manager.code_challenge = "sent-at-login"  # spotipy only checks it is set
        try:
            manager.get_access_token(request.args.get("code", ""), check_cache=False)
        except SpotifyOauthError as exc:
            return render_template("message.html", title="Login failed",
                                   text=f"Spotify refused the code: {exc.error_description or exc.error}."), 400
        token_info = manager.cache_handler.get_cached_token()
        try:
            profile = SpotifyApi(settings, lambda stale: token_info["access_token"]).call("current_user")
        except (RateLimited, SpotifyUnavailable) as exc:
            return render_template("message.html", title="Spotify is busy", text=str(exc)), 503
        with connect("source", settings) as conn:
            store_login(conn, settings, profile, token_info, pending["tz"], "detected" if pending["tz"] else None)
        session.clear()
        session["user_id"] = profile["id"]
        return redirect(url_for("account"))

    @app.post("/logout")
    def logout():
        if "user_id" in session:
            with connect("source", settings) as conn:
                forget_tokens(conn, session["user_id"])
        session.clear()
        return redirect(url_for("index"))

    @app.get("/account")
    def account():
        if "user_id" not in session:
            return redirect(url_for("index"))
        user = user_row(session["user_id"])
        if user is None:
            session.clear()
            return redirect(url_for("index"))
        with connect("source", settings) as conn:
            last_run = conn.execute(
                """SELECT finished_at, status, plays_inserted, detail, gap_from, gap_to FROM ingestion_runs
                   WHERE user_id = %s ORDER BY run_id DESC LIMIT 1""", (user[0],)).fetchone()
            total = conn.execute("SELECT count(*) FROM plays WHERE user_id = %s", (user[0],)).fetchone()[0]
        links = share_links.list_share_links(settings, user[0])
        return render_template("account.html", user=user, last_run=last_run, total=total, links=links,
                               new_link=session.pop("new_share_token", None),
                               default_timezone=settings.default_timezone)

    @app.post("/account/settings")
    def account_settings():
        if "user_id" not in session:
            abort(401)
        timezone = request.form.get("timezone", "").strip()
        email = request.form.get("email", "").strip()
        try:
            validate_timezone(timezone)
        except ValueError as exc:
            return render_template("message.html", title="Not saved", text=f"Time zone {exc}."), 400
        if email and not EMAIL.match(email):
            return render_template("message.html", title="Not saved",
                                   text=f"E-mail {email!r} is not an e-mail address."), 400
        with connect("source", settings) as conn:
            conn.execute("UPDATE users SET timezone = %s, timezone_source = 'asked', email = %s, "
                         "recap_opt_out = %s, updated_at = now() WHERE user_id = %s",
                         (timezone, email or None, "recap" not in request.form, session["user_id"]))
        return redirect(url_for("account"))

    @app.post("/account/share-links")
    def create_link():
        if "user_id" not in session:
            abort(401)
        session["new_share_token"] = share_links.create_share_link(settings, session["user_id"])
        return redirect(url_for("account"))

    @app.post("/account/share-links/<link_id>/revoke")
    def revoke_link(link_id: str):
        if "user_id" not in session:
            abort(401)
        mine = {link.id: link for link in share_links.list_share_links(settings, session["user_id"])}
        if link_id not in mine:
            abort(404, "no such share link of yours")
        share_links.revoke_share_link(settings, mine[link_id].token_hash)
        return redirect(url_for("account"))

    # -- internal endpoints for the pipeline --------------------------------------

    def internal(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not secrets.compare_digest(request.headers.get("X-API-Key", ""), api_key):
                return jsonify({"error": "unauthorized", "message": "a valid X-API-Key header is required"}), 401
            try:
                return view(*args, **kwargs)
            except NotConnected as exc:
                return jsonify({"error": "not_connected", "message": str(exc)}), 404
            except NeedsLogin as exc:
                return jsonify({"error": "needs_login", "message": str(exc)}), 409
        return checked

    @app.get("/internal/users/<user_id>/token")
    @internal
    def internal_token(user_id: str):
        return jsonify({"user_id": user_id, "access_token": valid_access_token(user_id, settings)})

    @app.get("/internal/users/<user_id>/recently-played")
    @internal
    def internal_recently_played(user_id: str):
        after = request.args.get("after")
        if after is not None and not after.isdigit():
            return jsonify({"error": "bad_request", "message": f"after must be Unix milliseconds, got {after!r}"}), 400
        api = SpotifyApi(settings, lambda stale: valid_access_token(user_id, settings, stale=stale))
        try:
            page = api.call("current_user_recently_played", limit=PAGE_LIMIT,
                            after=int(after) if after is not None else None)
        except RateLimited as exc:
            response = jsonify({"error": "rate_limited", "message": str(exc)})
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response, 429
        except SpotifyUnavailable as exc:
            return jsonify({"error": "spotify_unavailable", "message": str(exc)}), 502
        return jsonify(page)

    @app.get("/health")
    def health():
        try:
            with connect("source", settings, connect_timeout=3) as conn:
                conn.execute("SELECT 1 FROM spotify_accounts LIMIT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            return jsonify({"status": "unhealthy", "source": str(exc).splitlines()[0]}), 503
        return jsonify({"status": "ok"})

    @app.errorhandler(Exception)
    def failure(exc):
        if isinstance(exc, HTTPException):
            return exc
        log.exception("unhandled error on %s", request.path)
        if request.path.startswith("/internal/"):
            return jsonify({"error": "internal_error", "message": str(exc)}), 500
        return render_template("message.html", title="Something went wrong", text=str(exc)), 500

    return app
