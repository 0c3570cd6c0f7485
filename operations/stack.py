"""The whole stack on one machine: `make up`, `make down`, `make status`, `make logs`, `make clean`.

One table of components, in dependency order. Each entry says how the component
starts and stops (the same functions its `make <component>` target runs), how to
tell that it is healthy, where it answers, and which supervisor programs are its
own (operations.supervisor). The Postgres clusters stay on `pg_ctl`
(operations.postgres): PostgreSQL is its own supervisor (its postmaster restarts
crashed backends), `pg_ctl` waits for a clean shutdown, and the clusters must
outlive supervisord so that `make down` stops the programs that write to them first.

`up` starts the components in order and waits for each to be healthy; the first
that fails stops `up` with an error naming it (what already runs is left
running: fix the cause and run `make up` again). `down` stops the programs in
reverse order through supervisord, then supervisord, then the clusters.
"""

from __future__ import annotations

import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from operations import airflow_service, spark_cluster, supervisor
from operations.postgres import LOCAL_HOSTS
from operations.supervisor import Program, SupervisorError
from warehouse.migrate import migrate_and_grant
from warehouse.settings import Settings

HEALTHY_TIMEOUT_S = 180
DASHBOARD_START_TIMEOUT_S = 30


class StackError(RuntimeError):
    """A component did not start or did not become healthy; the message names it."""


def _answers(url: str) -> bool:
    """Whether `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


# -- postgres ---------------------------------------------------------------
def _local_clusters(settings: Settings):
    from operations.postgres import project_clusters

    return [c for c in project_clusters(settings) if c.host in LOCAL_HOSTS]


def postgres(settings: Settings, action: str) -> str:
    """Start, stop or show this project's local clusters; one line per cluster."""
    from operations.postgres import private_dir, project_clusters

    if action == "start":
        private_dir(Path(settings.runtime_dir))
    lines = []
    for cluster in project_clusters(settings):
        if cluster.host not in LOCAL_HOSTS:
            lines.append(f"{cluster.name:8} {cluster.setting_name} points to {cluster.host}: "
                         "not a local cluster of this project, left alone")
            continue
        if action == "start":
            state = cluster.start()
        elif action == "stop":
            state = cluster.stop()
        else:
            state = "running" if cluster.running() else "stopped"
        lines.append(f"{cluster.name:8} 127.0.0.1:{cluster.port:<5} {state:20} {cluster.datadir}")
    return "\n".join(lines)


def _postgres_start(settings: Settings) -> str:
    print(postgres(settings, "start"), flush=True)
    print("\n".join(migrate_and_grant(settings)), flush=True)
    return "clusters running and migrated"


def _postgres_healthy(settings: Settings) -> bool:
    for name in ("source", "main", "replica"):
        try:
            with psycopg.connect(getattr(settings, f"{name}_database_url"), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
    return True


def _postgres_pids(settings: Settings) -> list[int]:
    pids = []
    for cluster in _local_clusters(settings):
        try:
            pid = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, PermissionError, ValueError, IndexError):
            continue
        if Path(f"/proc/{pid}").exists():
            pids.append(pid)
    return pids


# -- debezium ---------------------------------------------------------------
# CDC_TRANSPORT=embedded: one program, the replicator (Debezium's engine inside it). CDC_TRANSPORT=kafka:
# the broker, the Kafka Connect worker running Debezium's connector, the applier (cdc_connectors/connect_worker.py).
REPLICATION_PROGRAMS = ("debezium", "kafka-broker", "kafka-connect", "kafka-applier")


