"""The security headers of every answer: a strict CSP, no referrer, no sniffing, and no caching of pages."""

from __future__ import annotations

from flask import Blueprint, Response, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' https: data:; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
CACHEABLE = ("static", "pages.plotly_js")  # the same for every viewer

security_headers = Blueprint("security_headers", __name__)


@security_headers.after_app_request
def add_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint not in CACHEABLE:
        response.headers["Cache-Control"] = "private, no-store"
    return response
