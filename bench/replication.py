"""Measure Debezium replication main -> replica, by either transport.

    .venv/bin/python bench/replication.py [--rows 1000000] [--seconds 20] [--rates 1000,5000]
                                          [--transport embedded|kafka]

Starts its own main and replica clusters on free ports in a temporary folder
(never the developer clusters) and the replicator as child processes: with
`--transport embedded` (the default) `python -m cdc_connectors run` (embedded
Debezium); with `--transport kafka` the Tansu broker, a Kafka Connect worker
with the connector registered as `make debezium` registers it, and
`python -m cdc_connectors consume-kafka` (cdc_connectors/connect_worker.py). Then prints:
- snapshot throughput: `--rows` rows of dim_track copied by the initial snapshot
  (rows/s from the first written row to the snapshot's end, and from process start;
  the snapshot is one replica transaction, so its first row is seen as the start
  of the replicator's writing transaction, not as a committed row);
- end-to-end lag at steady rates: a writer commits `rate/100` rows into
  `analytics.bench_lag` every 10 ms for `--seconds`; the lag of a row is the
  time from its commit returning in main to its insertion in the replica (the
  replica's copy of the table has an extra `applied_at DEFAULT clock_timestamp()`
  column; visibility follows at that batch's commit, a few ms later);
- the peak RSS (VmHWM) of each process: the replicator (Python + the in-process JVM),
  or the broker (memory storage: it holds every record), the Connect worker and the applier.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from operations.postgres import Cluster, free_port  # noqa: E402
from warehouse.db import connect_owner  # noqa: E402
from warehouse.settings import Settings  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (load-independent cost)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a child (SIGTERM, then SIGKILL after 60 s) and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def position(replica_url: str):
    with psycopg.connect(replica_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('cdc.applied_position')").fetchone()[0] is None:
            return None
        return conn.execute("SELECT changes, snapshot_done FROM cdc.applied_position").fetchone()


def writing_for(replica_url: str) -> float | None:
    """Seconds since another session's open replica transaction wrote its first row (the snapshot's, while it runs)."""
    with psycopg.connect(replica_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT extract(epoch FROM clock_timestamp() - min(xact_start))::float8 FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()").fetchone()[0]


def wait_for_snapshot(replica_url: str, process: subprocess.Popen) -> tuple[float | None, float]:
    """Wait until the replicator applied its whole initial snapshot: (first written row, end) perf_counter times."""
    first = None
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the replicator exited with {process.returncode}")
        row = position(replica_url)
        writing = writing_for(replica_url) if first is None else None
        now = time.perf_counter()
        if first is None and writing is not None:
            first = now - writing
        elif first is None and row and row[0]:  # committed between two polls
            first = now
        if row and row[1]:
            return first, now
        time.sleep(0.05)


def measure_snapshot(replica_url: str, process: subprocess.Popen, rows: int, started: float) -> dict:
    first, now = wait_for_snapshot(replica_url, process)
    with psycopg.connect(replica_url) as conn:
        copied = conn.execute("SELECT count(*) FROM dim_track").fetchone()[0]
    assert copied == rows, f"snapshot copied {copied} of {rows} rows"
    return {"rows": rows, "from_first_row_s": now - first, "from_start_s": now - started,
            "first_row_after_s": first - started, "cpu_s": cpu_seconds(process.pid)}


def measure_lag(main_url: str, replica_url: str, rate: int, seconds: float, first_id: int) -> dict:
    per_tick = max(1, rate // 100)
    commits: list[tuple[int, int, float]] = []  # first id, last id, commit time (epoch)
    with psycopg.connect(main_url) as conn:
        next_id, tick = first_id, time.perf_counter()
        end = tick + seconds
        while tick < end:
            conn.execute("INSERT INTO analytics.bench_lag SELECT g, repeat('x', 100) "
                         "FROM generate_series(%s::bigint, %s::bigint) g", (next_id, next_id + per_tick - 1))
            conn.commit()
            commits.append((next_id, next_id + per_tick - 1, time.time()))
            next_id += per_tick
            tick += 0.01
            delay = tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        achieved = (next_id - first_id) / (time.perf_counter() - (end - seconds))
    deadline = time.monotonic() + 120
    with psycopg.connect(replica_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM analytics.bench_lag WHERE id >= %s AND id < %s",
                           (first_id, next_id)).fetchone()[0] < next_id - first_id:
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not catch up within 120 s")
            time.sleep(0.2)
        applied = dict(conn.execute(
            "SELECT id, extract(epoch FROM applied_at)::float8 FROM analytics.bench_lag WHERE id >= %s AND id < %s",
            (first_id, next_id)).fetchall())
    lags = sorted(applied[i] - at for low, high, at in commits for i in range(low, high + 1))
    return {"rate": rate, "achieved": achieved, "rows": len(lags), "next_id": next_id,
            "p50": statistics.median(lags), "p99": lags[int(len(lags) * 0.99) - 1], "max": lags[-1]}


def start_kafka(settings: Settings, env: dict[str, str], root: Path) -> dict[str, subprocess.Popen]:
    """The broker and the Connect worker, the connector registered (the applier is started by the caller)."""
    from cdc_connectors.connect_worker import (
        broker_command,
        broker_listens,
        register,
        secrets_dir,
        worker_answers,
        worker_command,
    )

    def until(ready, process: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + 120
        while not ready(settings):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: see {root}")
            time.sleep(0.2)

    processes = {}
    for name, command, ready in (("broker", broker_command(settings), broker_listens),
                                 ("connect", worker_command(settings), worker_answers)):
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(root / f"{name}.log", "w"),
                                           stderr=subprocess.STDOUT)
        until(ready, processes[name], name)
    register(settings, settings.kafka_connect_url, secrets_dir(settings), secrets_dir(settings))
    return processes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--heap", default="256m", help="the JVM's heap cap (the replicator's or Connect's)")
    parser.add_argument("--transport", choices=("embedded", "kafka"), default="embedded")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-cdc-"))
    root.chmod(0o755)
    ports = {name: free_port() for name in ("main", "replica")}
    settings = Settings(
        _env_file=None, runtime_dir=root / "runtime", database_owner_password="bench-owner",
        debezium_database_password="bench-debezium",
        **{f"{name}_database_url": f"postgresql://wrapped:bench@127.0.0.1:{port}/{name}"
           for name, port in ports.items()},
        replica_reader_url=f"postgresql://dashboard:bench@127.0.0.1:{ports['replica']}/replica")
    clusters = [Cluster(name, settings, root / "pgdata", root / "logs") for name in ports]
    main_c, replica_c = clusters
    processes: dict[str, subprocess.Popen] = {}
    try:
        for cluster in clusters:
            cluster.start()
            cluster.migrate()
            with connect_owner(cluster.name, settings) as conn:  # a table of the bench's own, then published
                conn.execute("CREATE TABLE analytics.bench_lag (id bigint PRIMARY KEY, payload text"
                             + (", applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
                                if cluster.name == "replica" else ")"))
            cluster.migrate()
        with psycopg.connect(main_c.url) as conn:
            conn.execute(
                """INSERT INTO dim_track (track_id, name, album_id, primary_artist_id, artist_ids, duration_ms,
                                          explicit, popularity, track_number, disc_number, is_surrogate)
                   SELECT md5(g::text), 'Track name ' || g, 'al' || g %% 5000, 'ar' || g %% 2000,
                          ARRAY['ar' || g %% 2000, 'ar' || g %% 7], 120000 + g %% 200000, g %% 3 = 0, g %% 101,
                          g %% 14 + 1, 1, false
                   FROM generate_series(1, %s) g""", (args.rows,))
        env = dict(os.environ, MAIN_DATABASE_URL=main_c.url, REPLICA_DATABASE_URL=replica_c.url,
                   SOURCE_DATABASE_URL=main_c.url.replace("/main", "/postgres"),
                   REPLICA_READER_URL=settings.replica_reader_url, DATABASE_OWNER_PASSWORD="bench-owner",
                   DEBEZIUM_DATABASE_PASSWORD="bench-debezium", RUNTIME_DIR=str(root / "runtime"),
                   ENV_FILE=str(root / "none.env"), DEBEZIUM_HEAP=args.heap)
        if args.transport == "kafka":
            env.update(CDC_TRANSPORT="kafka", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",
                       KAFKA_CONNECT_URL=f"http://127.0.0.1:{free_port()}", KAFKA_CONNECT_HEAP=args.heap)
            processes.update(start_kafka(settings.model_copy(update={
                "cdc_transport": "kafka", "kafka_bootstrap_servers": env["KAFKA_BOOTSTRAP_SERVERS"],
                "kafka_connect_url": env["KAFKA_CONNECT_URL"], "kafka_connect_heap": args.heap}), env, root))
        started = time.perf_counter()
        command = "consume-kafka" if args.transport == "kafka" else "run"
        process = processes["applier" if args.transport == "kafka" else "replicator"] = subprocess.Popen(
            [sys.executable, "-m", "cdc_connectors", command], cwd=ROOT, env=env,
            stdout=open(root / "replicator.log", "w"), stderr=subprocess.STDOUT)
        snap = measure_snapshot(replica_c.url, process, args.rows, started)
        print(f"snapshot: {snap['rows']:,} rows in {snap['from_first_row_s']:.1f} s from the first written row "
              f"= {snap['rows'] / snap['from_first_row_s']:,.0f} rows/s; {snap['from_start_s']:.1f} s from process "
              f"start = {snap['rows'] / snap['from_start_s']:,.0f} rows/s (first row after "
              f"{snap['first_row_after_s']:.1f} s); the replicator used {snap['cpu_s']:.1f} CPU s "
              f"(start included) = {snap['rows'] / snap['cpu_s']:,.0f} rows per CPU second", flush=True)
        next_id = 1
        for rate in (int(r) for r in args.rates.split(",")):
            lag = measure_lag(main_c.url, replica_c.url, rate, args.seconds, next_id)
            next_id = lag["next_id"]
            print(f"lag at {rate:,} rows/s (achieved {lag['achieved']:,.0f}/s, {lag['rows']:,} rows in "
                  f"{args.seconds:.0f} s): p50 {lag['p50'] * 1000:.0f} ms, p99 {lag['p99'] * 1000:.0f} ms, "
                  f"max {lag['max'] * 1000:.0f} ms", flush=True)
        print("peak RSS: " + ", ".join(f"{name} {peak_rss_mb(p.pid):.0f} MB" for name, p in processes.items())
              + f" (JVM heap cap -Xmx{args.heap})")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        for running in reversed(processes.values()):
            stop_process(running)
        if processes:
            with psycopg.connect(settings.replication_url, autocommit=True) as conn:
                conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots")
        for cluster in clusters:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