def _debezium_start(settings: Settings) -> str:
    if settings.cdc_transport == "embedded":
        program = Program("debezium", _python("cdc_connectors", "run"), startsecs=5, stopwaitsecs=60)
        return f"debezium {supervisor.start(settings, program)}, log {supervisor.log_file(settings, 'debezium')}"
    from cdc_connectors.connect_worker import (
        broker_command,
        broker_listens,
        register,
        secrets_dir,
        worker_answers,
        worker_command,
    )
    from cdc_connectors.kafka_consumer import broker_lost, reset

    if supervisor.pid(settings, "debezium"):
        raise StackError("the embedded replicator runs: stop it (make debezium-stop) before CDC_TRANSPORT=kafka")
    lines = ["kafka-broker " + supervisor.start(settings, Program("kafka-broker", broker_command(settings)),
                                                ready=lambda: broker_listens(settings))]
    if broker_lost(settings):
        # Its topics lived in the memory of a broker since stopped (make down) or restarted: the running
        # applier stops by itself on that; Kafka Connect's offsets and configuration were there too.
        for name in ("kafka-applier", "kafka-connect"):
            supervisor.stop(settings, name)
        reset(settings)
        lines.append("the broker does not hold the topics the replica was applied from (memory storage): "
                     "replication starts over from a fresh snapshot")
    lines += [
        "kafka-connect " + supervisor.start(settings, Program("kafka-connect", worker_command(settings),
                                                              stopwaitsecs=30),
                                            ready=lambda: worker_answers(settings), timeout=120),
        register(settings, settings.kafka_connect_url, secrets_dir(settings), secrets_dir(settings)),
        "kafka-applier " + supervisor.start(settings, Program("kafka-applier", _python("cdc_connectors",
                                                                                       "consume-kafka"),
                                                              startsecs=5, stopwaitsecs=60)),
    ]
    return "\n".join(lines)


def _debezium_stop(settings: Settings) -> str:
    """Stop whichever transport's programs run (the applier first, the broker last)."""
    stopped = [f"{name} {said}" for name in reversed(REPLICATION_PROGRAMS)
               if (said := supervisor.stop(settings, name)) != "not running"]
    return ", ".join(stopped) or "not running"


def _debezium_healthy(settings: Settings) -> bool:
    from cdc_connectors.status import status

    if settings.cdc_transport == "kafka":
        from cdc_connectors.connect_worker import connector_state

        if not supervisor.pid(settings, "kafka-applier") or connector_state(settings.kafka_connect_url) != "RUNNING":
            return False
    elif not supervisor.pid(settings, "debezium"):
        return False
    try:
        current = status(settings)
    except psycopg.OperationalError:
        return False
    return current.connected and current.replica_error is None


# -- fake Spotify -----------------------------------------------------------
def _fake_spotify_url(settings: Settings) -> str:
    return settings.spotify_accounts_url.rstrip("/")


def _fake_spotify_skip(settings: Settings) -> str | None:
    if urlsplit(settings.spotify_accounts_url).hostname in LOCAL_HOSTS:
        return None
    return "SPOTIFY_ACCOUNTS_URL points at Spotify itself"


def _fake_spotify_start(settings: Settings, port: int | None = None, users: int | None = None,
                        seed: int | None = None, days: int | None = None) -> str:
    """On `port` (default: SPOTIFY_ACCOUNTS_URL's); users, seed and days default to fake_spotify's."""
    port = port or urlsplit(settings.spotify_accounts_url).port or 80
    options = [(f"--{name}", str(value)) for name, value in (("users", users), ("seed", seed), ("days", days))
               if value is not None]
    program = Program("fake-spotify", _python("fake_spotify", "serve", "--port", str(port),
                                              *[word for option in options for word in option]))
    url = f"http://127.0.0.1:{port}"
    state = supervisor.start(settings, program, ready=lambda: _answers(f"{url}/_admin/health"))
    return f"fake-spotify {state} at {url}"


def _fake_spotify_healthy(settings: Settings) -> bool:
    return _answers(f"{_fake_spotify_url(settings)}/_admin/health")


# -- flask ------------------------------------------------------------------
def _flask_healthy(settings: Settings) -> bool:
    return _answers(f"{settings.login_service_url}/health")


def _flask_start(settings: Settings) -> str:
    program = Program("flask", _python("flask_endpoint", "serve"))
    return f"flask {supervisor.start(settings, program, ready=lambda: _flask_healthy(settings))} at " \
           f"{settings.login_service_url}"


# -- dashboard --------------------------------------------------------------
def _dashboard_healthy(settings: Settings) -> bool:
    return _answers(f"{settings.dashboard_url}/healthz")


