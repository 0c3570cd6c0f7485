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
import dataclasses
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

from fake_spotify.generate import generate, write_to_source  # noqa: E402
from operations.postgres import Cluster, free_port  # noqa: E402
from star_schema.load import load_main  # noqa: E402
from warehouse.db import connect  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

# `python -m ingestion ...` that tells its own peak RSS on stderr as it exits: VmHWM, not ru_maxrss, which
# Linux carries over from the forking parent (this script, holding the generated plays) across exec.
PEAK = ("import runpy, sys\nsys.argv = ['ingestion', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('ingestion', run_name='__main__')\n"
        "finally:\n    print('peak_rss_kb=' + next(line.split()[1] for line in open('/proc/self/status') "
        "if line.startswith('VmHWM')), file=sys.stderr)")


def run_export(env: dict, user_id: str, fmt: str, out: Path) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS MB of the exporting process, its output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, "export", "--user", user_id, "--format", fmt,
                             "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"export failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak_kb = int(result.stderr.rsplit("peak_rss_kb=", 1)[1])
    return seconds, cpu, peak_kb / 1024, result.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,parquet,json")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-takeout-"))
    root.chmod(0o755)
    urls = {f"{name}_database_url": f"postgresql://wrapped:bench@127.0.0.1:{free_port()}/{name}"
            for name in ("source", "main")}
    settings = Settings(_env_file=None, **urls, database_owner_password="bench-owner",
                        debezium_database_password="bench-debezium")
    clusters = [Cluster(name, settings, root / f"pg-{name}", root / "logs") for name in ("source", "main")]
    try:
        for cluster in clusters:
            cluster.start()
            cluster.migrate()
        started = time.perf_counter()
        # One listener plays at most ~160 a day in ten years: several listeners' plays become one's.
        listening = generate(args.seed, users=-(-args.plays // 400_000), days=3650,
                             plays_per_day=min(160.0, args.plays / 3650 * 1.3))
        user = listening.users[0]
        listening = dataclasses.replace(listening, users=[user], plays=[
            dataclasses.replace(play, user_id=user.user_id) for play in listening.plays[:args.plays]])
        user_id = user.user_id
        with connect("source", settings) as conn:
            write_to_source(conn, listening)
        print(f"generated and stored {len(listening.plays):,} plays in {time.perf_counter() - started:.1f} s")
        del listening
        started = time.perf_counter()
        print(f"{load_main(settings)} in {time.perf_counter() - started:.1f} s")
        env = dict(os.environ, ENV_FILE=str(root / "none.env"),
                   **{name.upper(): url for name, url in urls.items()})
        for fmt in args.formats.split(","):
            out = root / f"takeout-{fmt}.zip"
            seconds, cpu, rss, output = run_export(env, user_id, fmt, out)
            print(output)
            print(f"export {fmt}: {seconds:.1f} s wall (process start included), CPU {cpu:.1f} s, "
                  f"peak RSS {rss:.0f} MB, zip {out.stat().st_size / 2**20:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f}")
    finally:
        for cluster in clusters:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
