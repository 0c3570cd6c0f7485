"""The whole stack on one machine: `make up`, `make down`, `make status`, `make logs`, `make clean`.

One table of components, in dependency order. Each entry only points at the
component's own start/stop functions (the same ones its `make <component>`
target runs) and says how to tell that it is healthy, where it answers, which
processes and logs are its own. `up` starts them in order and waits for each to
be healthy; the first that fails stops `up` with an error naming it (what
already runs is left running: fix the cause and run `make up` again). `down`
stops them in reverse order, by pid: only what this project started.

`python -m operations.stack up|down|status|logs [--lines N]|clean [--yes]`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from operations import airflow_service, services
from warehouse.settings import Settings, SettingsError, get_settings

LOCAL_HOSTS = ("127.0.0.1", "localhost")
HEALTHY_TIMEOUT_S = 180


class StackError(RuntimeError):
    """A component did not start or did not become healthy; the message names it."""


def _checked(code: int, what: str) -> str:
    if code != 0:
        raise StackError(f"{what} exited with status {code}")
    return "done"


# -- postgres ---------------------------------------------------------------
def _local_clusters(settings: Settings):
    from operations.postgres import project_clusters

    return [c for c in project_clusters(settings) if c.host in LOCAL_HOSTS]


def _postgres_start(settings: Settings) -> str:
    from operations.__main__ import main

    return _checked(main(["postgres", "start"]), "python -m operations postgres start")


def _postgres_stop(settings: Settings) -> str:
    from operations.__main__ import main

    return _checked(main(["postgres", "stop"]), "python -m operations postgres stop")


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


# -- spark ------------------------------------------------------------------
def _spark_start(settings: Settings) -> str:
    from operations import spark_cluster as cluster

    return "; ".join(cluster.start(settings))


def _spark_stop(settings: Settings) -> str:
    from operations import spark_cluster as cluster

    return "; ".join(cluster.stop(settings))


def _spark_healthy(settings: Settings) -> bool:
    from operations.spark_cluster import alive_workers

    return alive_workers(settings) >= 1


# -- debezium ---------------------------------------------------------------
def _debezium_start(settings: Settings) -> str:
    from operations.replicator_process import start

    return start(settings)


def _debezium_stop(settings: Settings) -> str:
    from operations.replicator_process import stop

    return stop(settings)


def _debezium_pids(settings: Settings) -> list[int]:
    from operations.replicator_process import running_pid

    pid = running_pid(settings)
    return [pid] if pid else []


def _debezium_healthy(settings: Settings) -> bool:
    from cdc_connectors.status import status

    if not _debezium_pids(settings):
        return False
    try:
        current = status(settings)
    except psycopg.OperationalError:
        return False
    return current.connected and current.replica_error is None


def _debezium_logs(settings: Settings) -> list[Path]:
    from operations.replicator_process import log_file

    return [log_file(settings)]


# -- fake Spotify -----------------------------------------------------------
def _fake_spotify_url(settings: Settings) -> str:
    return settings.spotify_accounts_url.rstrip("/")


def _fake_spotify_skip(settings: Settings) -> str | None:
    if urlsplit(settings.spotify_accounts_url).hostname in LOCAL_HOSTS:
        return None
    return "SPOTIFY_ACCOUNTS_URL points at Spotify itself"


def _fake_spotify_start(settings: Settings) -> str:
    from fake_spotify.__main__ import main

    port = urlsplit(settings.spotify_accounts_url).port or 80
    return _checked(main(["start", "--port", str(port)]), "python -m fake_spotify start")


def _fake_spotify_stop(settings: Settings) -> str:
    return services.stop(settings, "fake-spotify")


def _fake_spotify_healthy(settings: Settings) -> bool:
    from fake_spotify.__main__ import answers

    return answers(_fake_spotify_url(settings))


# -- flask ------------------------------------------------------------------
def _flask_start(settings: Settings) -> str:
    from flask_endpoint.__main__ import main

    return _checked(main(["start"]), "python -m flask_endpoint start")


def _flask_stop(settings: Settings) -> str:
    return services.stop(settings, "flask")


def _flask_healthy(settings: Settings) -> bool:
    from flask_endpoint.__main__ import healthy

    return healthy(settings)


def _flask_url(settings: Settings) -> str:
    from flask_endpoint.__main__ import health_url

    return health_url(settings).removesuffix("/health")


# -- dashboard --------------------------------------------------------------
def _dashboard_start(settings: Settings) -> str:
    from dashboard.service import start

    return start(settings)


def _dashboard_stop(settings: Settings) -> str:
    from dashboard.service import stop

    return stop(settings)


def _dashboard_healthy(settings: Settings) -> bool:
    from dashboard.service import answers

    return answers(settings)


def _dashboard_url(settings: Settings) -> str:
    from dashboard.service import base_url

    return base_url(settings)


# -- the table --------------------------------------------------------------
def _service_pids(*names: str) -> Callable[[Settings], list[int]]:
    return lambda settings: [pid for name in names if (pid := services.running_pid(settings, name))]


def _service_logs(*names: str) -> Callable[[Settings], list[Path]]:
    return lambda settings: [services.log_file(settings, name) for name in names]


@dataclass(frozen=True)
class Component:
    name: str  # also its make target
    start: Callable[[Settings], str]
    stop: Callable[[Settings], str]
    healthy: Callable[[Settings], bool]
    url: Callable[[Settings], str]
    pids: Callable[[Settings], list[int]]
    logs: Callable[[Settings], list[Path]]
    skip: Callable[[Settings], str | None] = lambda settings: None  # why `up` leaves it out, if it does


SPARK_PROCESSES = ("spark-master", "spark-worker")

COMPONENTS = [
    Component("postgres", _postgres_start, _postgres_stop, _postgres_healthy,
              lambda s: ", ".join(f"{c.name} 127.0.0.1:{c.port}" for c in _local_clusters(s)),
              _postgres_pids, lambda s: [c.logfile for c in _local_clusters(s)]),
    Component("spark", _spark_start, _spark_stop, _spark_healthy,
              lambda s: f"http://127.0.0.1:{s.spark_master_ui_port} (master spark://127.0.0.1:"
                        f"{s.spark_standalone_port}, worker UI http://127.0.0.1:{s.spark_worker_ui_port})",
              _service_pids(*SPARK_PROCESSES), _service_logs(*SPARK_PROCESSES)),
    Component("debezium", _debezium_start, _debezium_stop, _debezium_healthy,
              lambda s: f"slot {s.debezium_slot_name} in main (make replication-status)",
              _debezium_pids, _debezium_logs),
    Component("fake-spotify", _fake_spotify_start, _fake_spotify_stop, _fake_spotify_healthy,
              _fake_spotify_url, _service_pids("fake-spotify"), _service_logs("fake-spotify"),
              _fake_spotify_skip),
    Component("flask", _flask_start, _flask_stop, _flask_healthy, _flask_url,
              _service_pids("flask"), _service_logs("flask")),
    Component("airflow", airflow_service.start, airflow_service.stop, airflow_service.healthy,
              lambda s: f"{airflow_service.url(s)} (user {airflow_service.ADMIN_USER}, password in "
                        f"{airflow_service.password_file(s)})",
              _service_pids(*airflow_service.PROCESSES),
              _service_logs("airflow-db-migrate", *airflow_service.PROCESSES)),
    Component("dashboard", _dashboard_start, _dashboard_stop, _dashboard_healthy, _dashboard_url,
              _service_pids("dashboard"), _service_logs("dashboard")),
]


def wait_healthy(component: Component, settings: Settings, timeout: float = HEALTHY_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not component.healthy(settings):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def up(settings: Settings) -> None:
    """Start every component in order, each healthy before the next; StackError names the first that fails."""
    for component in COMPONENTS:
        reason = component.skip(settings)
        if reason:
            print(f"== {component.name}: skipped ({reason})", flush=True)
            continue
        print(f"== {component.name}: starting", flush=True)
        try:
            print(component.start(settings), flush=True)
        except Exception as exc:  # any failure of a component's start is reported under its name
            raise StackError(f"{component.name} did not start: {exc}") from exc
        if not wait_healthy(component, settings):
            logs = ", ".join(str(p) for p in component.logs(settings))
            raise StackError(f"{component.name} started but is not healthy after {HEALTHY_TIMEOUT_S} s "
                             f"(logs: {logs})")
        print(f"== {component.name}: healthy at {component.url(settings)}", flush=True)


def down(settings: Settings) -> list[str]:
    """Stop every component, in reverse order, by pid; returns what each said."""
    said = []
    for component in reversed(COMPONENTS):
        print(f"== {component.name}: stopping", flush=True)
        said.append(f"{component.name}: {component.stop(settings)}")
        print(said[-1], flush=True)
    return said


def status_lines(settings: Settings) -> list[str]:
    lines = []
    for component in COMPONENTS:
        pids = component.pids(settings)
        if pids:
            health = "healthy" if component.healthy(settings) else "NOT HEALTHY"
            state = f"running  {health:11} pids {' '.join(map(str, pids))}"
        else:
            reason = component.skip(settings)
            state = f"stopped  {'(not started by make up: ' + reason + ')' if reason else ''}"
        lines.append(f"{component.name:13} {state}\n{'':13} {component.url(settings)}")
    return lines


def log_tails(settings: Settings, lines: int = 20) -> list[str]:
    out = []
    for component in COMPONENTS:
        for path in component.logs(settings):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"==> {component.name}: {path} <==\n" + "\n".join(tail))
    return out


def clean(settings: Settings, yes: bool) -> int:
    """Remove the runtime folder (clusters' data, logs, pid files, Airflow home, offsets) after saying so."""
    running = [c.name for c in COMPONENTS if c.pids(settings)]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status", "logs", "clean"])
    parser.add_argument("--lines", type=int, default=20, help="logs: lines per log")
    parser.add_argument("--yes", action="store_true", help="clean: do not ask")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if args.action == "up":
            up(settings)
            print("\n".join(status_lines(settings)))
        elif args.action == "down":
            down(settings)
        elif args.action == "status":
            print("\n".join(status_lines(settings)))
        elif args.action == "logs":
            print("\n\n".join(log_tails(settings, args.lines)))
        else:
            return clean(settings, args.yes)
    except (SettingsError, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
