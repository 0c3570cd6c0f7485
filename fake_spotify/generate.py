"""Deterministic listening generator.

`generate(seed, users, days)` makes a catalogue (artists with Zipf-like
popularity, albums with a real track structure, tracks) and, for each user, a
year of listening in that user's time zone: a daily rhythm, sessions with
realistic gaps, whole albums played in order, skips, plays under 30 s, and a
few podcast episodes. Same seed and arguments, same data, to the byte.

The result can be written into the source database (`write_to_source`, COPY)
and as Spotify export files (`write_extended_export`, `write_account_export`).
Generated plays are export plays: `source = 'extended_export'`.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import json
import random
import sys
import time as clock
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from warehouse.db import connect, copy_into
from warehouse.plays import EXPORT_TS_FORMAT, export_play_key
from warehouse.settings import SettingsError, get_settings

DEFAULT_END = date(2026, 10, 1)  # fixed, so that the output never depends on today
TIMEZONES = [  # several zones; Berlin, New York and Sydney change with DST
    ("Europe/Berlin", "DE"), ("America/New_York", "US"), ("Asia/Kolkata", "IN"),
    ("UTC", "GB"), ("Australia/Sydney", "AU"), ("Asia/Tokyo", "JP"),
]
GENRES = [
    "pop", "dance pop", "indie rock", "alternative rock", "hip hop", "rap", "trap", "r&b",
    "soul", "jazz", "bebop", "classical", "baroque", "electronic", "house", "techno",
    "ambient", "drum and bass", "metal", "power metal", "punk", "folk", "indie folk",
    "country", "blues", "reggae", "k-pop", "j-pop", "latin", "reggaeton", "afrobeats",
    "bollywood", "lo-fi", "synthwave", "shoegaze", "grunge", "disco", "funk", "gospel", "opera",
]
SYLLABLES = ["ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "da", "ber", "lin", "mon",
             "tar", "el", "zo", "qui", "pha", "ro", "sen", "dy", "an", "or", "ix", "ul"]
WORDS = ["Night", "Golden", "Echo", "River", "Neon", "Summer", "Ghost", "Paper", "Wild",
         "Blue", "Silent", "Electric", "Velvet", "Broken", "Open", "Distant", "Glass",
         "Fire", "Ocean", "Midnight", "Sugar", "Stone", "Light", "Heart", "City", "Dream"]
PLATFORMS = ["android", "ios", "windows", "osx", "web_player", "linux"]
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Relative chance of starting a session in each local hour (a daily rhythm).
HOUR_WEIGHTS = [2, 1, 1, 0.5, 0.5, 1, 3, 6, 8, 6, 4, 4, 5, 5, 4, 4, 5, 7, 8, 9, 10, 9, 7, 4]


@dataclass
class Artist:
    artist_id: str
    name: str
    genres: list[str]
    popularity: int | None
    followers: int | None


@dataclass
class Album:
    album_id: str
    name: str
    album_type: str
    artist_ids: list[str]
    release_date: str
    release_date_precision: str
    total_tracks: int
    track_ids: list[str] = field(default_factory=list)


@dataclass
class Track:
    track_id: str
    name: str
    album_id: str
    artist_ids: list[str]
    duration_ms: int
    explicit: bool
    popularity: int | None
    track_number: int
    isrc: str
    disc_number: int = 1  # the generator makes one-disc albums; the fake's made albums may have several


@dataclass
class User:
    user_id: str
    display_name: str
    timezone: str
    country: str
    email: str
    compare_consent: bool  # allows comparison (docs/metrics.md, "Comparing users"): every user but each third


@dataclass
class Play:
    user_id: str
    played_at: datetime  # END of the play, UTC, whole seconds (as in exports)
    ms_played: int
    track_id: str | None  # None for a podcast episode
    platform: str
    conn_country: str
    reason_start: str
    reason_end: str
    shuffle: bool
    skipped: bool
    episode: tuple[str, str, str] | None = None  # (uri, name, show)


@dataclass
class Listening:
    seed: int
    end: date
    users: list[User]
    artists: list[Artist]
    albums: list[Album]
    tracks: list[Track]
    plays: list[Play]

    @property
    def generated_at(self) -> datetime:
        """A fixed instant standing in for 'when this was fetched/ingested'."""
        return datetime.combine(self.end, time(0), tzinfo=UTC)

    def track_index(self) -> dict[str, Track]:
        return {t.track_id: t for t in self.tracks}


def spotify_id(rng: random.Random) -> str:
    """A base62 id of 22 characters, as Spotify's, drawn from `rng`."""
    return "".join(rng.choice(BASE62) for _ in range(22))


