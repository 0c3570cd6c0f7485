"""Endpoints for the pipeline, behind the header `X-API-Key: PIPELINE_API_KEY`:
`GET /internal/users/<id>/token` and `GET /internal/users/<id>/recently-played?after=<ms>`.

Errors are JSON `{"error", "message"}`: 401 without the key, 404 `not_connected`,
409 `needs_login`, 400 `bad_request`, 429 `rate_limited` (with Spotify's
Retry-After), 502 `spotify_unavailable`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ingestion.recently_played import PAGE_LIMIT
from ingestion.spotify_client import RateLimited, SpotifyApi, SpotifyUnavailable
from ingestion.tokens import NeedsLogin, NotConnected, valid_access_token
from warehouse.web import same_secret

bp = Blueprint("internal", __name__, url_prefix="/internal")


def _error(status: int, error: str, message: str):
    return jsonify({"error": error, "message": message}), status


@bp.before_request
def _check_api_key():
    expected = current_app.config["SETTINGS"].pipeline_api_key
    if not same_secret(request.headers.get("X-API-Key", ""), expected):
        return _error(401, "unauthorized", "a valid X-API-Key header is required")
    return None


@bp.errorhandler(NotConnected)
def _not_connected(exc: NotConnected):
    return _error(404, "not_connected", str(exc))


@bp.errorhandler(NeedsLogin)
def _needs_login(exc: NeedsLogin):
    return _error(409, "needs_login", str(exc))


@bp.errorhandler(RateLimited)
def _rate_limited(exc: RateLimited):
    response, status = _error(429, "rate_limited", str(exc))
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@bp.errorhandler(SpotifyUnavailable)
def _spotify_unavailable(exc: SpotifyUnavailable):
    return _error(502, "spotify_unavailable", str(exc))


@bp.get("/users/<user_id>/token")
def token(user_id: str):
    return jsonify({"user_id": user_id, "access_token": valid_access_token(user_id, current_app.config["SETTINGS"])})


@bp.get("/users/<user_id>/recently-played")
def recently_played(user_id: str):
    after = request.args.get("after")
    if after is not None and not after.isdigit():
        return _error(400, "bad_request", f"after must be Unix milliseconds, got {after!r}")
    settings = current_app.config["SETTINGS"]
    api = SpotifyApi(settings, lambda stale: valid_access_token(user_id, settings, stale=stale))
    return jsonify(api.call("current_user_recently_played", limit=PAGE_LIMIT,
                            after=int(after) if after is not None else None))
