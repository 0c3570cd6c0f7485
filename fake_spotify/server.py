"""A fake Spotify (Accounts service + Web API) that behaves as docs/spotify-api.md says.

`create_app(fake)` serves a `FakeSpotify` (fake_spotify.state) with three
blueprints: the Accounts service (fake_spotify.accounts), the Web API
(fake_spotify.web_api) and the steering endpoints `/_admin/*`
(fake_spotify.steering) through which tests set Development Mode, faults (429
with a chosen `Retry-After`, `QUOTA_EXCEEDED`, 5xx, slow answers, a body of
their own; on a path prefix, optionally only with given query values), expired
access tokens, revoked refresh tokens, new plays "now" and albums of many
tracks, and read the counters (refreshes, requests by endpoint).
"""

from __future__ import annotations

import time

from flask import Flask, current_app, jsonify, request

from fake_spotify import accounts, steering, web_api
from fake_spotify.state import FakeSpotify

FAULT_MESSAGES = {500: "Server error.", 502: "Bad gateway.", 503: "Service unavailable"}


def create_app(fake: FakeSpotify) -> Flask:
    app = Flask(__name__)
    app.config["fake"] = fake
    app.url_map.strict_slashes = False  # Spotify accepts `/v1/me/` as well as `/v1/me` (spotipy sends both)
    for blueprint in (accounts.bp, web_api.bp, steering.bp):
        app.register_blueprint(blueprint)
    app.before_request(count_and_inject_faults)
    return app


def endpoint_name() -> str:
    """The counter of this request: its view's name without blueprint (`batch_tracks`), or `unknown`."""
    if request.endpoint is None:
        return "unknown"
    return request.endpoint.rpartition(".")[2].removesuffix("_slash")


def count_and_inject_faults():
    """Count every request outside `/_admin`, and answer with the first fault set for its path, if any."""
    if request.path.startswith("/_admin"):
        return None
    fake: FakeSpotify = current_app.config["fake"]
    with fake.lock:
        fake.requests[endpoint_name()] += 1
    fault = fake.take_fault(request.path, request.args)
    if fault is None:
        return None
    if fault.delay:
        time.sleep(fault.delay)
    if fault.body is not None:  # a malformed answer, as a test wrote it
        response = jsonify(fault.body)
        response.status_code = fault.status or 200
        return response
    if fault.status is None:
        return None
    if fault.status == 429:
        message = "Too many requests" if fault.reason else "API rate limit exceeded"
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        return web_api.api_error(429, message, fault.reason, headers)
    return web_api.api_error(fault.status, FAULT_MESSAGES.get(fault.status, "Error"))
