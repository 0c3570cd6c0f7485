"""What the analytics cost: a full Spark run on ~1M plays, an incremental run after
1,000 new plays, and the time each Soda gate adds. Prints numbers.

    .venv/bin/python bench/analytics.py [--users 100] [--days 365] [--plays-per-day 27]

Runs on temporary clusters of its own (free ports, a temporary folder), in-process
Spark on local[*] (the same job `make etl` submits), and removes them afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

from spark_scripts import job  # noqa: E402
from spark_scripts.session import spark_session  # noqa: E402
from warehouse import gates  # noqa: E402
from warehouse.clusters import free_port, project_clusters  # noqa: E402
from warehouse.db import connect  # noqa: E402
from warehouse.generate import generate, write_to_source  # noqa: E402
from warehouse.load_main import load_main  # noqa: E402
from warehouse.migrate import migrate_all  # noqa: E402
from warehouse.settings import Settings  # noqa: E402


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    print(f"{label:48} {time.perf_counter() - started:7.1f} s   {result if result is not None else ''}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--plays-per-day", type=float, default=27.0)
    parser.add_argument("--new-plays", type=int, default=1000)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-analytics-"))
    root.chmod(0o755)
    settings = Settings(_env_file=None, runtime_dir=root, **{
        f"{name}_database_url": f"postgresql://wrapped:bench@127.0.0.1:{free_port()}/{name}"
        for name in ("source", "main", "replica")})
    clusters = project_clusters(settings, extra_conf={"shared_buffers": "'512MB'"})
    try:
        for cluster in clusters:
            cluster.start()
        migrate_all(settings)
        listening = timed("generate", lambda: generate(7, args.users, args.days, plays_per_day=args.plays_per_day))
        newest = sorted(listening.plays, key=lambda p: p.played_at)[-args.new_plays:]
        held = {id(p) for p in newest}
        first = dataclasses.replace(listening, plays=[p for p in listening.plays if id(p) not in held])
        with connect("source", settings) as conn:
            timed(f"write {len(first.plays):,} plays to source", lambda: write_to_source(conn, first)["plays"])
        timed("load main", lambda: load_main(settings).plays_loaded)
        timed("source gate", lambda: f"{len(gates.source_gate(settings))} checks")
        timed("main gate", lambda: f"{len(gates.main_gate(settings))} checks")
        spark = timed("Spark session", lambda: spark_session(settings))
        staged = timed("full run: stage (Spark)", lambda: job.stage(settings, full=True, spark=spark))
        timed("full run: analytics gate", lambda: f"{len(gates.analytics_gate(settings))} checks")
        timed("full run: publish", lambda: job.publish_staged(settings))
        with connect("source", settings) as conn:
            timed(f"write {args.new_plays:,} new plays", lambda: write_to_source(conn, listening)["plays"])
        timed("load main", lambda: load_main(settings).plays_loaded)
        started = time.perf_counter()
        staged = timed("incremental run: stage (Spark)", lambda: job.stage(settings, spark=spark))
        timed("incremental run: analytics gate", lambda: f"{len(gates.analytics_gate(settings))} checks")
        timed("incremental run: publish", lambda: job.publish_staged(settings))
        print(f"incremental run in all: {time.perf_counter() - started:.1f} s "
              f"({staged.scopes} scopes of {staged.users} users)")
        spark.stop()
    finally:
        for cluster in clusters:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
