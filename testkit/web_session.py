"""A Flask test client logged in as the app would log it in (warehouse.web.start_session)."""

from __future__ import annotations

from flask.testing import FlaskClient

from warehouse.web import CSRF_FIELD, start_session


def log_in_client(client: FlaskClient, **values) -> dict:
    """Start a session holding `values` (e.g. user_id=..., version=0); returns the form field its POSTs need."""
    with client.session_transaction() as session:
        start_session(session, **values)
        return {CSRF_FIELD: session[CSRF_FIELD]}
