"""The dashboard's JSON API: the statistics as the replica holds them, and the page that describes them."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, render_template, request

from dashboard.access import abort_unknown_user, abort_unless_visible, current_viewer, visible_user
from dashboard.compare import compared, leaderboard
from dashboard.entities import found_entity, found_playlist, found_search, search_query, with_head
from dashboard.paging import MAX_PER_PAGE, requested_paging
from dashboard.periods import abort_no_statistics, checked_period, well_formed
from dashboard.queries import current_replica
from warehouse.catalog import BY_NAME, CATALOG, PAGE_SIZE, STATISTICS

api = Blueprint("api", __name__, url_prefix="/api")


def json_response(text: str) -> Response:
    return Response(text, mimetype="application/json")


@api.get("")
def docs():
    return render_template("api.html", catalog=CATALOG, columns=current_replica().columns(), page_size=PAGE_SIZE,
                           max_per_page=MAX_PER_PAGE)


@api.get("/users")
def user_list():
    if not current_viewer().admin:
        abort(404, "not found: the user list is for the admin only")
    return json_response('{"users": ' + current_replica().users_json() + "}")


@api.get("/users/<user_id>/periods")
def user_periods(user_id: str):
    user = visible_user(user_id)
    return {"user_id": user.user_id, "timezone": user.timezone or current_app.config["DEFAULT_TIMEZONE"],
            "periods": user.periods}


@api.get("/users/<user_id>/search")
def search(user_id: str):
    visible_user(user_id)
    query = search_query()
    return json_response(with_head({"user_id": user_id, "q": query}, found_search(user_id, query)))


@api.get("/users/<user_id>/<any(artists, albums, tracks):kinds>/<item_id>")
def entity(user_id: str, kinds: str, item_id: str):
    user = visible_user(user_id)
    period = checked_period(user, request.args.get("period", "all"))
    return json_response(with_head({"user_id": user_id, "period": period},
                                   found_entity(user_id, kinds, item_id, period)))


@api.get("/users/<user_id>/playlists")
def playlists(user_id: str):
    """The playlists the user follows with their playlist_completion rows of the period (docs/metrics.md, 20)."""
    user = visible_user(user_id)
    period = checked_period(user, request.args.get("period", "all"))
    return json_response(json.dumps({"user_id": user_id, "period": period})[:-1] + ', "playlists": '
                         + current_replica().playlists(user_id, period) + "}")


@api.get("/users/<user_id>/playlists/<playlist_id>")
def playlist(user_id: str, playlist_id: str):
    user = visible_user(user_id)
    period = checked_period(user, request.args.get("period", "all"))
    return json_response(with_head({"user_id": user_id, "period": period},
                                   found_playlist(user_id, playlist_id, period)))


@api.get("/users/<user_id>/<statistic>")
def statistic_rows(user_id: str, statistic: str):
    abort_unless_visible(user_id)
    if statistic not in STATISTICS:
        abort(404, f"unknown statistic {statistic!r}; the statistics are: {', '.join(STATISTICS)}")
    period = well_formed(request.args.get("period", "all"))
    paging = requested_paging(statistic) if BY_NAME[statistic].sorts else None
    viewer = current_viewer()
    found = current_replica().statistic(user_id, statistic, period, paging,
                                        others=None if viewer.admin else list(viewer.user_ids))
    if not found.user_known and not viewer.holds_link(user_id):
        abort_unknown_user(user_id)
    if not found.period_known:
        abort_no_statistics(user_id, period)
    head = {"user_id": user_id, "statistic": statistic, "period": period}
    if paging:
        head.update(**vars(paging), pages=paging.pages(found.rows_total), rows_total=found.rows_total)
    return json_response(json.dumps(head)[:-1] + ', "rows": ' + found.rows_json + "}")


@api.get("/compare/<a>/<b>")
def comparison(a: str, b: str):
    """Two users who allow comparison, compared in a period (docs/metrics.md, statistic 17)."""
    period, found = compared(a, b)
    return json_response(json.dumps({"period": period, "periods": found.periods, "users": found.users,
                                     "comparison": found.comparison}))


@api.get("/leaderboard")
def leaderboard_rows():
    """The leaderboard of a period (docs/metrics.md, "Comparing users")."""
    period, sort, found = leaderboard()
    return json_response(json.dumps({"period": period, "sort": sort, "periods": found.periods, "rows": found.rows}))
