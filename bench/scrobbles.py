"""Measure the import of a Last.fm scrobbles file (ingestion/export_reader.py, "Listens from elsewhere").

    .venv/bin/python bench/scrobbles.py [--scrobbles 100000] [--seed 1]

Starts its own source cluster on a free port in a temporary folder (never the developer clusters),
generates one listener's listening of about `--scrobbles` scrobbles (several generated listeners' plays
given to one; a play counts as a scrobble when half the track or 4 minutes played), writes it as Spotify's
Extended history and as the Last.fm CSV a scrobbler would have made of it (`write_lastfm_export`), and runs
`python -m ingestion import` in a child process (`bench.measure`: wall, CPU, peak RSS) for:
1. the Last.fm file into an empty user (every scrobble a new play of a name-only track);
2. the Extended history, then the Last.fm file into a second user (every scrobble merged into its
   Spotify play: the matching path);
3. the Last.fm file again (nothing changes).
Stops the cluster.
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
from fake_spotify.generate import generate, write_extended_export, write_lastfm_export  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scrobbles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with bench_clusters("scrobbles", "source") as (root, _, env):
        started = time.perf_counter()
        # About 90 % of generated plays are scrobbles; one listener plays at most ~160 a day in ten years.
        plays = int(args.scrobbles / 0.9)
        listening = generate(args.seed, users=1 + plays // 200_000, days=3650,
                             plays_per_day=min(160.0, plays / 3650 * 2))
        listening = as_one_listener(listening, plays)
        (scrobbles,) = write_lastfm_export(listening, root / "lastfm")
        spotify = write_extended_export(listening, root / "spotify")
        lines = sum(1 for _ in scrobbles.open())
        print(f"generated {len(listening.plays):,} plays, {lines:,} scrobbles "
              f"({scrobbles.stat().st_size / 2**20:.1f} MB) in {time.perf_counter() - started:.1f} s")
        del listening

        def run(label: str, user_id: str, *paths: Path) -> None:
            measured = run_ingestion(env, "import", *map(str, paths), "--user", user_id, "--create-user",
                                     "--no-progress", "--no-resolve")
            print(measured.output)
            print(f"{label}: {measured.seconds:.1f} s wall (process start included), CPU {measured.cpu:.1f} s, "
                  f"peak RSS {measured.peak_mb:.0f} MB; load average {os.getloadavg()[0]:.1f}\n")

        run("1. Last.fm into an empty user", "lastfm-only", scrobbles)
        run("2a. Spotify's Extended history", "both", *spotify)
        run("2b. Last.fm merged into it", "both", scrobbles)
        run("3. Last.fm again (no-op)", "both", scrobbles)


if __name__ == "__main__":
    main()
