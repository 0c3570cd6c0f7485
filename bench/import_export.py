"""Measure the import of a generated Extended streaming history export.

    .venv/bin/python bench/import_export.py [--records 350000] [--seed 1]

Starts its own PostgreSQL cluster on a free port in a temporary folder (never
the developer clusters), writes a generated Extended export of about
`--records` records for one listener (several generated listeners' histories
concatenated into one user's files), runs `python -m ingestion` on
it in a child process and prints wall time and the child's peak RSS (`bench.measure`). Then it
imports the same files again (must change nothing) and stops the cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import bench_clusters, run_ingestion  # noqa: E402
from fake_spotify.generate import generate, write_extended_export  # noqa: E402


def run_import(env: dict, folder: Path):
    return run_ingestion(env, "import", str(folder), "--user", "bench-user", "--create-user", "--timezone",
                         "Europe/Berlin", "--no-progress")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=350_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with bench_clusters("import", "source") as (root, _, env):
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
        first = run_import(env, folder)
        print(first.output)
        print(f"first import: {first.seconds:.1f} s wall (process start included), importer CPU {first.cpu:.1f} s, "
              f"peak RSS {first.peak_mb:.0f} MB; load average {os.getloadavg()[0]:.1f}")
        again = run_import(env, folder)
        print(again.output.splitlines()[0])
        print(f"re-import (no-op): {again.seconds:.1f} s wall, importer CPU {again.cpu:.1f} s")


if __name__ == "__main__":
    main()
