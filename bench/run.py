"""`make bench`: what the pipeline costs, stage by stage, as the listening grows.

    .venv/bin/python -m bench.run [--sizes 10k,100k,1M] [--repeat 3] [--import-records 350000]
                                  [--quiet-minutes 15] [--no-live] [--out bench/results] [--update-readme]

For each size (plays; about 10,000 plays per generated listener over a year) on
three PostgreSQL clusters of its own (free ports, a temporary folder, the
project's settings), every stage runs `--repeat` times and is reported as
median, min and max:

  generation, source load (COPY), source -> main, the source and main Soda gates,
  the Spark analytics full run (stage, analytics gate, publish) and an
  incremental run after 1,000 new plays, both on the warm engine of `make spark`
  (a Spark Connect server started once per size; its start is reported apart,
  its PSS counted in the Spark stages' memory), the same statistics in DuckDB
  (bench/duckdb_reference.py, checked equal to what Spark published), the
  Debezium snapshot of main's published tables into the replica and the
  streaming lag at a steady 1,000 and 5,000 changed rows/s, and the dashboard's
  latency at 20 concurrent clients on the replica that holds them;

then, once, the import of a generated Extended export of `--import-records`
records, and the live stack under `make up` with the largest size's plays of
history (bench/live.py: freshness from ingestion commit to the replica's
statistics, the CPU of a quiet day, the idle memory with the warm engine).
Each stage runs in a process of its own; its peak memory is the largest
proportional set size (PSS) of that process and its children (the JVM of Spark
or Debezium included), sampled every 0.05 s in its first 3 s, then every
0.5 s; the clusters' PSS is sampled alongside. Results go to `--out` as JSON
and Markdown, with the machine's cores and memory; `--update-readme` also puts
the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from bench.replication import stop_process

ROOT = Path(__file__).resolve().parent.parent
DAYS = 365
SEED = 7
PLAYS_PER_USER = 10_000
PLAYS_PER_DAY_RATIO = 0.76   # the generator keeps about this share of `plays_per_day` x days
NEW_PLAYS = 1_000            # per incremental run
LAG_RATES, LAG_SECONDS = (1_000, 5_000), 6
CLIENTS, DASHBOARD_REQUESTS = 20, 300
DATABASES = ("source", "main", "replica")
TARGETS = [  # (issue, what, stage key, size, comparison, limit, unit)
    (16, "Spark full run on 1M plays ÷ DuckDB reference", "spark full run ÷ duckdb", "1M", "<=", 3, "×"),
    (16, "Spark incremental run after 1,000 new plays on 1M", "spark incremental run", "1M", "<", 10, "s"),
    (16, "incremental run ÷ full run on 1M", "spark incremental ÷ full", "1M", "<", 0.20, "×"),
    (16, "one listener's year (10k plays), warm full run", "spark full run", "10k", "<", 5, "s"),
    (5, "Debezium snapshot of 1M rows", "debezium snapshot rows/s", "1M", ">=", 30_000, "rows/s"),
    (5, "replication lag p99 at 1,000 rows/s", "replication lag p99 at 1,000 rows/s", "1M", "<", 1_000, "ms"),
    (5, "replicator peak memory", "debezium snapshot", "1M", "<", 600, "MB"),
    (6, "dashboard overview page p95, 20 clients, 1M plays", "dashboard page p95", "1M", "<", 100, "ms"),
    (6, "dashboard API p95, 20 clients, 1M plays", "dashboard API p95", "1M", "<", 100, "ms"),
    (16, "freshness p95, ingestion commit -> replica's statistics, on 1M", "freshness p95", "live", "<", 60, "s"),
    (16, "quiet day: 5 listeners polled every 5 minutes, whole stack", "quiet day CPU-seconds per hour", "live",
     "<", 300, "CPU-s/h"),
    (16, "idle memory of the whole stack, warm engine included", "idle memory PSS", "live", "<", 2_500, "MB"),
    (8, "import of 350,000 export records", "export import", "import", "<", 30, "s"),
    (8, "import peak memory", "export import", "import", "<", 1_024, "MB"),
]


# -- sizes ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Size:
    label: str
    plays: int

    repeat: int = 3  # incremental runs: NEW_PLAYS each, generated beyond `plays` and held back
    ratio: float = PLAYS_PER_DAY_RATIO  # plays generated / (plays_per_day x days x users), see calibrated()

    @property
    def users(self) -> int:
        return max(1, round(self.plays / PLAYS_PER_USER))

    @property
    def plays_per_day(self) -> float:
        return (self.plays + NEW_PLAYS * self.repeat) / self.users / DAYS / self.ratio


def count_generated(size: Size) -> int:
    from fake_spotify.generate import generate

    return len(generate(SEED, size.users, DAYS, plays_per_day=size.plays_per_day).plays)


def calibrated(size: Size) -> Size:
    """The size with the generator's ratio measured for its users, so that it generates about `plays`."""
    wanted = size.plays + NEW_PLAYS * size.repeat
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        for _ in range(3):
            generated = pool.apply(count_generated, (size,))
            if abs(generated / wanted - 1) < 0.02:
                break
            size = dataclasses.replace(size, ratio=size.ratio * generated / wanted)
    return size


