"""Command line of the foundation: `python -m warehouse.cli --help`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date
from pathlib import Path

from warehouse.generate import DEFAULT_END
from warehouse.settings import SettingsError, get_settings


def cmd_postgres(args) -> None:
    from warehouse.clusters import project_clusters
    from warehouse.migrate import migrate_all

    settings = get_settings()
    clusters = project_clusters(settings)
    for cluster in clusters:
        if cluster.host not in ("127.0.0.1", "localhost"):
            print(f"{cluster.name:8} {cluster.setting_name} points to {cluster.host}: "
                  "not a local cluster of this project, left alone")
            continue
        if args.action == "start":
            state = cluster.start()
        elif args.action == "stop":
            state = cluster.stop()
        else:
            state = "running" if cluster.running() else "stopped"
        print(f"{cluster.name:8} 127.0.0.1:{cluster.port:<5} {state:20} {cluster.datadir}")
    if args.action == "start":
        applied = migrate_all(settings)
        for database, names in applied.items():
            print(f"{database:8} migrations applied: {', '.join(names) if names else 'none pending'}")
        from warehouse.roles import ensure_replica_reader

        print(f"replica  read-only role {ensure_replica_reader(settings)!r} ready")


def cmd_migrate(args) -> None:
    from warehouse.migrate import migrate_all

    for database, names in migrate_all(get_settings()).items():
        print(f"{database:8} migrations applied: {', '.join(names) if names else 'none pending'}")


def cmd_generate(args) -> None:
    from warehouse.db import connect
    from warehouse.generate import (
        generate,
        write_account_export,
        write_extended_export,
        write_to_source,
    )

    started = time.perf_counter()
    listening = generate(args.seed, args.users, args.days, args.end, args.plays_per_day)
    generated = time.perf_counter()
    print(f"generated {len(listening.plays):,} plays of {len(listening.users)} users, "
          f"{len(listening.tracks):,} tracks, {len(listening.albums):,} albums, "
          f"{len(listening.artists):,} artists in {generated - started:.1f} s")
    if args.extended_export:
        files = write_extended_export(listening, Path(args.extended_export))
        print(f"wrote {len(files)} Extended streaming history files under {args.extended_export}")
    if args.account_export:
        files = write_account_export(listening, Path(args.account_export))
        print(f"wrote {len(files)} Account data files under {args.account_export}")
    if not args.no_source:
        with connect("source") as conn:
            counts = write_to_source(conn, listening)
        print("source: new rows " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
              + f" in {time.perf_counter() - generated:.1f} s")


def cmd_load_main(args) -> None:
    from warehouse.load_main import load_main

    started = time.perf_counter()
    report = load_main()
    print(f"{report} in {time.perf_counter() - started:.1f} s")


def cmd_gate(args) -> int:
    from warehouse import gates

    try:
        results = {"source": gates.source_gate, "main": gates.main_gate,
                   "analytics": gates.analytics_gate}[args.stage]()
    except gates.GateFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    print(f"{args.stage} gate: {len(results)} checks passed")
    return 0


def cmd_summary(args) -> None:
    from warehouse.db import DATABASES, connect, database_url

    settings = get_settings()
    for database in DATABASES:
        with connect(database, settings) as conn:
            rows = conn.execute(
                """SELECT n.nspname || '.' || c.relname, c.reltuples::bigint
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relkind = 'r' AND n.nspname IN ('public', 'analytics', 'etl')
                   ORDER BY 1"""
            ).fetchall()
            counts = []
            for name, _ in rows:
                (count,) = conn.execute(f"SELECT count(*) FROM {name}").fetchone()
                if count:
                    counts.append(f"{name.removeprefix('public.')} {count:,}")
        url = database_url(database, settings).split("@")[-1]
        print(f"{database:8} {url}: " + (", ".join(counts) or "empty"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    pg = sub.add_parser("postgres", help="start, stop or show the local clusters")
    pg.add_argument("action", choices=["start", "stop", "status"])
    pg.set_defaults(func=cmd_postgres)
    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(func=cmd_migrate)
    gen = sub.add_parser("generate", help="generate listening into source and/or export files")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--users", type=int, default=3)
    gen.add_argument("--days", type=int, default=365)
    gen.add_argument("--plays-per-day", type=float, default=30.0)
    gen.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END,
                     help=f"first day after the listening (default {DEFAULT_END})")
    gen.add_argument("--extended-export", metavar="DIR", help="also write Extended history files")
    gen.add_argument("--account-export", metavar="DIR", help="also write Account data files")
    gen.add_argument("--no-source", action="store_true", help="do not write into source")
    gen.set_defaults(func=cmd_generate)
    sub.add_parser("load-main", help="load source into main's star schema").set_defaults(
        func=cmd_load_main)
    gate = sub.add_parser("gate", help="run the Soda checks of a stage (source, main, analytics)")
    gate.add_argument("stage", choices=["source", "main", "analytics"])
    gate.set_defaults(func=cmd_gate)
    sub.add_parser("summary", help="row counts of the three databases").set_defaults(
        func=cmd_summary)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        get_settings()
        return args.func(args) or 0
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
