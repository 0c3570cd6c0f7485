"""Spotify tokens of connected users: stored encrypted, refreshed one at a time.

Tokens live in `source.spotify_accounts`, Fernet-encrypted with
TOKEN_ENCRYPTION_KEY. `valid_access_token` hands out an access token with at
least 60 s left, refreshing it when needed while holding the account row's lock
(`SELECT ... FOR UPDATE`): concurrent callers, in any process, wait for the one
refresh and then read its result. When Spotify omits `refresh_token` in a
refresh answer, the old one is kept. `invalid_grant` (refresh token expired or
revoked) marks the user `needs_login` and raises `NeedsLogin`; any other failure
of the refresh (the token endpoint answering 5xx or 429, a connection error or
timeout) raises `TokenRefreshFailed`, a `SpotifyUnavailable`: that user's run
fails, the user is not marked, the next run tries again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import requests
from cryptography.fernet import Fernet, InvalidToken
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyOAuth, SpotifyOauthError, SpotifyPKCE

from ingestion.spotify_client import SpotifyUnavailable
from warehouse.db import connect
from warehouse.settings import Settings, SettingsError, get_settings

MIN_SECONDS_LEFT = 60
SCOPES = "user-read-recently-played user-read-email"
REQUEST_TIMEOUT = 10


class NotConnected(LookupError):
    """The user never connected Spotify, or logged out."""


class NeedsLogin(RuntimeError):
    """Spotify refused the user's refresh token: the user must log in again."""


class TokenRefreshFailed(SpotifyUnavailable):
    """The token endpoint failed otherwise (5xx, 429, unreachable): the refresh token still holds."""


def _refresh_failure(exc: SpotifyOauthError) -> str:
    """What the token endpoint answered: spotipy keeps the HTTP status only on the error it raised from."""
    response = getattr(exc.__context__, "response", None)
    status = f"HTTP {response.status_code}" if response is not None else "an error"
    said = exc.error_description or exc.error
    if isinstance(said, dict):  # a Web API style body: {"error": {"status": 502, "message": "Bad gateway."}}
        said = said.get("message")
    return f"the token endpoint answered {status}: {str(said)[:200]}"


def fernet(settings: Settings) -> Fernet:
    key = settings.require_secret("token_encryption_key")
    try:
        return Fernet(key)
    except ValueError:
        raise SettingsError("TOKEN_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes); "
                            "make one with: python -m operations secrets") from None


def pkce_manager(settings: Settings, state: str | None = None) -> SpotifyPKCE:
    """spotipy's PKCE flow pointed at SPOTIFY_ACCOUNTS_URL, tokens kept in memory only."""
    manager = SpotifyPKCE(client_id=settings.require_secret("spotify_client_id"),
                          redirect_uri=settings.spotify_redirect_uri, state=state, scope=SCOPES,
                          cache_handler=MemoryCacheHandler(), open_browser=False,
                          requests_timeout=REQUEST_TIMEOUT)
    _point_at_accounts(manager, settings)
    return manager


def refresh_manager(settings: Settings) -> SpotifyOAuth | SpotifyPKCE:
    """Refreshes with the client secret (Basic auth) when one is set, else as a PKCE client."""
    if not settings.spotify_client_secret:
        return pkce_manager(settings)
    manager = SpotifyOAuth(client_id=settings.require_secret("spotify_client_id"),
                           client_secret=settings.spotify_client_secret,
                           redirect_uri=settings.spotify_redirect_uri, scope=SCOPES,
                           cache_handler=MemoryCacheHandler(), open_browser=False,
                           requests_timeout=REQUEST_TIMEOUT)
    _point_at_accounts(manager, settings)
    return manager


def _point_at_accounts(manager, settings: Settings) -> None:
    base = settings.spotify_accounts_url.rstrip("/")
    manager.OAUTH_AUTHORIZE_URL = f"{base}/authorize"
    manager.OAUTH_TOKEN_URL = f"{base}/api/token"


def _expiry(token_info: dict) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=int(token_info["expires_in"]))


