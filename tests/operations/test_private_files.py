"""The runtime folder is private: after the clusters and a program under the supervisor start, in a
temporary RUNTIME_DIR, nothing there is readable by other users, and the clusters still run."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from pathlib import Path

import psycopg
import pytest

from operations import stack, supervisor
from operations.postgres import free_port
from operations.supervisor import Program
from tests.conftest import make_temp_dir
from warehouse.db import DATABASES
from warehouse.settings import Settings

# 0711 as root: the clusters' `postgres` user passes through to its data and logs, but lists nothing.
PRIVATE_DIR = 0o711 if os.geteuid() == 0 else 0o700
WRITER = "import os, sys, time; open(sys.argv[1], 'w').write('offsets'); print('written', flush=True); time.sleep(60)"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def states(lines: str) -> list[str]:
    """The state column of `stack.postgres`' lines (`main     127.0.0.1:5434  started  <datadir>`)."""
    return [line.split()[2] for line in lines.splitlines()]


@pytest.fixture
def settings():
    root = make_temp_dir("wrapped-test-private-")
    ports = {name: free_port() for name in DATABASES}
    settings = Settings(_env_file=None, runtime_dir=root / "runtime",
                        database_owner_password="owner-pw", debezium_database_password="debezium-pw",
                        **{f"{name}_database_url": f"postgresql://app:pw@127.0.0.1:{port}/{name}"
                           for name, port in ports.items()},
                        replica_reader_url=f"postgresql://dashboard:pw@127.0.0.1:{ports['replica']}/replica")
    yield settings
    supervisor.shutdown(settings)
    stack.postgres(settings, "stop")
    shutil.rmtree(root, ignore_errors=True)


def test_runtime_logs_and_what_programs_write_are_private(settings):
    runtime = Path(settings.runtime_dir)
    stack.postgres(settings, "start")
    for name in DATABASES:
        with psycopg.connect(getattr(settings, f"{name}_database_url")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    old_log = runtime / "logs" / "flask.log"  # left readable by an older version
    old_log.write_text("old\n")
    old_log.chmod(0o644)

    written = runtime / "debezium" / "offsets.dat"
    written.parent.mkdir(mode=0o700)
    program = Program("writer", [sys.executable, "-c", WRITER, str(written)], startsecs=1)
    assert supervisor.start(settings, program, ready=written.exists).startswith("started")

    assert (mode(runtime), mode(runtime / "logs"), mode(runtime / "pgdata")) == (PRIVATE_DIR,) * 3
    assert mode(runtime / "supervisor") == 0o700
    assert mode(written) == 0o600  # the program's umask, inherited from supervisord
    logs = runtime / "logs"
    assert {path.name: mode(path) for path in logs.iterdir()} == {
        "postgres-source.log": 0o600, "postgres-main.log": 0o600, "postgres-replica.log": 0o600,
        "supervisord.log": 0o600, "writer.log": 0o600, "flask.log": 0o600}
    # supervisord copies the program's output into its log after the program wrote its file: wait for it
    deadline = time.monotonic() + 30
    while "written" not in (logs / "writer.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "written" in (logs / "writer.log").read_text()
    if os.geteuid() == 0:
        assert (logs / "postgres-main.log").owner() == "postgres"
    # The clusters restart through the private folders, as `postgres`, and append to their logs.
    assert states(stack.postgres(settings, "stop")) == ["stopped"] * 3
    assert states(stack.postgres(settings, "start")) == ["started"] * 3
    with psycopg.connect(settings.main_database_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert mode(logs / "postgres-main.log") == 0o600
