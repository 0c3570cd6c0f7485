"""spotipy with its own retries off, and our own handling of Spotify's failures.

- 429: a `Retry-After` up to SPOTIFY_MAX_RETRY_AFTER_SECONDS is waited, then the
  call is tried again; a longer one, or `QUOTA_EXCEEDED`, raises `RateLimited`
  so the caller ends this user's run cleanly (the next run resumes).
- 5xx and network errors/timeouts: retried a few times with a short backoff,
  then `SpotifyUnavailable`.
- 401 "The access token expired": one fresh token from the token provider, then
  the call is tried again.

spotipy's urllib3 retry would sleep the full Retry-After (it has reached hours)
and swallows the header when it gives up, so the client gets a plain
`requests.Session` (no retry adapter) and `retries=0, status_retries=0`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import requests
import spotipy

from warehouse.settings import Settings

log = logging.getLogger(__name__)
SERVER_RETRIES = 3
RATE_LIMIT_WAITS = 3  # short Retry-After waits per call before giving up for this run
REQUEST_TIMEOUT = 10


class RateLimited(RuntimeError):
    def __init__(self, retry_after: int | None, quota: bool):
        self.retry_after, self.quota = retry_after, quota
        what = "quota exceeded" if quota else f"Retry-After {retry_after} s"
        super().__init__(f"Spotify rate limit: {what}; stopping, the next run resumes")


class SpotifyUnavailable(RuntimeError):
    pass


class SpotifyApi:
    """Calls to the Web API for one user. `token_provider(stale)` returns an access token."""

    def __init__(self, settings: Settings, token_provider: Callable[[str | None], str],
                 sleep: Callable[[float], None] = time.sleep, timeout: float = REQUEST_TIMEOUT):
        self.settings, self.token_provider, self.sleep = settings, token_provider, sleep
        self.token = token_provider(None)
        self.client = spotipy.Spotify(auth=self.token, requests_session=requests.Session(),
                                      retries=0, status_retries=0, requests_timeout=timeout)
        self.client.prefix = settings.spotify_api_url.rstrip("/") + "/"
        self.waited = 0.0  # seconds spent waiting on Retry-After

    def call(self, method: str, *args, **kwargs):
        """`self.client.<method>(*args, **kwargs)` with the failure handling above."""
        server_errors = rate_waits = 0
        refreshed = False
        while True:
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except spotipy.SpotifyException as exc:
                status = exc.http_status
                if status == 429:
                    rate_waits += 1
                    self._wait_or_stop(exc, last_chance=rate_waits > RATE_LIMIT_WAITS)
                    continue
                if status == 401 and not refreshed and "expired" in str(exc.msg).lower():
                    self.token = self.token_provider(self.token)
                    self.client.set_auth(self.token)
                    refreshed = True
                    continue
                if status >= 500:
                    server_errors += 1
                    if server_errors > SERVER_RETRIES:
                        raise SpotifyUnavailable(f"Spotify answered {status} {SERVER_RETRIES + 1} times "
                                                 f"to {method}") from exc
                    self.sleep(0.5 * 2 ** (server_errors - 1))
                    continue
                raise
            except requests.RequestException as exc:  # connection refused, timeout
                server_errors += 1
                if server_errors > SERVER_RETRIES:
                    raise SpotifyUnavailable(f"Spotify unreachable for {method}: {exc}") from exc
                self.sleep(0.5 * 2 ** (server_errors - 1))

    def _wait_or_stop(self, exc: spotipy.SpotifyException, last_chance: bool) -> None:
        if exc.reason == "QUOTA_EXCEEDED":
            raise RateLimited(None, quota=True) from exc
        raw = (exc.headers or {}).get("Retry-After")
        try:
            retry_after = int(raw)
        except (TypeError, ValueError):
            retry_after = None
        if retry_after is None or retry_after > self.settings.spotify_max_retry_after_seconds or last_chance:
            raise RateLimited(retry_after, quota=False) from exc
        log.info("429 from Spotify: waiting Retry-After %s s", retry_after)
        self.sleep(retry_after)
        self.waited += retry_after
