"""Operations of the local machine: `python -m operations --help`."""

from __future__ import annotations

import argparse
import logging
import sys

from warehouse.settings import SettingsError, get_settings


def cmd_postgres(args) -> None:
    from operations.postgres import project_clusters
    from warehouse.__main__ import migrate

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
        migrate()


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


def cmd_secrets(args) -> None:
    from operations.secrets import write_missing_secrets
    from warehouse.settings import env_file

    written = write_missing_secrets()
    print(f"wrote {', '.join(written)} to {env_file()}" if written else "every secret is already set")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m operations", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    pg = sub.add_parser("postgres", help="start, stop or show the local clusters")
    pg.add_argument("action", choices=["start", "stop", "status"])
    pg.set_defaults(func=cmd_postgres)
    sub.add_parser("secrets", help="append generated values for the empty secret settings to .env"
                   ).set_defaults(func=cmd_secrets)
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
