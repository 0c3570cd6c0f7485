"""Register Debezium's PostgreSQL source connector with Kafka Connect (Docker deployment).

Reads cdc_connectors/kafka_connect/postgres-source.json, points it at main as
MAIN_DATABASE_URL says with Debezium's replication role (DEBEZIUM_DATABASE_USER),
writes that role's password where the connector's
`${file:...}` reference reads it (a volume shared with Kafka Connect, never in
the connector config), then PUTs the config (idempotent: a re-run updates it).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from warehouse.settings import PROJECT_ROOT, get_settings

CONNECTOR = PROJECT_ROOT / "cdc_connectors" / "kafka_connect" / "postgres-source.json"
CONNECT_URL = os.environ.get("KAFKA_CONNECT_URL", "http://connect:8083")
SECRETS_DIR = Path(os.environ.get("CONNECT_SECRETS_DIR", "/secrets"))


def main() -> int:
    settings = get_settings()
    spec = json.loads(CONNECTOR.read_text())
    config = spec["config"]
    main_db = urlsplit(settings.main_database_url)
    (SECRETS_DIR / "main.properties").write_text(f"password={settings.require_secret('debezium_database_password')}\n")
    config.update({
        "database.hostname": main_db.hostname, "database.port": str(main_db.port or 5432),
        "database.user": settings.debezium_database_user, "database.dbname": main_db.path.lstrip("/"),
        "slot.name": settings.debezium_slot_name, "publication.name": settings.debezium_publication_name,
        "heartbeat.interval.ms": str(settings.debezium_heartbeat_ms),
    })
    deadline = time.monotonic() + 300
    while True:
        try:
            answer = requests.put(f"{CONNECT_URL}/connectors/{spec['name']}/config", json=config, timeout=10)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                print(f"error: Kafka Connect at {CONNECT_URL} did not answer in 300 s", file=sys.stderr)
                return 1
            time.sleep(2)
    if answer.status_code not in (200, 201):
        print(f"error: Kafka Connect refused connector {spec['name']}: {answer.status_code} {answer.text}",
              file=sys.stderr)
        return 1
    print(f"connector {spec['name']} registered at {CONNECT_URL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
