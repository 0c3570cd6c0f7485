"""Source -> main: build and refresh the star schema.

One run is one transaction on main:
1. Find the newest source play revision that is safe to load. Every insert of
   a play, and every update that changes it, takes a new `revision` from one
   sequence. `LOCK plays IN SHARE MODE` waits for every transaction still writing
   plays, so every revision up to `max(revision)` is then committed (or gone)
   and none can appear below it later.
2. COPY all users and metadata, and the track and podcast episode plays whose
   revision is above the last load's watermark, from source into temporary tables
   of main (an episode's show and episode ids made from the URI or names:
   SHOW_ID, EPISODE_ID; audiobooks stay in source).
   Exclusion rules (docs/metrics.md, "What counts") are copied whole (a few rows);
   every play of a user whose rules changed is staged again, and so are those of
   a user with time rules whose zone changed, or with artist or album rules when
   a track's album or artists changed: their `excluded` flag is evaluated again.
   Plays deleted in source since the last load (`deleted_plays`) are staged too.
   Recording rules (docs/metrics.md, "One song across editions") are copied whole too; a track fact's
   `recording_id` is evaluated as it is inserted, and again in main for every play of a user whose
   recording rules changed or of a track whose ISRC changed (or merged into one).
3. Upsert the dimensions (the shows and episodes of the staged plays too),
   touching only rows whose values changed; re-derive the
   local-time fields of users whose time zone changed; insert the new facts and
   update the facts of plays that changed (their exclusion included); delete the
   deleted plays, recorded in `etl.deleted_plays` for the incremental scope.
   Album track lists are copied once per album: the ids of the albums whose list
   source holds are staged, and only the lists main lacks are read (a stored
   list never changes, so a load reads the new lists, not all of them).
   Playlists (whose items were fetched) and who follows them are staged whole (a few rows each); a
   playlist's items are read only when its `snapshot_id` differs from main's. The users whose
   playlist_completion a change moves (followers of a playlist read again or gone, who followed or
   unfollowed one) are recorded: the next analytics run recomputes their every period.
4. Record the run in `etl.load_runs`. A run that changes nothing rolls back, so
   running it again leaves main identical.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from warehouse.db import connect
from warehouse.settings import Settings, get_settings
from warehouse.sql import upsert_changed

log = logging.getLogger(__name__)


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadReport:
    plays_loaded: int
    users_changed: int
    tracks_changed: int
    albums_changed: int
    artists_changed: int
    album_track_lists: int  # albums whose track list this load copied
    source_max_revision: int
    load_id: int | None  # None when nothing changed
    plays_deleted: int = 0
    users_rules_changed: int = 0  # users whose exclusion rules changed
    users_recording_rules_changed: int = 0  # users whose recording rules changed
    playlist_rows_changed: int = 0  # rows of dim_playlist, dim_playlist_track and dim_user_playlist changed

    def __str__(self) -> str:
        if self.load_id is None:
            return "main is up to date: nothing to load"
        return (
            f"load {self.load_id}: {self.plays_loaded} plays new or changed, {self.users_changed} users, "
            f"{self.tracks_changed} tracks, {self.albums_changed} albums, "
            f"{self.artists_changed} artists new or changed, {self.album_track_lists} album track lists, "
            f"{self.plays_deleted} plays deleted, {self.users_rules_changed} users' exclusion rules and "
            f"{self.users_recording_rules_changed} users' recording rules changed, "
            f"{self.playlist_rows_changed} playlist rows changed "
            f"(source play revisions <= {self.source_max_revision})"
        )


# Temporary tables on main, filled by COPY from the source query beside each.
STAGING = {
    "stage_users": (
        "user_id text, display_name text, timezone text, compare_consent boolean",
        "SELECT user_id, display_name, timezone, compare_consent FROM users",
    ),
    "stage_artists": (
        "artist_id text, name text, genres text[], popularity smallint, image_url text, "
        "is_surrogate boolean",
        "SELECT artist_id, name, genres, popularity, image_url, is_surrogate FROM artists",
    ),
    "stage_albums": (
        "album_id text, name text, album_type text, artist_ids text[], release_date text, "
        "release_date_precision text, total_tracks integer, image_url text, is_surrogate boolean",
        "SELECT album_id, name, album_type, artist_ids, release_date, release_date_precision, "
        "total_tracks, image_url, is_surrogate FROM albums",
    ),
    "stage_tracks": (
        "track_id text, name text, album_id text, artist_ids text[], duration_ms integer, "
        "explicit boolean, popularity smallint, track_number integer, disc_number integer, "
        "is_surrogate boolean, isrc text",
        "SELECT track_id, name, album_id, artist_ids, duration_ms, explicit, popularity, "
        "track_number, disc_number, is_surrogate, isrc FROM tracks",
    ),
    "stage_listed_albums": ("album_id text", "SELECT DISTINCT album_id FROM album_tracks"),
    "stage_playlists": (
        "playlist_id text, name text, owner_name text, snapshot_id text",
        "SELECT playlist_id, name, owner_name, snapshot_id FROM playlists WHERE fetched_at IS NOT NULL",
    ),
    "stage_user_playlists": (
        "user_id text, playlist_id text",
        "SELECT u.user_id, u.playlist_id FROM user_playlists u JOIN playlists p USING (playlist_id) "
        "WHERE p.fetched_at IS NOT NULL",
    ),
    "stage_rules": (
        "rule_id bigint, user_id text, kind text, target text, local_from timestamp, local_to timestamp",
        "SELECT rule_id, user_id, kind, target, local_from, local_to FROM exclusion_rules",
    ),
    "stage_recording_rules": (
        "rule_id bigint, user_id text, track_id text, kind text, into_track_id text",
        "SELECT rule_id, user_id, track_id, kind, into_track_id FROM recording_rules",
    ),
    "stage_deleted": (
        "play_id bigint",
        "SELECT d.play_id FROM deleted_plays d JOIN play_deletions USING (deletion_id) "
        "WHERE revision > {low} AND revision <= {high}",
    ),
}
# Staged last, once the users whose plays are evaluated again are known: the new revisions (found through
# the index on `revision`), and every play of those users (through theirs).
# An episode's show is known by its name (exports carry no show id): a surrogate id of the name, as
# ingestion.export_reader.surrogate_id makes them; an episode without a URI (Account data), one of its show
# and name.
SHOW_ID = "'sur:show:' || left(encode(sha256(convert_to(coalesce(episode_show_name, ''), 'UTF8')), 'hex'), 24)"
EPISODE_ID = ("CASE WHEN episode_uri LIKE 'spotify:episode:_%' THEN substr(episode_uri, 17) ELSE 'sur:episode:' || "
              "left(encode(sha256(convert_to(coalesce(episode_show_name, '') || chr(31) || coalesce(episode_name, ''), "
              "'UTF8')), 'hex'), 24) END")
PLAY_SOURCE_COLUMNS = (
    "play_id, user_id, content_type, track_id, played_at, ms_played, source, skipped, context_uri, "
    f"CASE WHEN content_type = 'episode' THEN {EPISODE_ID} END, CASE WHEN content_type = 'episode' THEN {SHOW_ID} END, "
    "episode_name, episode_show_name")
STAGE_PLAYS = (
    "stage_plays",
    "play_id bigint, user_id text, content_type text, track_id text, played_at timestamptz, ms_played integer, "
    "source text, skipped boolean, context_uri text, episode_id text, show_id text, episode_name text, "
    "show_name text",
    f"SELECT {PLAY_SOURCE_COLUMNS} FROM plays "
    "WHERE content_type IN ('track', 'episode') AND revision > {low} AND revision <= {high}",
    f" UNION SELECT {PLAY_SOURCE_COLUMNS} FROM plays "
    "WHERE content_type IN ('track', 'episode') AND revision <= {high} AND user_id = ANY({users})",
)
RULE_COLUMNS = "rule_id, user_id, kind, target, local_from, local_to"
# Users whose rules differ between source (staged) and main.
RULES_CHANGED = f"""
    SELECT DISTINCT user_id FROM (
        (SELECT {RULE_COLUMNS} FROM stage_rules EXCEPT SELECT {RULE_COLUMNS} FROM etl.exclusion_rules)
        UNION ALL
        (SELECT {RULE_COLUMNS} FROM etl.exclusion_rules EXCEPT SELECT {RULE_COLUMNS} FROM stage_rules)) d
