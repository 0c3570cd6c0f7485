"""Comparing users who allow it (docs/metrics.md, statistic 17 and "Comparing users"), shared by the HTML pages
and the API: a comparison of two users, the leaderboard, and whom a user's page may compare the user with.

The consent is read from the replica's dim_user on every request. A comparison opens only when the viewer may
see both users (the admin, or share links of both) and both allow comparison now; anything else is the same 404
as an unknown user (the admin learns why). The leaderboard opens to the admin and to a viewer holding the share
link of a user who allows comparison. Every number is read from the replica (taste_overlap, overview, the
rankings); these only pick and order rows.
"""

from __future__ import annotations

from flask import abort, request

from dashboard.access import NOT_FOUND, Viewer, abort_unknown_user, current_viewer
from dashboard.periods import well_formed
from dashboard.queries import LEADERBOARD_SORTS, Comparison, Leaderboard, current_replica

LEADERBOARD_CLOSED = "not found: the leaderboard opens with the share link of a user who allows comparison"


def compared(a: str, b: str) -> tuple[str, Comparison]:
    """The request's period (default 'all') and users `a` and `b` compared in it, or the 404 of an unknown user."""
    viewer = current_viewer()
    if a == b or not (viewer.may_see(a) and viewer.may_see(b)):
        abort(404, "a user is not compared with themselves" if viewer.admin and a == b else NOT_FOUND)
    consent = current_replica().compare_consent([a, b])
    for user_id in (a, b):
        if user_id not in consent:
            abort_unknown_user(user_id)
        if not consent[user_id]:
            abort(404, f"user {user_id!r} does not allow comparison" if viewer.admin else NOT_FOUND)
    period = well_formed(request.args.get("period", "all"))
    return period, current_replica().comparison(a, b, period)


def may_see_leaderboard(viewer: Viewer) -> bool:
    return viewer.admin or (bool(viewer.user_ids)
                            and any(current_replica().compare_consent(list(viewer.user_ids)).values()))


def leaderboard_sort() -> str:
    """The request's order of the leaderboard, or a 400 saying what it may be."""
    sort = request.args.get("sort", next(iter(LEADERBOARD_SORTS)))
    if sort not in LEADERBOARD_SORTS:
        abort(400, f"bad sort {sort!r}: the leaderboard sorts by {', '.join(LEADERBOARD_SORTS)}")
    return sort


def leaderboard() -> tuple[str, str, Leaderboard]:
    """The period, order and leaderboard the request asks for, or a 404 when the viewer may not see it."""
    if not may_see_leaderboard(current_viewer()):
        abort(404, LEADERBOARD_CLOSED)
    period, sort = well_formed(request.args.get("period", "all")), leaderboard_sort()
    return period, sort, current_replica().leaderboard(period, sort)


def compare_partners(user_id: str, period: str) -> list[dict]:
    """Whom the user's page may compare the user with: nobody unless the user allows comparison; else the other
    users who do and whom the viewer may see, with their overlap of the period when there is one."""
    viewer = current_viewer()
    if not viewer.admin and not set(viewer.user_ids) - {user_id}:
        return []  # the viewer sees no other user: no need to ask
    return current_replica().compare_partners(user_id, period, None if viewer.admin else list(viewer.user_ids))
