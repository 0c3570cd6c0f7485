"""The applier fed by Kafka instead of the embedded engine (larger deployments).

Kafka Connect runs Debezium's PostgreSQL source connector with
`kafka_connect/postgres-source.json` (the same capture as the embedded engine);
this consumer reads its topics and applies them with the same `Applier`. Kafka
offsets are committed by hand, only after the batch is committed in the replica:
a crash re-delivers, the idempotent apply absorbs it.

Each table is its own topic, so order holds per table only (keep one partition
per topic: TRUNCATE events have no key), and the connector sends no transaction
metadata: each poll is one replica transaction, so unlike the embedded engine
a main transaction spanning polls or topics can be seen half-applied. A
snapshot's first record does not replace the replica's content here either:
start from an empty replica (`python -m cdc_connectors reset` does not apply to Kafka).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterable

from cdc_connectors.apply import Applier, Change, StopRequested, decode_change
from cdc_connectors.capture import TOPIC_PREFIX
from warehouse.settings import Settings

log = logging.getLogger(__name__)
TOPICS = f"^{re.escape(TOPIC_PREFIX)}\\..*"  # <prefix>.<schema>.<table>; not __debezium-heartbeat.*
GROUP_ID = "wrapped-replica"


def changes_from_messages(messages: Iterable) -> list[Change]:
    """Kafka records (value and key as bytes, JSON without schemas) as Changes, in the given order."""
    changes = []
    for message in messages:
        if message.value is None:  # tombstone
            continue
        change = decode_change(message.value, message.key)
        if change is not None:
            changes.append(change)
    return changes


def consume(settings: Settings, stop: threading.Event | None = None) -> int:
    from kafka import KafkaConsumer

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=GROUP_ID, enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_records=8192, metadata_max_age_ms=10_000,
    )
    consumer.subscribe(pattern=TOPICS)
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name, restart_on_snapshot=False)
    try:
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=500)
            messages = [m for partition in sorted(polled, key=str) for m in polled[partition]]
            changes = changes_from_messages(messages)
            if changes:
                applier.apply_with_retry(changes, stop)
            if messages:
                consumer.commit()
    except StopRequested:
        pass
    finally:
        consumer.close()
        applier.close()
    return 0
