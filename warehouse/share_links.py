"""Share links: a random token that opens one user's dashboard pages.

The token is shown once, when created; only its sha256 hash is stored, in
`public.dashboard_share_links` of main. Debezium replicates that table to the
replica, where the dashboard checks each request's token (see
dashboard/access.py). Revoking sets `revoked_at`; the row is kept. A link may
expire (`expires_at`, optional): after that it opens nothing, as a revoked one.

Used by `python -m dashboard share` and by the Flask login service's account page.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from warehouse.db import connect
from warehouse.settings import Settings

TOKEN_BYTES = 32  # 256 random bits, URL-safe base64 (43 characters)
SHOWN_ID_LENGTH = 12  # `list` shows the first characters of the hash as the link's id
_HEX_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")
_COLUMNS = "token_hash, user_id, created_at, revoked_at, expires_at"  # of ShareLink


class ShareLinkError(ValueError):
    """Unknown user, or no (or more than one) share link matches."""


@dataclass(frozen=True)
class ShareLink:
    token_hash: str
    user_id: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None  # None: open until revoked

    @property
    def id(self) -> str:
        return self.token_hash[:SHOWN_ID_LENGTH]

    @property
    def state(self) -> str:
        """'revoked <when>', 'expired <when>', 'live until <when>' or 'live' (times in UTC)."""
        if self.revoked_at:
            return f"revoked {self.revoked_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}"
        if self.expires_at and self.expires_at <= datetime.now(UTC):
            return f"expired {self.expires_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}"
        return f"live until {self.expires_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}" if self.expires_at else "live"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_share_link(settings: Settings, user_id: str, expires_days: int | None = None) -> str:
    """A new live share link for `user_id` (a user of source `users`), open for `expires_days` days
    (None: until revoked); returns its token."""
    if expires_days is not None and expires_days < 1:
        raise ShareLinkError(f"a share link expires after 1 day or more, not {expires_days}")
    with connect("source", settings) as conn:
        if not conn.execute("SELECT 1 FROM users WHERE user_id = %s", (user_id,)).fetchone():
            raise ShareLinkError(f"unknown user {user_id!r}: no such user in the source database")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with connect("main", settings) as conn:
        conn.execute(
            "INSERT INTO public.dashboard_share_links (token_hash, user_id, expires_at) "
            "VALUES (%s, %s, now() + make_interval(days => %s))",
            (hash_token(token), user_id, expires_days),
        )
    return token


def revoke_share_link(settings: Settings, token_or_id: str) -> ShareLink:
    """Revoke the link given by its token, its hash or the hash's first characters (8 or more).

    Revoking a revoked link changes nothing and returns it as it is.
    """
    candidates = [hash_token(token_or_id)]
    prefix = token_or_id.lower() if _HEX_PREFIX.match(token_or_id.lower()) else None
    with connect("main", settings) as conn:
        rows = conn.execute(
            "SELECT token_hash FROM public.dashboard_share_links "
            "WHERE token_hash = ANY(%s) OR (%s::text IS NOT NULL AND token_hash LIKE %s::text || '%%') "
            "FOR UPDATE",
            (candidates, prefix, prefix),
        ).fetchall()
        if not rows:
            raise ShareLinkError(f"no share link matches {token_or_id!r}")
        if len(rows) > 1:
            raise ShareLinkError(f"{len(rows)} share links start with {token_or_id!r}: give more characters")
        row = conn.execute(
            "UPDATE public.dashboard_share_links SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE token_hash = %s RETURNING " + _COLUMNS,
            (rows[0][0],),
        ).fetchone()
    return ShareLink(*row)


def list_share_links(settings: Settings, user_id: str) -> list[ShareLink]:
    """The user's share links, newest first, revoked and expired ones included."""
    with connect("main", settings) as conn:
        rows = conn.execute(
            "SELECT " + _COLUMNS + " FROM public.dashboard_share_links WHERE user_id = %s "
            "ORDER BY created_at DESC, token_hash",
            (user_id,),
        ).fetchall()
    return [ShareLink(*row) for row in rows]
