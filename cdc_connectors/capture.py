"""What is replicated from main, and the Debezium configuration capturing it.

One list of table patterns drives everything: Debezium's `table.include.list`
(the publication main's owner keeps of them), the Kafka Connect
configuration, and which replica tables a fresh snapshot replaces.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from warehouse.roles import HEARTBEAT_TABLE, REPLICATED_TABLES
from warehouse.settings import Settings

TOPIC_PREFIX = "wrapped"
# The replicated tables (Debezium regular expressions on `schema.table`) and the heartbeat are
# the ground's (warehouse/roles.py), which also creates main's publication of them.
# `fact_play`, `etl.*` and `analytics_staging.*` (the Spark job's staging) stay in main.
HEARTBEAT_QUERY = (
    "INSERT INTO cdc.heartbeat (id, beat_at) VALUES (1, now()) "
    "ON CONFLICT (id) DO UPDATE SET beat_at = EXCLUDED.beat_at"
)


def include_list() -> str:
    return ",".join((*REPLICATED_TABLES, re.escape(HEARTBEAT_TABLE)))


def capture_properties(settings: Settings) -> dict[str, str]:
    """Debezium PostgreSQL connector properties shared by the embedded engine and Kafka Connect."""
    main = urlsplit(settings.main_database_url)
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "database.hostname": main.hostname or "127.0.0.1",
        "database.port": str(main.port or 5432),
        "database.user": settings.debezium_database_user,
        "database.password": settings.require_secret("debezium_database_password"),
        "database.dbname": main.path.lstrip("/"),
        "topic.prefix": TOPIC_PREFIX,
        "plugin.name": "pgoutput",
        "slot.name": settings.debezium_slot_name,
        "publication.name": settings.debezium_publication_name,
        "publication.autocreate.mode": "disabled",  # the owner's (warehouse.roles.grant)
        "table.include.list": include_list(),
        "snapshot.mode": "initial",
        "skipped.operations": "none",  # the default "t" drops TRUNCATE silently
        # BEGIN/END records around each main transaction (the transaction topic): the replica
        # commits whole ones.
        "provide.transaction.metadata": "true",
        "tombstones.on.delete": "false",
        "decimal.handling.mode": "string",
        "time.precision.mode": "isostring",
        "interval.handling.mode": "string",
        "binary.handling.mode": "hex",
        "heartbeat.interval.ms": str(settings.debezium_heartbeat_ms),
        "poll.interval.ms": "50",  # an idle connector looks for changes again after 50 ms (default 500)
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
        # Offsets (and the slot's confirmed LSN) follow committed transactions within a second.
        "offset.flush.interval.ms": "1000",
        # Small batches keep few records alive in the JVM (young collections stay cheap, none reaches
        # the old generation); larger ones cost more in garbage collection than they save per batch.
        "max.batch.size": "2048",
        "max.queue.size": "4096",
        "snapshot.fetch.size": "2048",
    }