def parse_size(text: str) -> Size:
    text = text.strip()
    factor = {"k": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    number = float(text[:-1] if factor > 1 else text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return Size(text, int(number * factor))


# -- measuring ---------------------------------------------------------------------
def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return rss, pss


def pss_mb(root_pid: int) -> float:
    """Proportional set size of a process and its descendants, in MB (0 when gone)."""
    try:
        processes = [psutil.Process(root_pid)]
        processes += processes[0].children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    return sum(memory_kb(process.pid)[1] for process in processes) / 1024


class PeakSampler(threading.Thread):
    """Samples the PSS of some process trees; `peaks` holds the largest seen per name.

    Every FIRST_INTERVAL s for FIRST_SECONDS after a tree is watched (a short stage ends before a
    slower sample), then every INTERVAL s: reading smaps_rollup walks the process's page tables
    under its memory lock, and sampling a multi-GB Spark driver every 0.1 s coincided with a
    1M-play stage of 72 s against 58 s unsampled.
    """

    FIRST_INTERVAL, FIRST_SECONDS, INTERVAL = 0.05, 3.0, 0.5

    def __init__(self, roots: dict[str, int]):
        super().__init__(daemon=True)
        self.roots = dict(roots)
        self.peaks = dict.fromkeys(roots, 0.0)
        self._watched_at = time.monotonic()
        self._done = threading.Event()

    def watch(self, name: str, pid: int) -> None:
        self.roots[name] = pid
        self.peaks.setdefault(name, 0.0)
        self._watched_at = time.monotonic()

    def run(self) -> None:
        while not self._done.is_set():
            for name, pid in list(self.roots.items()):
                self.peaks[name] = max(self.peaks[name], pss_mb(pid))
            recent = time.monotonic() - self._watched_at < self.FIRST_SECONDS
            self._done.wait(self.FIRST_INTERVAL if recent else self.INTERVAL)

    def __enter__(self) -> PeakSampler:
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self._done.set()
        self.join()


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


class Recorder:
    """Collects a size's measurements: stage -> list of values (one per run), and peak memory."""

    def __init__(self):
        self.values: dict[str, list[float]] = {}
        self.units: dict[str, str] = {}
        self.memory: dict[str, float] = {}

    def add(self, stage: str, value: float, unit: str = "s") -> None:
        self.values.setdefault(stage, []).append(value)
        self.units[stage] = unit

    def peak(self, name: str, mb: float) -> None:
        self.memory[name] = max(self.memory.get(name, 0.0), mb)

    def result(self) -> dict:
        return {"stages": {stage: {"unit": self.units[stage], **summary(values)}
                           for stage, values in self.values.items()},
                "peak_memory_mb": self.memory}


# -- stages that run in a process of their own ----------------------------------------
def _child(conn, function, args):
    try:
        conn.send(("ok", function(*args)))
    except BaseException:  # noqa: BLE001 - reported by the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def in_process(name: str, function, *args, clusters: dict[str, int], recorder: Recorder,
               serving: dict[str, int] | None = None) -> dict:
    """Run `function(*args)` in a new process; record its peak PSS (and the clusters', and that of the
    `serving` processes it submits to, added to its own); return its result."""
    serving = serving or {}
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, function, args), name=name)
    process.start()
    send.close()
    with PeakSampler({name: process.pid, **clusters, **serving}) as sampler:
        try:
            status, result = receive.recv()
        except EOFError:
            status, result = "error", f"the {name} process died (exit code {process.exitcode})"
        process.join()
    if status != "ok":
        raise RuntimeError(f"stage {name} failed:\n{result}")
    recorder.peak(name, sampler.peaks[name] + sum(sampler.peaks[s] for s in serving))
    recorder.peak("postgres (3 clusters)", sum(sampler.peaks[c] for c in clusters))
    return result


