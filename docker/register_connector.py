"""Register Debezium's PostgreSQL source connector with Kafka Connect (Docker deployment).

The same registration as CDC_TRANSPORT=kafka on one machine (cdc_connectors.connect_worker.register):
cdc_connectors/kafka_connect/postgres-source.json pointed at main as MAIN_DATABASE_URL says, with
Debezium's replication role (DEBEZIUM_DATABASE_USER), whose password is written where the connector's
`${file:...}` reference reads it (a volume shared with Kafka Connect, never in the connector config),
then PUT over Connect's REST API (idempotent: a re-run updates it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cdc_connectors.connect_worker import ConnectError, register
from warehouse.settings import get_settings

CONNECT_URL = os.environ.get("KAFKA_CONNECT_URL", "http://connect:8083")
SECRETS_DIR = Path(os.environ.get("CONNECT_SECRETS_DIR", "/secrets"))  # here
CONNECT_SECRETS_DIR = Path("/etc/kafka-connect/secrets")  # the same volume, as the connect service mounts it


def main() -> int:
    try:
        # Readable by Kafka Connect's own user in its container: the volume is shared by these two only.
        print(register(get_settings(), CONNECT_URL, SECRETS_DIR, CONNECT_SECRETS_DIR, secret_mode=0o644))
    except ConnectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
