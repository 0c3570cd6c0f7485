"""Replication tests: the replicator runs as a real process (`python -m cdc_connectors run`)
with real Debezium against the test session's main and replica clusters."""

from __future__ import annotations

import pytest

from cdc_connectors.replicator import drop_slot
from warehouse.settings import Settings, load_settings

from .helpers import Replicator


@pytest.fixture
def cdc(dbs, tmp_path, monkeypatch) -> Settings:
    """The test databases plus a private runtime folder (offsets, logs) and faster heartbeats."""
    monkeypatch.setenv("RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("DEBEZIUM_HEARTBEAT_MS", "500")
    settings = load_settings()
    yield settings
    drop_slot(settings, wait_s=30)  # frees main's database for the next test's DROP DATABASE


@pytest.fixture
def replicator(cdc, tmp_path):
    process = Replicator(cdc, tmp_path / "replicator.log")
    yield process
    process.stop()

