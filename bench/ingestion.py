"""Web API ingestion time for 100 users x 50 plays, with enrichment, in both API modes.

    .venv/bin/python bench/ingestion.py [--users 100] [--workers 1 4] [--seed 1]

Starts its own PostgreSQL source cluster on a free port in a temporary folder
(never the developer clusters) and the fake Spotify (`python -m fake_spotify`)
in a child process, connects every generated user (authorization code, tokens
stored encrypted by `ingestion.tokens.store_login`), then for each API mode
(Extended Quota: batch metadata endpoints; Development Mode: batch answers 403,
single-item calls) and each worker count, on an empty source: one ingestion run
of every user (`ingest_user`, as the DAG's mapped tasks do), timed. Prints
plays stored, metadata fetched, HTTP calls made and seconds, then stops everything.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.recently_played import ingest_user  # noqa: E402
from ingestion.tokens import store_login  # noqa: E402
from operations.postgres import Cluster, free_port  # noqa: E402
from warehouse.settings import Settings  # noqa: E402

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
TABLES = "plays, tracks, albums, artists, enrichment_queue, ingestion_cursors, ingestion_runs, spotify_accounts, users"


def connect_users(settings: Settings, fake_url: str, users: list[str]) -> None:
    basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    with psycopg.connect(settings.source_database_url) as conn:
        for user_id in users:
            requests.post(f"{fake_url}/_admin/mode", json={"login_user": user_id}, timeout=10).raise_for_status()
            answer = requests.get(f"{fake_url}/authorize", allow_redirects=False, timeout=10, params={
                "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": settings.spotify_redirect_uri})
            code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
            token = requests.post(f"{fake_url}/api/token", headers={"Authorization": basic}, timeout=10, data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": settings.spotify_redirect_uri}).json()
            profile = requests.get(f"{fake_url}/v1/me", timeout=10,
                                   headers={"Authorization": f"Bearer {token['access_token']}"}).json()
            store_login(conn, settings, profile, token, "UTC", "asked")


def run(settings: Settings, fake_url: str, users: list[str], development: bool, workers: int) -> None:
    with psycopg.connect(settings.source_database_url) as conn:
        conn.execute(f"TRUNCATE {TABLES} CASCADE")
    requests.post(f"{fake_url}/_admin/mode", json={"development": development}, timeout=10).raise_for_status()
    connect_users(settings, fake_url, users)
    calls_before = sum(requests.get(f"{fake_url}/_admin/stats", timeout=10).json()["requests"].values())
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda user_id: ingest_user(user_id, settings), users))
    seconds = time.perf_counter() - started
    calls = sum(requests.get(f"{fake_url}/_admin/stats", timeout=10).json()["requests"].values()) - calls_before
    with psycopg.connect(settings.source_database_url) as conn:
        plays, tracks, albums, artists, enriched = conn.execute(
            """SELECT (SELECT count(*) FROM plays), (SELECT count(*) FROM tracks), (SELECT count(*) FROM albums),
                      (SELECT count(*) FROM artists), (SELECT count(*) FROM artists WHERE fetched_at IS NOT NULL)"""
        ).fetchone()
    statuses = {r.status for r in results}
    mode = "Development Mode" if development else "Extended Quota  "
    print(f"{mode} workers={workers}: {len(users)} users, {plays:,} plays, {tracks:,} tracks, {albums:,} albums, "
          f"{artists:,} artists ({enriched:,} enriched), {calls:,} HTTP calls to Spotify "
          f"(login excluded) in {seconds:.1f} s = {plays / seconds:,.0f} plays/s; statuses {sorted(statuses)}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="wrapped-bench-ingestion-"))
    root.chmod(0o755)
    pg_port, fake_port = free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    settings = Settings(
        _env_file=None, source_database_url=f"postgresql://wrapped:bench@127.0.0.1:{pg_port}/source",
        runtime_dir=root, spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
        spotify_redirect_uri="http://127.0.0.1:9/callback", spotify_api_url=f"{fake_url}/v1",
        spotify_accounts_url=fake_url, token_encryption_key=Fernet.generate_key().decode(),
        database_owner_password="bench-owner")
    cluster = Cluster("source", settings, root / "pgdata", root / "logs", (("fsync", "off"),))
    fake = None
    try:
        cluster.start()
        cluster.migrate()
        started = time.perf_counter()
        fake = subprocess.Popen(
            [sys.executable, "-m", "fake_spotify", "--port", str(fake_port), "--users", str(args.users),
             "--days", "10", "--seed", str(args.seed), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
             "--redirect-uri", settings.spotify_redirect_uri],
            cwd=ROOT, env={**os.environ, "ENV_FILE": os.devnull}, stdout=subprocess.PIPE, text=True)
        fake.stdout.readline()  # "fake Spotify on ...": generated and about to listen
        while True:
            try:
                users = requests.get(f"{fake_url}/_admin/stats", timeout=2).json()["users"]
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        windows = [len(requests.get(f"{fake_url}/_admin/users/{u}/plays", timeout=10).json()["window"])
                   for u in users]
        print(f"fake Spotify up in {time.perf_counter() - started:.1f} s: {len(users)} users, "
              f"{min(windows)}..{max(windows)} plays in each 50-play window", flush=True)
        for development in (False, True):
            for workers in args.workers:
                run(settings, fake_url, users, development, workers)
    finally:
        if fake is not None:
            fake.terminate()
            fake.wait(10)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
