"""The live stack under `make up`: how fresh the statistics are, and what a quiet day costs.

    .venv/bin/python -m bench.live [--history 1M] [--rounds 4] [--quiet-minutes 15] [--json FILE]

On a temporary runtime folder and free ports (testkit.stack_env, as tests/operations/test_stack.py):
`make up` (Postgres, the warm Spark engine, Debezium, the login service,
Airflow, the dashboard), `make fake-spotify USERS=5`, `--history` generated
plays of other listeners written into source, and the fake's 5 listeners
logged in through the login service. One `spotify_ingest` run is triggered; the stack does the rest
(its analytics run over the whole history, replication). Then:

- freshness: `--rounds` times, every listener gets one new play in the fake
  Spotify and `spotify_ingest` is triggered (as its 5-minute schedule would);
  a play's freshness is the time from its ingestion commit (source's
  `plays.ingested_at`) to the replica's `analytics.overview` counting it (the
  listener's all-time streams one higher), polled every 0.25 s. Everything in
  between is the stack's own: the ingest DAG's trigger, the analytics DAG
  (gates, load, the incremental Spark run on the warm engine, publish), Debezium.
  Beside it, each Airflow task of those rounds, from Airflow's metadatabase:
  its mean wait (scheduled -> started) and run time.
- idle memory: the PSS of every process of the stack (bench/stack_memory.py's
  sample), the mean of IDLE_SAMPLES samples a second apart, IDLE_AFTER_S after
  the last freshness round: the warm engine as the runs left it.
- a quiet day: `--quiet-minutes` of the stack left to its schedule (every
  listener polled every INGESTION_INTERVAL_MINUTES = 5), 3 new plays per
  listener a minute before each poll; the CPU time (user + system) of every
  process of the stack (each component's processes and their children, the
  finished ones included: a parent's reaped children count in its own), per hour.

Prints the figures and, with --json, writes them for bench.run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard import percentile  # noqa: E402
from bench.run import SEED, Size, parse_size  # noqa: E402
from bench.stack_memory import sample  # noqa: E402
from testkit.stack_env import descendants, make, make_root, stack_environment  # noqa: E402

LISTENERS = 5
QUIET_PLAYS = 3        # per listener and poll
POLL_EVERY_S = 0.25
TIMEOUT_S = 1800       # the first analytics run over the whole history included
IDLE_AFTER_S, IDLE_SAMPLES = 60, 10


def say(text: str) -> None:
    print(f"[live {datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def checked(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def write_history(settings, plays: int) -> int:
    """`plays` generated plays of other listeners (seed SEED, not the fake's) into source; their count."""
    from fake_spotify.generate import generate, write_to_source
    from warehouse.db import connect

    size = Size("history", plays, repeat=0)
    listening = generate(SEED, size.users, 365, plays_per_day=size.plays_per_day)
    with connect("source", settings) as conn:
        write_to_source(conn, listening)
    return len(listening.plays)


def trigger_ingest(env: dict[str, str], settings) -> None:
    """`airflow dags trigger spotify_ingest`: the run its schedule would start, now."""
    from operations.airflow_service import AIRFLOW, environment

    checked(subprocess.run([AIRFLOW, "dags", "trigger", "spotify_ingest"], env={**env, **environment(settings)},
                           capture_output=True, text=True, timeout=300), "airflow dags trigger spotify_ingest")


def streams(settings, users: list[str]) -> dict[str, int]:
    """Each listener's all-time streams in the replica's statistics (0 before the first)."""
    with psycopg.connect(settings.replica_reader_url, autocommit=True) as conn:
        found = dict(conn.execute("SELECT user_id, streams FROM analytics.overview WHERE period = 'all' "
                                  "AND user_id = ANY(%s)", (users,)).fetchall())
    return {user: found.get(user, 0) for user in users}


def replica_users(settings) -> int:
    with psycopg.connect(settings.replica_reader_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM analytics.overview WHERE period = 'all'").fetchone()[0]


def wait_until(condition, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_EVERY_S)


def freshness_round(settings, env, fake_url: str, users: list[str]) -> list[float]:
    """One new play per listener, one ingestion: each play's seconds from ingestion commit to the replica."""
    before = streams(settings, users)
    for user in users:
        requests.post(f"{fake_url}/_admin/users/{user}/plays", json={"count": 1}, timeout=10).raise_for_status()
    trigger_ingest(env, settings)
    seen: dict[str, float] = {}

    def all_seen() -> bool:
        now = time.time()
        for user, count in streams(settings, [u for u in users if u not in seen]).items():
            if count > before[user]:
                seen[user] = now
        return len(seen) == len(users)

    wait_until(all_seen, "the new plays in the replica's statistics", timeout=600)
    with psycopg.connect(settings.source_database_url, autocommit=True) as conn:
        committed = dict(conn.execute(
            "SELECT DISTINCT ON (user_id) user_id, extract(epoch FROM ingested_at)::float8 FROM plays "
            "WHERE user_id = ANY(%s) ORDER BY user_id, played_at DESC", (users,)).fetchall())
    return [seen[user] - committed[user] for user in users]


def freshness_steps(settings, since: float) -> dict[str, dict[str, float]]:
    """{dag.task: mean seconds waiting (scheduled -> started) and running} over the task instances
    that started after `since` (epoch seconds): where a play's freshness goes, step by step."""
    from operations.airflow_service import metadata_url

    url = metadata_url(settings).replace("postgresql+psycopg2", "postgresql", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT dag_id || '.' || task_id, count(*),"
            " avg(extract(epoch FROM start_date - coalesce(scheduled_dttm, queued_dttm))),"
            " avg(extract(epoch FROM end_date - start_date)), min(start_date) FROM task_instance"
            " WHERE start_date >= to_timestamp(%s) AND end_date IS NOT NULL GROUP BY 1 ORDER BY 5",
            (since,)).fetchall()
    return {step: {"instances": count, "waited": float(waited or 0), "ran": float(ran or 0)}
            for step, count, waited, ran, _ in rows}


def stack_cpu_seconds(settings) -> dict[str, float]:
    """{component: user + system CPU of its processes so far, reaped children included}."""
    from operations.stack import COMPONENTS

    spent = {}
    for component in COMPONENTS:
        spent[component.name] = 0.0
        for pid in descendants(set(component.pids(settings))):
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            spent[component.name] += times.user + times.system + times.children_user + times.children_system
    return spent


def idle_memory(settings) -> dict[str, float]:
    """{component: MB of PSS at rest}, each the mean of IDLE_SAMPLES samples a second apart."""
    from operations.stack import COMPONENTS

    time.sleep(IDLE_AFTER_S)
    samples = []
    for _ in range(IDLE_SAMPLES):
        samples.append({name: pss / 1024 for name, (_, pss, _) in sample(COMPONENTS, settings).items()})
        time.sleep(1)
    return {name: statistics.mean(s[name] for s in samples) for name in samples[0]}


def source_plays(settings, users: list[str]) -> int:
    with psycopg.connect(settings.source_database_url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM plays WHERE user_id = ANY(%s)", (users,)).fetchone()[0]


def quiet_day(settings, fake_url: str, users: list[str], minutes: float) -> dict:
    """The stack on its own schedule for `minutes`, new plays a minute before each poll: CPU-seconds per hour."""
    interval = settings.ingestion_interval_minutes * 60
    plays_before = source_plays(settings, users)
    started, cpu_before = time.time(), stack_cpu_seconds(settings)
    end = started + minutes * 60
    next_plays = (started // interval + 1) * interval - 60  # the schedule polls on multiples of the interval
    if next_plays < started:
        next_plays += interval
    while (now := time.time()) < end:
        if now >= next_plays:
            for user in users:
                requests.post(f"{fake_url}/_admin/users/{user}/plays", json={"count": QUIET_PLAYS},
                              timeout=10).raise_for_status()
            next_plays += interval
        time.sleep(min(1.0, max(0.0, end - now)))
    cpu_after = stack_cpu_seconds(settings)
    seconds = time.time() - started
    ingested = source_plays(settings, users) - plays_before
    if ingested == 0:
        raise RuntimeError("the quiet day ingested no play: the schedule did not poll")
    per_hour = {name: (cpu_after[name] - cpu_before[name]) * 3600 / seconds for name in cpu_after}
    return {"quiet day CPU-seconds per hour": sum(per_hour.values()), "quiet day minutes": seconds / 60,
            "quiet day plays ingested": ingested, "quiet day CPU-seconds per hour by component": per_hour}


def run(history: int, rounds: int, quiet_minutes: float) -> dict:
    from operations.postgres import free_port
    from warehouse.settings import load_settings

    root = make_root()
    env = stack_environment(root)
    # The defaults of a user's stack: the warm engine on local[*] (no standalone cluster), polls every 5 minutes.
    env.update(SPARK_CONNECT_URL=f"sc://127.0.0.1:{free_port()}", SPARK_MASTER="local[*]",
               INGESTION_INTERVAL_MINUTES="5")
    os.environ.update(env)
    settings = load_settings()
    fake_url = settings.spotify_accounts_url
    result: dict = {"history plays": history, "listeners": LISTENERS}
    began = time.monotonic()
    try:
        checked(make("up", env, 900), "make up")
        # `make up`'s fake Spotify has its default listeners: restarted with LISTENERS of them
        checked(make("fake-spotify", env, 300, f"USERS={LISTENERS}",
                     f"FAKE_SPOTIFY_PORT={fake_url.rsplit(':', 1)[1]}"), "make fake-spotify")
        result["make up"] = time.monotonic() - began
        say(f"make up: {result['make up']:.0f} s")
        result["history plays"] = write_history(settings, history)
        users = requests.get(f"{fake_url}/_admin/stats", timeout=10).json()["users"]
        checked(subprocess.run([sys.executable, "-m", "fake_spotify.login"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300), "python -m fake_spotify.login")
        first = time.monotonic()
        trigger_ingest(env, settings)
        total_users = len(users) + Size("history", history, repeat=0).users
        wait_until(lambda: replica_users(settings) >= total_users and all(streams(settings, users).values()),
                   "the first analytics run's statistics in the replica")
        result["first run through the stack"] = time.monotonic() - first
        say(f"{result['history plays']:,} plays of history and {len(users)} listeners in the replica's statistics "
            f"{result['first run through the stack']:.0f} s after the first ingestion was triggered")
        lags: list[float] = []
        rounds_began = time.time()
        for number in range(rounds):
            lags += freshness_round(settings, env, fake_url, users)
            say(f"freshness round {number + 1}: " + ", ".join(f"{lag:.1f}" for lag in lags[-len(users):]) + " s")
        result.update({"freshness plays": len(lags), "freshness p50": statistics.median(lags),
                       "freshness p95": percentile(lags, 95), "freshness max": max(lags), "freshness": lags})
        result["freshness steps"] = freshness_steps(settings, rounds_began)
        say("freshness steps (mean s waited + ran): " + ", ".join(
            f"{step} {times['waited']:.1f}+{times['ran']:.1f}" for step, times in result["freshness steps"].items()))
        memory = idle_memory(settings)
        result["idle memory PSS"], result["idle memory PSS by component"] = sum(memory.values()), memory
        say(f"idle memory: {result['idle memory PSS']:,.0f} MB PSS ("
            + ", ".join(f"{name} {mb:,.0f}" for name, mb in memory.items()) + ")")
        if quiet_minutes:
            result.update(quiet_day(settings, fake_url, users, quiet_minutes))
            say(f"quiet day: {result['quiet day CPU-seconds per hour']:.0f} CPU-seconds per hour over "
                f"{result['quiet day minutes']:.1f} min, {result['quiet day plays ingested']} plays ingested ("
                + ", ".join(f"{name} {cpu:.0f}" for name, cpu in
                            result["quiet day CPU-seconds per hour by component"].items()) + ")")
    finally:
        make("down", env)
        shutil.rmtree(root, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=parse_size, default=parse_size("1M"), help="plays of other listeners")
    parser.add_argument("--rounds", type=int, default=4, help=f"freshness rounds of {LISTENERS} plays")
    parser.add_argument("--quiet-minutes", type=float, default=15, help="0: no quiet day")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    result = run(args.history.plays, args.rounds, args.quiet_minutes)
    print(f"freshness over {result['freshness plays']} plays with {result['history plays']:,} plays of history: "
          f"p50 {result['freshness p50']:.1f} s, p95 {result['freshness p95']:.1f} s, max "
          f"{result['freshness max']:.1f} s; idle memory {result['idle memory PSS']:,.0f} MB PSS")
    if "quiet day CPU-seconds per hour" in result:
        print(f"quiet day ({LISTENERS} listeners polled every 5 minutes, {QUIET_PLAYS} new plays each): "
              f"{result['quiet day CPU-seconds per hour']:.0f} CPU-seconds per hour of the whole stack")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
