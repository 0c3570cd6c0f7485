"""Who is viewing, and what they may see.

A user's pages and API answers open only with that user's share link token
(cookie set by /s/<token>, or `Authorization: Bearer <token>`) or with the admin
password (login form, or HTTP Basic for scripts). Anything else, a wrong or a
revoked token included, gets the same 404 as an unknown user, so nothing tells
whether a user exists. Tokens are checked against the replica on every request:
a revoked or expired link stops working as soon as the revocation is replicated
(expiry needs no replication).

A browser may hold several share links: the cookie keeps the tokens of the last
MAX_SHARE_TOKENS links opened (newest first, separated by dots: tokens are
URL-safe base64), and the viewer sees every user a live one of them opens. A
Bearer token opens its one user, whatever the cookie holds.

The admin session carries the process's admin session version
(`app.extensions["admin_version"]`, random); logging out makes a new one, so every
copy of an admin cookie taken before is refused. Wrong admin passwords (form or
HTTP Basic) back off per client address (`dashboard.backoff`): 429 with Retry-After.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import NoReturn

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from dashboard.queries import User, current_replica
from warehouse.share_links import hash_token
from warehouse.web import same_secret, start_session

SHARE_COOKIE = "wrapped_share"
SHARE_COOKIE_DAYS = 30
MAX_SHARE_TOKENS = 10  # share links a browser holds at once: the newest
MAX_TOKEN_LENGTH = 200  # longer parts of a cookie are no token (share links' tokens have 43 characters)
NOT_FOUND = "not found: no such user, or this link does not open it"

access = Blueprint("access", __name__)


@dataclass(frozen=True)
class Viewer:
    admin: bool = False
    user_ids: tuple[str, ...] = ()  # the users the viewer's live share links open, the newest link's first

    def may_see(self, user_id: str) -> bool:
        return self.admin or user_id in self.user_ids

    def holds_link(self, user_id: str) -> bool:
        """Whether one of the viewer's share links opens the user (the admin holds none)."""
        return user_id in self.user_ids


def cookie_tokens(value: str | None) -> list[str]:
    """The share link tokens a cookie holds, newest first, at most MAX_SHARE_TOKENS."""
    tokens = []
    for token in (value or "").split("."):
        if token and len(token) <= MAX_TOKEN_LENGTH and token not in tokens:
            tokens.append(token)
    return tokens[:MAX_SHARE_TOKENS]


def live_links(tokens: list[str]) -> dict[str, str]:
    """{token: the user it opens} of the tokens that open a user now (neither revoked nor expired)."""
    if not tokens:
        return {}
    users = current_replica().share_link_users([hash_token(token) for token in tokens])
    return {token: users[hash_token(token)] for token in tokens if hash_token(token) in users}


def new_admin_version(app: Flask) -> None:
    """Every admin session made before is over."""
    app.extensions["admin_version"] = secrets.token_urlsafe(16)


def check_admin_password(candidate: str | None) -> bool:
    """Whether `candidate` is the admin password; counted per client address, and refused (429)
    while that address backs off after wrong ones, the right password included."""
    logins, address = current_app.extensions["admin_logins"], request.remote_addr or "?"
    wait = logins.retry_after(address)
    if wait:
        raise TooManyRequests(f"too many wrong admin passwords from your address: try again in {wait} s",
                              retry_after=wait)
    if same_secret(candidate, current_app.config["ADMIN_PASSWORD"]):
        logins.succeeded(address)
        return True
    logins.failed(address)
    return False


def _admin_session() -> bool:
    return same_secret(session.get("admin"), current_app.extensions["admin_version"])


def current_viewer() -> Viewer:
    """The viewer of this request, from the admin session, HTTP auth or the share link cookie."""
    if "viewer" not in g:
        auth = request.authorization
        admin = bool(current_app.config["ADMIN_PASSWORD"]) and (
            _admin_session() or (auth is not None and auth.type == "basic" and check_admin_password(auth.password)))
        bearer = auth.token if auth is not None and auth.type == "bearer" else None
        tokens = [bearer] if bearer else cookie_tokens(request.cookies.get(SHARE_COOKIE))
        g.viewer = Viewer(admin, tuple(dict.fromkeys(live_links(tokens).values())))
    return g.viewer


def abort_unless_visible(user_id: str) -> None:
    """The same 404 for a user one may not see as for one who does not exist."""
    if not current_viewer().may_see(user_id):
        abort(404, NOT_FOUND)


def abort_unknown_user(user_id: str) -> NoReturn:
    """Only the admin learns that a user does not exist."""
    abort(404, f"unknown user {user_id!r}" if current_viewer().admin else NOT_FOUND)


def visible_user(user_id: str) -> User:
    """The user, if this request may see them; else the same 404 whether they exist or not."""
    abort_unless_visible(user_id)
    user = current_replica().user(user_id)
    if user is None and current_viewer().holds_link(user_id):
        return User(user_id, None, None, [])  # a share link made before the user's data arrived
    if user is None:
        abort_unknown_user(user_id)
    return user


@access.app_context_processor
def who_is_viewing() -> dict:  # never queries: error pages render when the replica is down
    return {"viewer": g.get("viewer", Viewer())}


@access.get("/s/<token>")
def open_share_link(token: str):
    """Adds the link to those the cookie holds (dropping the ones that open nothing any more) and shows its user."""
    held = [t for t in cookie_tokens(request.cookies.get(SHARE_COOKIE)) if t != token]
    live = live_links([token, *held]) if len(token) <= MAX_TOKEN_LENGTH and "." not in token else {}
    user_id = live.get(token)
    if user_id is None:
        abort(404, "this share link is wrong or was revoked")
    response = redirect(url_for("pages.overview", user_id=user_id))
    response.set_cookie(SHARE_COOKIE, ".".join(list(live)[:MAX_SHARE_TOKENS]),
                        max_age=SHARE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
    return response


@access.route("/admin/login", methods=["GET", "POST"])
def admin_login():
    if not current_app.config["ADMIN_PASSWORD"]:
        abort(404, "the admin login is disabled: set DASHBOARD_ADMIN_PASSWORD")
    if request.method == "POST":
        try:
            right = check_admin_password(request.form.get("password"))
        except TooManyRequests as refused:
            page = render_template("landing.html", error=refused.description)
            return page, 429, {"Retry-After": str(refused.retry_after)}
        if right:
            start_session(session, admin=current_app.extensions["admin_version"])
            return redirect(url_for("pages.user_list"))
        return render_template("landing.html", error="Wrong password."), 403
    return render_template("landing.html")


@access.post("/logout")
def logout():
    if _admin_session():
        new_admin_version(current_app)
    session.clear()
    response = redirect(url_for("pages.home"))
    response.delete_cookie(SHARE_COOKIE)
    return response
