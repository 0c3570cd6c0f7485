"""The fake Web API under `/v1`: the current user, recently played, the catalogue, an album's
tracks (paged) and track search.

Every call wants `Authorization: Bearer <access token>`; errors are
`{"error": {"status", "message"[, "reason"]}}` as Spotify answers them. In
Development Mode the batch endpoints answer 403, search allows `limit` up to 10
and no object carries `popularity` or `followers`; an album's tracks are served
as in Extended Quota Mode.

Playlists: `GET /v1/playlists/{id}` and its entries, `/items` (and the older `/tracks`, which Development
Mode answers with 403); Development Mode hides Spotify's own playlists (404) and names an entry's object
`item` instead of `track`.

The view names are the request counters' names (`/_admin/stats`): `me`,
`recently_played`, `search`, `album_tracks`, `playlist`, `playlist_items`, `single_<kind>` and
`batch_<kind>` for tracks, albums and artists.
"""

from __future__ import annotations

import re
import time
from functools import partial
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, request

from fake_spotify.state import ApiPlay, FakeSpotify, iso_ms

BATCH_LIMITS = {"tracks": 50, "artists": 50, "albums": 20}
BUILDERS = {"tracks": FakeSpotify.track, "albums": FakeSpotify.album, "artists": FakeSpotify.artist}
DEV_SEARCH_LIMIT = 10
MARKET = re.compile(r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2, or "from_token"

bp = Blueprint("web_api", __name__, url_prefix="/v1")


def api_error(status: int, message: str, reason: str | None = None, headers: dict | None = None):
    error = {"status": status, "message": message}
    if reason:
        error["reason"] = reason
    response = jsonify({"error": error})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _fake() -> FakeSpotify:
    return current_app.config["fake"]


def _base() -> str:
    return request.host_url


def _authorized_user() -> str:
    """The user of the request's access token; a 401 answer when it has none, or an unknown or expired one."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(api_error(401, "No token provided"))
    with _fake().lock:
        token = _fake().access_tokens.get(header[7:])
    if token is None:
        abort(api_error(401, "Invalid access token"))
    if token.expires_at < time.time():
        abort(api_error(401, "The access token expired"))
    return token.user_id


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """Query parameter `name` as an integer in [low, high]; a 400 answer when it is not one."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(api_error(400, f"Invalid {name}"))
    if not low <= value <= high:
        abort(api_error(400, f"Invalid {name}"))
    return value


@bp.get("/me")
def me():
    fake, user_id = _fake(), _authorized_user()
    user = fake.users[user_id]
    body = {"country": user.country, "display_name": user.display_name, "email": user.email,
            "explicit_content": {"filter_enabled": False, "filter_locked": False},
            "external_urls": {"spotify": f"https://open.spotify.com/user/{user_id}"},
            "href": f"{_base()}v1/users/{user_id}", "id": user_id, "images": [],
            "product": "premium", "type": "user", "uri": f"spotify:user:{user_id}"}
    if not fake.development_mode:
        body["followers"] = {"href": None, "total": 0}
    return jsonify(body)


def _page_of(window: list[ApiPlay], limit: int, after: int | None, before: int | None) -> tuple[list[ApiPlay], dict]:
    """The plays of one page, newest first, and the cursor of the next page ({} when there is none)."""
    if after is not None:
        candidates = [p for p in window if p.played_at_ms > after]
        chosen = list(reversed(candidates[:limit]))
        newer = {"after": chosen[0].played_at_ms} if chosen and len(candidates) > limit else {}
        return chosen, newer
    candidates = [p for p in window if before is None or p.played_at_ms < before]
    chosen = list(reversed(candidates[-limit:]))
    older = {"before": chosen[-1].played_at_ms} if chosen and len(candidates) > limit else {}
    return chosen, older


@bp.get("/me/player/recently-played")
def recently_played():
    fake, user_id = _fake(), _authorized_user()
    limit = _int_arg("limit", 20, 1, 50)
    after = _int_arg("after", None, 0, 2**63)
    before = _int_arg("before", None, 0, 2**63)
    if after is not None and before is not None:
        return api_error(400, "Only one of 'after' or 'before' may be specified")
    with fake.lock:
        window = fake.window(user_id)
    chosen, cursor = _page_of(window, limit, after, before)
    url = f"{_base()}v1/me/player/recently-played"
    return jsonify({
        "items": [{"track": fake.track(_base(), p.track_id), "played_at": iso_ms(p.played_at_ms),
                   "context": fake.context(_base(), p.context)} for p in chosen],
        "next": f"{url}?{urlencode({**cursor, 'limit': limit})}" if cursor else None,
        "cursors": {"after": str(chosen[0].played_at_ms), "before": str(chosen[-1].played_at_ms)}
        if chosen else None,
        "limit": limit,
        "href": f"{url}?{request.query_string.decode()}" if request.query_string else url,
    })


def _unknown(object_id: str):
    """400 for an id that is not base62, 404 for an unknown one."""
    if len(object_id) != 22 or not object_id.isalnum():
        return api_error(400, "Invalid base62 id")
    return api_error(404, "Resource not found")


def single(kind: str, object_id: str):
    fake = _fake()
    _authorized_user()
    if object_id not in getattr(fake, kind):
        return _unknown(object_id)
    return jsonify(BUILDERS[kind](fake, _base(), object_id))


@bp.get("/albums/<album_id>/tracks")
def album_tracks(album_id: str):
    """One page of an album's tracks: `limit` 1 to 50 (20 when absent), `offset` from 0, `market` accepted
    (no relinking here); simplified track objects in disc and track order, `next` while more are left."""
    fake = _fake()
    _authorized_user()
    limit = _int_arg("limit", 20, 1, 50)
    offset = _int_arg("offset", 0, 0, 2**31 - 1)
    market = request.args.get("market")
    if market is not None and market != "from_token" and not MARKET.match(market):
        return api_error(400, "Invalid market code")
    if album_id not in fake.albums:
        return _unknown(album_id)
    return jsonify(fake.album_tracks_page(_base(), album_id, limit, offset, market))


def _playlist_or_error(fake: FakeSpotify, playlist_id: str):
    """None when the playlist can be read; else the answer: 400/404 as for any id, and 404 in Development Mode
    for Spotify's own playlists (editorial and algorithmic ones are hidden from such apps)."""
    playlist = fake.playlists.get(playlist_id)
    if playlist is None:
        return _unknown(playlist_id)
    if fake.development_mode and playlist.owner_id == "spotify":
        return api_error(404, "Resource not found")
    return None


@bp.get("/playlists/<playlist_id>")
def playlist(playlist_id: str):
    fake = _fake()
    _authorized_user()
    refused = _playlist_or_error(fake, playlist_id)
    return refused or jsonify(fake.playlist(_base(), playlist_id))


@bp.get("/playlists/<playlist_id>/items")
@bp.get("/playlists/<playlist_id>/tracks")
def playlist_items(playlist_id: str):
    """A page of a playlist's entries: `limit` 1 to 50 (20 when absent), `offset` from 0. The older `/tracks`
    answers 403 in Development Mode (February 2026: only `/items` is left)."""
    fake = _fake()
    _authorized_user()
    path = request.path.rsplit("/", 1)[1]
    if path == "tracks" and fake.development_mode:
        return api_error(403, "Forbidden")
    limit = _int_arg("limit", 20, 1, 50)
    offset = _int_arg("offset", 0, 0, 2**31 - 1)
    refused = _playlist_or_error(fake, playlist_id)
    return refused or jsonify(fake.playlist_page(_base(), playlist_id, path, limit, offset))


def batch(kind: str):
    fake = _fake()
    _authorized_user()
    if fake.development_mode:
        return api_error(403, "Forbidden")
    raw = request.args.get("ids")
    if not raw:
        return api_error(400, "invalid id")
    ids = raw.split(",")
    if len(ids) > BATCH_LIMITS[kind]:
        return api_error(400, "Too many ids requested")
    store = getattr(fake, kind)
    return jsonify({kind: [BUILDERS[kind](fake, _base(), i) if i in store else None for i in ids]})


for _kind in BUILDERS:  # spotipy asks `/v1/tracks/?ids=`: the slash route counts as `batch_tracks` too
    bp.add_url_rule(f"/{_kind}", f"batch_{_kind}", partial(batch, _kind))
    bp.add_url_rule(f"/{_kind}/", f"batch_{_kind}_slash", partial(batch, _kind))
    bp.add_url_rule(f"/{_kind}/<object_id>", f"single_{_kind}", partial(single, _kind))


def _parse_query(query: str) -> tuple[dict[str, list[str]], list[str]]:
    """`track:`, `artist:` and `album:` filters, and the other words, lower-cased and unquoted."""
    filters, words = {}, []
    for part in query.split():
        key, sep, value = part.partition(":")
        if sep and key in ("track", "artist", "album"):
            filters.setdefault(key, []).append(value.strip('"').lower())
        else:
            words.append(part.strip('"').lower())
    return filters, words


def _search_hits(fake: FakeSpotify, query: str) -> list[str]:
    filters, words = _parse_query(query)
    hits = []
    for track in fake.listening.tracks:
        names = {"track": track.name.lower(),
                 "artist": " ".join(fake.artists[a].name.lower() for a in track.artist_ids),
                 "album": fake.albums[track.album_id].name.lower()}
        everything = " ".join(names.values())
        if all(all(v in names[k] for v in values) for k, values in filters.items()) and \
                all(w in everything for w in words):
            hits.append(track.track_id)
    return hits


@bp.get("/search")
def search():
    fake = _fake()
    _authorized_user()
    query = request.args.get("q", "").strip()
    if not query:
        return api_error(400, "No search query")
    if "track" not in request.args.get("type", "").split(","):
        return api_error(400, "Unsupported search type: this fake serves type=track")
    limit = _int_arg("limit", 20, 1, DEV_SEARCH_LIMIT if fake.development_mode else 50)
    offset = _int_arg("offset", 0, 0, 1000)
    hits = _search_hits(fake, query)
    page = hits[offset:offset + limit]
    url = f"{_base()}v1/search"
    return jsonify({"tracks": {
        "href": f"{url}?{request.query_string.decode()}",
        "items": [fake.track(_base(), t) for t in page], "limit": limit, "offset": offset,
        "next": f"{url}?{urlencode({'q': query, 'type': 'track', 'offset': offset + limit, 'limit': limit})}"
        if offset + limit < len(hits) else None,
        "previous": None, "total": len(hits)}})
