"""Latency of the dashboard at 20 concurrent clients, with the replica holding
the statistics of about 1M plays.

    .venv/bin/python bench/dashboard.py [--users 100] [--clients 20] [--requests 2000] [--seed 1]

Starts its own PostgreSQL cluster on a free port in a temporary folder (never
the developer clusters), migrates it as a replica, creates the read-only role,
and fills every statistic table with generated rows of the shape and volume the
analytics job writes for ~1M plays: `--users` users x (all + 3 rolling + 2 years
+ 24 months) periods (a rolling period shaped as a month or a year), top 50s, whole
rankings (2,000 tracks of all time, 1,000 of a year, 150 of a month, and a quarter / a
third as many artists / albums), 24 hours, 7 days,
168 clock cells, a few hundred albums, ~40 sessions a month, and dimensions of 40k tracks; two users in
three allow comparison, and taste_overlap holds a row each way for every two of them and every period. Each
user gets a share link. Then it serves the dashboard in a child process as `make up` runs it
(`python -m dashboard serve`: gunicorn, DASHBOARD_WORKERS x DASHBOARD_THREADS,
a pool of DASHBOARD_THREADS replica connections per worker) and sends, from
`--clients` threads without pause, requests for random users and periods: the
overview page (share link cookie), one API endpoint per request (Bearer
token), an artist page of the user's, and a search page (the start of a word);
then again with a new connection per query (`dashboard.server.serve`
with pool_size=0, the same server otherwise). Prints p50 / p95 / p99 latency
and throughput, then stops everything.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from operations.postgres import Cluster, free_port  # noqa: E402
from warehouse.catalog import ROLLING_PERIODS, STATISTICS  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

YEARS = (2024, 2025)
TIMEZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC", "Australia/Sydney", "Asia/Tokyo"]
GENRES = ["pop", "indie rock", "jazz", "hip hop", "techno", "folk", "k-pop", "metal", "soul", "ambient",
          "house", "classical", "reggaeton", "lo-fi", "punk"]
N_ARTISTS, N_ALBUMS, N_TRACKS = 3_000, 8_000, 40_000
COMPUTED_AT = datetime(2026, 1, 2, 3, tzinfo=UTC)
MAX_PLAYED = datetime(2025, 12, 31, 22, tzinfo=UTC)


def periods() -> list[str]:
    return ["all", *ROLLING_PERIODS, *map(str, YEARS), *(f"{y}-{m:02d}" for y in YEARS for m in range(1, 13))]


def period_days(period: str) -> tuple[date, date]:
    """The overview's first_day and last_day: all time from the first day of YEARS, a year's and a month's calendar
    days, a rolling period's from its first day to the last day with a stream (MAX_PLAYED's)."""
    last = MAX_PLAYED.date()
    if period == "all":
        return date(YEARS[0], 1, 1), last
    if period in ROLLING_PERIODS:
        return {"last-4-weeks": last - timedelta(days=27), "last-6-months": date(last.year, 7, 1),
                "last-12-months": date(last.year, 1, 1)}[period], last
    start = date(int(period[:4]), int(period[5:] or 1), 1)
    end = date(start.year, 12, 31) if len(period) == 4 else \
        date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
    return start, end


def consents(u: int) -> bool:
    """Whether user `u` allows comparison: two in three do."""
    return u % 3 != 2


def shape(period: str) -> tuple[int, date]:
    """(0 for all time, 1 a year, 2 a month; its first day); a rolling period is shaped as its like."""
    like = {"last-4-weeks": "2025-12", "last-6-months": str(YEARS[-1]), "last-12-months": str(YEARS[-1])}
    period = like.get(period, period)
    if period == "all":
        return 0, date(YEARS[0], 1, 1)
    return (1 if len(period) == 4 else 2), date(int(period[:4]), int(period[5:] or 1), 1)


# Names of two or three words, some accented, as search meets them; each user's items of all time.
WORDS = ["night", "river", "golden", "echo", "velvet", "ghost", "light", "ocean", "stone", "fire", "city", "neon",
         "blue", "paper", "sugar", "glass", "harbour", "quiet", "distant", "open", "wild", "heart", "summer",
         "rain", "dream", "moon", "shadow", "silver", "electric", "honey", "café", "señor", "élan", "noël",
         "über", "señorita", "déjà", "vu", "zoë", "björk", "mötley", "naïve", "crème", "piñata", "jalapeño",
         "sunset", "morning", "thunder", "garden", "diamond", "winter", "orchid", "falcon", "mirror", "canyon"]
streamed: dict[str, dict[str, list[str]]] = {}  # user -> ranking table -> its ids of period 'all'


def name(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 3))).title()


def fill(conn: psycopg.Connection, users: int, seed: int) -> dict[str, int]:
    """Generated statistics of `users` users, ~10k plays each; returns rows per table."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}

    def copy(table: str, columns: str | None, rows) -> None:
        """COPY rows of `columns`, or of every column in the table's order."""
        target = f"{table} ({columns})" if columns else table
        with conn.cursor().copy(f"COPY {target} FROM STDIN") as cp:
            n = 0
            for row in rows:
                cp.write_row(row)
                n += 1
        counts[table] = counts.get(table, 0) + n

    img = "https://i.scdn.co/image/ab67616d0000b273{:024x}"
    copy("dim_user", "user_id, display_name, timezone, compare_consent",
         ((f"user{u:03d}", f"Listener {u}", TIMEZONES[u % len(TIMEZONES)], consents(u)) for u in range(users)))
    copy("dim_artist", "artist_id, name, genres, popularity, image_url, is_surrogate",
         ((f"ar{a:05d}", name(rng), rng.sample(GENRES, rng.randint(0, 3)), rng.randint(0, 100),
           img.format(a) if a % 4 else None, False) for a in range(N_ARTISTS)))
    copy("dim_album", "album_id, name, primary_artist_id, artist_ids, release_date, release_year, "
                      "total_tracks, image_url, is_surrogate",
         ((f"al{a:05d}", name(rng), f"ar{a % N_ARTISTS:05d}", [f"ar{a % N_ARTISTS:05d}"],
           f"{1960 + a % 66}-01-01", 1960 + a % 66, 5 + a % 12, img.format(10**6 + a), False)
          for a in range(N_ALBUMS)))
    copy("dim_track", "track_id, name, album_id, primary_artist_id, artist_ids, duration_ms, explicit, "
                      "popularity, is_surrogate",
         ((f"tr{t:06d}", name(rng), f"al{t % N_ALBUMS:05d}", f"ar{t % N_ARTISTS:05d}",
           [f"ar{t % N_ARTISTS:05d}"], 120_000 + t % 240_000, t % 7 == 0, t % 101, False)
          for t in range(N_TRACKS)))

    buffers: dict[str, list] = {name: [] for name in STATISTICS}
    streamed.clear()
    shared: dict[tuple[int, str], tuple[list[str], list[str]]] = {}  # (user, period) -> 5 artists, 5 tracks
    for u in range(users):
        user = f"user{u:03d}"
        streamed[user] = {}
        for period in periods():
            kind, start = shape(period)
            n = (10_000, 5_000, 420)[kind] + rng.randint(-50, 50)
            def add(table, *rows, _user=user, _period=period, after=lambda row: ()):
                """Rows of every column, in the table's order: `after(row)`, the columns added later."""
                buffers[table].extend((_user, _period, *row, COMPUTED_AT, MAX_PLAYED, *after(row)) for row in rows)

            add("overview", (n, n * 200_000, n // 3, n // 12, n // 8, min(300, n // 30),
                             datetime(start.year, start.month, 1, 8, tzinfo=UTC), MAX_PLAYED, 30.0,
                             rng.random() / 4, rng.uniform(30, 70), n // 50, n // 6),
                after=lambda row, _period=period: (*period_days(_period), 1 + row[0] % row[5]))
            for table, prefix, count in (("top_tracks", "tr", N_TRACKS), ("top_artists", "ar", N_ARTISTS),
                                         ("top_albums", "al", N_ALBUMS)):
                width = 6 if prefix == "tr" else 5
                picks = rng.sample(range(count), 50)
                add(table, *((r + 1, f"{prefix}{p:0{width}d}", n // (r + 5), n // (r + 5) * 200_000)
                             for r, p in enumerate(picks)))
            add("hour_of_day", *((h, n // 24, n // 24 * 200_000, 1 / 24) for h in range(24)))
            add("day_of_week", *((d, n // 7, n // 14, n // 40, 0.5, 0.18) for d in range(1, 8)))
            add("listening_clock", *((d, h, n // 168) for d in range(1, 8) for h in range(24)))
            albums = (400, 250, 40)[kind]
            add("album_completion", *((f"al{a:05d}", 10, 1 + r % 10, (1 + r % 10) / 10,
                                       ["partial", "half", "most", "complete"][min(3, (r % 10) // 3)], 5, r + 1)
                                      for r, a in enumerate(rng.sample(range(N_ALBUMS), albums))))
            add("artist_streaks", *((r + 1, f"ar{rng.randrange(N_ARTISTS):05d}", 12 - r, start,
                                     start + timedelta(days=11 - r)) for r in range(10)))
            add("session_summary", (n // 10, 1_800_000.0, 9_000_000, 10.0))
            add("play_gaps", ("continuous", n * 8 // 10, 0.8), ("short_break", n // 10, 0.1),
                ("long_break", n // 10 - 1, 0.1))
            add("popularity_distribution", *((str(k), n // 12, n // 40, 1 / 12) for k in range(10)),
                ("unknown", n // 6, n // 20, 1 / 6))
            add("duration_preference", *((c, n // 4, 0.25) for c in ("short", "medium", "long", "unknown")))
            add("explicit_preference", *((c, n // 3, 1 / 3) for c in ("true", "false", "unknown")))
            add("release_years", *((y, n // 60, 3) for y in range(1966, 2026)))
            add("longest_days", *((r + 1, start + timedelta(days=r), 20_000_000 - r * 1000, 90 - r)
                                  for r in range(10)))
            add("genre_distribution", *((g, r + 1, n // (r + 3), 1 / (r + 3)) for r, g in enumerate(GENRES)),
                ("unknown", None, n // 5, 0.2))
            items = (2_000, 1_000, 150)[kind]
            for table, prefix, count, share in (("track_ranking", "tr", N_TRACKS, 1), ("artist_ranking", "ar",
                                                N_ARTISTS, 4), ("album_ranking", "al", N_ALBUMS, 3)):
                picks, width = rng.sample(range(count), items // share), 6 if prefix == "tr" else 5
                time_ranks = rng.sample(range(1, len(picks) + 1), len(picks))
                named = {"tr": lambda p: (f"al{p % N_ALBUMS:05d}", f"ar{p % N_ARTISTS:05d}"),
                         "al": lambda p: (f"ar{p % N_ARTISTS:05d}",), "ar": lambda p: ()}[prefix]
                after = {"tr": lambda row: (rng.random() / 3, row[0], [row[0]]),  # skip_rate, its recording
                         "ar": lambda row, _start=start: (int(row[-2] == 1), 1 + row[-2] % 9, _start,
                                                          _start + timedelta(days=row[-2] % 9),
                                                          spread_over(row[1], 24), spread_over(row[1], 7)),
                         "al": lambda row: ()}[prefix]
                add(table, *((f"{prefix}{p:0{width}d}", *named(p), n // (r + 5), n // (r + 5) * 200_000,
                              1 / (r + 5), datetime(start.year, start.month, 1, 8, tzinfo=UTC), MAX_PLAYED, r + 1,
                              time_ranks[r]) for r, p in enumerate(picks)), after=after)
                if period == "all":
                    streamed[user][table] = [f"{prefix}{p:0{width}d}" for p in picks]
                if prefix in ("ar", "tr") and consents(u):
                    shared.setdefault((u, period), ([], []))[prefix == "tr"].extend(
                        f"{prefix}{p:0{width}d}" for p in picks[:5])
            if consents(u):  # with each consenting user before: a row each way, the same numbers both ways
                for v in filter(consents, range(u)):
                    mine, theirs = shared[u, period], shared[v, period]
                    artists, tracks = ([i for pair in zip(mine[k], theirs[k], strict=True) for i in pair]
                                       for k in (0, 1))
                    overlap, common = (u * 37 + v * 37 + n) % 1000 / 1000, 20 + (u + v) % 180
                    first = [f"user{(u, v)[i % 3]:03d}" if i % 3 < 2 else None for i in range(10)]
                    for one, other in ((u, v), (v, u)):
                        buffers["taste_overlap"].append((f"user{one:03d}", period, f"user{other:03d}", overlap,
                                                         common, common * 4, artists, tracks, first, COMPUTED_AT,
                                                         MAX_PLAYED))
            if len(period) == 7:
                for s in range(40):
                    begin = datetime(start.year, start.month, 1 + s % 28, 6 + s % 15, s, tzinfo=UTC)
                    buffers["sessions"].append((user, int(begin.timestamp() * 1000) + u, period, begin,
                                          begin + timedelta(minutes=20 + s), 10, 9, 2_000_000,
                                          COMPUTED_AT, MAX_PLAYED))
        if u % 10 == 9 or u == users - 1:  # flush every 10 users
            for table, rows in buffers.items():
                if not rows:
                    continue
                copy(f"analytics.{table}", None, rows)  # the rows hold every column, in the table's order
                rows.clear()
    conn.commit()
    return counts


def spread_over(streams: int, cells: int) -> list[int]:
    """`streams` counted over `cells` (an artist's hour or weekday profile): the rest in the last cell."""
    return [streams // cells] * (cells - 1) + [streams - streams // cells * (cells - 1)]


class Scenario:
    def __init__(self, name: str, requests: list[tuple[str, dict]]):
        self.name, self.requests = name, requests
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.bytes = 0


def run(port: int, scenario: Scenario, clients: int) -> float:
    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in scenario.requests:
        work.put(item)
    lock = threading.Lock()

    def client():
        while True:
            try:
                path, headers = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - started
            conn.close()
            with lock:
                scenario.latencies.append(elapsed)
                scenario.bytes += len(body)
                if response.status != 200:
                    scenario.failures.append(f"{response.status} {path}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """CPU time of a process (user + system), plus its live children and reaped children's if asked."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        total += int(fields[13]) + int(fields[14])  # cutime, cstime: children that exited
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                child = stat.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(child[1]) == pid:
                total += int(child[11]) + int(child[12])
    return total / ticks


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def serve(env: dict, port: int, log: Path, pool_size: int | None = None) -> subprocess.Popen:
    """The dashboard as `make up` serves it (pool_size None), or with `pool_size` replica connections per worker."""
    command = [sys.executable, "-m", "dashboard", "serve"] if pool_size is None else [
        sys.executable, "-c", "from dashboard.server import serve; from warehouse.settings import get_settings; "
                              f"serve(get_settings(), pool_size={pool_size})"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise SystemExit(f"the dashboard did not start; see {log}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-dashboard-"))
    root.chmod(0o755)
    pg_port, port = free_port(), free_port()
    settings = Settings(
        _env_file=None, replica_database_url=f"postgresql://wrapped:bench@127.0.0.1:{pg_port}/replica",
        replica_reader_url=f"postgresql://dashboard:reader@127.0.0.1:{pg_port}/replica", runtime_dir=root,
        database_owner_password="bench-owner")
    cluster = Cluster("replica", settings, root / "pgdata", root / "logs",
                      (("fsync", "off"), ("max_connections", "200")))
    process = None
    try:
        cluster.start()
        cluster.migrate()
        started = time.perf_counter()
        with psycopg.connect(settings.replica_database_url) as conn:
            counts = fill(conn, args.users, args.seed)
            tokens = {f"user{u:03d}": f"bench-token-{u}" for u in range(args.users)}
            conn.cursor().executemany(
                "INSERT INTO dashboard_share_links (token_hash, user_id) VALUES (%s, %s)",
                [(hashlib.sha256(t.encode()).hexdigest(), user) for user, t in tokens.items()])
            conn.commit()
            # A replica in use has been vacuumed and analyzed by autovacuum; the owner does it now (the applier
            # may not), so that no autovacuum of the fresh rows runs beside the measurements.
            with psycopg.connect(settings.owner_url("replica"), autocommit=True) as owner:
                owner.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        total = sum(counts.values())
        print(f"replica filled in {time.perf_counter() - started:.1f} s: {total:,} rows, {size} "
              f"({args.users} users x {len(periods())} periods; sessions {counts['analytics.sessions']:,}, "
              f"listening_clock {counts['analytics.listening_clock']:,}, "
              f"top_tracks {counts['analytics.top_tracks']:,})")

        rng = random.Random(args.seed)
        users = list(tokens)

        def pages(n):
            return [(f"/users/{u}?period={rng.choice(periods())}", {"Cookie": f"wrapped_share={tokens[u]}"})
                    for u in (rng.choice(users) for _ in range(n))]

        def entity_pages(n):
            """An artist of the user's, in a random period."""
            return [(f"/users/{u}/artists/{rng.choice(streamed[u]['artist_ranking'])}?period={rng.choice(periods())}",
                     {"Cookie": f"wrapped_share={tokens[u]}"}) for u in (rng.choice(users) for _ in range(n))]

        def searches(n):
            """The start (3 to 6 letters) of a random word, as someone types it."""
            return [(f"/users/{u}/search?q={quote(rng.choice(WORDS)[:rng.randint(3, 6)])}",
                     {"Cookie": f"wrapped_share={tokens[u]}"}) for u in (rng.choice(users) for _ in range(n))]

        def api(n):
            return [(f"/api/users/{u}/{rng.choice(STATISTICS)}?period={rng.choice(periods())}",
                     {"Authorization": f"Bearer {tokens[u]}"}) for u in (rng.choice(users) for _ in range(n))]

        env = dict(os.environ, REPLICA_READER_URL=settings.replica_reader_url, DASHBOARD_PORT=str(port),
                   DASHBOARD_HOST="127.0.0.1", RUNTIME_DIR=str(root), ENV_FILE=str(root / "none.env"))
        served = Settings(_env_file=None)  # the server's DASHBOARD_WORKERS and _THREADS: this environment's
        print(f"server: gunicorn (python -m dashboard serve), {served.dashboard_workers} workers x "
              f"{served.dashboard_threads} threads; {args.clients} concurrent clients, no think time; "
              f"load average before: {os.getloadavg()[0]:.2f}")
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        print("CPU ms/req: CPU time used per request by the dashboard's processes (Python) and by PostgreSQL")
        print(f"{'scenario':38} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'req/s':>6} "
              f"{'KB/resp':>7} {'CPU ms/req py + pg':>19}")
        for pool_size, n in ((None, args.requests), (0, args.requests // 2)):
            process = serve(env, port, root / "logs" / "dashboard.log", pool_size)
            run(port, Scenario("warm-up", pages(100) + api(100)), args.clients)
            for label, requests in (("overview page", pages(n)), ("API, one statistic", api(n)),
                                    ("artist page", entity_pages(n)), ("search page", searches(n))):
                scenario = Scenario(label, requests)
                cpu_before = cpu_seconds(process.pid, with_children=True), cpu_seconds(postmaster, with_children=True)
                seconds = run(port, scenario, args.clients)
                cpu_py = (cpu_seconds(process.pid, with_children=True) - cpu_before[0]) * 1000 / len(requests)
                cpu_pg = (cpu_seconds(postmaster, with_children=True) - cpu_before[1]) * 1000 / len(requests)
                ms = [x * 1000 for x in scenario.latencies]
                name = f"{label} (pool {served.dashboard_threads})" if pool_size is None else f"{label} (no pool)"
                print(f"{name:38} {len(ms):>8} {statistics.median(ms):>7.1f} {percentile(ms, 95):>7.1f} "
                      f"{percentile(ms, 99):>7.1f} {len(ms) / seconds:>6.0f} {scenario.bytes / len(ms) / 1024:>7.1f} "
                      f"{cpu_py:>9.1f} + {cpu_pg:>6.1f}")
                if scenario.failures:
                    print(f"  {len(scenario.failures)} failed, e.g. {scenario.failures[:3]}")
            process.terminate()
            process.wait(10)
            process = None
        print(f"load average after: {os.getloadavg()[0]:.2f} (2 cores, shared with other work)")
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
