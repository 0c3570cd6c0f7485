"""The fake Spotify's state: its users' listening and catalogue, clients, codes and tokens, faults and counters.

`FakeSpotify.generated(...)` builds it from `fake_spotify.generate`: every
generated user is a Spotify account whose plays (tracks played at least 30 s)
are its recently-played history; the catalogue is its tracks, albums and
artists. The blueprints of `fake_spotify.server` answer from it; tests in the
same process steer it directly (or through `/_admin`).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from fake_spotify.generate import Album, Listening, Track, generate, generated_playlists, playlist_snapshot, spotify_id

WINDOW = 50  # Spotify keeps only the 50 most recent plays
ALBUM_PAGE = 50  # tracks in the first page a full album object carries, as Spotify's
MIN_COUNTED_MS = 30_000  # a play counts after ~30 s
MARKETS = ["DE", "GB", "US"]


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    at = datetime.fromtimestamp(ms / 1000, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class ApiPlay:
    played_at_ms: int
    track_id: str
    context: tuple[str, str] | None  # (type, id)


@dataclass
class Fault:
    path: str  # request path prefix it applies to
    status: int | None  # None: answer normally (after `delay`), or `body` with 200
    retry_after: int | None = None
    reason: str | None = None
    delay: float = 0.0
    times: int = 1  # how many requests it hits; -1 = until cleared
    query: dict[str, str] | None = None  # only requests whose query has these values (e.g. {"offset": "50"})
    body: dict | list | None = None  # answer this JSON instead (a malformed answer), with `status` or 200

    def hits(self, path: str, args) -> bool:
        return path.startswith(self.path) and all(args.get(k) == str(v) for k, v in (self.query or {}).items())


@dataclass
class Playlist:
    playlist_id: str
    name: str
    owner_id: str  # "spotify" for Spotify's own (editorial) playlists
    owner_name: str
    # Each entry: ("track", track id), ("episode", episode id) or ("local", a local file's name).
    entries: list[tuple[str, str]]
    version: int = 1  # its snapshot_id changes with every change of the entries

    @property
    def snapshot_id(self) -> str:
        return playlist_snapshot(self.version, self.entries)


@dataclass
class Token:
    user_id: str
    client_id: str
    scope: str
    expires_at: float = 0.0  # access tokens
    authorized_at: float = 0.0  # refresh tokens
    revoked: bool = False


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class FakeSpotify:
    """The state of the fake server. Thread-safe through `lock`."""

    listening: Listening
    clients: dict[str, Client]
    development_mode: bool = False
    refresh_policy: str = "alternate"  # rotate | omit | alternate (every other answer omits it)
    login_user: str | None = None
    clock_offset_ms: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    faults: list[Fault] = field(default_factory=list)
    codes: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, Token] = field(default_factory=dict)
    refreshes: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)
    history: dict[str, list[ApiPlay]] = field(default_factory=dict)
    playlists: dict[str, Playlist] = field(default_factory=dict)

    @classmethod
    def generated(cls, seed: int = 42, users: int = 3, days: int = 30, plays_per_day: float = 30.0,
                  clients: list[Client] | None = None, **options) -> FakeSpotify:
        fake = cls(generate(seed, users, days, plays_per_day=plays_per_day),
                   {c.client_id: c for c in clients or []}, **options)
        fake._index()
        return fake

    def _index(self) -> None:
        self.tracks = {t.track_id: t for t in self.listening.tracks}
        self.albums = {a.album_id: a for a in self.listening.albums}
        self.artists = {a.artist_id: a for a in self.listening.artists}
        self.users = {u.user_id: u for u in self.listening.users}
        followed: dict[str, list[tuple[str, set[str]]]] = {}  # user -> (playlist, its tracks), their own first
        for made in generated_playlists(self.listening):  # the playlists write_to_source has them follow
            self.playlists[made.playlist_id] = Playlist(made.playlist_id, made.name, made.owner_id, made.owner_name,
                                                        made.entries)
            for user_id in made.followers:
                followed.setdefault(user_id, []).insert(0, (made.playlist_id, set(made.track_ids)))
        self.login_user = self.login_user or self.listening.users[0].user_id
        for user in self.listening.users:
            self.history[user.user_id] = []
        for play in self.listening.plays:
            if play.track_id is None or play.ms_played < MIN_COUNTED_MS:
                continue  # episodes are not listed; short plays do not count
            stamp = f"{play.user_id}|{play.played_at.isoformat()}"
            crc = zlib.crc32(stamp.encode())
            ms = int(play.played_at.timestamp()) * 1000 + crc % 1000
            self.history[play.user_id].append(
                ApiPlay(ms, play.track_id, self._context(crc, play.track_id, followed.get(play.user_id, []))))
        for plays in self.history.values():
            plays.sort(key=lambda p: p.played_at_ms)

    def _context(self, crc: int, track_id: str, followed: list[tuple[str, set[str]]]) -> tuple[str, str] | None:
        """A third of the plays from the track's album, a third from a playlist (one the listener follows that
        holds the track, else one of Spotify's), a third from no context."""
        kind = crc % 3
        if kind == 0:
            return ("album", self.tracks[track_id].album_id)
        if kind == 1:
            playlist = next((playlist_id for playlist_id, tracks in followed if track_id in tracks), None)
            return ("playlist", playlist or "37i9dQZF1DX" + f"{crc:011d}"[:11])
        return None

    # -- steering (used by /_admin and by in-process tests) -------------------

    def now_ms(self) -> int:
        """The fake's clock: real time, moved forward when tests add listening faster than real time."""
        return now_ms() + self.clock_offset_ms

    def add_plays(self, user_id: str, count: int, playlist_id: str | None = None) -> list[str]:
        """`count` new plays, back to back, the last ending now; with `playlist_id`, of that playlist's tracks and
        started from it (their context), else each from its album.

        Each plays its whole track when they fit between the user's latest play
        and now; else each is cut short (a skip, still at least MIN_COUNTED_MS:
        the Web API lists it). Only when even those do not fit does the fake's
        clock move forward so that they have all ended (a listener who played
        more in the meantime)."""
        with self.lock:
            plays = self.history[user_id]
            track_ids = sorted(self.tracks) if playlist_id is None else [
                value for kind, value in self.playlists[playlist_id].entries if kind == "track"]
            seed = f"{user_id}|{len(plays)}"
            picked = [track_ids[zlib.crc32(f"{seed}|{i}".encode()) % len(track_ids)] for i in range(count)]
            gaps = [1_000 + i % 7 for i in range(count)]
            latest = plays[-1].played_at_ms if plays else 0
            room = (self.now_ms() - 1 - latest) // count - max(gaps)  # per play, when they must share it
            lasted = [min(self.tracks[t].duration_ms, max(MIN_COUNTED_MS, room)) for t in picked]
            at = max(latest + 1, self.now_ms() - 1 - sum(lasted) - sum(gaps))
            new = []
            for track_id, ms, gap in zip(picked, lasted, gaps, strict=True):
                at += ms + gap
                new.append(ApiPlay(at, track_id, ("album", self.tracks[track_id].album_id) if playlist_id is None
                                   else ("playlist", playlist_id)))
            self.clock_offset_ms += max(0, at - self.now_ms())
            plays.extend(new)
            return [iso_ms(p.played_at_ms) for p in new]

    def expire_access_tokens(self, user_id: str) -> int:
        with self.lock:
            hit = [t for t in self.access_tokens.values() if t.user_id == user_id]
            for token in hit:
                token.expires_at = 0
            return len(hit)

    def revoke_refresh_tokens(self, user_id: str) -> int:
        with self.lock:
            hit = [t for t in self.refresh_tokens.values() if t.user_id == user_id]
            for token in hit:
                token.revoked = True
            return len(hit)

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, path: str, args=None) -> Fault | None:
        """The first fault for this request (`args`: its query parameters), counted down."""
        with self.lock:
            for fault in self.faults:
                if fault.hits(path, args or {}):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def add_album(self, tracks: int, discs: int = 1, artist_id: str | None = None) -> Album:
        """A new album of `tracks` tracks over `discs` discs (numbered from 1 on each), by `artist_id`
        (the catalogue's first artist by default): the generator's albums have at most 16 tracks, and
        an album of more than 50 needs several pages of `/v1/albums/{id}/tracks`. Deterministic ids."""
        if not 1 <= discs <= tracks:
            raise ValueError("an album needs at least one track on each disc")
        with self.lock:
            artist_id = artist_id or self.listening.artists[0].artist_id
            if artist_id not in self.artists:
                raise ValueError(f"unknown artist {artist_id!r}")
            made = len(self.albums)
            album = Album(_made_id(f"album|{made}"), f"Made Album {made}", "compilation", [artist_id],
                          "2020-01-01", "day", tracks)
            per_disc, extra = divmod(tracks, discs)
            for disc in range(1, discs + 1):
                for number in range(1, per_disc + (disc <= extra) + 1):
                    track = Track(_made_id(f"track|{made}|{disc}|{number}"), f"Made Track {disc}-{number}",
                                  album.album_id, [artist_id], 180_000 + number * 1_000, number % 5 == 0, None,
                                  number, f"QZMADE{made:04d}{len(album.track_ids):04d}", disc)
                    album.track_ids.append(track.track_id)
                    self.listening.tracks.append(track)
                    self.tracks[track.track_id] = track
            self.listening.albums.append(album)
            self.albums[album.album_id] = album
            return album

    def add_playlist(self, tracks: int, owner_id: str | None = None, episodes: int = 0, local_files: int = 0,
                     name: str | None = None) -> Playlist:
        """A playlist of the catalogue's first `tracks` tracks (by id), then `episodes` episodes and
        `local_files` local files, owned by `owner_id` (the first user by default; "spotify": one of Spotify's
        own, which Development Mode hides). Deterministic ids."""
        with self.lock:
            owner_id = owner_id or self.listening.users[0].user_id
            owner_name = "Spotify" if owner_id == "spotify" else self.users[owner_id].display_name
            made = len(self.playlists)
            track_ids = sorted(self.tracks)[:tracks]
            if len(track_ids) < tracks:
                raise ValueError(f"the catalogue holds {len(self.tracks)} tracks, fewer than {tracks}")
            entries = [("track", t) for t in track_ids]
            entries += [("episode", _made_id(f"episode|{made}|{n}")) for n in range(episodes)]
            entries += [("local", f"Local Song {n}.mp3") for n in range(local_files)]
            playlist = Playlist(_made_id(f"playlist|{made}"), name or f"Made Playlist {made}", owner_id,
                                owner_name, entries)
            self.playlists[playlist.playlist_id] = playlist
            return playlist

    def change_playlist(self, playlist_id: str, add: int = 0, remove: int = 0) -> Playlist:
        """Remove its first `remove` entries and append `add` catalogue tracks it does not hold: a new snapshot."""
        with self.lock:
            playlist = self.playlists[playlist_id]
            held = {t for kind, t in playlist.entries if kind == "track"}
            fresh = [t for t in sorted(self.tracks) if t not in held][:add]
            playlist.entries = playlist.entries[remove:] + [("track", t) for t in fresh]
            playlist.version += 1
            return playlist

    def window(self, user_id: str) -> list[ApiPlay]:
        """The 50 most recent plays that have ended, oldest first."""
        current = self.now_ms()
        plays = self.history[user_id]
        ended = [p for p in plays[-WINDOW - 10:] if p.played_at_ms <= current]
        return ended[-WINDOW:]

    # -- Web API objects ------------------------------------------------------

    def _links(self, base: str, kind: str, object_id: str) -> dict:
        return {"external_urls": {"spotify": f"https://open.spotify.com/{kind}/{object_id}"},
                "href": f"{base}v1/{kind}s/{object_id}", "id": object_id,
                "type": kind, "uri": f"spotify:{kind}:{object_id}"}

    def simple_artist(self, base: str, artist_id: str) -> dict:
        return {**self._links(base, "artist", artist_id), "name": self.artists[artist_id].name}

    def _images(self, object_id: str) -> list[dict]:
        return [{"height": size, "url": f"https://i.scdn.co/image/{size}{object_id}", "width": size}
                for size in (640, 300, 64)]

    def simple_album(self, base: str, album_id: str) -> dict:
        album = self.albums[album_id]
        return {
            "album_type": album.album_type,
            "artists": [self.simple_artist(base, a) for a in album.artist_ids],
            "available_markets": MARKETS,
            **self._links(base, "album", album_id),
            "images": self._images(album_id),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": album.release_date_precision,
            "total_tracks": album.total_tracks,
        }

    def track(self, base: str, track_id: str, with_album: bool = True) -> dict:
        track = self.tracks[track_id]
        body = {
            "artists": [self.simple_artist(base, a) for a in track.artist_ids],
            "available_markets": MARKETS,
            "disc_number": track.disc_number,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            **self._links(base, "track", track_id),
            "is_local": False,
            "name": track.name,
            "preview_url": None,
            "track_number": track.track_number,
        }
        if with_album:
            body["album"] = self.simple_album(base, track.album_id)
            body["external_ids"] = {"isrc": track.isrc}
            if not self.development_mode:  # what the generator leaves unknown, Spotify rates 0
                body["popularity"] = track.popularity or 0
        return body

    def album_tracks_page(self, base: str, album_id: str, limit: int, offset: int,
                          market: str | None = None) -> dict:
        """The paging object of `GET /v1/albums/{id}/tracks`: simplified tracks in disc and track order."""
        track_ids = self.albums[album_id].track_ids
        url = f"{base}v1/albums/{album_id}/tracks"
        market_arg = {"market": market} if market else {}

        def link(at: int) -> str:
            return f"{url}?{urlencode({'offset': at, 'limit': limit, **market_arg})}"

        return {"href": link(offset),
                "items": [self.track(base, t, with_album=False) for t in track_ids[offset:offset + limit]],
                "limit": limit, "next": link(offset + limit) if offset + limit < len(track_ids) else None,
                "offset": offset, "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "total": len(track_ids)}

    def album(self, base: str, album_id: str) -> dict:
        album = self.albums[album_id]
        body = {**self.simple_album(base, album_id), "genres": [], "label": "Fake Records",
                "copyrights": [], "external_ids": {},
                "tracks": self.album_tracks_page(base, album_id, ALBUM_PAGE, 0)}
        known = [self.tracks[t].popularity for t in album.track_ids if self.tracks[t].popularity is not None]
        if not self.development_mode:
            body["popularity"] = max(known, default=0)
        return body

    def artist(self, base: str, artist_id: str) -> dict:
        artist = self.artists[artist_id]
        body = {**self._links(base, "artist", artist_id), "genres": artist.genres,
                "images": self._images(artist_id), "name": artist.name}
        if not self.development_mode:
            body["popularity"] = artist.popularity or 0
            body["followers"] = {"href": None, "total": artist.followers or 0}
        return body

    def playlist(self, base: str, playlist_id: str) -> dict:
        """`GET /v1/playlists/{id}`: the playlist with a summary of its entries, under `items` in Development
        Mode (February 2026) and `tracks` otherwise."""
        playlist = self.playlists[playlist_id]
        owner = {"display_name": playlist.owner_name, **self._links(base, "user", playlist.owner_id)}
        summary = {"href": f"{base}v1/playlists/{playlist_id}/items", "total": len(playlist.entries)}
        return {"collaborative": False, "description": "", **self._links(base, "playlist", playlist_id),
                "images": self._images(playlist_id), "name": playlist.name, "owner": owner, "public": True,
                "snapshot_id": playlist.snapshot_id, ("items" if self.development_mode else "tracks"): summary}

    def playlist_page(self, base: str, playlist_id: str, path: str, limit: int, offset: int) -> dict:
        """One page of a playlist's entries (`path`: `items` or `tracks`); an entry's object under `item` in
        Development Mode and `track` otherwise."""
        playlist = self.playlists[playlist_id]
        url = f"{base}v1/playlists/{playlist_id}/{path}"
        key = "item" if self.development_mode else "track"
        owner = self._links(base, "user", playlist.owner_id)

        def link(at: int) -> str:
            return f"{url}?{urlencode({'offset': at, 'limit': limit})}"

        def entry(number: int, kind: str, value: str) -> dict:
            if kind == "track":
                obj = self.track(base, value)
            elif kind == "episode":
                obj = {**self._links(base, "episode", value), "name": f"Made Episode {number}",
                       "duration_ms": 1_800_000}
            else:
                obj = {"id": None, "name": value, "type": "track", "is_local": True, "uri": f"spotify:local:::{value}"}
            return {"added_at": iso_ms(1_700_000_000_000 + number * 60_000)[:19] + "Z", "added_by": owner,
                    "is_local": kind == "local", "primary_color": None, key: obj}

        entries = playlist.entries[offset:offset + limit]
        return {"href": link(offset), "items": [entry(offset + n, *e) for n, e in enumerate(entries)],
                "limit": limit, "next": link(offset + limit) if offset + limit < len(playlist.entries) else None,
                "offset": offset, "previous": link(max(0, offset - limit)) if offset > 0 else None,
                "total": len(playlist.entries)}

    def context(self, base: str, context: tuple[str, str] | None) -> dict | None:
        if context is None:
            return None
        kind, object_id = context
        return {"type": kind, "href": f"{base}v1/{kind}s/{object_id}",
                "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{object_id}"},
                "uri": f"spotify:{kind}:{object_id}"}


def _made_id(text: str) -> str:
    """The id of a made album or track: the same for the same `text`."""
    return spotify_id(random.Random(f"fake-spotify|{text}"))
