"""The fake Accounts service: `GET /authorize` and `POST /api/token` (docs/spotify-api.md, "Accounts service").

Codes live 10 minutes and are used once; with a `code_challenge` the token
endpoint wants the matching `code_verifier`, without one Basic auth. Refresh
tokens live six months from the authorization, refreshing does not extend them;
whether a refresh answer carries a new one follows `FakeSpotify.refresh_policy`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, jsonify, redirect, request
from werkzeug.datastructures import MultiDict

from fake_spotify.state import Client, FakeSpotify, Token

ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600
REFRESH_TOKEN_LIFETIME = timedelta(days=182)  # six months from authorization
SCOPES_DEFAULT = "user-read-recently-played user-read-email"

bp = Blueprint("accounts", __name__)


def auth_error(error: str, description: str, status: int = 400):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


@bp.get("/authorize")
def authorize():
    fake: FakeSpotify = current_app.config["fake"]
    args = request.args
    client = fake.clients.get(args.get("client_id", ""))
    if client is None:
        return "INVALID_CLIENT: Invalid client", 400
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris or urlsplit(redirect_uri).hostname == "localhost":
        return "INVALID_CLIENT: Invalid redirect URI", 400
    state = {"state": args["state"]} if "state" in args else {}
    if args.get("response_type") != "code":
        return redirect(f"{redirect_uri}?{urlencode({'error': 'unsupported_response_type', **state})}")
    method = args.get("code_challenge_method")
    challenge = args.get("code_challenge")
    if (method or challenge) and (method != "S256" or not challenge):
        return redirect(f"{redirect_uri}?{urlencode({'error': 'invalid_request', **state})}")
    code = secrets.token_urlsafe(32)
    with fake.lock:
        fake.codes[code] = {"client_id": client.client_id, "redirect_uri": redirect_uri,
                            "user_id": fake.login_user, "scope": args.get("scope", SCOPES_DEFAULT),
                            "challenge": challenge, "expires_at": time.time() + CODE_SECONDS,
                            "used": False}
    return redirect(f"{redirect_uri}?{urlencode({'code': code, **state})}")


def _client_from_request(fake: FakeSpotify) -> tuple[Client | None, bool]:
    """The client the request authenticates as; True when by Basic auth."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, True
        client = fake.clients.get(client_id)
        return (client if client and secrets.compare_digest(client.client_secret, secret) else None), True
    return fake.clients.get(request.form.get("client_id", "")), False


def _issue(fake: FakeSpotify, user_id: str, client_id: str, scope: str, refresh: str | None):
    """A token answer with a new access token (and `refresh`, unless None)."""
    access = secrets.token_urlsafe(48)
    fake.access_tokens[access] = Token(user_id, client_id, scope, expires_at=time.time() + ACCESS_TOKEN_SECONDS)
    body = {"access_token": access, "token_type": "Bearer", "scope": scope, "expires_in": ACCESS_TOKEN_SECONDS}
    if refresh is not None:
        body["refresh_token"] = refresh
    return jsonify(body)


def _verifier_matches(verifier: str, challenge: str) -> bool:
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return bool(verifier) and secrets.compare_digest(digest.decode(), challenge)


def _authorization_code(fake: FakeSpotify, client: Client, basic: bool, form: MultiDict):
    code = fake.codes.get(form.get("code", ""))
    if code is None or code["client_id"] != client.client_id or code["used"]:
        return auth_error("invalid_grant", "Invalid authorization code")
    code["used"] = True
    if code["expires_at"] < time.time():
        return auth_error("invalid_grant", "Authorization code expired")
    if form.get("redirect_uri") != code["redirect_uri"]:
        return auth_error("invalid_grant", "Invalid redirect URI")
    if code["challenge"]:
        if not _verifier_matches(form.get("code_verifier", ""), code["challenge"]):
            return auth_error("invalid_grant", "code_verifier was incorrect")
    elif not basic:
        return auth_error("invalid_client", "Invalid client secret")
    refresh = secrets.token_urlsafe(48)
    fake.refresh_tokens[refresh] = Token(code["user_id"], client.client_id, code["scope"], authorized_at=time.time())
    return _issue(fake, code["user_id"], client.client_id, code["scope"], refresh)


def _refresh_token(fake: FakeSpotify, client: Client, form: MultiDict):
    old = fake.refresh_tokens.get(form.get("refresh_token", ""))
    if old is None or old.client_id != client.client_id:
        return auth_error("invalid_grant", "Invalid refresh token")
    if old.revoked:
        return auth_error("invalid_grant", "Refresh token revoked")
    if time.time() - old.authorized_at > REFRESH_TOKEN_LIFETIME.total_seconds():
        return auth_error("invalid_grant", "Refresh token expired")
    fake.refreshes[old.user_id] += 1
    omit = fake.refresh_policy == "omit" or (
        fake.refresh_policy == "alternate" and fake.refreshes[old.user_id] % 2 == 1)
    refresh = None
    if not omit:  # a new refresh token, same six months as the authorization
        refresh = secrets.token_urlsafe(48)
        fake.refresh_tokens[refresh] = Token(old.user_id, old.client_id, old.scope, authorized_at=old.authorized_at)
    return _issue(fake, old.user_id, client.client_id, old.scope, refresh)


@bp.post("/api/token")
def token():
    fake: FakeSpotify = current_app.config["fake"]
    client, basic = _client_from_request(fake)
    if client is None:
        return auth_error("invalid_client", "Invalid client" if basic or request.form.get("client_id")
                          else "Missing client_id")
    grant = request.form.get("grant_type")
    with fake.lock:
        if grant == "authorization_code":
            return _authorization_code(fake, client, basic, request.form)
        if grant == "refresh_token":
            return _refresh_token(fake, client, request.form)
    return auth_error("unsupported_grant_type", f"grant_type must be authorization_code or refresh_token, "
                      f"got {grant!r}")
