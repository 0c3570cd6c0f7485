"""The dashboard's HTML pages: start page, user list, a user's overview, Wrapped and rankings, entity pages,
playlists and search, comparisons of two users and the leaderboard, plotly.js, health."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import plotly
from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from markupsafe import Markup

from dashboard.access import NOT_FOUND, current_viewer, visible_user
from dashboard.compare import compare_partners, compared, leaderboard
from dashboard.entities import KINDS, found_entity, found_playlist, found_search, search_query
from dashboard.paging import requested_paging
from dashboard.periods import checked_period, days_label, group_periods
from dashboard.queries import LEADERBOARD_SORTS, User, current_replica
from warehouse.catalog import BY_NAME, PAGE_SIZE, ROLLING_PERIODS

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

pages = Blueprint("pages", __name__)
ENTITY_ID = "ENTITY_ID"


def script_json(text: str) -> Markup:
    """JSON text made safe inside <script type="application/json">."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def page_context(user: User) -> dict:
    """What every page of one user shows around its panels."""
    replica = current_replica()
    return {"user": user, "users": json.loads(replica.users_json()) if current_viewer().admin else [],
            "viewer": current_viewer(), "replication": replica.replication(),
            "timezone": user.timezone or current_app.config["DEFAULT_TIMEZONE"],
            # for the scripts' links: each entity page's URL with the item's id as ENTITY_ID
            "entity_urls": {**{kinds: url_for("pages.entity", user_id=user.user_id, kinds=kinds, item_id=ENTITY_ID)
                               for kinds in KINDS},
                            "playlists": url_for("pages.playlist", user_id=user.user_id, playlist_id=ENTITY_ID)}}


@pages.get("/")
def home():
    if not current_replica().has_data():
        return render_template("empty.html")
    if current_viewer().admin:
        return redirect(url_for("pages.user_list"))
    if current_viewer().user_ids:  # the user of the newest share link
        return redirect(url_for("pages.overview", user_id=current_viewer().user_ids[0]))
    return render_template("landing.html")


@pages.get("/users")
def user_list():
    if not current_viewer().admin:
        abort(404, NOT_FOUND)
    if request.args.get("user"):  # the user picker without JavaScript
        return redirect(url_for("pages.overview", user_id=request.args["user"]))
    replica = current_replica()
    return render_template("users.html", users=json.loads(replica.users_json()), has_data=replica.has_data())


@pages.get("/users/<user_id>")
def overview(user_id: str):
    user = visible_user(user_id)
    if not user.periods:
        return render_template("empty.html", **page_context(user))
    period = checked_period(user, request.args.get("period", "all"))
    return render_template("overview.html", period=period, periods=group_periods(user.periods),
                           data=script_json(current_replica().page(user_id, period)),
                           partners=compare_partners(user_id, period), **page_context(user))


@pages.get("/users/<user_id>/wrapped")
@pages.get("/users/<user_id>/wrapped/<year>")
def wrapped(user_id: str, year: str | None = None):
    user = visible_user(user_id)
    if not user.years:
        return render_template("empty.html", **page_context(user))
    if year is None:  # the year picker without JavaScript sends ?year=
        return redirect(url_for("pages.wrapped", user_id=user_id, year=request.args.get("year", user.years[0])))
    if len(year) != 4:
        abort(404, f"bad year {year!r}: give a year 'YYYY'")
    checked_period(user, year)
    return render_template("wrapped.html", period=year, years=user.years,
                           data=script_json(current_replica().page(user_id, year)), **page_context(user))


RANKINGS = {"tracks": "track_ranking", "artists": "artist_ranking", "albums": "album_ranking"}


@pages.get("/users/<user_id>/<any(tracks, artists, albums):kind>")
def ranking(user_id: str, kind: str):
    """A whole ranking (docs/metrics.md, statistic 16), a page at a time, by streams or by listening time."""
    user = visible_user(user_id)
    if not user.periods:
        return render_template("empty.html", **page_context(user))
    period = checked_period(user, request.args.get("period", "all"))
    statistic = RANKINGS[kind]
    paging = requested_paging(statistic)
    found = current_replica().ranking(user_id, statistic, period, paging)
    return render_template("ranking.html", kind=kind, statistic=statistic, period=period, paging=paging,
                           ranking=found, pages=paging.pages(found.rows_total), sorts=BY_NAME[statistic].sorts,
                           periods=group_periods(user.periods), page_size=PAGE_SIZE, **page_context(user))


