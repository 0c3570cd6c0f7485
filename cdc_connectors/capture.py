"""What is replicated from main, and the Debezium configuration capturing it.

One list of table patterns drives everything: Debezium's `table.include.list`
(the publication is created `filtered` from it), the Kafka Connect
configuration, and which replica tables a fresh snapshot replaces.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from warehouse.settings import Settings

TOPIC_PREFIX = "wrapped"
# Debezium regular expressions, matched against `schema.table` as a whole.
# `fact_play`, `etl.*` and `analytics_staging.*` (the Spark job's staging) stay in main.
REPLICATED_TABLES = (
    r"public\.dim_user",
    r"public\.dim_track",
    r"public\.dim_album",
    r"public\.dim_artist",
    r"analytics\..*",
    r"public\.dashboard_share_links",
)
# Written by Debezium's heartbeat action in main, captured but never applied:
# its events carry main's WAL position when main is idle, so `wait` converges
# and the slot's WAL does not grow.
HEARTBEAT_TABLE = "cdc.heartbeat"
HEARTBEAT_DDL = """
CREATE SCHEMA IF NOT EXISTS cdc;
CREATE TABLE IF NOT EXISTS cdc.heartbeat (id integer PRIMARY KEY, beat_at timestamptz NOT NULL);
"""
HEARTBEAT_QUERY = (
    "INSERT INTO cdc.heartbeat (id, beat_at) VALUES (1, now()) "
    "ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at"
)
_REPLICATED = [re.compile(pattern) for pattern in REPLICATED_TABLES]


@lru_cache(maxsize=4096)
def is_replicated(qualified_name: str) -> bool:
    """True if `schema.table` is one of the tables copied into the replica."""
    return any(pattern.fullmatch(qualified_name) for pattern in _REPLICATED)


def include_list() -> str:
    return ",".join((*REPLICATED_TABLES, re.escape(HEARTBEAT_TABLE)))


def capture_properties(settings: Settings) -> dict[str, str]:
    """Debezium PostgreSQL connector properties shared by the embedded engine and Kafka Connect."""
    main = urlsplit(settings.main_database_url)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": main.hostname or "127.0.0.1",
        "database.port": str(main.port or 5432),
        "database.user": unquote(main.username or "postgres"),
        "database.password": unquote(main.password or ""),
        "database.dbname": main.path.lstrip("/"),
        "topic.prefix": TOPIC_PREFIX,
        "plugin.name": "pgoutput",
        "slot.name": settings.debezium_slot_name,
        "publication.name": settings.debezium_publication_name,
        "publication.autocreate.mode": "filtered",
        "table.include.list": include_list(),
        "snapshot.mode": "initial",
        "skipped.operations": "none",  # the default "t" drops TRUNCATE silently
        "tombstones.on.delete": "false",
        "decimal.handling.mode": "string",
        "time.precision.mode": "isostring",
        "interval.handling.mode": "string",
        "binary.handling.mode": "hex",
        "heartbeat.interval.ms": str(settings.debezium_heartbeat_ms),
        "heartbeat.action.query": HEARTBEAT_QUERY,
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
    }


def debezium_dir(settings: Settings) -> Path:
    return Path(settings.runtime_dir) / "debezium"


def offsets_file(settings: Settings) -> Path:
    return debezium_dir(settings) / "offsets.dat"


def log_dir(settings: Settings) -> Path:
    return Path(settings.runtime_dir) / "logs"


def engine_properties(settings: Settings) -> dict[str, str]:
    """Properties of the embedded engine: the capture plus offsets and batching."""
    return {
        **capture_properties(settings),
        "name": "wrapped-replica",
        "converter.schemas.enable": "false",
        "offset.storage": "org.apache.kafka.connect.storage.FileOffsetBackingStore",
        "offset.storage.file.filename": str(offsets_file(settings)),
        # BEGIN/END records around each main transaction: the replica commits whole ones.
        "provide.transaction.metadata": "true",
        # Offsets (and the slot's confirmed LSN) follow committed transactions within a second.
        "offset.flush.interval.ms": "1000",
        "poll.interval.ms": "50",
        "max.batch.size": "8192",
        "max.queue.size": "24576",
        "snapshot.fetch.size": "10240",
    }
