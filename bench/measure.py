"""Run `python -m ingestion ...` in a child process and measure it: wall and CPU time, peak memory; and
the benches' own clusters to run it against.

The child tells its own peak RSS (VmHWM) on stderr as it exits: ru_maxrss of a child is not usable, Linux
carries the forking parent's peak (a bench holding generated plays) over into it across exec.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fake_spotify.generate import Listening
from operations.postgres import Cluster, free_port
from warehouse.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PEAK = ("import runpy, sys\nsys.argv = ['ingestion', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('ingestion', run_name='__main__')\n"
        "finally:\n    print('peak_rss_kb=' + next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM')), file=sys.stderr)")


def as_one_listener(listening: Listening, plays: int) -> Listening:
    """The first `plays` plays of every generated listener as plays of the first one (one listener plays at
    most ~160 a day: a long history of one needs several listeners' plays)."""
    user = listening.users[0]
    return dataclasses.replace(listening, users=[user], plays=[
        dataclasses.replace(play, user_id=user.user_id) for play in listening.plays[:plays]])


@dataclass
class Measured:
    seconds: float  # wall, the process's start included
    cpu: float  # the child's user + system seconds
    peak_mb: float  # the child's peak RSS
    output: str  # its stdout


def run_ingestion(env: dict, *args: str) -> Measured:
    """`python -m ingestion *args` with `env`; SystemExit with its output when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, *args], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"python -m ingestion {' '.join(args)} failed ({result.returncode}):\n"
                         f"{result.stdout}\n{result.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak_kb = int(result.stderr.rsplit("peak_rss_kb=", 1)[1])
    return Measured(seconds, cpu, peak_kb / 1024, result.stdout.strip())


@contextmanager
def bench_clusters(prefix: str, *names: str) -> Iterator[tuple[Path, Settings, dict]]:
    """Clusters `names` (source, main) of the bench's own, started and migrated on free ports in a temporary
    folder (never the developer clusters): (that folder, their settings, the environment for a child process
    to use them). Stopped and removed on the way out."""
    root = Path(tempfile.mkdtemp(prefix=f"wrapped-bench-{prefix}-"))
    root.chmod(0o755)
    urls = {f"{name}_database_url": f"postgresql://wrapped:bench@127.0.0.1:{free_port()}/{name}" for name in names}
    settings = Settings(_env_file=None, **urls, database_owner_password="bench-owner",
                        debezium_database_password="bench-debezium")
    clusters = [Cluster(name, settings, root / f"pg-{name}", root / "logs") for name in names]
    try:
        for cluster in clusters:
            cluster.start()
            cluster.migrate()
        yield root, settings, dict(os.environ, ENV_FILE=str(root / "none.env"),
                                   **{name.upper(): url for name, url in urls.items()})
    finally:
        for cluster in clusters:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