def split_newest(listening, size: Size):
    """(the listening without its newest plays, those newest plays oldest first): held back for the
    incremental runs, NEW_PLAYS per run."""
    newest = sorted(listening.plays, key=lambda p: (p.played_at, p.user_id))[-NEW_PLAYS * size.repeat:]
    held = {id(p) for p in newest}
    return dataclasses.replace(listening, plays=[p for p in listening.plays if id(p) not in held]), newest


def stage_generate(size: Size) -> dict:
    from fake_spotify.generate import generate, write_to_source
    from warehouse.db import connect
    from warehouse.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    listening = generate(SEED, size.users, DAYS, plays_per_day=size.plays_per_day)
    generated = time.perf_counter()
    first, _ = split_newest(listening, size)
    with connect("source", settings) as conn:
        write_to_source(conn, first)
    return {"generation": generated - started, "source load": time.perf_counter() - generated,
            "plays": len(first.plays), "users": len(listening.users)}


def stage_load_main() -> dict:
    from star_schema.load import load_main
    from warehouse.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    report = load_main(settings)
    return {"source -> main": time.perf_counter() - started, "plays": report.plays_loaded}


def stage_gates() -> dict:
    from pipeline import gates
    from warehouse.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    source = gates.source_gate(settings)
    middle = time.perf_counter()
    main = gates.main_gate(settings)
    return {"soda source gate": middle - started, "soda main gate": time.perf_counter() - middle,
            "checks": len(source) + len(main)}


def _spark_run(full: bool) -> dict:
    """One run on the warm engine (SPARK_CONNECT_URL): build -> validate -> publish."""
    from pipeline import analytics
    from spark_scripts.session import engine_session
    from warehouse.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    with engine_session(settings) as spark:
        if spark is None:
            raise RuntimeError(f"the warm engine at {settings.spark_connect_url} does not answer")
        ready = time.perf_counter()
        staged = analytics.build(settings, full=full, spark=spark)
    computed = time.perf_counter()
    analytics.validate(settings)
    gated = time.perf_counter()
    report = analytics.publish(settings)
    published = time.perf_counter()
    kind = "full" if full else "incremental"
    return {"spark session": ready - started, f"spark {kind} stage": computed - ready,
            f"soda analytics gate ({kind})": gated - computed, f"publish ({kind})": published - gated,
            f"spark {kind} run": published - started, "scopes": staged.scopes, "rows": report.counts.inserted
            + report.counts.updated + report.counts.deleted, "mode": staged.mode}


class WarmEngine:
    """The warm engine of `make spark` (spark_scripts/submit.engine_command) for one size: started, then
    submitted to by every Spark stage; its start time and PSS are measured."""

    def __init__(self, settings, root: Path):
        from spark_scripts.session import engine_answers
        from spark_scripts.submit import engine_command

        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
        started = time.perf_counter()
        self.process = subprocess.Popen(engine_command(settings), env=env, start_new_session=True,
                                        stdout=(root / "logs" / "spark-engine.log").open("ab"),
                                        stderr=subprocess.STDOUT)
        while not engine_answers(settings.spark_connect_url, timeout=0.5):
            if self.process.poll() is not None or time.perf_counter() - started > 180:
                raise RuntimeError(f"the warm engine did not start: see {root / 'logs' / 'spark-engine.log'}")
            time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started

    def stop(self) -> None:
        stop_process(self.process)


def stage_spark_full() -> dict:
    return _spark_run(full=True)


def stage_new_plays(size: Size, batch: int) -> dict:
    """Write the next 1,000 of the held-back plays into source and load them into main."""
    from fake_spotify.generate import generate, write_to_source
    from star_schema.load import load_main
    from warehouse.db import connect
    from warehouse.settings import load_settings

    settings = load_settings()
    listening = generate(SEED, size.users, DAYS, plays_per_day=size.plays_per_day)
    _, newest = split_newest(listening, size)
    new = dataclasses.replace(listening, plays=newest[batch * NEW_PLAYS:(batch + 1) * NEW_PLAYS])
    started = time.perf_counter()
    with connect("source", settings) as conn:
        write_to_source(conn, new)
    written = time.perf_counter()
    report = load_main(settings)
    return {"1,000 new plays: source load": written - started,
            "1,000 new plays: source -> main": time.perf_counter() - written, "plays": report.plays_loaded}


def stage_spark_incremental() -> dict:
    return _spark_run(full=False)


def stage_duckdb(compare: bool) -> dict:
    import duckdb

    from bench import duckdb_reference
    from warehouse.db import connect
    from warehouse.settings import load_settings

    settings = load_settings()
    duck = duckdb.connect()
    with connect("main", settings) as main:
        started = time.perf_counter()
        plays = duckdb_reference.load(duck, main)
        loaded = time.perf_counter()
        duckdb_reference.compute(duck, settings.album_min_tracks, settings.session_gap_minutes)
        computed = time.perf_counter()
        differ = {name: n for name, n in duckdb_reference.differences(duck, main).items() if n} if compare else {}
    return {"duckdb load from main": loaded - started, "duckdb statistics": computed - loaded,
            "duckdb total": computed - started, "plays": plays, "differ": differ}