def _dashboard_start(settings: Settings) -> str:
    from operations.postgres import port_is_free

    if supervisor.pid(settings, "dashboard") is None and not port_is_free(settings.dashboard_port):
        raise SupervisorError(f"port {settings.dashboard_port} is taken by another process: "
                              "stop it or set DASHBOARD_PORT")
    program = Program("dashboard", _python("dashboard", "serve"))
    state = supervisor.start(settings, program, ready=lambda: _dashboard_healthy(settings),
                             timeout=DASHBOARD_START_TIMEOUT_S)
    login = ("log in as admin with the password DASHBOARD_ADMIN_PASSWORD (in .env), or open"
             if settings.dashboard_admin_password else
             "admin login disabled (DASHBOARD_ADMIN_PASSWORD is empty); open")
    return (f"dashboard {state} at {settings.dashboard_url}\n{login} a user's pages with a share link: "
            "python -m dashboard share create USER_ID")


def _spark_url(settings: Settings) -> str:
    engine = f"engine {settings.spark_connect_url or 'off'} on {settings.spark_master}"
    if not spark_cluster.on_local_cluster(settings):
        return engine
    return (f"{engine} (master UI http://127.0.0.1:{settings.spark_master_ui_port}, worker UI "
            f"http://127.0.0.1:{settings.spark_worker_ui_port})")


# -- the table --------------------------------------------------------------
def _program_stopper(name: str) -> Callable[[Settings], str]:
    return lambda settings: supervisor.stop(settings, name)


@dataclass(frozen=True)
class Component:
    name: str  # also its make target
    start: Callable[..., str]
    stop: Callable[[Settings], str]
    healthy: Callable[[Settings], bool]
    url: Callable[[Settings], str]
    programs: tuple[str, ...] = ()  # its supervisor programs; none: not under supervisord (postgres)
    skip: Callable[[Settings], str | None] = lambda settings: None  # why `up` leaves it out, if it does
    other_logs: tuple[str, ...] = ()  # logs in <runtime_dir>/logs besides its programs'

    def pids(self, settings: Settings) -> list[int]:
        if not self.programs:
            return _postgres_pids(settings)
        return [pid for name in self.programs if (pid := supervisor.pid(settings, name))]

    def logs(self, settings: Settings) -> list[Path]:
        if not self.programs:
            return [c.logfile for c in _local_clusters(settings)]
        return [supervisor.log_file(settings, name) for name in (*self.other_logs, *self.programs)]


COMPONENTS = [
    Component("postgres", _postgres_start, lambda s: postgres(s, "stop"), _postgres_healthy,
              lambda s: ", ".join(f"{c.name} 127.0.0.1:{c.port}" for c in _local_clusters(s))),
    Component("spark", spark_cluster.start, spark_cluster.stop, spark_cluster.healthy, _spark_url,
              spark_cluster.PROGRAMS),
    Component("debezium", _debezium_start, _debezium_stop, _debezium_healthy,
              lambda s: f"slot {s.debezium_slot_name} in main, CDC_TRANSPORT={s.cdc_transport} "
                        "(make replication-status)", REPLICATION_PROGRAMS),
    Component("fake-spotify", _fake_spotify_start, _program_stopper("fake-spotify"), _fake_spotify_healthy,
              _fake_spotify_url, ("fake-spotify",), _fake_spotify_skip),
    Component("flask", _flask_start, _program_stopper("flask"), _flask_healthy,
              lambda s: s.login_service_url, ("flask",)),
    Component("airflow", airflow_service.start, airflow_service.stop, airflow_service.healthy,
              lambda s: f"{airflow_service.url(s)} (user {airflow_service.ADMIN_USER}, password in "
                        f"{airflow_service.password_file(s)})",
              tuple(airflow_service.PROCESSES), other_logs=("airflow-db-migrate",)),
    Component("dashboard", _dashboard_start, _program_stopper("dashboard"), _dashboard_healthy,
              lambda s: s.dashboard_url, ("dashboard",)),
]
BY_NAME = {component.name: component for component in COMPONENTS}


