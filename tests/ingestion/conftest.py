"""Helpers of the export-import tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from warehouse.db import connect

REAL_EXPORT = FIXTURES / "Streaming_History_Audio_2023.json"


def source_checksums(settings) -> dict[str, str]:
    """md5 of every source table's full content (ids, timestamps and all)."""
    with connect("source", settings) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {
            table: conn.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                f"FROM {table} t").fetchone()[0]
            for table in tables
        }


def count(settings, sql: str, *params):
    with connect("source", settings) as conn:
        return conn.execute(sql, params).fetchone()[0]


@pytest.fixture
def user(fake_spotify, connect_user) -> str:
    """The fake Spotify's first listener, connected (their tokens in source)."""
    user_id = fake_spotify.fake.listening.users[0].user_id
    connect_user(user_id)
    return user_id


class Sleeps(list):
    """A `sleep` that records what it was asked to wait instead of waiting."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def real_records() -> list[dict]:
    return json.loads(REAL_EXPORT.read_text())


def write_json(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1))
    return path
