"""Steering the fake Spotify under `/_admin` (not counted, no faults): Development Mode, the refresh-token
policy and who logs in, faults, albums of many tracks, playlists, new plays, expired access tokens, revoked refresh
tokens, counters, health."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from fake_spotify.state import FakeSpotify, Fault, iso_ms

REFRESH_POLICIES = ("rotate", "omit", "alternate")
MAX_MADE_TRACKS = 5_000

bp = Blueprint("steering", __name__, url_prefix="/_admin")


def _fake() -> FakeSpotify:
    return current_app.config["fake"]


def _unknown_user(user_id: str):
    return jsonify({"error": f"unknown user {user_id!r}"}), 404


@bp.post("/mode")
def mode():
    fake, body = _fake(), request.get_json(force=True)
    with fake.lock:
        if "development" in body:
            fake.development_mode = bool(body["development"])
        if "refresh_policy" in body:
            if body["refresh_policy"] not in REFRESH_POLICIES:
                return jsonify({"error": "refresh_policy: rotate, omit or alternate"}), 400
            fake.refresh_policy = body["refresh_policy"]
        if "login_user" in body:
            if body["login_user"] not in fake.users:
                return jsonify({"error": f"unknown user {body['login_user']!r}"}), 400
            fake.login_user = body["login_user"]
    return jsonify({"development": fake.development_mode, "refresh_policy": fake.refresh_policy,
                    "login_user": fake.login_user})


@bp.post("/faults")
def add_fault():
    """A fault on the requests whose path starts with `path` (and whose query has the values of `query`):
    `status` (429 with `retry_after`, `reason`), `delay`, or `body` answered as JSON instead."""
    fake, body = _fake(), request.get_json(force=True)
    fake.add_fault(Fault(path=body.get("path", "/v1/"), status=body.get("status"),
                         retry_after=body.get("retry_after"), reason=body.get("reason"),
                         delay=float(body.get("delay", 0)), times=int(body.get("times", 1)),
                         query={k: str(v) for k, v in (body.get("query") or {}).items()} or None,
                         body=body.get("body")))
    return jsonify({"faults": len(fake.faults)}), 201


@bp.delete("/faults")
def clear_faults():
    fake = _fake()
    with fake.lock:
        fake.faults.clear()
    return jsonify({"faults": 0})


@bp.post("/albums")
def add_album():
    """A new album of `tracks` tracks (1 to MAX_MADE_TRACKS) over `discs` discs (default 1), by `artist_id`
    (default: the catalogue's first artist): its id and its track ids in disc and track order."""
    fake, body = _fake(), request.get_json(force=True)
    tracks, discs = body.get("tracks"), body.get("discs", 1)
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (tracks, discs)) \
            or not 1 <= discs <= tracks <= MAX_MADE_TRACKS:
        return jsonify({"error": f"tracks: 1 to {MAX_MADE_TRACKS}; discs: 1 to tracks"}), 400
    try:
        album = fake.add_album(tracks, discs, body.get("artist_id"))
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"album_id": album.album_id, "track_ids": album.track_ids}), 201


@bp.post("/playlists")
def add_playlist():
    """A new playlist of the catalogue's first `tracks` tracks, then `episodes` episodes and `local_files` local
    files (each 0 by default), owned by `owner_id` (default the first user; "spotify": Spotify's own)."""
    fake, body = _fake(), request.get_json(force=True)
    counts = [body.get(name, 0) for name in ("tracks", "episodes", "local_files")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10_000 for n in counts) \
            or sum(counts) > 10_000:
        return jsonify({"error": "tracks, episodes, local_files: 0 to 10,000 entries in all"}), 400
    try:
        playlist = fake.add_playlist(*counts[:1], owner_id=body.get("owner_id"), episodes=counts[1],
                                     local_files=counts[2], name=body.get("name"))
    except (ValueError, KeyError) as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify({"playlist_id": playlist.playlist_id, "snapshot_id": playlist.snapshot_id}), 201


@bp.post("/users/<user_id>/plays")
def add_plays(user_id: str):
    fake = _fake()
    if user_id not in fake.users:
        return _unknown_user(user_id)
    asked = request.get_json(force=True)
    playlist_id = asked.get("playlist_id")
    if playlist_id is not None and playlist_id not in fake.playlists:
        return jsonify({"error": f"no playlist {playlist_id!r}"}), 404
    added = fake.add_plays(user_id, int(asked.get("count", 1)), playlist_id)
    return jsonify({"played_at": added}), 201


@bp.get("/users/<user_id>/plays")
def plays(user_id: str):
    fake = _fake()
    if user_id not in fake.users:
        return _unknown_user(user_id)
    with fake.lock:
        history = list(fake.history[user_id])
        window = fake.window(user_id)
    return jsonify({"played_at": [iso_ms(p.played_at_ms) for p in history],
                    "window": [iso_ms(p.played_at_ms) for p in window]})


@bp.post("/users/<user_id>/expire-access-tokens")
def expire_access_tokens(user_id: str):
    return jsonify({"expired": _fake().expire_access_tokens(user_id)})


@bp.post("/users/<user_id>/revoke")
def revoke(user_id: str):
    return jsonify({"revoked": _fake().revoke_refresh_tokens(user_id)})


@bp.get("/stats")
def stats():
    fake = _fake()
    with fake.lock:
        return jsonify({"refreshes": dict(fake.refreshes), "requests": dict(fake.requests),
                        "users": list(fake.users)})


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "users": len(_fake().users)})