def store_login(conn: psycopg.Connection, settings: Settings, profile: dict, token_info: dict,
                timezone: str | None, timezone_source: str | None) -> None:
    """Create or update the user from their profile and store fresh tokens (one transaction)."""
    box = fernet(settings)
    with conn.transaction():
        conn.execute(
            """INSERT INTO users (user_id, display_name, email, timezone, timezone_source)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (user_id) DO UPDATE SET
                   display_name = EXCLUDED.display_name,
                   email = COALESCE(users.email, EXCLUDED.email),
                   timezone = COALESCE(users.timezone, EXCLUDED.timezone),
                   timezone_source = COALESCE(users.timezone_source, EXCLUDED.timezone_source),
                   needs_login = false, needs_login_reason = NULL, updated_at = now()""",
            (profile["id"], profile.get("display_name"), profile.get("email"), timezone, timezone_source),
        )
        conn.execute(
            """INSERT INTO spotify_accounts (user_id, access_token_encrypted, refresh_token_encrypted,
                                             token_expires_at, scope)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (user_id) DO UPDATE SET
                   access_token_encrypted = EXCLUDED.access_token_encrypted,
                   refresh_token_encrypted = EXCLUDED.refresh_token_encrypted,
                   token_expires_at = EXCLUDED.token_expires_at, scope = EXCLUDED.scope,
                   authorized_at = now(), updated_at = now()""",
            (profile["id"], box.encrypt(token_info["access_token"].encode()),
             box.encrypt(token_info["refresh_token"].encode()), _expiry(token_info), token_info.get("scope")),
        )


def forget_tokens(conn: psycopg.Connection, user_id: str) -> None:
    with conn.transaction():
        conn.execute("DELETE FROM spotify_accounts WHERE user_id = %s", (user_id,))


def mark_needs_login(conn: psycopg.Connection, user_id: str, reason: str) -> None:
    conn.execute("UPDATE users SET needs_login = true, needs_login_reason = %s, updated_at = now() "
                 "WHERE user_id = %s", (reason, user_id))


def valid_access_token(user_id: str, settings: Settings | None = None, stale: str | None = None,
                       min_seconds: int = MIN_SECONDS_LEFT) -> str:
    """An access token of `user_id` with at least `min_seconds` left.

    `stale`: a token Spotify just answered "expired" for; it is refreshed even
    if its stored expiry says otherwise (unless another caller already did).
    """
    settings = settings or get_settings()
    box = fernet(settings)
    with connect("source", settings) as conn:
        row = conn.execute(
            """SELECT a.access_token_encrypted, a.refresh_token_encrypted, a.token_expires_at,
                      u.needs_login, u.needs_login_reason
               FROM spotify_accounts a JOIN users u USING (user_id)
               WHERE a.user_id = %s FOR UPDATE OF a""", (user_id,)).fetchone()
        if row is None:
            raise NotConnected(f"user {user_id} has not connected Spotify")
        access_enc, refresh_enc, expires_at, needs_login, reason = row
        if needs_login:
            raise NeedsLogin(f"user {user_id} must log in again: {reason}")
        try:
            access, refresh = box.decrypt(bytes(access_enc)).decode(), box.decrypt(bytes(refresh_enc)).decode()
        except InvalidToken:
            raise SettingsError(f"the tokens of user {user_id} do not decrypt with TOKEN_ENCRYPTION_KEY "
                                "(was the key changed?)") from None
        left = (expires_at - datetime.now(UTC)).total_seconds()
        if left >= min_seconds and access != stale:
            return access
        try:
            info = refresh_manager(settings).refresh_access_token(refresh)
        except requests.RequestException as exc:
            raise TokenRefreshFailed(f"refreshing the token of user {user_id} failed: "
                                     f"the token endpoint is unreachable: {exc}") from exc
        except SpotifyOauthError as exc:
            if exc.error != "invalid_grant":
                raise TokenRefreshFailed(f"refreshing the token of user {user_id} failed: "
                                         f"{_refresh_failure(exc)}") from exc
            reason = f"Spotify refused the refresh token ({exc.error_description or exc.error})"
            mark_needs_login(conn, user_id, reason)
            conn.commit()
            raise NeedsLogin(f"user {user_id} must log in again: {reason}") from None
        new_refresh = info.get("refresh_token") or refresh  # Spotify may omit it: keep the old one
        conn.execute(
            """UPDATE spotify_accounts SET access_token_encrypted = %s, refresh_token_encrypted = %s,
                   token_expires_at = %s, refreshed_at = now(), refresh_count = refresh_count + 1,
                   updated_at = now()
               WHERE user_id = %s""",
            (box.encrypt(info["access_token"].encode()), box.encrypt(new_refresh.encode()), _expiry(info), user_id),
        )
        conn.commit()
        return info["access_token"]
