"""A fake Spotify (Accounts service + Web API) that behaves as docs/spotify-api.md says.

Its listening and catalogue come from `fake_spotify.generate`: every generated user
is a Spotify account whose plays (tracks played at least 30 s) are its
recently-played history; the catalogue is its tracks, albums and artists.

Tests steer it through `/_admin/*` endpoints (or the `FakeSpotify` object when
it runs in the same process): Development Mode, faults (429 with a chosen
`Retry-After`, `QUOTA_EXCEEDED`, 5xx, slow answers), expired access tokens,
revoked refresh tokens, new plays "now", and counters (refreshes, requests).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from flask import Flask, jsonify, redirect, request

from fake_spotify.generate import Listening, generate

WINDOW = 50  # Spotify keeps only the 50 most recent plays
MIN_COUNTED_MS = 30_000  # a play counts after ~30 s
ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600
REFRESH_TOKEN_LIFETIME = timedelta(days=182)  # six months from authorization
BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20}
DEV_SEARCH_LIMIT = 10
MARKETS = ["DE", "GB", "US"]
SCOPES_DEFAULT = "user-read-recently-played user-read-email"


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
    status: int | None  # None: answer normally (after `delay`)
    retry_after: int | None = None
    reason: str | None = None
    delay: float = 0.0
    times: int = 1  # how many requests it hits; -1 = until cleared


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
        self.login_user = self.login_user or self.listening.users[0].user_id
        for user in self.listening.users:
            self.history[user.user_id] = []
        for play in self.listening.plays:
            if play.track_id is None or play.ms_played < MIN_COUNTED_MS:
                continue  # episodes are not listed; short plays do not count
            stamp = f"{play.user_id}|{play.played_at.isoformat()}"
            crc = zlib.crc32(stamp.encode())
            ms = int(play.played_at.timestamp()) * 1000 + crc % 1000
            self.history[play.user_id].append(ApiPlay(ms, play.track_id, self._context(crc, play.track_id)))
        for plays in self.history.values():
            plays.sort(key=lambda p: p.played_at_ms)

    def _context(self, crc: int, track_id: str) -> tuple[str, str] | None:
        kind = crc % 3
        if kind == 0:
            return ("album", self.tracks[track_id].album_id)
        if kind == 1:
            return ("playlist", "37i9dQZF1DX" + f"{crc:011d}"[:11])
        return None

    # -- steering (used by /_admin and by in-process tests) -------------------

    def now_ms(self) -> int:
        """The fake's clock: real time, moved forward when tests add listening faster than real time."""
        return now_ms() + self.clock_offset_ms

    def add_plays(self, user_id: str, count: int) -> list[str]:
        """`count` new plays of full tracks, back to back, the last ending now.

        When they do not fit between the user's latest play and now, the fake's
        clock moves forward so that they have all ended (a listener who played
        more in the meantime)."""
        with self.lock:
            plays = self.history[user_id]
            track_ids = sorted(self.tracks)
            seed = f"{user_id}|{len(plays)}"
            picked = [track_ids[zlib.crc32(f"{seed}|{i}".encode()) % len(track_ids)] for i in range(count)]
            span = sum(self.tracks[t].duration_ms + 1_000 + i % 7 for i, t in enumerate(picked))
            latest = plays[-1].played_at_ms if plays else 0
            at = max(latest + 1, self.now_ms() - 1 - span)
            new = []
            for index, track_id in enumerate(picked):
                at += self.tracks[track_id].duration_ms + 1_000 + index % 7
                new.append(ApiPlay(at, track_id, ("album", self.tracks[track_id].album_id)))
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

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

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
            "disc_number": 1,
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

    def album(self, base: str, album_id: str) -> dict:
        album = self.albums[album_id]
        items = [self.track(base, t, with_album=False) for t in album.track_ids]
        body = {**self.simple_album(base, album_id), "genres": [], "label": "Fake Records",
                "copyrights": [], "external_ids": {},
                "tracks": {"href": f"{base}v1/albums/{album_id}/tracks", "items": items,
                           "limit": 50, "next": None, "offset": 0, "previous": None,
                           "total": len(items)}}
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

    def context(self, base: str, context: tuple[str, str] | None) -> dict | None:
        if context is None:
            return None
        kind, object_id = context
        return {"type": kind, "href": f"{base}v1/{kind}s/{object_id}",
                "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{object_id}"},
                "uri": f"spotify:{kind}:{object_id}"}