@pages.get("/users/<user_id>/<any(artists, albums, tracks):kinds>/<item_id>")
def entity(user_id: str, kinds: str, item_id: str):
    """An artist, album or track of the user: the period's numbers and its whole history by month."""
    user = visible_user(user_id)
    if not user.periods:
        return render_template("empty.html", **page_context(user))
    period = checked_period(user, request.args.get("period", "all"))
    found = json.loads(found_entity(user_id, kinds, item_id, period))
    return render_template(f"{KINDS[kinds]}.html", kind=KINDS[kinds], kinds=kinds, item_id=item_id, period=period,
                           periods=group_periods(user.periods), found=found, **page_context(user))


@pages.get("/users/<user_id>/playlists")
def playlists(user_id: str):
    """The playlists the user follows with their playlist_completion row of the period (docs/metrics.md,
    statistic 20) by its rank, then those not streamed in the period."""
    user = visible_user(user_id)
    if not user.periods:
        return render_template("empty.html", **page_context(user))
    period = checked_period(user, request.args.get("period", "all"))
    return render_template("playlists.html", period=period, periods=group_periods(user.periods),
                           playlists=json.loads(current_replica().playlists(user_id, period)), **page_context(user))


@pages.get("/users/<user_id>/playlists/<playlist_id>")
def playlist(user_id: str, playlist_id: str):
    """A playlist the user follows: how much of it they heard in the period, the streams started from it, and its
    tracks in order, each heard or not."""
    user = visible_user(user_id)
    if not user.periods:
        return render_template("empty.html", **page_context(user))
    period = checked_period(user, request.args.get("period", "all"))
    found = json.loads(found_playlist(user_id, playlist_id, period))
    return render_template("playlist.html", kind="playlist", kinds="playlists", item_id=playlist_id, period=period,
                           periods=group_periods(user.periods), found=found, **page_context(user))


@pages.get("/users/<user_id>/search")
def search(user_id: str):
    """The user's artists, albums and tracks whose names match `q`."""
    user = visible_user(user_id)
    query = search_query()
    found = json.loads(found_search(user_id, query)) if query else None
    return render_template("search.html", query=query, found=found, **page_context(user))


@pages.get("/compare/<a>/<b>")
def compare(a: str, b: str):
    """Two users who allow comparison, compared in a period: taste overlap, shared artists and tracks."""
    period, found = compared(a, b)
    return render_template("compare.html", period=period, periods=group_periods(found.periods), users=found.users,
                           comparison=found.comparison, rolling=period in ROLLING_PERIODS)


@pages.get("/leaderboard")
def leaderboard_page():
    """The users who allow comparison, in one order; each row links to what the viewer may open of it: the
    user's pages, and a comparison with the user picked in `?with=` (by default the newest share link's
    user, or for the admin the first on the board)."""
    period, sort, found = leaderboard()
    viewer = current_viewer()
    visible = [row["user_id"] for row in found.rows if viewer.may_see(row["user_id"])]
    default = visible[0] if viewer.admin and visible else next((u for u in viewer.user_ids if u in visible), None)
    chosen = request.args.get("with")
    return render_template("leaderboard.html", period=period, sort=sort, sorts=LEADERBOARD_SORTS,
                           periods=group_periods(found.periods), rows=found.rows, visible=visible,
                           compare_with=chosen if chosen in visible else default, rolling=period in ROLLING_PERIODS)


@pages.app_template_global("spanned")
def spanned(first_day: str, last_day: str) -> str:
    """The local dates a period spans as a user's overview row gives them (ISO dates): '7 Nov – 4 Dec 2026'."""
    return days_label(date.fromisoformat(first_day), date.fromisoformat(last_day))


@pages.app_template_filter("local_day")
def local_day(value: str, zone: str) -> str:
    """A timestamp as the replica's JSON gives it (ISO 8601, UTC) as the local date of the user's time zone."""
    return datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")


@pages.get("/vendor/plotly.min.js")
def plotly_js():
    return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400, conditional=True)


@pages.get("/healthz")
def healthz():
    return {"status": "ok", "replica_has_data": current_replica().has_data()}
