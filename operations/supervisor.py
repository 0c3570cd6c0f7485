"""supervisord runs every background component of this project (everything but the Postgres clusters).

One supervisord per runtime folder, so isolated runtimes never meet:

- `<RUNTIME_DIR>/supervisor/supervisord.conf` (written here), its unix socket `supervisord.sock`
  (mode 0700) and pid file; its own log `<RUNTIME_DIR>/logs/supervisord.log`.
- one file per program in `<RUNTIME_DIR>/supervisor/programs/<program>.conf` (mode 0600: it holds the
  caller's settings), written each time the program is started; supervisord re-reads it and, if it
  changed, restarts the program with the new settings.
- each program's output in `<RUNTIME_DIR>/logs/<program>.log`, rotated at 10 MB, 5 backups.
- umask 077 for supervisord and every program: their logs and what they write (Debezium's offsets, an
  upload's copies) are 0600; RUNTIME_DIR and `logs/` are 0700 (0711 as root, see `private_dir`).

A program that exits before `startsecs` is retried with back-off (supervisord's BACKOFF state: 1 s, 2 s,
3 s) and given up (FATAL) after `START_RETRIES` tries; a program that crashes later is restarted at once.
supervisord is started when needed and talked to over XML-RPC on its socket.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from operations.postgres import private_dir
from warehouse.settings import PROJECT_ROOT, Settings

SUPERVISORD = str(Path(sys.executable).parent / "supervisord")
START_RETRIES = 3
RUNNING_STATES = ("STARTING", "RUNNING", "BACKOFF")
# From the caller's environment into every program (besides the project's settings).
PASSED_VARIABLES = ("ENV_FILE", "PATH", "JAVA_HOME")
PASSED_PREFIXES = ("SPARK_", "PYSPARK_", "AIRFLOW_")
# supervisord itself starts with only these: a program sees its own file's settings, not the first caller's.
SUPERVISORD_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR")
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes
UMASK = 0o077  # supervisord's and its programs': what they create is theirs alone


class SupervisorError(RuntimeError):
    pass


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)  # on top of the caller's settings
    stopsignal: str = "TERM"
    stopwaitsecs: int = 30  # then SIGKILL to the whole process group
    startsecs: int = 3  # running this long counts as started


@dataclass(frozen=True)
class ProcessInfo:
    state: str  # supervisord's state name: STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL
    pid: int
    spawn_error: str

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


def folder(settings: Settings) -> Path:
    return Path(settings.runtime_dir) / "supervisor"


def log_file(settings: Settings, name: str) -> Path:
    return Path(settings.runtime_dir) / "logs" / f"{name}.log"


def _socket(settings: Settings) -> Path:
    return folder(settings) / "supervisord.sock"


def _pid_file(settings: Settings) -> Path:
    return folder(settings) / "supervisord.pid"


def _program_file(settings: Settings, name: str) -> Path:
    return folder(settings) / "programs" / f"{name}.conf"


def _escaped(value: str) -> str:
    """A value for supervisord's config, which expands %(name)s and has no multi-line values."""
    if "\n" in value:
        raise SupervisorError(f"a value for supervisord holds a line break: {value[:40]!r}")
    return value.replace("%", "%%")


def _quoted(value: str) -> str:
    """The value in the quotes it does not hold (supervisord's `environment=` knows no escapes)."""
    quote = "'" if '"' in value else '"'
    if quote in value or value[-1:] in ("'", '"'):
        raise SupervisorError(f"supervisord cannot pass a value holding both quotes: {value[:40]!r}")
    return f"{quote}{value}{quote}"


def _supervisord_config(settings: Settings) -> str:
    logs = Path(settings.runtime_dir) / "logs"
    return f"""[unix_http_server]
file = {_escaped(str(_socket(settings)))}
chmod = 0700

[supervisord]
logfile = {_escaped(str(logs / "supervisord.log"))}
logfile_maxbytes = 10MB
logfile_backups = 5
pidfile = {_escaped(str(_pid_file(settings)))}
umask = {UMASK:03o}
childlogdir = {_escaped(str(logs))}
directory = {_escaped(str(PROJECT_ROOT))}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl = unix://{_escaped(str(_socket(settings)))}

[include]
files = programs/*.conf
"""


def _program_config(settings: Settings, program: Program) -> str:
    env = {**caller_environment(settings), "PYTHONUNBUFFERED": "1", **program.environment}
    quoted = ",".join(f"{key}={_quoted(value)}" for key, value in sorted(env.items()))
    return f"""[program:{program.name}]
command = {_escaped(shlex.join(program.command))}
directory = {_escaped(str(PROJECT_ROOT))}
environment = {_escaped(quoted)}
autostart = false
autorestart = true
startsecs = {program.startsecs}
startretries = {START_RETRIES}
stopsignal = {program.stopsignal}
stopwaitsecs = {program.stopwaitsecs}
stopasgroup = true
killasgroup = true
redirect_stderr = true
stdout_logfile = {_escaped(str(log_file(settings, program.name)))}
stdout_logfile_maxbytes = 10MB
stdout_logfile_backups = 5
"""


def caller_environment(settings: Settings) -> dict[str, str]:
    """The caller's settings (each one set in the environment, `.env` or an override) and the tools' variables."""
    env = {key: value for key, value in os.environ.items()
           if key in PASSED_VARIABLES or key.startswith(PASSED_PREFIXES)}
    names = set(settings.model_fields_set) | {key.lower() for key in os.environ if key.lower() in Settings.model_fields}
    env.update({name.upper(): str(getattr(settings, name)) for name in names})
    return env


