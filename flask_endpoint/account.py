"""The account page of the logged-in user: `/account` (connection, last ingestion, settings — comparison consent
among them —, what counts: exclusion rules and deleting plays, share links),
`POST /account/settings`, `POST /account/share-links` and `POST /account/share-links/<id>/revoke`,
`POST /account/exclusions`, `POST /account/exclusions/<id>/remove`, `POST /account/plays/delete`
(`/account?day=YYYY-MM-DD` lists that local day's plays to pick from), `POST /account/playlists` and
`POST /account/playlists/<id>/remove` (playlists, ingestion/playlists.py: fetched by the user's next poll),
`POST /account/recording-rules` and `POST /account/recording-rules/<id>/remove` (one song across editions,
ingestion/editions.py), and
`/account/export?format=csv|json|parquet` (the takeout zip of ingestion/takeout.py).

Without a login the page sends the browser to `/`; the forms answer 401 (403 without
their `csrf_token`, see warehouse.web). A share link may be made to expire after a number of days.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, session, url_for

from flask_endpoint.users import find_user, latest_run, play_count, save_settings
from ingestion.deletions import delete_plays, list_deletions, plays_of_day
from ingestion.editions import add_recording_rule, list_recording_rules, remove_recording_rule
from ingestion.exclusions import RuleError, add_rule, list_rules, remove_rule
from ingestion.playlists import PlaylistError, add_playlist, list_playlists, remove_playlist
from ingestion.takeout import FORMATS, export_user
from warehouse import share_links
from warehouse.db import connect
from warehouse.settings import validate_timezone

bp = Blueprint("account", __name__)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EXPIRY_DAYS = 3650


def _logged_in_user_id() -> str:
    if "user_id" not in session:
        abort(401)
    return session["user_id"]


@bp.get("/account")
def page():
    if "user_id" not in session:
        return redirect(url_for("login.index"))
    settings = current_app.config["SETTINGS"]
    with connect("source", settings) as conn:
        user = find_user(conn, session["user_id"])
        if user is None:
            session.clear()
            return redirect(url_for("login.index"))
        last_run, total = latest_run(conn, user.user_id), play_count(conn, user.user_id)
        rules, deletions = list_rules(conn, user.user_id), list_deletions(conn, user.user_id)
        playlists, recording_rules = list_playlists(conn, user.user_id), list_recording_rules(conn, user.user_id)
        day, day_plays = request.args.get("day", "").strip(), None
        if day:
            try:
                day_plays = plays_of_day(conn, user.user_id, day, settings.default_timezone)
            except RuleError as exc:
                return _not_saved(f"Day: {exc}.")
    return render_template("account.html", user=user, last_run=last_run, total=total,
                           rules=rules, deletions=deletions, day=day, day_plays=day_plays, playlists=playlists,
                           recording_rules=recording_rules,
                           links=share_links.list_share_links(settings, user.user_id),
                           new_link=session.pop("new_share_token", None),
                           default_timezone=settings.default_timezone)


def _not_saved(text: str):
    return render_template("message.html", title="Not saved", text=text), 400


@bp.post("/account/settings")
def settings_form():
    user_id = _logged_in_user_id()
    timezone = request.form.get("timezone", "").strip()
    email = request.form.get("email", "").strip()
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        return _not_saved(f"Time zone {exc}.")
    if email and not EMAIL.match(email):
        return _not_saved(f"E-mail {email!r} is not an e-mail address.")
    with connect("source", current_app.config["SETTINGS"]) as conn:
        save_settings(conn, user_id, timezone, email or None, recap_opt_out="recap" not in request.form,
                      compare_consent="compare" in request.form)
    return redirect(url_for("account.page"))


@bp.post("/account/share-links")
def create_link():
    user_id = _logged_in_user_id()
    days = request.form.get("expires_days", "").strip()
    if days and not (days.isascii() and days.isdigit() and 1 <= int(days) <= MAX_EXPIRY_DAYS):
        return _not_saved(f"Expiry {days!r} is not a number of days from 1 to {MAX_EXPIRY_DAYS}.")
    session["new_share_token"] = share_links.create_share_link(current_app.config["SETTINGS"], user_id,
                                                               int(days) if days else None)
    return redirect(url_for("account.page"))


@bp.post("/account/share-links/<link_id>/revoke")
def revoke_link(link_id: str):
    settings = current_app.config["SETTINGS"]
    mine = {link.id: link for link in share_links.list_share_links(settings, _logged_in_user_id())}
    if link_id not in mine:
        abort(404, "no such share link of yours")
    share_links.revoke_share_link(settings, mine[link_id].token_hash)
    return redirect(url_for("account.page"))


def _own_change(change, refused: type[Exception], not_done: str):
    """Run `change(conn, user_id)` for the logged-in user in one source transaction; a `refused` error answers
    400 with `not_done` and the reason."""
    user_id = _logged_in_user_id()
    try:
        with connect("source", current_app.config["SETTINGS"]) as conn:
            change(conn, user_id)
    except refused as exc:
        return _not_saved(f"{not_done}: {exc}.")
    return redirect(url_for("account.page"))


def _remove_own(remove, key, what: str):
    """Remove the logged-in user's `key` with `remove(conn, user_id, key)`; 404 when it is not theirs."""
    user_id = _logged_in_user_id()
    with connect("source", current_app.config["SETTINGS"]) as conn:
        if not remove(conn, user_id, key):
            abort(404, f"no such {what} of yours")
    return redirect(url_for("account.page"))