"""
RECORDING_RULE_COLUMNS = "rule_id, user_id, track_id, kind, into_track_id"
RECORDING_RULES_CHANGED = RULES_CHANGED.replace(RULE_COLUMNS, RECORDING_RULE_COLUMNS).replace(
    "stage_rules", "stage_recording_rules").replace("etl.exclusion_rules", "etl.recording_rules")
# Users whose unchanged rules may match differently: time rules and a new zone, artist or album rules
# and a track whose album or artists change in this load.
RULES_MOVED = """
    SELECT DISTINCT r.user_id FROM stage_rules r
    WHERE (r.kind = 'time' AND r.user_id = ANY(%(zone_changed)s))
       OR (r.kind IN ('artist', 'album') AND EXISTS (
              SELECT 1 FROM stage_tracks s JOIN dim_track d USING (track_id)
              WHERE (s.album_id, s.artist_ids) IS DISTINCT FROM (d.album_id, d.artist_ids)))
"""


UPSERT_USERS = upsert_changed(
    "dim_user", ["user_id"], ["user_id", "display_name", "timezone", "compare_consent"],
    "SELECT user_id, display_name, coalesce(timezone, %(default_timezone)s), compare_consent FROM stage_users",
)
UPSERT_ARTISTS = upsert_changed(
    "dim_artist", ["artist_id"],
    ["artist_id", "name", "genres", "popularity", "image_url", "is_surrogate"],
    "SELECT artist_id, name, genres, popularity, image_url, is_surrogate FROM stage_artists",
)
UPSERT_ALBUMS = upsert_changed(
    "dim_album", ["album_id"],
    ["album_id", "name", "album_type", "primary_artist_id", "artist_ids", "release_date",
     "release_date_precision", "release_year", "total_tracks", "image_url", "is_surrogate"],
    "SELECT album_id, name, album_type, artist_ids[1], artist_ids, release_date, "
    "release_date_precision, substring(release_date from '^(\\d{4})')::smallint, "
    "total_tracks, image_url, is_surrogate FROM stage_albums",
)
# An ISRC as main keeps it: upper case; one not shaped as an ISRC is unknown.
ISRC = "CASE WHEN upper(btrim({0})) ~ '^[A-Z]{{2}}[A-Z0-9]{{3}}[0-9]{{7}}$' THEN upper(btrim({0})) END"
UPSERT_TRACKS = upsert_changed(
    "dim_track", ["track_id"],
    ["track_id", "name", "album_id", "primary_artist_id", "artist_ids", "duration_ms",
     "explicit", "popularity", "track_number", "disc_number", "is_surrogate", "isrc"],
    "SELECT track_id, name, album_id, artist_ids[1], artist_ids, duration_ms, explicit, "
    f"popularity, track_number, disc_number, is_surrogate, {ISRC.format('isrc')} FROM stage_tracks",
)
# The tracks whose ISRC this load changes (read before the upsert).
ISRC_CHANGED = ("SELECT s.track_id FROM stage_tracks s JOIN dim_track d USING (track_id) "
                f"WHERE d.isrc IS DISTINCT FROM {ISRC.format('s.isrc')}")
TRACK_LIST_COLUMNS = "album_id, disc_number, track_number, track_id, name, duration_ms"
NEW_TRACK_LISTS = ("SELECT album_id FROM stage_listed_albums "
                   "EXCEPT SELECT album_id FROM dim_album_track")
# The playlists whose items main lacks or holds of another snapshot.
CHANGED_PLAYLISTS = ("SELECT s.playlist_id FROM stage_playlists s LEFT JOIN dim_playlist d USING (playlist_id) "
                     "WHERE d.playlist_id IS NULL OR d.snapshot_id IS DISTINCT FROM s.snapshot_id")
PLAYLIST_ITEM_COLUMNS = "playlist_id, position, track_id"
# The users whose playlist_completion the changes below move (read before them): the followers, before and after,
# of the playlists read again or gone, and whoever follows or unfollows a playlist.
PLAYLIST_USERS = """
    SELECT user_id FROM (SELECT user_id, playlist_id FROM stage_user_playlists
                         UNION SELECT user_id, playlist_id FROM dim_user_playlist) f
    WHERE f.playlist_id = ANY(%(changed)s)
       OR NOT EXISTS (SELECT 1 FROM stage_playlists s WHERE s.playlist_id = f.playlist_id)
    UNION SELECT user_id FROM ((SELECT user_id, playlist_id FROM stage_user_playlists
                                EXCEPT SELECT user_id, playlist_id FROM dim_user_playlist)
                               UNION ALL (SELECT user_id, playlist_id FROM dim_user_playlist
                                          EXCEPT SELECT user_id, playlist_id FROM stage_user_playlists)) d
    ORDER BY 1
