"""An isolated stack: a temporary runtime folder, .env and free ports for every setting that names one.

Used by tests/ops and bench/stack_memory.py to run `make up` without touching a developer's stack.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from operations.postgres import free_port
from warehouse.settings import PROJECT_ROOT, Settings

COMPONENTS = ["postgres", "spark", "debezium", "fake-spotify", "flask", "airflow", "dashboard"]


def make_root() -> Path:
    """A temporary folder the `postgres` user can enter (when we run as root)."""
    root = Path(tempfile.mkdtemp(prefix="wrapped-stack-"))
    root.chmod(0o755)
    return root


def stack_environment(root: Path) -> dict[str, str]:
    """os.environ plus settings pointing every component at `root` and at free ports."""
    ports = {name: free_port() for name in ("source", "main", "replica", "airflow", "spark", "spark_ui",
                                           "spark_worker_ui", "dashboard", "flask", "fake_spotify")}
    env_file = root / ".env"
    env_file.touch()
    pg = "postgresql://wrapped:stack-test@127.0.0.1"
    settings = {
        "ENV_FILE": str(env_file),
        "RUNTIME_DIR": str(root / "runtime"),
        "SOURCE_DATABASE_URL": f"{pg}:{ports['source']}/source",
        "MAIN_DATABASE_URL": f"{pg}:{ports['main']}/main",
        "REPLICA_DATABASE_URL": f"{pg}:{ports['replica']}/replica",
        "REPLICA_READER_URL": f"postgresql://dashboard:reader@127.0.0.1:{ports['replica']}/replica",
        "DATABASE_OWNER_PASSWORD": "stack-owner",
        "DEBEZIUM_DATABASE_PASSWORD": "stack-debezium",
        "AIRFLOW_PORT": str(ports["airflow"]),
        "SPARK_STANDALONE_PORT": str(ports["spark"]),
        "SPARK_MASTER_UI_PORT": str(ports["spark_ui"]),
        "SPARK_WORKER_UI_PORT": str(ports["spark_worker_ui"]),
        "SPARK_MASTER": f"spark://127.0.0.1:{ports['spark']}",
        "DASHBOARD_PORT": str(ports["dashboard"]),
        "FLASK_PORT": str(ports["flask"]),
        "SPOTIFY_REDIRECT_URI": f"http://127.0.0.1:{ports['flask']}/callback",
        "SPOTIFY_API_URL": f"http://127.0.0.1:{ports['fake_spotify']}/v1",
        "SPOTIFY_ACCOUNTS_URL": f"http://127.0.0.1:{ports['fake_spotify']}",
        "SPOTIFY_CLIENT_ID": "wrapped-local",
        "SPOTIFY_CLIENT_SECRET": "wrapped-local-secret",
        "DEBEZIUM_SLOT_NAME": "stack_test",
        "DEBEZIUM_PUBLICATION_NAME": "stack_test",
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
    }
    return {**os.environ, **settings}


def stack_settings(env: dict[str, str]) -> Settings:
    """The settings the stack's processes read from `env` (and nothing else)."""
    return Settings(_env_file=None, **{key.lower(): value for key, value in env.items()
                                       if key.lower() in Settings.model_fields})


def make(target: str, env: dict[str, str], timeout: float = 600, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def descendants(pids: set[int]) -> set[int]:
    """`pids` and every process below them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def identity(pid: int) -> tuple[int, int, str] | None:
    """(pid, start time, command line) of a running process, None when gone or a zombie: a reused pid differs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] == "Z" else (pid, int(fields[19]), cmdline.strip())


def status_pids(status_output: str) -> dict[str, set[int]]:
    """{component: pids} from `make status` lines `<name> running healthy pids 1 2 3`."""
    found = {}
    for line in status_output.splitlines():
        words = line.split()
        if words and words[0] in COMPONENTS and "pids" in words:
            found[words[0]] = {int(p) for p in words[words.index("pids") + 1:]}
    return found
