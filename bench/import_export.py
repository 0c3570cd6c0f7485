"""Measure the import of a generated Extended streaming history export.

    .venv/bin/python bench/import_export.py [--records 350000] [--seed 1]

Starts its own PostgreSQL cluster on a free port in a temporary folder (never
the developer clusters), writes a generated Extended export of about
`--records` records for one listener (several generated listeners' histories
concatenated into one user's files), runs `python -m ingestion` on
it in a child process and prints wall time and the child's peak RSS. Then it
imports the same files again (must change nothing) and stops the cluster.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fake_spotify.generate import generate, write_extended_export  # noqa: E402
from operations.postgres import Cluster, free_port  # noqa: E402
from warehouse.settings import Settings  # noqa: E402


def run_import(env: dict, folder: Path) -> tuple[float, float, float, str]:
    """(wall seconds, peak RSS MB of the importing process, its CPU seconds, its output)."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "ingestion", str(folder), "--user", "bench-user",
         "--create-user", "--timezone", "Europe/Berlin", "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"import failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    # ru_maxrss of children is the largest child so far: the first import is measured first.
    return seconds, after.ru_maxrss / 1024, cpu, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-import-"))
    root.chmod(0o755)
    url = f"postgresql://wrapped:bench@127.0.0.1:{free_port()}/source"
    settings = Settings(_env_file=None, source_database_url=url, database_owner_password="bench-owner")
    cluster = Cluster("source", settings, root / "pgdata", root / "logs")
    try:
        cluster.start()
        cluster.migrate()
        started = time.perf_counter()
        users = max(1, round(args.records / 96_000))
        listening = generate(args.seed, users=users, days=3650,
                             plays_per_day=args.records / users / 3650 / 0.8)
        folder = root / "export"
        files = write_extended_export(listening, folder)
        size = sum(f.stat().st_size for f in files) / 2**20
        print(f"generated {len(listening.plays):,} records in {len(files)} files ({size:.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")
        del listening
        env = dict(os.environ, SOURCE_DATABASE_URL=cluster.url, ENV_FILE=str(root / "none.env"))
        seconds, rss, cpu, output = run_import(env, folder)
        print(output)
        print(f"first import: {seconds:.1f} s wall (process start included), importer CPU {cpu:.1f} s, "
              f"peak RSS {rss:.0f} MB; load average {os.getloadavg()[0]:.1f}")
        seconds, rss, cpu, output = run_import(env, folder)
        print(output.splitlines()[0])
        print(f"re-import (no-op): {seconds:.1f} s wall, importer CPU {cpu:.1f} s")
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
