"""The entity pages (an artist, album or track of a user), playlist pages and search, shared by the HTML pages and
the API.

All read only the replica (dashboard/queries.py): the rankings of docs/metrics.md, statistic 16, and
playlist_completion, statistic 20, with the dimensions' names. What the user never streamed is a 404, as is a
playlist the user does not follow; a query without a letter or digit a 400.
"""

from __future__ import annotations

import json

from flask import abort, request

from dashboard.queries import current_replica

KINDS = {"artists": "artist", "albums": "album", "tracks": "track"}  # URL segment -> kind
MAX_QUERY = 100  # characters of a search


def found_entity(user_id: str, kinds: str, item_id: str, period: str) -> str:
    """The entity's JSON object (text), or a 404 when the user never streamed it."""
    kind = KINDS[kinds]
    found = current_replica().entity(user_id, kind, item_id, period)
    if not found.streamed:
        abort(404, f"no streams of {kind} {item_id!r} by user {user_id!r}")
    return found.json


def found_playlist(user_id: str, playlist_id: str, period: str) -> str:
    """The playlist's JSON object (text), or a 404 when the user does not follow it."""
    found = current_replica().playlist(user_id, playlist_id, period)
    if not found.followed:
        abort(404, f"user {user_id!r} follows no playlist {playlist_id!r}")
    return found.json


def search_query() -> str:
    """The request's `q`, stripped; a 400 when it is too long."""
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY:
        abort(400, f"the search is too long: {len(query)} characters, at most {MAX_QUERY}")
    return query


def found_search(user_id: str, query: str) -> str:
    """The search's JSON object (text); a 400 when the query has no word to look for."""
    found = current_replica().search(user_id, query)
    if not found.searchable:
        abort(400, f"nothing to search for in {query!r}: give a letter or digit")
    return found.json


def with_head(head: dict, body: str) -> str:
    """The JSON object `body` (text) with the keys of `head` first."""
    return json.dumps(head)[:-1] + ", " + body[1:]
