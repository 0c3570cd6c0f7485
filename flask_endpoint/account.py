"""The account page of the logged-in user: `/account` (connection, last ingestion, settings — comparison consent
among them —, share links),
`POST /account/settings`, `POST /account/share-links` and `POST /account/share-links/<id>/revoke`.

Without a login the page sends the browser to `/`; the forms answer 401 (403 without
their `csrf_token`, see warehouse.web). A share link may be made to expire after a number of days.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from flask_endpoint.users import find_user, latest_run, play_count, save_settings
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
    return render_template("account.html", user=user, last_run=last_run, total=total,
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
