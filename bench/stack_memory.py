"""Memory of the whole stack under `make up`, per component: peak (during start-up and idle) and idle.

Runs `make up` on a temporary runtime folder and free ports (as tests/ops does),
samples every second the RSS and PSS of each component's processes and all
their children (/proc/<pid>/smaps_rollup), waits --idle seconds after `up`,
takes the idle figures as the mean of the last --window samples, then `make down`.

    .venv/bin/python bench/stack_memory.py [--idle 60] [--window 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import memory_kb  # noqa: E402
from testkit.stack_env import descendants, make, make_root, stack_environment  # noqa: E402


def sample(components, settings) -> dict[str, tuple[int, int, int]]:
    """{component: (RSS kB, PSS kB, processes)}."""
    out = {}
    for component in components:
        pids = descendants(set(component.pids(settings)))
        sizes = [memory_kb(pid) for pid in pids]
        out[component.name] = (sum(s[0] for s in sizes), sum(s[1] for s in sizes), len(pids))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=60, help="seconds to wait after `make up` (default 60)")
    parser.add_argument("--window", type=int, default=10, help="idle samples averaged (default 10)")
    args = parser.parse_args()
    root = make_root()
    env = stack_environment(root)
    os.environ.update(env)
    from operations.stack import COMPONENTS
    from warehouse.settings import load_settings

    settings = load_settings()
    samples: list[dict] = []
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            samples.append(sample(COMPONENTS, settings))
            stop.wait(1)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        up = make("up", env, 900)
        if up.returncode != 0:
            print(up.stdout[-3000:], up.stderr[-3000:], sep="\n", file=sys.stderr)
            return 1
        print(f"make up: {time.monotonic() - started:.0f} s; idling {args.idle:.0f} s", flush=True)
        time.sleep(args.idle)
        stop.set()
        thread.join()
    finally:
        stop.set()
        make("down", env)
        shutil.rmtree(root, ignore_errors=True)
    idle = samples[-args.window:]
    print(f"{'component':13} {'procs':>5} {'idle RSS':>10} {'idle PSS':>10} {'peak RSS':>10} {'peak PSS':>10}  (MB)")
    totals = [0.0, 0.0]
    for component in COMPONENTS:
        name = component.name
        idle_rss = sum(s[name][0] for s in idle) / len(idle) / 1024
        idle_pss = sum(s[name][1] for s in idle) / len(idle) / 1024
        totals[0] += idle_rss
        totals[1] += idle_pss
        print(f"{name:13} {idle[-1][name][2]:>5} {idle_rss:>10.0f} {idle_pss:>10.0f} "
              f"{max(s[name][0] for s in samples) / 1024:>10.0f} {max(s[name][1] for s in samples) / 1024:>10.0f}")
    peak_rss = max(sum(v[0] for v in s.values()) for s in samples) / 1024
    peak_pss = max(sum(v[1] for v in s.values()) for s in samples) / 1024
    print(f"{'whole stack':13} {'':>5} {totals[0]:>10.0f} {totals[1]:>10.0f} {peak_rss:>10.0f} {peak_pss:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
