"""Connections to the three databases."""

from __future__ import annotations

from typing import Literal

import psycopg

from warehouse.settings import Settings, get_settings

Database = Literal["source", "main", "replica"]
DATABASES: tuple[Database, ...] = ("source", "main", "replica")


def database_url(database: Database, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return getattr(settings, f"{database}_database_url")


def connect(database: Database, settings: Settings | None = None, **kwargs) -> psycopg.Connection:
    """A new connection to `database` (autocommit off: one transaction until commit)."""
    return psycopg.connect(database_url(database, settings), **kwargs)
