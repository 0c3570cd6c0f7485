"""Steering the fake Spotify under `/_admin` (not counted, no faults): Development Mode, the refresh-token
policy and who logs in, faults, new plays, expired access tokens, revoked refresh tokens, counters, health."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from fake_spotify.state import FakeSpotify, Fault, iso_ms

REFRESH_POLICIES = ("rotate", "omit", "alternate")

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
    fake, body = _fake(), request.get_json(force=True)
    fake.add_fault(Fault(path=body.get("path", "/v1/"), status=body.get("status"),
                         retry_after=body.get("retry_after"), reason=body.get("reason"),
                         delay=float(body.get("delay", 0)), times=int(body.get("times", 1))))
    return jsonify({"faults": len(fake.faults)}), 201


@bp.delete("/faults")
def clear_faults():
    fake = _fake()
    with fake.lock:
        fake.faults.clear()
    return jsonify({"faults": 0})


@bp.post("/users/<user_id>/plays")
def add_plays(user_id: str):
    fake = _fake()
    if user_id not in fake.users:
        return _unknown_user(user_id)
    added = fake.add_plays(user_id, int(request.get_json(force=True).get("count", 1)))
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
