"""Background components of the project: started with a pid file and a log file
in the runtime folder, stopped by pid, never anything this project did not start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from warehouse.settings import Settings


class ServiceError(RuntimeError):
    pass


def pid_file(settings: Settings, name: str) -> Path:
    return Path(settings.runtime_dir) / "pids" / f"{name}.pid"


def log_file(settings: Settings, name: str) -> Path:
    return Path(settings.runtime_dir) / "logs" / f"{name}.log"


def running_pid(settings: Settings, name: str) -> int | None:
    """The pid of the component if it runs (a stale pid file is removed)."""
    path = pid_file(settings, name)
    try:
        pid = int(path.read_text())
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1].startswith("Z"):  # a zombie is not running
                raise ProcessLookupError
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None


def start(settings: Settings, name: str, command: list[str], ready: Callable[[], bool] | None = None,
          env: dict[str, str] | None = None, timeout: float = 90) -> str:
    """Start `command` in the background unless it already runs; wait until `ready()`."""
    if running_pid(settings, name):
        return "already running"
    for path in (pid_file(settings, name), log_file(settings, name)):
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file(settings, name), "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    pid_file(settings, name).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while ready is not None and not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(settings, name)
            tail = log_file(settings, name).read_text(errors="replace")[-3000:]
            raise ServiceError(f"{name} did not start (see {log_file(settings, name)}):\n{tail}")
        time.sleep(0.5)
    return "started"


def stop(settings: Settings, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> str:
    """Stop the component's whole process group; SIGKILL what outlives `timeout`.

    Descendants that moved to a process group of their own (e.g. a task Airflow ran,
    and the spark-submit it started) get SIGTERM, then SIGKILL, once the group is gone."""
    pid = running_pid(settings, name)
    if pid is None:
        return "not running"
    family = [process for process in map(_identity, _descendants(pid)) if process]
    try:
        os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (_alive(pid) or _group_alive(pid)):
            time.sleep(0.2)
        if _alive(pid) or _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for stop_signal, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        left = [process for process in family if _identity(process[0]) == process]
        for process in left:
            try:
                os.kill(process[0], stop_signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [process for process in left if _identity(process[0]) == process]
    pid_file(settings, name).unlink(missing_ok=True)
    return "stopped"


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return False


def _identity(pid: int) -> tuple[int, int] | None:
    """(pid, start time) of a live process, None when gone or a zombie: a reused pid never matches."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] == "Z" else (pid, int(fields[19]))


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children...)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    parent = int(stat.read().rsplit(") ", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` (children the leader left behind) still runs."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rsplit(") ", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False