# -- HTTP ---------------------------------------------------------------------


def api_error(status: int, message: str, reason: str | None = None, headers: dict | None = None):
    error = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    response = jsonify({"error": error})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def auth_error(error: str, description: str, status: int = 400):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def create_app(fake: FakeSpotify) -> Flask:
    app = Flask(__name__)
    app.config["fake"] = fake
    app.url_map.strict_slashes = False  # Spotify accepts `/v1/me/` as well as `/v1/me` (spotipy sends both)

    @app.before_request
    def _faults():
        path = request.path
        if path.startswith("/_admin"):
            return None
        with fake.lock:
            fake.requests[(request.endpoint or "unknown").removesuffix("_slash")] += 1
        fault = fake.take_fault(path)
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is None:
            return None
        if fault.status == 429:
            message = "Too many requests" if fault.reason else "API rate limit exceeded"
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return api_error(429, message, fault.reason, headers)
        messages = {500: "Server error.", 502: "Bad gateway.", 503: "Service unavailable"}
        return api_error(fault.status, messages.get(fault.status, "Error"))

    # -- Accounts service ------------------------------------------------------

    @app.get("/authorize")
    def authorize():
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

    def _client_from_request() -> tuple[Client | None, bool]:
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

    def _issue(user_id: str, client_id: str, scope: str, refresh: str | None) -> dict:
        access = secrets.token_urlsafe(48)
        fake.access_tokens[access] = Token(user_id, client_id, scope, expires_at=time.time() + ACCESS_TOKEN_SECONDS)
        body = {"access_token": access, "token_type": "Bearer", "scope": scope, "expires_in": ACCESS_TOKEN_SECONDS}
        if refresh is not None:
            body["refresh_token"] = refresh
        return body

    @app.post("/api/token")
    def token():
        client, basic = _client_from_request()
        if client is None:
            return auth_error("invalid_client", "Invalid client" if basic or request.form.get("client_id")
                              else "Missing client_id")
        form = request.form
        grant = form.get("grant_type")
        with fake.lock:
            if grant == "authorization_code":
                code = fake.codes.get(form.get("code", ""))
                if code is None or code["client_id"] != client.client_id:
                    return auth_error("invalid_grant", "Invalid authorization code")
                if code["used"]:
                    return auth_error("invalid_grant", "Invalid authorization code")
                code["used"] = True
                if code["expires_at"] < time.time():
                    return auth_error("invalid_grant", "Authorization code expired")
                if form.get("redirect_uri") != code["redirect_uri"]:
                    return auth_error("invalid_grant", "Invalid redirect URI")
                if code["challenge"]:
                    verifier = form.get("code_verifier", "")
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
                    if not verifier or not secrets.compare_digest(digest.decode(), code["challenge"]):
                        return auth_error("invalid_grant", "code_verifier was incorrect")
                elif not basic:
                    return auth_error("invalid_client", "Invalid client secret")
                refresh = secrets.token_urlsafe(48)
                fake.refresh_tokens[refresh] = Token(code["user_id"], client.client_id, code["scope"],
                                                     authorized_at=time.time())
                return jsonify(_issue(code["user_id"], client.client_id, code["scope"], refresh))
            if grant == "refresh_token":
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
                    fake.refresh_tokens[refresh] = Token(old.user_id, old.client_id, old.scope,
                                                         authorized_at=old.authorized_at)
                return jsonify(_issue(old.user_id, client.client_id, old.scope, refresh))
        return auth_error("unsupported_grant_type", f"grant_type must be authorization_code or refresh_token, "
                          f"got {grant!r}")

    # -- Web API ---------------------------------------------------------------

    def _user() -> tuple[str | None, object]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None, api_error(401, "No token provided")
        with fake.lock:
            token = fake.access_tokens.get(header[7:])
        if token is None:
            return None, api_error(401, "Invalid access token")
        if token.expires_at < time.time():
            return None, api_error(401, "The access token expired")
        return token.user_id, None

    def base() -> str:
        return request.host_url

    @app.get("/v1/me")
    def me():
        user_id, error = _user()
        if error:
            return error
        user = fake.users[user_id]
        body = {"country": user.country, "display_name": user.display_name, "email": user.email,
                "explicit_content": {"filter_enabled": False, "filter_locked": False},
                "external_urls": {"spotify": f"https://open.spotify.com/user/{user_id}"},
                "href": f"{base()}v1/users/{user_id}", "id": user_id, "images": [],
                "product": "premium", "type": "user", "uri": f"spotify:user:{user_id}"}
        if not fake.development_mode:
            body["followers"] = {"href": None, "total": 0}
        return jsonify(body)

    def _int_arg(name: str, default: int | None, low: int, high: int):
        raw = request.args.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"Invalid {name}") from None
        if not low <= value <= high:
            raise ValueError(f"Invalid {name}")
        return value

    @app.get("/v1/me/player/recently-played")
    def recently_played():
        user_id, error = _user()
        if error:
            return error
        try:
            limit = _int_arg("limit", 20, 1, 50)
            after = _int_arg("after", None, 0, 2**63)
            before = _int_arg("before", None, 0, 2**63)
        except ValueError as exc:
            return api_error(400, str(exc))
        if after is not None and before is not None:
            return api_error(400, "Only one of 'after' or 'before' may be specified")
        with fake.lock:
            window = fake.window(user_id)
        older = newer = False
        if after is not None:
            candidates = [p for p in window if p.played_at_ms > after]
            chosen, newer = candidates[:limit], len(candidates) > limit
        else:
            candidates = [p for p in window if before is None or p.played_at_ms < before]
            chosen, older = candidates[-limit:], len(candidates) > limit
        chosen = list(reversed(chosen))  # newest first
        url = f"{base()}v1/me/player/recently-played"
        nxt = None
        if chosen and older:
            nxt = f"{url}?{urlencode({'before': chosen[-1].played_at_ms, 'limit': limit})}"
        elif chosen and newer:
            nxt = f"{url}?{urlencode({'after': chosen[0].played_at_ms, 'limit': limit})}"
        href = f"{url}?{request.query_string.decode()}" if request.query_string else url
        return jsonify({
            "items": [{"track": fake.track(base(), p.track_id), "played_at": iso_ms(p.played_at_ms),
                       "context": fake.context(base(), p.context)} for p in chosen],
            "next": nxt,
            "cursors": {"after": str(chosen[0].played_at_ms), "before": str(chosen[-1].played_at_ms)}
            if chosen else None,
            "limit": limit,
            "href": href,
        })

    kinds = {"tracks": ("tracks", fake.track), "albums": ("albums", fake.album), "artists": ("artists", fake.artist)}

    def single(kind: str, object_id: str):
        _, error = _user()
        if error:
            return error
        store, build = getattr(fake, kinds[kind][0]), kinds[kind][1]
        if object_id not in store:
            if len(object_id) != 22 or not object_id.isalnum():
                return api_error(400, "Invalid base62 id")
            return api_error(404, "Resource not found")
        return jsonify(build(base(), object_id))

    def batch(kind: str):
        _, error = _user()
        if error:
            return error
        if fake.development_mode:
            return api_error(403, "Forbidden")
        raw = request.args.get("ids")
        if not raw:
            return api_error(400, "invalid id")
        ids = raw.split(",")
        if len(ids) > BATCH_LIMITS[kind]:
            return api_error(400, "Too many ids requested")
        store, build = getattr(fake, kinds[kind][0]), kinds[kind][1]
        return jsonify({kind: [build(base(), i) if i in store else None for i in ids]})

    for kind in kinds:
        app.add_url_rule(f"/v1/{kind}", f"batch_{kind}", lambda kind=kind: batch(kind))
        app.add_url_rule(f"/v1/{kind}/", f"batch_{kind}_slash", lambda kind=kind: batch(kind))
        app.add_url_rule(f"/v1/{kind}/<object_id>", f"single_{kind}",
                         lambda object_id, kind=kind: single(kind, object_id))

    @app.get("/v1/search")
    def search():
        _, error = _user()
        if error:
            return error
        query = request.args.get("q", "").strip()
        if not query:
            return api_error(400, "No search query")
        if "track" not in request.args.get("type", "").split(","):
            return api_error(400, "Unsupported search type: this fake serves type=track")
        try:
            limit = _int_arg("limit", 20, 1, DEV_SEARCH_LIMIT if fake.development_mode else 50)
            offset = _int_arg("offset", 0, 0, 1000)
        except ValueError as exc:
            return api_error(400, str(exc))
        filters, words = {}, []
        for part in query.split():
            key, sep, value = part.partition(":")
            if sep and key in ("track", "artist", "album"):
                filters.setdefault(key, []).append(value.strip('"').lower())
            else:
                words.append(part.strip('"').lower())
        hits = []
        for track in fake.listening.tracks:
            names = {"track": track.name.lower(),
                     "artist": " ".join(fake.artists[a].name.lower() for a in track.artist_ids),
                     "album": fake.albums[track.album_id].name.lower()}
            everything = " ".join(names.values())
            if all(all(v in names[k] for v in values) for k, values in filters.items()) and \
                    all(w in everything for w in words):
                hits.append(track.track_id)
        page = hits[offset:offset + limit]
        url = f"{base()}v1/search"
        return jsonify({"tracks": {
            "href": f"{url}?{request.query_string.decode()}",
            "items": [fake.track(base(), t) for t in page], "limit": limit, "offset": offset,
            "next": f"{url}?{urlencode({'q': query, 'type': 'track', 'offset': offset + limit, 'limit': limit})}"
            if offset + limit < len(hits) else None,
            "previous": None, "total": len(hits)}})

    # -- steering --------------------------------------------------------------

    @app.post("/_admin/mode")
    def admin_mode():
        body = request.get_json(force=True)
        with fake.lock:
            if "development" in body:
                fake.development_mode = bool(body["development"])
            if "refresh_policy" in body:
                if body["refresh_policy"] not in ("rotate", "omit", "alternate"):
                    return jsonify({"error": "refresh_policy: rotate, omit or alternate"}), 400
                fake.refresh_policy = body["refresh_policy"]
            if "login_user" in body:
                if body["login_user"] not in fake.users:
                    return jsonify({"error": f"unknown user {body['login_user']!r}"}), 400
                fake.login_user = body["login_user"]
        return jsonify({"development": fake.development_mode, "refresh_policy": fake.refresh_policy,
                        "login_user": fake.login_user})

    @app.post("/_admin/faults")
    def admin_fault():
        body = request.get_json(force=True)
        fake.add_fault(Fault(path=body.get("path", "/v1/"), status=body.get("status"),
                             retry_after=body.get("retry_after"), reason=body.get("reason"),
                             delay=float(body.get("delay", 0)), times=int(body.get("times", 1))))
        return jsonify({"faults": len(fake.faults)}), 201

    @app.delete("/_admin/faults")
    def admin_clear_faults():
        with fake.lock:
            fake.faults.clear()
        return jsonify({"faults": 0})

    @app.post("/_admin/users/<user_id>/plays")
    def admin_add_plays(user_id):
        if user_id not in fake.users:
            return jsonify({"error": f"unknown user {user_id!r}"}), 404
        body = request.get_json(force=True)
        added = fake.add_plays(user_id, int(body.get("count", 1)))
        return jsonify({"played_at": added}), 201

    @app.get("/_admin/users/<user_id>/plays")
    def admin_plays(user_id):
        if user_id not in fake.users:
            return jsonify({"error": f"unknown user {user_id!r}"}), 404
        with fake.lock:
            plays = list(fake.history[user_id])
            window = fake.window(user_id)
        return jsonify({"played_at": [iso_ms(p.played_at_ms) for p in plays],
                        "window": [iso_ms(p.played_at_ms) for p in window]})

    @app.post("/_admin/users/<user_id>/expire-access-tokens")
    def admin_expire(user_id):
        return jsonify({"expired": fake.expire_access_tokens(user_id)})

    @app.post("/_admin/users/<user_id>/revoke")
    def admin_revoke(user_id):
        return jsonify({"revoked": fake.revoke_refresh_tokens(user_id)})

    @app.get("/_admin/stats")
    def admin_stats():
        with fake.lock:
            return jsonify({"refreshes": dict(fake.refreshes), "requests": dict(fake.requests),
                            "users": list(fake.users)})

    @app.get("/_admin/health")
    def admin_health():
        return jsonify({"status": "ok", "users": len(fake.users)})

    return app
