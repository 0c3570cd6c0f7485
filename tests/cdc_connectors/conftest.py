"""Replication tests: the replicator runs as a real process (`python -m cdc_connectors run`)
with real Debezium against the test session's main and replica clusters."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from cdc_connectors.replicator import drop_slot
from warehouse.settings import Settings, load_settings

from .helpers import Replicator


@pytest.fixture
def cdc(dbs, monkeypatch) -> Settings:
    """The test databases plus a private runtime folder (offsets, logs) and faster heartbeats. The folder is
    short, directly in the temporary directory: supervisord's socket in it must fit an AF_UNIX path, also under
    a test worker's longer tmp_path."""
    runtime = tempfile.mkdtemp(prefix="wrapped-cdc-")
    monkeypatch.setenv("RUNTIME_DIR", runtime)
    monkeypatch.setenv("DEBEZIUM_HEARTBEAT_MS", "500")
    settings = load_settings()
    yield settings
    drop_slot(settings, wait_s=30)  # frees main's database for the next test's DROP DATABASE
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def replicator(cdc, tmp_path):
    process = Replicator(cdc, tmp_path / "replicator.log")
    yield process
    process.stop()