# -- the size's databases ----------------------------------------------------------------
def fresh_databases(settings, clusters) -> None:
    """Drop and recreate the three databases (owned by the owner), migrate them and grant the roles."""
    from operations.postgres import superuser_connection
    from warehouse.migrate import migrate_all
    from warehouse.roles import ensure_database

    for cluster in clusters:
        with superuser_connection(cluster) as conn:
            for (slot,) in conn.execute("SELECT slot_name FROM pg_replication_slots").fetchall():
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(cluster.dbname)))
            ensure_database(conn, cluster.dbname, settings.database_owner)
    migrate_all(settings)


def empty(settings, database: str, tables: str) -> None:
    """TRUNCATE the tables matching a LIKE pattern on schema.table (migrations kept), as the owner."""
    from warehouse.db import connect_owner

    with connect_owner(database, settings) as conn:
        names = [sql.Identifier(schema, table) for schema, table in conn.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname || '.' || tablename LIKE %s "
            "AND tablename <> 'schema_migrations'", (tables,)).fetchall()]
        if names:
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(names)))


# -- replication and the dashboard (services started as the user would) -------------------
def replicated_rows(settings) -> int:
    from warehouse.db import connect
    from warehouse.roles import is_replicated

    with connect("main", settings) as conn:
        tables = [(s, t) for s, t in conn.execute("SELECT schemaname, tablename FROM pg_tables").fetchall()
                  if is_replicated(f"{s}.{t}")]
        return sum(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(s, t))).fetchone()[0]
                   for s, t in tables)


