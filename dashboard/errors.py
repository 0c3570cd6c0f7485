"""Errors as the asker reads them: JSON under /api, an HTML page elsewhere; a replica that is down is a 503."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from dashboard.queries import ReplicaUnavailable

REPLICA_DOWN = "the replica database does not answer; try again in a moment"

errors = Blueprint("errors", __name__)


def is_api() -> bool:  # by path: an unknown /api/... URL has no endpoint
    return request.path == "/api" or request.path.startswith("/api/")


def error_answer(code: int, title: str, message: str):
    if is_api():
        return {"error": title.lower(), "message": message, "status": code}, code
    return render_template("error.html", code=code, title=title, message=message), code


@errors.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    return error_answer(error.code, error.name, error.description)


@errors.app_errorhandler(ReplicaUnavailable)
def replica_down(error: ReplicaUnavailable):
    current_app.logger.error("%s", error)
    return error_answer(503, "Service unavailable", REPLICA_DOWN)
