"""Errors as the asker reads them: JSON under /api, an HTML page elsewhere; a replica that is down is a 503.

An unexpected error is logged with its detail and answered with a generic 500.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from dashboard.queries import ReplicaUnavailable

REPLICA_DOWN = "the replica database does not answer; try again in a moment"
FAILED = "the dashboard could not answer this request; the error is in its log"

errors = Blueprint("errors", __name__)


def is_api() -> bool:  # by path: an unknown /api/... URL has no endpoint
    return request.path == "/api" or request.path.startswith("/api/")


def error_answer(code: int, title: str, message: str, headers: dict | None = None):
    if is_api():
        return {"error": title.lower(), "message": message, "status": code}, code, headers or {}
    return render_template("error.html", code=code, title=title, message=message), code, headers or {}


@errors.app_errorhandler(HTTPException)
def http_error(error: HTTPException):  # keeps the error's headers (Retry-After, Allow, ...)
    headers = {name: value for name, value in error.get_headers() if name != "Content-Type"}
    return error_answer(error.code, error.name, error.description, headers)


@errors.app_errorhandler(ReplicaUnavailable)
def replica_down(error: ReplicaUnavailable):
    current_app.logger.error("%s", error)
    return error_answer(503, "Service unavailable", REPLICA_DOWN)


@errors.app_errorhandler(Exception)
def unexpected(error: Exception):
    current_app.logger.exception("unhandled error on %s", request.path)
    return error_answer(500, "Internal Server Error", FAILED)