def _proxy(settings: Settings):
    transport = SupervisorTransport(None, None, f"unix://{_socket(settings)}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def running(settings: Settings) -> bool:
    """Whether this runtime folder's supervisord answers."""
    if not _socket(settings).exists():
        return False
    try:
        return _proxy(settings).getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def ensure_running(settings: Settings, timeout: float = 15) -> None:
    """Start supervisord for this runtime folder unless it runs."""
    if running(settings):
        return
    if len(str(_socket(settings))) > MAX_SOCKET_PATH:
        raise SupervisorError(f"RUNTIME_DIR {settings.runtime_dir} is too long for supervisord's socket")
    private_dir(Path(settings.runtime_dir))
    (folder(settings) / "programs").mkdir(mode=0o700, parents=True, exist_ok=True)
    folder(settings).chmod(0o700)
    logs = private_dir(Path(settings.runtime_dir) / "logs")
    for log in logs.glob("*.log*"):  # logs an older version left readable by everyone
        log.chmod(log.stat().st_mode & 0o700)
    config = folder(settings) / "supervisord.conf"
    config.write_text(_supervisord_config(settings))
    env = {key: os.environ[key] for key in SUPERVISORD_VARIABLES if key in os.environ}
    with tempfile.TemporaryFile() as errors:  # supervisord forks into the background once its config is read
        # The umask also covers its own log, opened before it daemonizes and applies the config's `umask`.
        started = subprocess.run([SUPERVISORD, "-c", str(config)], env=env, stdin=subprocess.DEVNULL,
                                 stdout=errors, stderr=errors, start_new_session=True, timeout=60,
                                 umask=UMASK)
        errors.seek(0)
        said = errors.read().decode(errors="replace").strip()
    deadline = time.monotonic() + timeout
    while not running(settings):
        if started.returncode != 0 or time.monotonic() > deadline:
            raise SupervisorError(f"supervisord did not start (exit status {started.returncode}): {said}")
        time.sleep(0.2)


def info(settings: Settings, name: str) -> ProcessInfo | None:
    """The program's state and pid; None when supervisord does not run or does not know it."""
    if not running(settings):
        return None
    try:
        found = _proxy(settings).getProcessInfo(name)
    except xmlrpc.client.Fault:
        return None
    return ProcessInfo(state=found["statename"], pid=found["pid"], spawn_error=found["spawnerr"])


def pid(settings: Settings, name: str) -> int | None:
    current = info(settings, name)
    return current.pid if current and current.running and current.pid else None


def _register(settings: Settings, program: Program) -> bool:
    """Write the program's file and make supervisord take it; True when a running program was stopped for it."""
    path = _program_file(settings, program.name)
    path.touch(mode=0o600)
    path.write_text(_program_config(settings, program))
    proxy = _proxy(settings)
    added, changed, _removed = proxy.reloadConfig()[0]
    stopped = False
    if program.name in changed:
        stopped = stop(settings, program.name) != "not running"
        proxy.removeProcessGroup(program.name)
    if program.name in added or program.name in changed:
        proxy.addProcessGroup(program.name)
    return stopped


def start(settings: Settings, program: Program, ready: Callable[[], bool] | None = None,
          timeout: float = 90) -> str:
    """Start the program unless it runs with the same settings; wait until `ready()` (or it counts as started).

    On a failure the program is stopped and SupervisorError carries the end of its log."""
    ensure_running(settings)
    restarted = _register(settings, program)
    current = info(settings, program.name)
    if current.running:
        return f"already running (pid {current.pid})"
    _proxy(settings).startProcess(program.name, False)
    deadline = time.monotonic() + timeout
    while True:
        current = info(settings, program.name)
        if current.state in ("STARTING", "RUNNING") and (current.state == "RUNNING" if ready is None else ready()):
            return f"{'restarted with the new settings' if restarted else 'started'} (pid {current.pid})"
        if current.state == "FATAL" or time.monotonic() > deadline:
            stop(settings, program.name)
            why = current.spawn_error or ("exited at each try" if current.state == "FATAL" else
                                          f"not ready after {timeout:.0f} s")
            log = log_file(settings, program.name)
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SupervisorError(f"{program.name} {why} (log {log}):\n{tail}")
        time.sleep(0.5)


def stop(settings: Settings, name: str) -> str:
    """Stop the program (its stop signal to its process group, SIGKILL after stopwaitsecs), then whatever
    it started that left the group (a task Airflow ran and the spark-submit it started) and outlives it."""
    current = info(settings, name)
    if current is None or not current.running:
        return "not running"
    members = [current.pid, *_descendants(current.pid)] if current.pid else []  # no pid between tries
    family = [process for process in map(_identity, members) if process]
    try:
        _proxy(settings).stopProcess(name, True)
    except xmlrpc.client.Fault:  # it stopped meanwhile
        pass
    _sweep(family)
    return f"stopped (pid {current.pid})" if current.pid else "stopped"


def shutdown(settings: Settings, timeout: float = 60) -> str:
    """Stop supervisord (and anything still under it)."""
    if not running(settings):
        return "not running"
    try:
        supervisord = _identity(int(_pid_file(settings).read_text()))
    except (FileNotFoundError, ValueError):
        supervisord = None
    _proxy(settings).shutdown()
    deadline = time.monotonic() + timeout
    while supervisord and _identity(supervisord[0]) == supervisord and time.monotonic() < deadline:
        time.sleep(0.2)
    return f"stopped (pid {supervisord[0]})" if supervisord else "stopped"


def _sweep(family: list[tuple[int, int]]) -> None:
    """SIGTERM, then SIGKILL, the processes of `family` still alive."""
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