"""
# Main's playlists made source's, each statement's rows counted as changes: the items of the changed
# playlists replaced (and those of playlists gone), then the playlists, then who follows them.
PLAYLIST_CHANGES = (
    "DELETE FROM dim_playlist_track t WHERE t.playlist_id = ANY(%(changed)s) "
    "OR NOT EXISTS (SELECT 1 FROM stage_playlists s WHERE s.playlist_id = t.playlist_id)",
    f"INSERT INTO dim_playlist_track ({PLAYLIST_ITEM_COLUMNS}) "
    f"SELECT {PLAYLIST_ITEM_COLUMNS} FROM stage_playlist_items",
    "DELETE FROM dim_playlist d WHERE NOT EXISTS (SELECT 1 FROM stage_playlists s WHERE s.playlist_id = d.playlist_id)",
    upsert_changed(
        "dim_playlist", ["playlist_id"], ["playlist_id", "name", "owner_name", "snapshot_id", "total_tracks"],
        "SELECT s.playlist_id, s.name, s.owner_name, s.snapshot_id, "
        "(SELECT count(DISTINCT t.track_id) FROM dim_playlist_track t WHERE t.playlist_id = s.playlist_id) "
        "FROM stage_playlists s"),
    "DELETE FROM dim_user_playlist d WHERE NOT EXISTS (SELECT 1 FROM stage_user_playlists s "
    "WHERE (s.user_id, s.playlist_id) = (d.user_id, d.playlist_id))",
    "INSERT INTO dim_user_playlist (user_id, playlist_id) SELECT user_id, playlist_id FROM stage_user_playlists "
    "ON CONFLICT DO NOTHING",
)

# Local-time fields from `lt`, played_at in the user's zone (DST by the zone rules).
LOCAL_FIELDS = ("lt::date, extract(hour FROM lt)::smallint, extract(isodow FROM lt)::smallint, "
                "to_char(lt, 'YYYY'), to_char(lt, 'YYYY-MM')")
# Whether a play (`play`: its user, track, context and local time `lt`) matches one of its user's
# exclusion rules; the track's album and artists are looked up only for a user with such rules.
MATCHES_RULE = """EXISTS (
    SELECT 1 FROM etl.exclusion_rules r WHERE r.user_id = play.user_id AND CASE r.kind
        WHEN 'artist' THEN EXISTS (SELECT 1 FROM dim_track t
                                   WHERE t.track_id = play.track_id AND r.target = ANY(t.artist_ids))
        WHEN 'album' THEN EXISTS (SELECT 1 FROM dim_track t
                                  WHERE t.track_id = play.track_id AND t.album_id = r.target)
        WHEN 'track' THEN r.target = play.track_id
        WHEN 'context' THEN r.target = play.context_uri
        WHEN 'time' THEN play.lt >= r.local_from AND play.lt < r.local_to END)"""
# The recording of a track play (`play`: its user, track and the track's `isrc`; docs/metrics.md, "One song
# across editions"): its user's rule for the track (split: the track alone; merge: the other track's recording
# as its ISRC and a split make it), else its ISRC, else the track.
RECORDING = """CASE WHEN play.content_type = 'track' THEN coalesce(
    (SELECT CASE WHEN x.kind = 'split' THEN x.track_id ELSE coalesce(
                (SELECT y.track_id FROM etl.recording_rules y
                 WHERE y.user_id = x.user_id AND y.track_id = x.into_track_id AND y.kind = 'split'),
                (SELECT 'isrc:' || t.isrc FROM dim_track t WHERE t.track_id = x.into_track_id),
                x.into_track_id) END
     FROM etl.recording_rules x WHERE x.user_id = play.user_id AND x.track_id = play.track_id),
    'isrc:' || play.isrc, play.track_id) END"""
INSERT_FACTS = f"""
    INSERT INTO fact_play AS f (play_id, user_id, content_type, track_id, episode_id, show_id, played_at,
                           started_at, ms_played, source, context_uri, is_stream, skipped, local_date, local_hour,
                           local_dow, local_year, local_month, excluded, recording_id, load_id)
    SELECT play_id, user_id, content_type, track_id, episode_id, show_id, played_at,
           played_at - ms_played * interval '1 millisecond', ms_played, source, context_uri,
           content_type = 'track' AND (source IN ('api', 'lastfm', 'listenbrainz') OR ms_played >= 30000),
           skipped, {LOCAL_FIELDS}, {MATCHES_RULE}, {RECORDING}, %(load_id)s
    FROM (SELECT p.*, p.played_at AT TIME ZONE u.timezone AS lt, t.isrc
          FROM stage_plays p JOIN dim_user u USING (user_id) LEFT JOIN dim_track t USING (track_id)) play
    ON CONFLICT (play_id) DO UPDATE SET
        (content_type, track_id, episode_id, show_id, played_at, started_at, ms_played, source, context_uri,
         is_stream, skipped, local_date, local_hour, local_dow, local_year, local_month, excluded, recording_id,
         load_id) =
        (excluded.content_type, excluded.track_id, excluded.episode_id, excluded.show_id, excluded.played_at,
         excluded.started_at, excluded.ms_played, excluded.source, excluded.context_uri, excluded.is_stream,
         excluded.skipped, excluded.local_date, excluded.local_hour, excluded.local_dow, excluded.local_year,
         excluded.local_month, excluded.excluded, excluded.recording_id, excluded.load_id)
    WHERE (f.track_id, f.episode_id, f.show_id, f.played_at, f.ms_played, f.source, f.context_uri, f.skipped,
           f.excluded, f.recording_id)
          IS DISTINCT FROM (excluded.track_id, excluded.episode_id, excluded.show_id, excluded.played_at,
                            excluded.ms_played, excluded.source, excluded.context_uri, excluded.skipped,
                            excluded.excluded, excluded.recording_id)