@bp.post("/account/exclusions")
def add_exclusion():
    form = request.form
    return _own_change(lambda conn, user_id: add_rule(
        conn, user_id, form.get("kind", ""), user_id, target=form.get("target"), local_from=form.get("from"),
        local_to=form.get("to") or form.get("from")), RuleError, "Rule not added")


@bp.post("/account/exclusions/<int:rule_id>/remove")
def remove_exclusion(rule_id: int):
    return _remove_own(remove_rule, rule_id, "rule")


@bp.post("/account/recording-rules")
def add_recording_rule_form():
    form = request.form
    return _own_change(lambda conn, user_id: add_recording_rule(
        conn, user_id, form.get("kind", ""), form.get("track", ""), user_id, form.get("into", "").strip() or None),
        RuleError, "Rule not added")


@bp.post("/account/recording-rules/<int:rule_id>/remove")
def remove_recording_rule_form(rule_id: int):
    return _remove_own(remove_recording_rule, rule_id, "rule")


@bp.post("/account/playlists")
def add_playlist_form():
    return _own_change(lambda conn, user_id: add_playlist(conn, user_id, request.form.get("playlist", "")),
                       PlaylistError, "Playlist not added")


@bp.post("/account/playlists/<playlist_id>/remove")
def remove_playlist_form(playlist_id: str):
    return _remove_own(remove_playlist, playlist_id, "playlist")


@bp.post("/account/plays/delete")
def delete_plays_form():
    user_id = _logged_in_user_id()
    form = request.form
    if form.get("confirm") != "yes":
        return _not_saved("Nothing deleted: tick the box that confirms the deletion.")
    ids = form.getlist("play_id")
    if ids and not all(i.isascii() and i.isdigit() and len(i) < 19 for i in ids):
        return _not_saved("Nothing deleted: a play id is not a number.")
    settings = current_app.config["SETTINGS"]
    try:
        with connect("source", settings) as conn:
            delete_plays(conn, user_id, user_id, settings.default_timezone,
                         play_ids=[int(i) for i in ids] if ids else None,
                         local_from=None if ids else form.get("from", ""),
                         local_to=None if ids else (form.get("to") or form.get("from", "")))
    except RuleError as exc:
        return _not_saved(f"Nothing deleted: {exc}.")
    return redirect(url_for("account.page"))


@bp.get("/account/export")
def export():
    """The logged-in user's takeout zip, written to a private temporary folder and sent from there."""
    user_id = _logged_in_user_id()
    fmt = request.args.get("format", "")
    if fmt not in FORMATS:
        abort(400, f"format must be one of {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="takeout-") as folder:
        path = Path(folder) / "takeout.zip"
        export_user(user_id, fmt, path, current_app.config["SETTINGS"])
        stream = path.open("rb")  # still readable once the folder is gone
    return send_file(stream, mimetype="application/zip", as_attachment=True,
                     download_name=f"wrapped-{user_id}-{fmt}.zip")
