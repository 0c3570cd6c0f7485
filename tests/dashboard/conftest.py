"""Fixtures of the dashboard tests: the read-only role, a filled replica, a running server."""

from __future__ import annotations

import pytest

from testkit.replica_rows import fill_replica
from tests.dashboard.dashboard_helpers import ADMIN_PASSWORD, RunningServer
from tests.dashboard.playlist_rows import fill_playlists


@pytest.fixture
def reader(dbs):
    """Settings whose REPLICA_READER_URL works: the read-only role exists with its grants."""
    return dbs.model_copy(update={"dashboard_admin_password": ADMIN_PASSWORD})


@pytest.fixture
def filled(reader):
    fill_replica(reader)
    fill_playlists(reader)  # the playlists and playlist_completion (docs/metrics.md, 20), which the testkit lacks
    return reader


@pytest.fixture
def server(filled):
    with RunningServer(filled) as running:
        yield running


@pytest.fixture
def empty_server(reader):
    with RunningServer(reader) as running:
        yield running
