"""The replicator as a background process: `<runtime_dir>/pids/debezium.pid`, `<runtime_dir>/logs/debezium.log`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cdc_connectors.capture import log_dir
from warehouse.settings import PROJECT_ROOT, Settings


def pid_file(settings: Settings) -> Path:
    return Path(settings.runtime_dir) / "pids" / "debezium.pid"


def log_file(settings: Settings) -> Path:
    return log_dir(settings) / "debezium.log"


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def running_pid(settings: Settings) -> int | None:
    """The pid of our running replicator, if any (a stale pid file is ignored)."""
    try:
        pid = int(pid_file(settings).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return None
    return pid if b"cdc_connectors" in cmdline and _alive(pid) else None


def start(settings: Settings) -> str:
    pid = running_pid(settings)
    if pid:
        return f"replicator already running (pid {pid}), log {log_file(settings)}"
    pid_file(settings).parent.mkdir(parents=True, exist_ok=True)
    log_file(settings).parent.mkdir(parents=True, exist_ok=True)
    with open(log_file(settings), "a") as log:
        process = subprocess.Popen([sys.executable, "-m", "cdc_connectors", "run"], cwd=PROJECT_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    pid_file(settings).write_text(f"{process.pid}\n")
    time.sleep(3)  # catch a start that fails at once (bad settings, missing slot...)
    if process.poll() is not None:
        pid_file(settings).unlink(missing_ok=True)
        tail = log_file(settings).read_text()[-1500:]
        raise RuntimeError(f"the replicator exited at start (code {process.returncode}):\n{tail}")
    return f"replicator started (pid {process.pid}), log {log_file(settings)}"


def stop(settings: Settings, timeout: float = 60) -> str:
    pid = running_pid(settings)
    if pid is None:
        pid_file(settings).unlink(missing_ok=True)
        return "replicator not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)  # offsets lag at most a second: the restart re-applies idempotently
    pid_file(settings).unlink(missing_ok=True)
    return f"replicator stopped (pid {pid})"
