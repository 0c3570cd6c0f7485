"""Web API ingestion of each connected user's recently played tracks (every INGESTION_INTERVAL_MINUTES).

For one user (`ingest_user`): read the cursor (`ingestion_cursors.after_ms`, the
Unix ms of the newest play stored), fetch the plays after it, then in ONE
transaction insert the new plays idempotently (`play_key` from
`warehouse.plays.api_play_key`), upsert the metadata they carry, record the run
and move the cursor. Only then enrich unseen tracks, albums and artists
(`ingestion.enrich`): a failure there never costs a play.

Spotify keeps only the 50 most recent plays. When a page after the cursor is
full and its oldest play is newer than the cursor, plays in between may have
dropped out of the window: the run reports that gap (`gap_from`, `gap_to`).

Outcomes (`ingestion_runs.status`): `ok`; `rate_limited` (a long Retry-After
or an exhausted quota ended the run cleanly; the cursor only moved past what
was committed, the next run resumes); `needs_login` (skipped: Spotify refused
the refresh token); `failed` (Spotify unavailable or another error, cursor
unchanged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import spotipy

from ingestion.bounds import check_json_text, check_ms_played, check_played_at
from ingestion.enrich import EnrichReport, enrich, store_items, to_enrich
from ingestion.enrichment_queue import MAX_ATTEMPTS
from ingestion.metadata import check_recently_played
from ingestion.playlists import PlaylistReport, refresh_playlists
from ingestion.spotify_client import REQUEST_TIMEOUT, RateLimited, SpotifyApi, SpotifyUnavailable
from ingestion.tokens import NeedsLogin, NotConnected, valid_access_token
from warehouse.db import connect
from warehouse.plays import api_play_key
from warehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
PAGE_LIMIT = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RunResult:
    user_id: str
    status: str = "ok"
    plays_fetched: int = 0
    plays_inserted: int = 0
    cursor_before: int | None = None
    cursor_after: int | None = None
    gap_from: datetime | None = None
    gap_to: datetime | None = None
    detail: str | None = None
    enrichment: EnrichReport = field(default_factory=EnrichReport)
    playlists: PlaylistReport = field(default_factory=PlaylistReport)

    def __str__(self) -> str:
        text = f"{self.user_id}: {self.status}, {self.plays_inserted} new plays of {self.plays_fetched} fetched"
        if self.gap_from:
            text += f", possible gap {self.gap_from.isoformat()} .. {self.gap_to.isoformat()}"
        return text + (f" ({self.detail})" if self.detail else "")


def parse_played_at(value: str) -> datetime:
    """`2026-03-01T14:15:22.123Z` (or without milliseconds) as an aware UTC datetime."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in value else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(value, fmt).replace(tzinfo=UTC)


def to_ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def users_to_poll(settings: Settings | None = None) -> list[str]:
    """Every user who connected Spotify (those needing a new login are skipped by `ingest_user`)."""
    with connect("source", settings) as conn:
        return [r[0] for r in conn.execute("SELECT user_id FROM spotify_accounts ORDER BY user_id")]


def fetch_after(api: SpotifyApi, after_ms: int | None) -> tuple[list[dict], bool]:
    """Plays after `after_ms` (all of the window when None), newest first; True when the first page was full."""
    page = api.call("current_user_recently_played", limit=PAGE_LIMIT, after=after_ms)
    items = list(page["items"])
    full = len(items) >= PAGE_LIMIT
    while after_ms is not None and page.get("next") and page.get("cursors"):
        page = api.call("current_user_recently_played", limit=PAGE_LIMIT, after=int(page["cursors"]["after"]))
        items = list(page["items"]) + items
    return items, full


PLAY_FIELDS = ("user_id", "play_key", "played_at", "ms_played", "track_id", "track_name", "artist_name",
               "album_name", "context_type", "context_uri")


def within_bounds(user_id: str, items: list[dict], now: datetime) -> list[dict]:
    """The items the source gate accepts (`ingestion.bounds`) whose fields are what they must be
    (`ingestion.metadata`); the others are dropped and logged.

    Checked before anything of them is stored (plays, metadata, cursor): a play dated
    in the future would otherwise also move the cursor past every play to come.
    """
    kept = []
    for index, item in enumerate(items):
        played_at = item.get("played_at") if isinstance(item, dict) else None
        try:
            check_recently_played(index, item)
            check_played_at("played_at", parse_played_at(played_at), now)
            check_ms_played("track.duration_ms", item["track"]["duration_ms"])
            check_json_text("item", item)
        except ValueError as exc:  # OutOfBounds, MetadataRefused, or a played_at of no known format
            log.warning("%s: recently-played item %d (played_at %s) dropped: %s", user_id, index,
                        str(played_at)[:40], exc)
            continue
        kept.append(item)
    return kept