def wait_healthy(component: Component, settings: Settings, timeout: float = HEALTHY_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not component.healthy(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def start(settings: Settings, name: str, **options) -> str:
    """Start one component (what runs with the same settings is left alone); StackError names it on a failure."""
    try:
        return BY_NAME[name].start(settings, **options)
    except Exception as exc:  # any failure of a component's start is reported under its name
        raise StackError(f"{name} did not start: {exc}") from exc


def stop(settings: Settings, name: str) -> str:
    return BY_NAME[name].stop(settings)


def up(settings: Settings) -> None:
    """Start every component in order, each healthy before the next; StackError names the first that fails."""
    for component in COMPONENTS:
        reason = component.skip(settings)
        if reason:
            print(f"== {component.name}: skipped ({reason})", flush=True)
            continue
        print(f"== {component.name}: starting", flush=True)
        print(start(settings, component.name), flush=True)
        if not wait_healthy(component, settings):
            logs = ", ".join(str(p) for p in component.logs(settings))
            raise StackError(f"{component.name} started but is not healthy after {HEALTHY_TIMEOUT_S} s "
                             f"(logs: {logs})")
        print(f"== {component.name}: healthy at {component.url(settings)}", flush=True)


def down(settings: Settings) -> list[str]:
    """Stop the supervised components in reverse order, then supervisord, then the clusters."""
    said = []

    def say(line: str) -> None:
        said.append(line)
        print(line, flush=True)

    for supervised in (True, False):
        for component in reversed(COMPONENTS):
            if bool(component.programs) == supervised:
                print(f"== {component.name}: stopping", flush=True)
                say(f"{component.name}: {component.stop(settings)}")
        if supervised:
            say(f"supervisord: {supervisor.shutdown(settings)}")
    return said


def status_lines(settings: Settings, components: list[Component] = COMPONENTS) -> list[str]:
    lines = []
    for component in components:
        pids = component.pids(settings)
        if pids:
            health = "healthy" if component.healthy(settings) else "NOT HEALTHY"
            state = f"running  {health:11} pids {' '.join(map(str, pids))}"
        else:
            reason = component.skip(settings)
            state = f"stopped  {'(not started by make up: ' + reason + ')' if reason else ''}"
        lines.append(f"{component.name:13} {state}\n{'':13} {component.url(settings)}")
    if components == COMPONENTS:
        conf = supervisor.folder(settings) / "supervisord.conf"
        lines.append(f"{'supervisord':13} {'running' if supervisor.running(settings) else 'stopped'}  {conf}")
    return lines


def log_tails(settings: Settings, components: list[Component] = COMPONENTS, lines: int = 20) -> list[str]:
    """The last `lines` of each component's logs (and of supervisord's, with every component)."""
    logs = [(component.name, path) for component in components for path in component.logs(settings)]
    if components == COMPONENTS:
        logs.append(("supervisord", supervisor.log_file(settings, "supervisord")))
    return [f"==> {name}: {path} <==\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for name, path in logs if path.exists()]


def clean(settings: Settings, yes: bool) -> int:
    """Remove the runtime folder (clusters' data, logs, supervisord's files, Airflow home, offsets) after saying so."""
    running = [c.name for c in COMPONENTS if c.pids(settings)] + (["supervisord"] if supervisor.running(settings)
                                                                  else [])
    if running:
        print(f"error: still running: {', '.join(running)}; run `make down` first", file=sys.stderr)
        return 1
    runtime = Path(settings.runtime_dir)
    if not runtime.exists():
        print(f"nothing to remove: {runtime} does not exist")
        return 0
    print(f"this removes {runtime} and everything in it (this project's runtime data only; "
          "no Docker volume or anything else is touched):")
    for entry in sorted(runtime.iterdir()):
        size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else \
            entry.stat().st_size
        print(f"  {entry}  ({size / 1e6:.1f} MB)")
    if not yes:
        if not sys.stdin.isatty():
            print("not removed: run `make clean YES=1` to confirm", file=sys.stderr)
            return 1
        if input("remove it? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not removed")
            return 1
    shutil.rmtree(runtime)
    print(f"removed {runtime}")
    return 0