"""
# The recordings main holds that may have moved: every play of a user whose recording rules changed, of a
# track whose ISRC changed, or merged into such a track by its user's rule.
REEVALUATE_RECORDINGS = f"""
    UPDATE fact_play f SET recording_id = r.recording_id, load_id = %(load_id)s
    FROM (SELECT play.play_id, {RECORDING} AS recording_id
          FROM (SELECT p.play_id, p.user_id, p.track_id, p.content_type, t.isrc
                FROM fact_play p JOIN dim_track t USING (track_id)
                -- each arm by an index (user; track), never a scan of the history: the tracks changed and those
                -- merged into them (every user's plays of those; a recording that stays is not written)
                WHERE p.user_id = ANY(%(users)s)
                   OR p.track_id = ANY(%(tracks)s::text[] || ARRAY(SELECT x.track_id FROM etl.recording_rules x
                                                                   WHERE x.into_track_id = ANY(%(tracks)s)))) play) r
    WHERE f.play_id = r.play_id AND f.recording_id IS DISTINCT FROM r.recording_id
"""
# The shows and episodes of the staged episode plays, named as their latest staged play names them.
UPSERT_SHOWS = upsert_changed(
    "dim_show", ["show_id"], ["show_id", "name"],
    "SELECT DISTINCT ON (show_id) show_id, coalesce(show_name, '') FROM stage_plays "
    "WHERE content_type = 'episode' ORDER BY show_id, played_at DESC",
)
UPSERT_EPISODES = upsert_changed(
    "dim_episode", ["episode_id"], ["episode_id", "name", "show_id"],
    "SELECT DISTINCT ON (episode_id) episode_id, episode_name, show_id FROM stage_plays "
    "WHERE content_type = 'episode' ORDER BY episode_id, played_at DESC",
)
DELETE_FACTS = """
    WITH gone AS (DELETE FROM fact_play f USING stage_deleted d WHERE f.play_id = d.play_id
                  RETURNING f.play_id, f.user_id, f.played_at, f.started_at)
    INSERT INTO etl.deleted_plays (play_id, user_id, played_at, started_at, load_id)
    SELECT play_id, user_id, played_at, started_at, %(load_id)s FROM gone
"""
RELOCALIZE = f"""
    UPDATE fact_play f
    SET (local_date, local_hour, local_dow, local_year, local_month) = ({LOCAL_FIELDS})
    FROM (SELECT f.play_id, f.played_at AT TIME ZONE u.timezone AS lt
          FROM fact_play f JOIN dim_user u USING (user_id)
          WHERE u.user_id = ANY(%(users)s)) play
    WHERE f.play_id = play.play_id
"""


def _changed(main: psycopg.Connection, upsert: str, params: dict) -> tuple[int, int]:
    """Run an upsert; return (rows inserted or updated, rows updated)."""
    return main.execute(
        f"WITH changed AS ({upsert} RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*), count(*) FILTER (WHERE NOT inserted) FROM changed",
        params,
    ).fetchone()


def _safe_upper_bound(source: psycopg.Connection) -> tuple[int, int]:
    """(max revision, max play id) once no transaction writes plays any more (a deletion of plays locks
    `plays` before it takes its revision: ingestion/deletions.py)."""
    with source.transaction():
        source.execute("LOCK TABLE plays IN SHARE MODE")
        return source.execute(
            "SELECT greatest(coalesce(max(revision), 0), (SELECT coalesce(max(revision), 0) FROM play_deletions)), "
            "coalesce(max(play_id), 0) FROM plays").fetchone()


def _pipe(source: psycopg.Connection, main: psycopg.Connection, query, into: str) -> None:
    """Stream the rows of a source query (`COPY (...) TO STDOUT`) into main (`COPY ... FROM STDIN`)."""
    with source.cursor().copy(query) as out, main.cursor().copy(into) as target:
        for block in out:
            target.write(block)


def _copy(source: psycopg.Connection, main: psycopg.Connection, table: str, columns: str, query: str) -> None:
    """A temporary table of main holding the rows of a source query."""
    main.execute(f"CREATE TEMP TABLE {table} ({columns}) ON COMMIT DROP")
    _pipe(source, main, f"COPY ({query}) TO STDOUT", f"COPY {table} FROM STDIN")
    main.execute(f"ANALYZE {table}")


def _stage(source: psycopg.Connection, main: psycopg.Connection, low: int, high: int,
           default_timezone: str) -> tuple[list[str], list[str]]:
    """Stage source's rows; (the users whose exclusion rules changed, the users whose time zone changed)."""
    for table, (columns, query) in STAGING.items():
        _copy(source, main, table, columns, query.format(low=low, high=high))
    zone_changed = [user_id for (user_id,) in main.execute(
        """SELECT s.user_id FROM stage_users s JOIN dim_user d USING (user_id)
           WHERE d.timezone <> coalesce(s.timezone, %s)""", (default_timezone,))]
    rules_changed = [user_id for (user_id,) in main.execute(RULES_CHANGED)]
    again = sorted({*rules_changed, *(user_id for (user_id,) in main.execute(
        RULES_MOVED, {"zone_changed": zone_changed}))})
    table, columns, new, of_users = STAGE_PLAYS
    users = sql.Literal(again).as_string(main) + "::text[]"
    _copy(source, main, table, columns, (new + (of_users if again else "")).format(low=low, high=high, users=users))
    return rules_changed, zone_changed


def _copy_of(source: psycopg.Connection, main: psycopg.Connection, table: str, key: str, ids: list[str],
             columns: str, into: str) -> None:
    """Copy the `columns` of source `table`'s rows whose `key` is one of `ids` into main's table `into`."""
    if ids:
        _pipe(source, main, sql.SQL("COPY (SELECT {} FROM {} WHERE {} = ANY({})) TO STDOUT").format(
                  sql.SQL(columns), sql.Identifier(table), sql.Identifier(key), sql.Literal(ids)),
              f"COPY {into} ({columns}) FROM STDIN")


def _copy_track_lists(source: psycopg.Connection, main: psycopg.Connection) -> int:
    """Copy the track lists of the albums source lists and main does not (source's snapshot); how many."""
    albums = [album_id for (album_id,) in main.execute(NEW_TRACK_LISTS)]
    _copy_of(source, main, "album_tracks", "album_id", albums, TRACK_LIST_COLUMNS, "dim_album_track")
    return len(albums)


def _copy_playlist_items(source: psycopg.Connection, main: psycopg.Connection) -> list[str]:
    """Stage the items of the playlists main lacks or holds of another snapshot (source's snapshot); their ids."""
    changed = [playlist_id for (playlist_id,) in main.execute(CHANGED_PLAYLISTS)]
    main.execute("CREATE TEMP TABLE stage_playlist_items (playlist_id text, position integer, track_id text) "
                 "ON COMMIT DROP")
    _copy_of(source, main, "playlist_items", "playlist_id", changed, PLAYLIST_ITEM_COLUMNS, "stage_playlist_items")
    return changed


def _check_staged(main: psycopg.Connection) -> None:
    bad_zone = main.execute(
        """SELECT user_id, timezone FROM stage_users
           WHERE timezone IS NOT NULL
             AND timezone NOT IN (SELECT name FROM pg_timezone_names) LIMIT 5"""
    ).fetchall()
    if bad_zone:
        raise LoadError(f"source users with an unknown time zone: {bad_zone}")
    orphans = main.execute(
        """SELECT p.play_id, p.track_id FROM stage_plays p
           WHERE p.content_type = 'track' AND NOT EXISTS (SELECT 1 FROM stage_tracks t WHERE t.track_id = p.track_id)
           LIMIT 5"""
    ).fetchall()
    if orphans:
        raise LoadError(f"source plays whose track is not in source tracks (play_id, track_id): {orphans}")
    unknown_users = main.execute(
        "SELECT DISTINCT user_id FROM stage_plays WHERE user_id NOT IN (SELECT user_id FROM stage_users) LIMIT 5"
    ).fetchall()
    if unknown_users:
        raise LoadError(f"source plays of unknown users: {unknown_users}")


def load_main(settings: Settings | None = None) -> LoadReport:
    """Load what source has and main lacks, in one transaction on main."""
    settings = settings or get_settings()
    started = datetime.now(UTC)
    with connect("source", settings) as source, connect("main", settings) as main:
        # One load at a time; the lock lasts until main commits or rolls back.
        main.execute("LOCK TABLE etl.load_runs IN EXCLUSIVE MODE")
        (low,) = main.execute("SELECT coalesce(max(source_max_revision), 0) FROM etl.load_runs").fetchone()
        high, max_play_id = _safe_upper_bound(source)
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        rules_changed, changed_zone = _stage(source, main, low, high, settings.default_timezone)
        track_lists = _copy_track_lists(source, main)
        playlists_changed = _copy_playlist_items(source, main)
        source.commit()
        _check_staged(main)

        recording_users = [user_id for (user_id,) in main.execute(RECORDING_RULES_CHANGED)]
        isrc_changed = [track_id for (track_id,) in main.execute(ISRC_CHANGED)]
        counted = [
            _changed(main, upsert, {"default_timezone": settings.default_timezone})
            for upsert in (UPSERT_USERS, UPSERT_ARTISTS, UPSERT_ALBUMS, UPSERT_TRACKS)
        ]
        (users, artists, albums, tracks), dims_updated = [c for c, _ in counted], sum(u for _, u in counted)
        podcast_dims = sum(_changed(main, upsert, {})[0] for upsert in (UPSERT_SHOWS, UPSERT_EPISODES))
        playlist_users = [user_id for (user_id,) in main.execute(PLAYLIST_USERS, {"changed": playlists_changed})]
        playlist_rows = sum(main.execute(statement, {"changed": playlists_changed}).rowcount
                            for statement in PLAYLIST_CHANGES)
        if changed_zone:
            main.execute(RELOCALIZE, {"users": changed_zone})
        if rules_changed:
            main.execute("DELETE FROM etl.exclusion_rules")
            main.execute(f"INSERT INTO etl.exclusion_rules ({RULE_COLUMNS}) SELECT {RULE_COLUMNS} FROM stage_rules")
        if recording_users:
            main.execute("DELETE FROM etl.recording_rules")
            main.execute(f"INSERT INTO etl.recording_rules ({RECORDING_RULE_COLUMNS}) "
                         f"SELECT {RECORDING_RULE_COLUMNS} FROM stage_recording_rules")
        (load_id,) = main.execute(
            """INSERT INTO etl.load_runs (started_at, source_max_revision, source_max_play_id, plays_loaded,
                   users_changed, tracks_changed, albums_changed, artists_changed, dims_updated, album_track_lists,
                   rules_changed, recording_rules_changed, playlist_users)
               VALUES (%s, %s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING load_id""",
            (started, high, max_play_id, users, tracks, albums, artists, dims_updated, track_lists,
             len(rules_changed), len(recording_users), playlist_users),
        ).fetchone()
        plays = main.execute(INSERT_FACTS, {"load_id": load_id}).rowcount
        if recording_users or isrc_changed:
            plays += main.execute(REEVALUATE_RECORDINGS, {"load_id": load_id, "users": recording_users,
                                                          "tracks": isrc_changed}).rowcount
        deleted = main.execute(DELETE_FACTS, {"load_id": load_id}).rowcount
        if not (plays or deleted or users or artists or albums or tracks or podcast_dims or track_lists
                or playlist_rows or rules_changed or recording_users) and high == low:
            main.rollback()
            return LoadReport(0, 0, 0, 0, 0, 0, high, None)
        main.execute("UPDATE etl.load_runs SET plays_loaded = %s, plays_deleted = %s WHERE load_id = %s",
                     (plays, deleted, load_id))
        main.commit()
    report = LoadReport(plays, users, tracks, albums, artists, track_lists, high, load_id, deleted,
                        len(rules_changed), len(recording_users), playlist_rows)
    log.info("%s", report)
    return report