def play_rows(user_id: str, items: list[dict]) -> list[tuple]:
    rows = []
    for item in items:
        track = item["track"]
        played_at = parse_played_at(item["played_at"])
        context = item.get("context") or {}
        rows.append((user_id, api_play_key(played_at), played_at, track["duration_ms"], track["id"],
                     track["name"], (track.get("artists") or [{}])[0].get("name"),
                     (track.get("album") or {}).get("name"), context.get("type"), context.get("uri")))
    return rows


def _record(conn: psycopg.Connection, result: RunResult) -> int:
    """The run row, and the cursor row's status (its `after_ms` moves only with committed plays)."""
    conn.execute(
        """INSERT INTO ingestion_cursors (user_id, after_ms, last_run_at, last_run_plays, last_status)
           VALUES (%s, %s, now(), %s, %s)
           ON CONFLICT (user_id) DO UPDATE SET after_ms = EXCLUDED.after_ms, last_run_at = now(),
               last_run_plays = EXCLUDED.last_run_plays, last_status = EXCLUDED.last_status, updated_at = now()""",
        (result.user_id, result.cursor_after, result.plays_inserted, result.status))
    return conn.execute(
        """INSERT INTO ingestion_runs (user_id, finished_at, status, plays_fetched, plays_inserted,
                                       cursor_before, cursor_after, gap_from, gap_to, detail)
           VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
        (result.user_id, result.status, result.plays_fetched, result.plays_inserted, result.cursor_before,
         result.cursor_after, result.gap_from, result.gap_to, result.detail)).fetchone()[0]


def _stop(conn: psycopg.Connection, result: RunResult, status: str, detail: str) -> RunResult:
    conn.rollback()
    result.status, result.detail, result.cursor_after = status, detail, result.cursor_before
    with conn.transaction():
        _record(conn, result)
    (log.warning if status == "needs_login" else log.error)("%s", result)
    return result


def ingest_user(user_id: str, settings: Settings | None = None, sleep: Callable[[float], None] = time.sleep,
                timeout: float = REQUEST_TIMEOUT) -> RunResult:
    """One ingestion run of one user; never raises for Spotify's documented failures."""
    settings = settings or get_settings()
    with connect("source", settings) as conn:
        row = conn.execute(
            """SELECT u.needs_login, u.needs_login_reason, c.after_ms
               FROM users u LEFT JOIN ingestion_cursors c USING (user_id) WHERE u.user_id = %s""",
            (user_id,)).fetchone()
        if row is None:
            raise NotConnected(f"unknown user {user_id}")
        needs_login, reason, cursor = row
        result = RunResult(user_id, cursor_before=cursor)
        if needs_login:
            return _stop(conn, result, "needs_login", f"skipped: the user must log in again ({reason})")
        try:
            api = SpotifyApi(settings, lambda stale: valid_access_token(user_id, settings, stale=stale),
                             sleep=sleep, timeout=timeout)
            items, full = fetch_after(api, cursor)
        except NeedsLogin as exc:
            return _stop(conn, result, "needs_login", f"skipped: {exc}")
        except RateLimited as exc:
            return _stop(conn, result, "rate_limited", str(exc))
        except (SpotifyUnavailable, spotipy.SpotifyException, NotConnected) as exc:
            return _stop(conn, result, "failed", str(exc))

        items = [i for i in items if (i.get("track") or {}).get("id")]  # local files have no id
        items = [i for i in items if cursor is None or to_ms(parse_played_at(i["played_at"])) > cursor]
        items = within_bounds(user_id, items, datetime.now(UTC))
        result.plays_fetched = len(items)
        if items:
            played = [parse_played_at(i["played_at"]) for i in items]
            oldest, newest = min(played), max(played)
            result.cursor_after = to_ms(newest)
            if cursor is not None and full and to_ms(oldest) > cursor:
                result.gap_from = EPOCH + timedelta(milliseconds=cursor)
                result.gap_to = oldest
                log.warning("%s: a full page after the cursor; plays between %s and %s may be lost",
                            user_id, result.gap_from.isoformat(), oldest.isoformat())
        else:
            result.cursor_after = cursor
        window = timedelta(seconds=settings.export_api_match_seconds)
        with conn.transaction():
            seen = store_items(conn, items)
            with conn.cursor() as cur:
                # A play already imported from an export (same track within EXPORT_API_MATCH_SECONDS,
                # the importer's matching rule) is the same play: it is not stored twice.
                cur.executemany(
                    """INSERT INTO plays (user_id, play_key, source, content_type, played_at, ms_played, track_id,
                                          track_name, artist_name, album_name, context_type, context_uri)
                       SELECT %(user_id)s, %(play_key)s, 'api', 'track', %(played_at)s, %(ms_played)s,
                              %(track_id)s, %(track_name)s, %(artist_name)s, %(album_name)s, %(context_type)s,
                              %(context_uri)s
                       WHERE NOT EXISTS (
                           SELECT 1 FROM plays e
                           WHERE e.user_id = %(user_id)s AND e.track_id = %(track_id)s AND e.source <> 'api'
                             AND e.played_at BETWEEN %(played_at)s - %(window)s AND %(played_at)s + %(window)s)
                         AND NOT EXISTS (  -- a play the user deleted (ingestion/deletions.py)
                           SELECT 1 FROM deleted_plays d WHERE d.user_id = %(user_id)s AND d.play_key = %(play_key)s)
                       ON CONFLICT (user_id, play_key) DO NOTHING""",
                    [dict(zip(PLAY_FIELDS, row, strict=True), window=window) for row in play_rows(user_id, items)])
                result.plays_inserted = max(cur.rowcount, 0)  # executemany: the sum over the rows
            run_id = _record(conn, result)
        # The plays and the cursor are committed: enrichment can fail without losing any.
        result.enrichment = enrich(conn, api, to_enrich(conn, seen))
        stopped, step = result.enrichment.stopped, "enrichment"
        if stopped is None:  # the user's playlists, once Spotify answered everything else
            result.playlists = refresh_playlists(conn, api, user_id)
            stopped, step = result.playlists.stopped, "the playlists' refresh"
        if stopped is not None:
            result.status = "rate_limited" if isinstance(stopped, RateLimited) else "ok"
            result.detail = f"plays saved; {step} stopped, what is left waits for the next run: {stopped}"
            with conn.transaction():
                conn.execute("UPDATE ingestion_runs SET status = %s, detail = %s WHERE run_id = %s",
                             (result.status, result.detail, run_id))
                conn.execute("UPDATE ingestion_cursors SET last_status = %s WHERE user_id = %s",
                             (result.status, user_id))
    log.info("%s", result)
    return result


def ingest_all(settings: Settings | None = None) -> list[RunResult]:
    """One run for every connected user, one after the other (`make ingest`). A user's run that fails
    in any way is recorded as failed for that user (its cursor unmoved); the others still run."""
    settings = settings or get_settings()
    results = []
    for user_id in users_to_poll(settings):
        try:
            results.append(ingest_user(user_id, settings))
        except Exception as exc:  # noqa: BLE001 - one user's failure never stops the others
            log.exception("%s: the ingestion run failed", user_id)
            with connect("source", settings) as conn:
                (cursor,) = conn.execute("SELECT max(after_ms) FROM ingestion_cursors WHERE user_id = %s",
                                         (user_id,)).fetchone()
                results.append(_stop(conn, RunResult(user_id, cursor_before=cursor), "failed",
                                     f"unexpected error ({type(exc).__name__}; see the log)"))
    return results


def queued_for_enrichment(settings: Settings | None = None) -> int:
    """Ids still waiting in the enrichment queue that a run would try again."""
    with connect("source", settings) as conn:
        return conn.execute("SELECT count(*) FROM enrichment_queue WHERE attempts < %s",
                            (MAX_ATTEMPTS,)).fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    """`python -m ingestion poll` (`make ingest`): one run for every connected user, now.

    --until-enriched repeats the runs while the enrichment queue shrinks (each run takes a
    slice of it): after a large import, the metadata is then complete before the analytics.
    """
    import argparse
    import sys

    from warehouse.settings import SettingsError

    parser = argparse.ArgumentParser(prog="python -m ingestion poll", description=main.__doc__)
    parser.add_argument("--until-enriched", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = ingest_all()
        waiting = queued_for_enrichment()
        while args.until_enriched and results and 0 < waiting:
            results = ingest_all()
            waiting, before = queued_for_enrichment(), waiting
            print(f"enrichment queue: {waiting} ids left")
            if waiting >= before:
                break
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(result)
    if not results:
        print("no connected user: log in through the login service first (make flask)")
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