def start_replicator(root: Path) -> subprocess.Popen:
    log = (root / "logs" / "replicator.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "cdc_connectors", "run"], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def snapshot_once(settings, root: Path, rows: int, sampler: PeakSampler) -> tuple[subprocess.Popen, dict]:
    """A fresh start of the replicator: Debezium's initial snapshot of main into the emptied replica."""
    from bench.replication import wait_for_snapshot
    from cdc_connectors.replicator import reset

    reset(settings)
    with psycopg.connect(settings.replica_database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM cdc.applied_position")  # the previous run's position says "done"
    started = time.perf_counter()
    process = start_replicator(root)
    sampler.watch("debezium replicator", process.pid)
    first, done = wait_for_snapshot(settings.replica_database_url, process)
    # rows/s from the first applied row; a snapshot too small to tell (one batch) counts from the start
    copying = done - first if first is not None and done - first >= 0.2 else done - started
    return process, {"debezium snapshot": done - started, "debezium snapshot rows/s": rows / copying}


def share_links(settings, users: list[str]) -> dict[str, str]:
    """A share link per user, in main (replicated with everything else); user -> token."""
    from warehouse.db import connect

    tokens = {user: f"bench-{i}-{random.Random(user).getrandbits(64):x}" for i, user in enumerate(users)}
    with connect("main", settings) as conn:
        conn.cursor().executemany(
            "INSERT INTO dashboard_share_links (token_hash, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(hashlib.sha256(token.encode()).hexdigest(), user) for user, token in tokens.items()])
    return tokens


def dashboard_latency(settings, root: Path, tokens: dict[str, str], recorder: Recorder, repeat: int) -> None:
    from bench.dashboard import Scenario, percentile, serve
    from bench.dashboard import run as run_clients
    from operations.postgres import free_port
    from warehouse.catalog import STATISTICS
    from warehouse.db import connect

    with connect("replica", settings) as conn:
        periods = conn.execute("SELECT user_id, period FROM analytics.overview").fetchall()
    port = free_port()
    env = dict(os.environ, DASHBOARD_PORT=str(port), DASHBOARD_HOST="127.0.0.1")
    process = serve(env, port, root / "logs" / "dashboard.log")  # as `make up` serves it
    rng = random.Random(SEED)

    def requests(kind: str, n: int) -> list[tuple[str, dict]]:
        picks = [rng.choice(periods) for _ in range(n)]
        if kind == "page":
            return [(f"/users/{u}?period={p}", {"Cookie": f"wrapped_share={tokens[u]}"}) for u, p in picks]
        return [(f"/api/users/{u}/{rng.choice(STATISTICS)}?period={p}", {"Authorization": f"Bearer {tokens[u]}"})
                for u, p in picks]

    try:
        with PeakSampler({"dashboard": process.pid}) as sampler:
            run_clients(port, Scenario("warm-up", requests("page", 50) + requests("api", 50)), CLIENTS)
            for _ in range(repeat):
                for kind, label in (("page", "dashboard page"), ("api", "dashboard API")):
                    scenario = Scenario(label, requests(kind, DASHBOARD_REQUESTS))
                    run_clients(port, scenario, CLIENTS)
                    if scenario.failures:
                        raise RuntimeError(f"{label}: {len(scenario.failures)} failed, e.g. {scenario.failures[:3]}")
                    ms = [x * 1000 for x in scenario.latencies]
                    recorder.add(f"{label} p50", statistics.median(ms), "ms")
                    recorder.add(f"{label} p95", percentile(ms, 95), "ms")
        recorder.peak("dashboard", sampler.peaks["dashboard"])
    finally:
        stop_process(process)


def replication(settings, root: Path, clusters: dict[str, int], recorder: Recorder, repeat: int) -> None:
    """Debezium: `repeat` initial snapshots, then the lag at each steady rate of changed rows."""
    from bench.replication import measure_lag
    from warehouse.db import connect_owner
    from warehouse.migrate import migrate

    # The lag's table, the bench's own, captured like every analytics table: made by the owner, then
    # granted and published as the migrations do.
    for database, applied_at in (("main", ""), ("replica", ", applied_at timestamptz NOT NULL DEFAULT "
                                                           "clock_timestamp()")):
        with connect_owner(database, settings) as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS analytics.bench_lag (id bigint PRIMARY KEY, payload text"
                         f"{applied_at})")
            migrate(conn, database, settings)
    rows = replicated_rows(settings)
    process = None
    with PeakSampler(clusters) as sampler:
        for run in range(repeat):
            process, measured = snapshot_once(settings, root, rows, sampler)
            for stage, value in measured.items():
                recorder.add(stage, value, "rows/s" if stage.endswith("rows/s") else "s")
            if run < repeat - 1:
                stop_process(process)
        next_id = 1
        for rate in LAG_RATES:
            for _ in range(repeat):
                lag = measure_lag(settings.main_database_url, settings.replica_database_url, rate, LAG_SECONDS,
                                  next_id)
                next_id = lag["next_id"]
                for quantile in ("p50", "p99"):
                    recorder.add(f"replication lag {quantile} at {rate:,} rows/s", lag[quantile] * 1000, "ms")
        stop_process(process)
    recorder.peak("debezium snapshot", sampler.peaks["debezium replicator"])
    recorder.peak("postgres (3 clusters)", sum(sampler.peaks[c] for c in clusters))
    recorder.values.setdefault("debezium snapshot rows", []).append(rows)
    recorder.units["debezium snapshot rows"] = "rows"


# -- one size ---------------------------------------------------------------------------
def bench_size(size: Size, settings, root: Path, clusters: list, repeat: int) -> dict:
    recorder = Recorder()
    cluster_pids = {f"postgres {c.name}": int((c.datadir / "postmaster.pid").read_text().split()[0])
                    for c in clusters}
    fresh_databases(settings, clusters)
    began = time.perf_counter()
    say = lambda text: print(f"[{size.label} +{time.perf_counter() - began:4.0f} s] {text}", flush=True)  # noqa: E731

    serving: dict[str, int] = {}

    def stage(name, function, *args):
        began = time.perf_counter()
        result = in_process(name, function, *args, clusters=cluster_pids, recorder=recorder,
                            serving=serving if name.startswith("spark") else None)
        result["wall"] = f"{time.perf_counter() - began:.0f} s"
        for key, value in result.items():
            if isinstance(value, float):
                recorder.add(key, value)
        say(f"{name}: " + ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in result.items()))
        return result

    plays = 0
    for _ in range(repeat):
        empty(settings, "source", "public.%")
        plays = stage("generation and source load", stage_generate, size)["plays"]
    for _ in range(repeat):
        empty(settings, "main", "public.%")
        empty(settings, "main", "etl.%")
        stage("source -> main", stage_load_main)
    for _ in range(repeat):
        stage("soda gates", stage_gates)
    engine = WarmEngine(settings, root)
    recorder.add("spark engine start", engine.start_seconds)
    serving["spark engine"] = engine.process.pid
    try:
        for _ in range(repeat):
            empty(settings, "main", "analytics.%")
            empty(settings, "main", "etl.analytics_runs")
            stage("spark full run", stage_spark_full)
        for run in range(repeat):
            stage("duckdb reference", stage_duckdb, run == repeat - 1)
        for batch in range(repeat):
            stage("new plays", stage_new_plays, size, batch)
            if stage("spark incremental run", stage_spark_incremental)["mode"] != "incremental":
                raise RuntimeError("the run after 1,000 new plays was not incremental")
    finally:
        engine.stop()
    full, incremental = (statistics.median(recorder.values[f"spark {kind} run"]) for kind in ("full", "incremental"))
    recorder.add("spark full run ÷ duckdb", full / statistics.median(recorder.values["duckdb total"]), "×")
    recorder.add("spark incremental ÷ full", incremental / full, "×")
    differ = in_process("duckdb check", stage_duckdb, True, clusters=cluster_pids, recorder=Recorder())["differ"]
    say("DuckDB and Spark agree on every statistic" if not differ else f"DuckDB and Spark DIFFER: {differ}")

    from warehouse.db import connect

    with connect("main", settings) as conn:
        users = [u for (u,) in conn.execute("SELECT user_id FROM dim_user ORDER BY 1")]
    tokens = share_links(settings, users)
    replication(settings, root, cluster_pids, recorder, repeat)
    say("debezium: " + ", ".join(f"{k} {statistics.median(v):,.1f}" for k, v in recorder.values.items()
                                 if k.startswith(("debezium", "replication"))))
    dashboard_latency(settings, root, tokens, recorder, repeat)
    say("dashboard: " + ", ".join(f"{k} {statistics.median(v):.1f} ms" for k, v in recorder.values.items()
                                  if k.startswith("dashboard")))
    return {"plays": plays, "users": size.users, "duckdb_differs": differ, **recorder.result()}


# -- the export import ---------------------------------------------------------------------
def bench_import(settings, root: Path, clusters: list, records: int, repeat: int) -> dict:
    from fake_spotify.generate import generate, write_extended_export

    recorder = Recorder()
    users = max(1, round(records / 96_000))
    listening = generate(1, users=users, days=3650, plays_per_day=records / users / 3650 / 0.8)
    files = write_extended_export(listening, root / "export")
    count = len(listening.plays)
    del listening
    source = next(c for c in clusters if c.name == "source")
    for _ in range(repeat):
        empty(settings, "source", "public.%")
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "ingestion", "import", str(root / "export"), "--user", "bench-user",
             "--create-user", "--timezone", "Europe/Berlin", "--no-progress"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        postmaster = int((source.datadir / "postmaster.pid").read_text().split()[0])
        with PeakSampler({"export import": process.pid, "postgres source": postmaster}) as sampler:
            output, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the import failed:\n{output}")
        recorder.add("export import", time.perf_counter() - started)
        recorder.peak("export import", sampler.peaks["export import"])
        print(f"[import] {count:,} records, {len(files)} files: {time.perf_counter() - started:.1f} s, "
              f"peak {sampler.peaks['export import']:.0f} MB", flush=True)
    return {"records": count, "files": len(files), **recorder.result()}


# -- results ---------------------------------------------------------------------------------
def machine() -> dict:
    def version(command: list[str]) -> str:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
            return (result.stdout or result.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    from operations.postgres import pg_bin

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "cpu": cpu,
            "os": platform.platform(), "python": platform.python_version(), "java": version(["java", "-version"]),
            "postgres": version([pg_bin("postgres"), "--version"])}


def _figure(entry: dict | None, unit: str | None = None) -> str:
    if not entry:
        return "–"
    unit = unit or entry["unit"]
    fmt = (lambda v: f"{v:,.0f}") if unit in ("rows/s", "rows", "MB") or entry["median"] >= 100 else \
        (lambda v: f"{v:.1f}") if entry["median"] >= 1 else (lambda v: f"{v:.2f}")
    return f"{fmt(entry['median'])} ({fmt(entry['min'])}–{fmt(entry['max'])})"


def scaling(results: dict) -> list[dict]:
    """For each stage, the growth of its median from each size to the next (and vs. the plays' growth)."""
    sizes = list(results["sizes"])
    rows = []
    for small, large in zip(sizes, sizes[1:], strict=False):
        a, b = results["sizes"][small], results["sizes"][large]
        plays = b["plays"] / a["plays"]
        for stage, entry in b["stages"].items():
            if stage in a["stages"] and entry["unit"] == "s" and a["stages"][stage]["median"] > 0:
                growth = entry["median"] / a["stages"][stage]["median"]
                rows.append({"stage": stage, "from": small, "to": large, "plays_growth": plays,
                             "time_growth": growth, "vs_linear": growth / plays})
    return rows


def targets(results: dict) -> list[dict]:
    found = []
    for issue, what, stage, size, op, limit, unit in TARGETS:
        if size == "live":
            value = results["live"].get(stage)
        else:
            where = results["import"] if size == "import" else results["sizes"].get(size)
            if not where:  # that size, or the import (--import-records 0), was not measured
                continue
            value = where["peak_memory_mb"].get(stage) if unit == "MB" else where["stages"].get(stage, {}).get("median")
        if value is None:
            continue
        met = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
        found.append({"issue": issue, "what": what, "target": f"{op} {limit:,} {unit}", "measured": value,
                      "unit": unit, "met": met})
    return found


def markdown(results: dict) -> str:
    m = results["machine"]
    sizes = list(results["sizes"])
    lines = [
        f"Measured {results['finished'][:16].replace('T', ' ')} UTC by `make bench` "
        f"(`{results['command']}`) in {results['seconds'] / 60:.1f} min on {m['cores']} cores, "
        f"{m['memory_gb']} GB ({m['cpu']}); {results['repeat']} runs per stage: median (min–max).",
        "",
        "| Stage | " + " | ".join(f"{s} ({results['sizes'][s]['plays']:,} plays, {results['sizes'][s]['users']} "
                                    f"user{'s' * (results['sizes'][s]['users'] != 1)})" for s in sizes) + " |",
        "| --- |" + " --- |" * len(sizes),
    ]
    stages: list[str] = []
    for size in sizes:
        stages += [s for s in results["sizes"][size]["stages"] if s not in stages]
    for stage in stages:
        unit = next(results["sizes"][s]["stages"][stage]["unit"] for s in sizes
                    if stage in results["sizes"][s]["stages"])
        lines.append(f"| {stage} ({unit}) | " + " | ".join(
            _figure(results["sizes"][s]["stages"].get(stage)) for s in sizes) + " |")
    lines += ["", "Peak memory (PSS, MB) of each process during its stage:", "",
              "| Process | " + " | ".join(sizes) + " |", "| --- |" + " --- |" * len(sizes)]
    processes: list[str] = []
    for size in sizes:
        processes += [p for p in results["sizes"][size]["peak_memory_mb"] if p not in processes]
    for process in processes:
        lines.append(f"| {process} | " + " | ".join(
            f"{results['sizes'][s]['peak_memory_mb'].get(process, 0):,.0f}" for s in sizes) + " |")
    imp = results["import"]
    if imp:
        lines += ["", f"Export import of {imp['records']:,} generated Extended records ({imp['files']} files): "
                  f"{_figure(imp['stages']['export import'])} s, peak "
                  f"{imp['peak_memory_mb']['export import']:,.0f} MB."]
    live = results["live"]
    if live:
        lines += ["", f"The live stack (`{live['command']}`): `make up` {live['make up']:.0f} s; the first analytics "
                  f"run over {live['history plays']:,} plays of history in the replica "
                  f"{live['first run through the stack']:.0f} s after the first ingestion; freshness of "
                  f"{live['freshness plays']} plays of {live['listeners']} listeners from ingestion commit to the "
                  f"replica's statistics p50 {live['freshness p50']:.1f} s, p95 {live['freshness p95']:.1f} s, max "
                  f"{live['freshness max']:.1f} s; idle memory {live['idle memory PSS']:,.0f} MB PSS"
                  + (f"; a quiet day {live['quiet day CPU-seconds per hour']:,.0f} CPU-seconds per hour "
                     f"({live['quiet day minutes']:.0f} min, {live['quiet day plays ingested']} plays ingested; "
                     + ", ".join(f"{name} {cpu:,.0f}" for name, cpu in
                                 live["quiet day CPU-seconds per hour by component"].items()) + ")"
                     if "quiet day CPU-seconds per hour" in live else "") + "."]
    grow = results["scaling"]
    if grow:
        pairs = sorted({(r["from"], r["to"]) for r in grow}, key=lambda p: sizes.index(p[0]))
        lines += ["", "Growth of each stage's median time between sizes (time ×; ÷ the plays' growth: 1.00 = "
                  "linear):", "", "| Stage | " + " | ".join(f"{a} → {b}" for a, b in pairs) + " |",
                  "| --- |" + " --- |" * len(pairs)]
        for stage in dict.fromkeys(r["stage"] for r in grow):
            cells = []
            for a, b in pairs:
                row = next((r for r in grow if r["stage"] == stage and (r["from"], r["to"]) == (a, b)), None)
                cells.append("–" if row is None else f"{row['time_growth']:.1f}× ({row['vs_linear']:.2f}"
                             f"{' **worse than linear**' if row['vs_linear'] > 1.25 else ''})")
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    if results["targets"]:
        lines += ["", "Targets named in the issues:", "", "| Issue | What | Target | Measured | |",
                  "| --- | --- | --- | --- | --- |"]
        for t in results["targets"]:
            lines.append(f"| #{t['issue']} | {t['what']} | {t['target']} | {t['measured']:,.1f} {t['unit']} | "
                         f"{'met' if t['met'] else '**missed**'} |")
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(table: str) -> None:
    """Put the table between the bench markers of docs/benchmarks.md (the README links there)."""
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    doc.write_text(text[:start] + "\n" + table + text[end:])


def live_stack(environment: dict[str, str], size: Size, quiet_minutes: float) -> dict:
    """bench/live.py in a process of its own, on its own `make up` (the bench's clusters are stopped)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench.live", "--history", size.label,
                   "--quiet-minutes", f"{quiet_minutes:g}", "--json", out.name]
        print(f"live stack: {' '.join(command[1:])}", flush=True)
        done = subprocess.run(command, cwd=ROOT, env=environment)
        if done.returncode != 0:
            raise RuntimeError(f"python -m bench.live failed with exit code {done.returncode}")
        result = json.loads(Path(out.name).read_text())
    return {**result, "command": "python " + " ".join(command[1:-2])}


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M", help="plays per size, e.g. 10k,100k,1M,10M")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage (at least 3 for the record)")
    parser.add_argument("--import-records", type=int, default=350_000, help="0: skip the export import")
    parser.add_argument("--quiet-minutes", type=float, default=15, help="the live stack's quiet day (0: none)")
    parser.add_argument("--no-live", action="store_true", help="skip the live stack (bench/live.py)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--update-readme", action="store_true", help="put the Markdown table in docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sizes = [dataclasses.replace(parse_size(s), repeat=args.repeat) for s in args.sizes.split(",")]

    from operations.postgres import free_port, project_clusters
    from warehouse.settings import load_settings

    began = time.perf_counter()
    environment = dict(os.environ)  # the live stack's: bench/live.py sets up its own below
    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-"))
    root.chmod(0o755)
    (root / "logs").mkdir()
    ports = {name: free_port() for name in DATABASES}
    os.environ.update({f"{name.upper()}_DATABASE_URL": f"postgresql://wrapped:bench@127.0.0.1:{ports[name]}/{name}"
                       for name in DATABASES})
    os.environ.update(REPLICA_READER_URL=f"postgresql://dashboard:reader@127.0.0.1:{ports['replica']}/replica",
                      RUNTIME_DIR=str(root), ENV_FILE=str(root / "no.env"), SPARK_LOCAL_IP="127.0.0.1",
                      DEBEZIUM_SLOT_NAME="bench_slot", PYTHONPATH=str(ROOT),
                      DATABASE_OWNER_PASSWORD="bench-owner", DEBEZIUM_DATABASE_PASSWORD="bench-debezium",
                      SPARK_CONNECT_URL=f"sc://127.0.0.1:{free_port()}")
    settings = load_settings()
    clusters = project_clusters(settings)
    results: dict = {"machine": machine(), "command": "python -m bench.run " + " ".join(argv or sys.argv[1:]),
                     "repeat": args.repeat, "started": datetime.now(UTC).isoformat(), "sizes": {}, "import": {},
                     "live": {}}
    print(f"bench in {root}: sizes {', '.join(s.label for s in sizes)}, {args.repeat} runs per stage; "
          f"{results['machine']['cores']} cores, {results['machine']['memory_gb']} GB", flush=True)
    try:
        for cluster in clusters:
            cluster.start()
        for size in sizes:
            results["sizes"][size.label] = bench_size(calibrated(size), settings, root, clusters, args.repeat)
        if args.import_records:
            fresh_databases(settings, clusters)
            results["import"] = bench_import(settings, root, clusters, args.import_records, args.repeat)
    finally:
        for cluster in clusters:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    if not args.no_live:
        results["live"] = live_stack(environment, sizes[-1], args.quiet_minutes)
    results["finished"] = datetime.now(UTC).isoformat()
    results["seconds"] = time.perf_counter() - began
    results["scaling"] = scaling(results)
    results["targets"] = targets(results)
    table = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = results["finished"][:19].replace(":", "").replace("-", "")
    for name in (f"bench-{stamp}", "latest"):
        (args.out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / f"{name}.md").write_text(table)
    if args.update_readme:
        update_readme(table)
    print("\n" + table)
    print(f"written: {args.out / 'latest.json'}, {args.out / 'latest.md'}"
          + (" and docs/benchmarks.md" if args.update_readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