def _name(rng: random.Random, words: int) -> str:
    if rng.random() < 0.5:
        return " ".join(rng.choice(WORDS) for _ in range(words))
    return " ".join(
        "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        for _ in range(words)
    )


def _cumulative(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, items, cumulative):
    return items[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


def _make_catalog(rng: random.Random, n_artists: int):
    artists, albums, tracks = [], [], []
    for index in range(n_artists):
        genres = [] if rng.random() < 0.15 else sorted(rng.sample(GENRES, rng.randint(1, 3)))
        known = rng.random() < 0.7  # Development-Mode apps never see popularity
        popularity = min(100, int(100 / (1 + index / 40) ** 0.5) + rng.randint(-5, 5))
        artist = Artist(
            spotify_id(rng), _name(rng, rng.randint(1, 2)), genres,
            max(0, popularity) if known else None,
            rng.randint(10, 5_000_000) if known else None,
        )
        artists.append(artist)
        for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
            kind = rng.choices(["album", "single", "compilation"], [6, 3, 1])[0]
            n_tracks = rng.randint(1, 3) if kind == "single" else rng.randint(5, 16)
            year = rng.randint(1965, 2026)
            precision = rng.choices(["day", "month", "year"], [7, 1, 2])[0]
            release = {
                "day": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "month": f"{year}-{rng.randint(1, 12):02d}",
                "year": str(year),
            }[precision]
            album = Album(spotify_id(rng), _name(rng, rng.randint(1, 3)), kind,
                          [artist.artist_id], release, precision, n_tracks)
            albums.append(album)
            for number in range(1, n_tracks + 1):
                featured = [artist.artist_id]
                if rng.random() < 0.1 and len(artists) > 1:
                    other = rng.choice(artists[:-1]).artist_id
                    featured.append(other)
                track_popularity = None
                if artist.popularity is not None and rng.random() < 0.9:
                    track_popularity = max(0, min(100, artist.popularity + rng.randint(-15, 15)))
                track = Track(
                    spotify_id(rng), _name(rng, rng.randint(1, 4)), album.album_id, featured,
                    int(min(900_000, max(60_000, rng.lognormvariate(12.2, 0.35)))),
                    rng.random() < 0.25, track_popularity, number,
                    f"QZ{rng.randint(0, 10**10 - 1):010d}",
                )
                tracks.append(track)
                album.track_ids.append(track.track_id)
    _release_singles_again(albums, tracks)
    return artists, albums, tracks


def _release_singles_again(albums: list[Album], tracks: list[Track]) -> None:
    """A single's first track comes out again on its artist's first album: the album's first track has the
    single's ISRC (one recording, two editions: docs/metrics.md, "One song across editions"). No random draw,
    so the rest of the catalog is as before."""
    by_id = {track.track_id: track for track in tracks}
    first_album: dict[str, Album] = {}
    for album in albums:
        if album.album_type != "single":
            first_album.setdefault(album.artist_ids[0], album)
    for album in albums:
        if album.album_type == "single" and album.artist_ids[0] in first_album:
            by_id[first_album[album.artist_ids[0]].track_ids[0]].isrc = by_id[album.track_ids[0]].isrc


def generate(seed: int, users: int, days: int, end: date = DEFAULT_END,
             plays_per_day: float = 30.0) -> Listening:
    """Generate `users` listeners over the `days` days before `end`."""
    if users < 1 or days < 1:
        raise ValueError("users and days must be at least 1")
    catalog_rng = random.Random(f"catalog-{seed}")
    artists, albums, tracks = _make_catalog(catalog_rng, min(5000, 150 + 40 * users))
    albums_by_artist: dict[str, list[Album]] = {}
    for album in albums:
        albums_by_artist.setdefault(album.artist_ids[0], []).append(album)
    # Zipf-like global artist popularity: the i-th artist is liked ~ 1/(i+1).
    artist_weights = [1 / (i + 1) ** 1.1 for i in range(len(artists))]
    episodes = [(f"spotify:episode:{spotify_id(catalog_rng)}", _name(catalog_rng, 3),
                 _name(catalog_rng, 2)) for _ in range(20)]

    listening = Listening(seed, end, [], artists, albums, tracks, [])
    tracks_by_id = listening.track_index()
    for number in range(1, users + 1):
        rng = random.Random(f"user-{seed}-{number}")
        zone, country = TIMEZONES[(number - 1) % len(TIMEZONES)]
        user = User(f"listener-{seed}-{number:03d}", f"Listener {number}", zone, country,
                    f"listener{number}@example.org", number % 3 != 0)
        listening.users.append(user)
        listening.plays.extend(
            _user_plays(rng, user, days, end, plays_per_day, artists, artist_weights,
                        albums_by_artist, tracks_by_id, episodes)
        )
    return listening


def _user_plays(rng, user, days, end, plays_per_day, artists, artist_weights,
                albums_by_artist, tracks_by_id, episodes):
    # This user's taste: artists sampled by global popularity, then Zipf over them.
    favourites = []
    seen = set()
    cumulative = _cumulative(artist_weights)
    while len(favourites) < min(200, len(artists)):
        artist = _pick(rng, artists, cumulative)
        if artist.artist_id not in seen:
            seen.add(artist.artist_id)
            favourites.append(artist)
    taste = _cumulative([1 / (i + 1) ** 1.05 for i in range(len(favourites))])
    hours = _cumulative(HOUR_WEIGHTS)
    zone = ZoneInfo(user.timezone)
    platform = rng.choice(PLATFORMS)
    appetite = plays_per_day * rng.uniform(0.6, 1.4)
    plays = []
    for offset in range(days, 0, -1):
        day = end - timedelta(days=offset)
        if rng.random() < 0.12:  # a day without music
            continue
        sessions = max(1, round(rng.gauss(2.2, 0.8)))
        starts = sorted(_pick(rng, range(24), hours) * 3600 + rng.randint(0, 3599)
                        for _ in range(sessions))
        cursor = None
        for start_second in starts:
            local_start = datetime.combine(day, time(0), tzinfo=zone) + timedelta(seconds=start_second)
            at = local_start.astimezone(UTC)
            if cursor is not None and at < cursor + timedelta(minutes=35):
                at = cursor + timedelta(minutes=rng.randint(35, 90))
            length = max(1, int(rng.expovariate(sessions / appetite)))
            at = _session(rng, user, at, length, platform, favourites, taste,
                          albums_by_artist, tracks_by_id, episodes, plays)
            cursor = at
    return plays


def _session(rng, user, at, length, platform, favourites, taste, albums_by_artist,
             tracks_by_id, episodes, plays) -> datetime:
    """Append one listening session starting at `at`; return when it ended."""
    if rng.random() < 0.02:  # a podcast episode
        uri, name, show = rng.choice(episodes)
        ms = rng.randint(120_000, 3_000_000)
        at += timedelta(milliseconds=ms)
        plays.append(Play(user.user_id, at.replace(microsecond=0), ms, None, platform,
                          user.country, "clickrow", "trackdone", False, False, (uri, name, show)))
        return at
    artist = _pick(rng, favourites, taste)
    album_mode = rng.random() < 0.15 and albums_by_artist.get(artist.artist_id)
    if album_mode:
        album = rng.choice(albums_by_artist[artist.artist_id])
        queue = list(album.track_ids)
    else:
        queue = []
        for _ in range(length):
            artist = _pick(rng, favourites, taste)
            album = rng.choice(albums_by_artist[artist.artist_id])
            queue.append(rng.choice(album.track_ids))
    shuffle = not album_mode and rng.random() < 0.5
    for position, track_id in enumerate(queue):
        track = tracks_by_id[track_id]
        reason_start = "clickrow" if position == 0 else "trackdone"
        skipped = rng.random() < (0.05 if album_mode else 0.18)
        if skipped:
            ms = rng.randint(2_000, 29_999) if rng.random() < 0.6 else rng.randint(30_000, track.duration_ms)
        else:
            ms = track.duration_ms
        at += timedelta(milliseconds=ms)
        plays.append(Play(user.user_id, at.replace(microsecond=0), ms, track_id, platform,
                          user.country, reason_start, "fwdbtn" if skipped else "trackdone",
                          shuffle, skipped))
        pause = rng.randint(0, 4) if rng.random() < 0.95 else rng.randint(120, 1200)
        at += timedelta(seconds=pause)
    return at


# -- writers -------------------------------------------------------------------

PLAY_COLUMNS = (
    "user_id", "play_key", "source", "content_type", "played_at", "ms_played", "track_id",
    "track_name", "artist_name", "album_name", "episode_uri", "episode_name",
    "episode_show_name", "platform", "conn_country", "reason_start", "reason_end", "shuffle",
    "skipped", "offline", "incognito_mode", "ingested_at",
)


def _names(listening: Listening):
    artist_names = {a.artist_id: a.name for a in listening.artists}
    album_names = {a.album_id: a.name for a in listening.albums}
    return artist_names, album_names


def playlist_snapshot(version: int, entries: list[tuple[str, str]]) -> str:
    """A playlist's `snapshot_id` as the fake Spotify gives it: its version and a checksum of its entries."""
    return f"{version:08d}{zlib.crc32(repr(entries).encode()):08x}"


@dataclass(frozen=True)
class GeneratedPlaylist:
    playlist_id: str
    name: str
    owner_id: str
    owner_name: str
    track_ids: list[str]
    followers: list[str]

    @property
    def entries(self) -> list[tuple[str, str]]:
        return [("track", track_id) for track_id in self.track_ids]

    @property
    def snapshot_id(self) -> str:
        """As the fake Spotify serves it (its first version)."""
        return playlist_snapshot(1, self.entries)


SHARED_PLAYLIST_TRACKS = 250  # more than one page of playlist items
OWN_PLAYLIST_PLAYED, OWN_PLAYLIST_UNPLAYED = 30, 10


def generated_playlists(listening: Listening) -> list[GeneratedPlaylist]:
    """The playlists the listeners follow: one the first listener made of the catalogue's first 250 tracks (by id),
    followed by everyone, and each listener's own: their 30 most streamed tracks (then by id), then 10 they
    never played."""
    rng = random.Random(f"playlists-{listening.seed}")
    catalogue = sorted(t.track_id for t in listening.tracks)
    first = listening.users[0]
    made = [GeneratedPlaylist(spotify_id(rng), "Generated Hits", first.user_id, first.display_name,
                              catalogue[:SHARED_PLAYLIST_TRACKS], [u.user_id for u in listening.users])]
    streamed: dict[str, Counter] = {user.user_id: Counter() for user in listening.users}  # one pass over the plays
    for play in listening.plays:
        if play.track_id and play.ms_played >= 30_000:
            streamed[play.user_id][play.track_id] += 1
    for user in listening.users:
        streams = streamed[user.user_id]
        top = sorted(streams, key=lambda t: (-streams[t], t))[:OWN_PLAYLIST_PLAYED]
        unplayed = [t for t in catalogue if t not in streams][:OWN_PLAYLIST_UNPLAYED]
        made.append(GeneratedPlaylist(spotify_id(rng), f"{user.display_name}'s Favourites", user.user_id,
                                      user.display_name, top + unplayed, [user.user_id]))
    return made


def _play_rows(listening: Listening):
    tracks = listening.track_index()
    artist_names, album_names = _names(listening)
    for play in listening.plays:
        if play.track_id is None:
            uri, name, show = play.episode
            yield (play.user_id, export_play_key(play.played_at, uri, play.ms_played),
                   "extended_export", "episode", play.played_at, play.ms_played, None, None,
                   None, None, uri, name, show, play.platform, play.conn_country,
                   play.reason_start, play.reason_end, play.shuffle, play.skipped, False,
                   False, listening.generated_at)
            continue
        track = tracks[play.track_id]
        yield (play.user_id,
               export_play_key(play.played_at, f"spotify:track:{track.track_id}", play.ms_played),
               "extended_export", "track", play.played_at, play.ms_played, track.track_id,
               track.name, artist_names[track.artist_ids[0]], album_names[track.album_id],
               None, None, None, play.platform, play.conn_country, play.reason_start,
               play.reason_end, play.shuffle, play.skipped, False, False, listening.generated_at)


def write_to_source(conn: psycopg.Connection, listening: Listening) -> dict[str, int]:
    """Insert the listening into source in one transaction; existing rows are kept."""
    at = listening.generated_at
    tracks = {t.track_id: t for t in listening.tracks}
    with conn.transaction():
        counts = {
            "users": copy_into(
                conn, "users", ("user_id", "display_name", "email", "timezone", "compare_consent", "created_at",
                                "updated_at"),
                ((u.user_id, u.display_name, u.email, u.timezone, u.compare_consent, at, at)
                 for u in listening.users),
                "(user_id)"),
            "artists": copy_into(
                conn, "artists", ("artist_id", "name", "genres", "popularity", "followers",
                                  "fetched_at", "updated_at"),
                ((a.artist_id, a.name, a.genres, a.popularity, a.followers, at, at)
                 for a in listening.artists), "(artist_id)"),
            "albums": copy_into(
                conn, "albums", ("album_id", "name", "album_type", "artist_ids", "release_date",
                                 "release_date_precision", "total_tracks", "image_url",
                                 "fetched_at", "updated_at"),
                ((a.album_id, a.name, a.album_type, a.artist_ids, a.release_date,
                  a.release_date_precision, a.total_tracks,
                  f"https://i.scdn.co/image/{a.album_id}", at, at) for a in listening.albums),
                "(album_id)"),
            "tracks": copy_into(
                conn, "tracks", ("track_id", "name", "album_id", "artist_ids", "duration_ms",
                                 "explicit", "popularity", "track_number", "disc_number", "isrc",
                                 "is_local", "fetched_at", "updated_at"),
                ((t.track_id, t.name, t.album_id, t.artist_ids, t.duration_ms, t.explicit,
                  t.popularity, t.track_number, t.disc_number, t.isrc, False, at, at)
                 for t in listening.tracks), "(track_id)"),
            "album_tracks": copy_into(
                conn, "album_tracks", ("album_id", "disc_number", "track_number", "track_id", "name",
                                       "duration_ms", "fetched_at"),
                ((album.album_id, t.disc_number, t.track_number, t.track_id, t.name, t.duration_ms, at)
                 for album in listed_albums(listening) for t in (tracks[i] for i in album.track_ids)),
                "(album_id, disc_number, track_number)"),
            "plays": copy_into(conn, "plays", PLAY_COLUMNS, _play_rows(listening),
                                "(user_id, play_key)"),
        }
        playlists = generated_playlists(listening)
        counts["playlists"] = copy_into(
            conn, "playlists", ("playlist_id", "name", "owner_id", "owner_name", "snapshot_id", "items_total",
                                "status", "checked_at", "fetched_at", "created_at"),
            ((p.playlist_id, p.name, p.owner_id, p.owner_name, p.snapshot_id, len(p.track_ids), "ok", at, at, at)
             for p in playlists), "(playlist_id)")
        copy_into(conn, "playlist_items", ("playlist_id", "position", "track_id", "added_at"),
                  ((p.playlist_id, position, track_id, at) for p in playlists
                   for position, track_id in enumerate(p.track_ids)), "(playlist_id, position)")
        copy_into(conn, "user_playlists", ("user_id", "playlist_id", "added_at"),
                  ((user_id, p.playlist_id, at) for p in playlists for user_id in p.followers),
                  "(user_id, playlist_id)")
    return counts


def listed_albums(listening: Listening) -> list[Album]:
    """The albums whose track list enrichment would have stored: all but every tenth (as if Spotify
    had refused those lists, so an album page without a known list is in every generated history)."""
    return [album for number, album in enumerate(listening.albums) if number % 10 != 9]


def _extended_record(play: Play, track: Track | None, artist_names, album_names) -> dict:
    episode = play.episode or (None, None, None)
    return {
        "ts": play.played_at.strftime(EXPORT_TS_FORMAT),
        "platform": play.platform,
        "ms_played": play.ms_played,
        "conn_country": play.conn_country,
        "master_metadata_track_name": track.name if track else None,
        "master_metadata_album_artist_name": artist_names[track.artist_ids[0]] if track else None,
        "master_metadata_album_album_name": album_names[track.album_id] if track else None,
        "spotify_track_uri": f"spotify:track:{track.track_id}" if track else None,
        "episode_name": episode[1],
        "episode_show_name": episode[2],
        "spotify_episode_uri": episode[0],
        "audiobook_title": None,
        "audiobook_uri": None,
        "audiobook_chapter_uri": None,
        "audiobook_chapter_title": None,
        "reason_start": play.reason_start,
        "reason_end": play.reason_end,
        "shuffle": play.shuffle,
        "skipped": play.skipped,
        "offline": False,
        "offline_timestamp": int(play.played_at.timestamp()) - play.ms_played // 1000,
        "incognito_mode": False,
    }


def _write_json_files(folder: Path, name_of, records: list[dict], per_file: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for part, start in enumerate(range(0, len(records), per_file)):
        path = folder / name_of(part, records[start:start + per_file])
        path.write_text(json.dumps(records[start:start + per_file], indent=2, ensure_ascii=False))
        written.append(path)
    return written


def write_extended_export(listening: Listening, folder: Path, per_file: int = 15_000) -> list[Path]:
    """Extended streaming history, one folder per user, as Spotify names the files."""
    tracks = listening.track_index()
    artist_names, album_names = _names(listening)
    written = []
    for user in listening.users:
        records = [
            _extended_record(p, tracks.get(p.track_id), artist_names, album_names)
            for p in listening.plays if p.user_id == user.user_id
        ]

        def name_of(part, chunk):
            years = sorted({r["ts"][:4] for r in chunk})
            span = years[0] if len(years) == 1 else f"{years[0]}-{years[-1]}"
            return f"Streaming_History_Audio_{span}_{part}.json"

        written += _write_json_files(folder / user.user_id, name_of, records, per_file)
    return written


def write_account_export(listening: Listening, folder: Path, per_file: int = 10_000) -> list[Path]:
    """Account-data export: the last year, names only, minute precision."""
    tracks = listening.track_index()
    artist_names, _ = _names(listening)
    since = listening.generated_at - timedelta(days=365)
    written = []
    for user in listening.users:
        records = [
            {
                "endTime": p.played_at.strftime("%Y-%m-%d %H:%M"),
                "artistName": artist_names[tracks[p.track_id].artist_ids[0]],
                "trackName": tracks[p.track_id].name,
                "msPlayed": p.ms_played,
            }
            for p in listening.plays
            if p.user_id == user.user_id and p.track_id and p.played_at >= since
        ]
        written += _write_json_files(folder / user.user_id,
                                     lambda part, chunk: f"StreamingHistory_music_{part}.json",
                                     records, per_file)
    return written


def write_lastfm_export(listening: Listening, folder: Path) -> list[Path]:
    """What a Last.fm scrobbler would have sent of the same listening, as lastfm-to-csv writes it: one
    `scrobbles.csv` per user, no header, `artist,album,track,date` with the start to the minute (UTC),
    for the track plays that count as a scrobble (half the track or 4 minutes played), newest first."""
    tracks = listening.track_index()
    artist_names, album_names = _names(listening)
    written = []
    for user in listening.users:
        path = folder / user.user_id / "scrobbles.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as file:
            out = csv.writer(file)
            for play in sorted((p for p in listening.plays if p.user_id == user.user_id and p.track_id),
                               key=lambda p: p.played_at, reverse=True):
                track = tracks[play.track_id]
                if play.ms_played >= min(track.duration_ms / 2, 240_000) and track.duration_ms > 30_000:
                    started = play.played_at - timedelta(milliseconds=play.ms_played)
                    out.writerow((artist_names[track.artist_ids[0]], album_names[track.album_id], track.name,
                                  started.strftime("%d %b %Y %H:%M")))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m fake_spotify generate`: listening into source and/or as Spotify export files."""
    parser = argparse.ArgumentParser(prog="python -m fake_spotify generate", description=main.__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--plays-per-day", type=float, default=30.0)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END,
                        help=f"first day after the listening (default {DEFAULT_END})")
    parser.add_argument("--extended-export", metavar="DIR", help="also write Extended history files")
    parser.add_argument("--account-export", metavar="DIR", help="also write Account data files")
    parser.add_argument("--no-source", action="store_true", help="do not write into source")
    parser.add_argument("--playlists-out", metavar="FILE",
                        help="also write who follows which generated playlist: a user id and a playlist id a line")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = clock.perf_counter()
    listening = generate(args.seed, args.users, args.days, args.end, args.plays_per_day)
    generated = clock.perf_counter()
    print(f"generated {len(listening.plays):,} plays of {len(listening.users)} users, "
          f"{len(listening.tracks):,} tracks, {len(listening.albums):,} albums, "
          f"{len(listening.artists):,} artists in {generated - started:.1f} s")
    if args.extended_export:
        files = write_extended_export(listening, Path(args.extended_export))
        print(f"wrote {len(files)} Extended streaming history files under {args.extended_export}")
    if args.account_export:
        files = write_account_export(listening, Path(args.account_export))
        print(f"wrote {len(files)} Account data files under {args.account_export}")
    if args.playlists_out:
        lines = [f"{user_id} {p.playlist_id}\n" for p in generated_playlists(listening) for user_id in p.followers]
        Path(args.playlists_out).write_text("".join(lines))
        print(f"wrote {len(lines)} followed playlists to {args.playlists_out}")
    if not args.no_source:
        with connect("source", settings) as conn:
            counts = write_to_source(conn, listening)
        print("source: new rows " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
              + f" in {clock.perf_counter() - generated:.1f} s")
    return 0
