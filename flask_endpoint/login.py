"""Logging in with Spotify: `/`, `/login`, `/callback` and `POST /logout`.

Authorization code with PKCE; the `state` and the verifier wait in the browser's
Flask session between `/login` and `/callback`. A browser time zone sent as
`/login?tz=` becomes the user's time zone ("detected") when it is a valid one.

The session of a logged-in user carries their `users.session_version`; a cookie
with another version is a logged-out one. Logout increments the version, so a
copy of the cookie taken before is refused, as is any cookie older than
SESSION_LIFETIME_HOURS (warehouse.web).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from spotipy.oauth2 import SpotifyOauthError

from flask_endpoint.users import end_sessions, find_user, session_version
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable
from ingestion.tokens import forget_tokens, pkce_manager, store_login
from warehouse.db import connect
from warehouse.settings import validate_timezone
from warehouse.web import same_secret, start_session

bp = Blueprint("login", __name__)


@bp.before_app_request
def _refuse_ended_sessions() -> None:
    """A session whose version is not the user's current one (logged out since) is no login."""
    if "user_id" in session:
        with connect("source", current_app.config["SETTINGS"]) as conn:
            current = session_version(conn, session["user_id"])
        if current is None or session.get("version") != current:
            session.clear()


def _refused(title: str, text: str, status: int = 400):
    return render_template("message.html", title=title, text=text), status


@bp.get("/")
def index():
    user = None
    if "user_id" in session:
        with connect("source", current_app.config["SETTINGS"]) as conn:
            user = find_user(conn, session["user_id"])
    if user is not None and user.connected and not user.needs_login:
        return redirect(url_for("account.page"))
    return render_template("login.html", user=user)


def _browser_timezone() -> str | None:
    """The `tz` the login page's script sent, when it is a time zone we can use (else the account page asks)."""
    timezone = request.args.get("tz")
    if not timezone:
        return timezone
    try:
        return validate_timezone(timezone)
    except ValueError:
        return None


@bp.get("/login")
def login():
    manager = pkce_manager(current_app.config["SETTINGS"], state=secrets.token_urlsafe(24))
    manager.get_pkce_handshake_parameters()
    session["oauth"] = {"state": manager.state, "verifier": manager.code_verifier, "tz": _browser_timezone()}
    return redirect(manager.get_authorize_url())


@bp.get("/callback")
def callback():
    settings = current_app.config["SETTINGS"]
    pending = session.pop("oauth", None)
    if pending is None or not same_secret(request.args.get("state", ""), pending["state"]):
        return _refused("Login refused", "This login answer does not belong to this browser session "
                                         "(state mismatch). Start again from the login page.")
    if "error" in request.args:
        return _refused("Login cancelled", f"Spotify answered: {request.args['error']}.")
    manager = pkce_manager(settings, state=pending["state"])
    manager.code_verifier = pending["verifier"]
    manager.code_challenge = "sent-at-login"  # spotipy only checks it is set
    try:
        manager.get_access_token(request.args.get("code", ""), check_cache=False)
    except SpotifyOauthError as exc:
        return _refused("Login failed", f"Spotify refused the code: {exc.error_description or exc.error}.")
    token_info = manager.cache_handler.get_cached_token()
    try:
        profile = SpotifyApi(settings, lambda stale: token_info["access_token"]).call("current_user")
    except (RateLimited, SpotifyUnavailable) as exc:
        return _refused("Spotify is busy", str(exc), 503)
    with connect("source", settings) as conn:
        store_login(conn, settings, profile, token_info, pending["tz"], "detected" if pending["tz"] else None)
        version = session_version(conn, profile["id"])
    start_session(session, user_id=profile["id"], version=version)
    return redirect(url_for("account.page"))


@bp.post("/logout")
def logout():
    if "user_id" in session:
        with connect("source", current_app.config["SETTINGS"]) as conn:
            forget_tokens(conn, session["user_id"])
            end_sessions(conn, session["user_id"])
    session.clear()
    return redirect(url_for("login.index"))
