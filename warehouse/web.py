"""What both web services share (the login service flask_endpoint and the dashboard): bounded sessions,
CSRF protection of every POST, the security headers of every answer, constant-time comparison of secrets.

`init_app(app, ...)` configures an app and registers the blueprint `web`:

- sessions: HttpOnly, SameSite=Lax, `Secure` when the service's public URL is https, at most
  SESSION_LIFETIME_HOURS old counted from the login (`start_session`), however active;
- every POST (PUT, PATCH, DELETE) needs an Origin (or, without one, a Referer) of the service
  itself, when the browser tells one, and the form field `csrf_token` equal to the session's token
  (templates write it with `{{ csrf_token() }}`); else 403, nothing done;
- every answer carries a strict CSP with frame denial, no referrer, no sniffing, and
  `Cache-Control: private, no-store` unless its endpoint is one of `cacheable` (static files).
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, request, session
from flask.sessions import SessionMixin

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
CSRF_FIELD = "csrf_token"  # the form field, and the session key holding the token
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

web = Blueprint("web", __name__)


def same_secret(given: object, expected: str) -> bool:
    """Whether `given` is text equal to `expected`, in constant time, compared as UTF-8 bytes (any text is fine)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def origin_of(url: str) -> str | None:
    """'scheme://host[:port]' of a URL, as browsers send it in Origin; None for anything else."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else None


def init_app(app: Flask, *, public_url: str, session_hours: int, max_content_bytes: int,
             cacheable: tuple[str, ...] = ("static",)) -> None:
    """Configure sessions, body size, CSRF and headers of `app`, served at `public_url`."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=urlsplit(public_url).scheme == "https",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=session_hours),
        MAX_CONTENT_LENGTH=max_content_bytes,  # chunked bodies included (Werkzeug's LimitedStream)
        PUBLIC_ORIGIN=origin_of(public_url), CACHEABLE_ENDPOINTS=cacheable)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(web)


def start_session(store: SessionMixin, **values) -> None:
    """A new login in `store` (the Flask session): nothing of before kept, a fresh CSRF token, and
    the start time that bounds its lifetime."""
    store.clear()
    store.update(values, since=int(time.time()), **{CSRF_FIELD: secrets.token_urlsafe(32)})
    store.permanent = True  # the cookie expires too, not only when the browser closes


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


@web.before_app_request
def _end_old_sessions() -> None:
    since = session.get("since")
    if since is not None and time.time() - since > current_app.permanent_session_lifetime.total_seconds():
        session.clear()


def _same_origin() -> bool:
    """False when the browser says the request comes from another origin (port or scheme included)."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if sent is None or sent == "null":
        # Not said: scripts, or a browser under `Referrer-Policy: no-referrer` (ours), which sends
        # "Origin: null" for its own forms too. The token decides.
        return True
    return origin_of(sent) in {origin_of(request.host_url), current_app.config["PUBLIC_ORIGIN"]} - {None}


@web.before_app_request
def _check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    if not _same_origin():
        abort(403, "refused: this form was sent from another site")
    expected = session.get(CSRF_FIELD)
    if not expected or not same_secret(request.form.get(CSRF_FIELD), expected):
        abort(403, "refused: the form's security token is missing or stale; reload the page and try again")


@web.after_app_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint not in current_app.config["CACHEABLE_ENDPOINTS"]:
        response.headers["Cache-Control"] = "private, no-store"
    return response
