"""Measure the takeout (`python -m ingestion export`) of one listener's plays.

    .venv/bin/python bench/takeout.py [--plays 1000000] [--formats csv,parquet,json] [--seed 1]

Starts its own source and main clusters on free ports in a temporary folder (never the developer
clusters), writes about `--plays` generated plays of ONE listener into source (several generated listeners' plays
given to one; plays of two at the same instant are one), loads main (the excluded
flags come from there), then runs `python -m ingestion export` once per format in a child process and
prints wall time, the child's CPU time and peak RSS, and the zip's size. Stops the clusters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import as_one_listener, bench_clusters, run_ingestion  # noqa: E402
from fake_spotify.generate import generate, write_to_source  # noqa: E402
from star_schema.load import load_main  # noqa: E402
from warehouse.db import connect  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,parquet,json")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with bench_clusters("takeout", "source", "main") as (root, settings, env):
        started = time.perf_counter()
        # One listener plays at most ~160 a day in ten years: several listeners' plays become one's.
        listening = generate(args.seed, users=-(-args.plays // 400_000), days=3650,
                             plays_per_day=min(160.0, args.plays / 3650 * 1.3))
        listening = as_one_listener(listening, args.plays)
        user_id = listening.users[0].user_id
        with connect("source", settings) as conn:
            write_to_source(conn, listening)
        print(f"generated and stored {len(listening.plays):,} plays in {time.perf_counter() - started:.1f} s")
        del listening
        started = time.perf_counter()
        print(f"{load_main(settings)} in {time.perf_counter() - started:.1f} s")
        for fmt in args.formats.split(","):
            out = root / f"takeout-{fmt}.zip"
            run = run_ingestion(env, "export", "--user", user_id, "--format", fmt, "--out", str(out))
            print(run.output)
            print(f"export {fmt}: {run.seconds:.1f} s wall (process start included), CPU {run.cpu:.1f} s, "
                  f"peak RSS {run.peak_mb:.0f} MB, zip {out.stat().st_size / 2**20:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
