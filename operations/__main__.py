"""Operations of the local machine: `python -m operations --help`.

up | down | status | logs      the whole stack (operations/stack.py): every component but the Postgres
                              clusters runs under supervisord (operations/supervisor.py)
start | stop COMPONENT        one component (postgres, spark, debezium, fake-spotify, flask, airflow, dashboard)
postgres start|stop|status    the local clusters (and migrations, on start)
clean                         remove the runtime folder once nothing runs
secrets | summary             generated secrets in .env; row counts of the three databases
provision --admin-user NAME   the roles and databases in clusters this project did not create (Docker)
"""

from __future__ import annotations

import argparse
import logging
import sys

from warehouse.settings import SettingsError, get_settings


def _components(args) -> list:
    from operations import stack

    return [stack.BY_NAME[args.component]] if args.component else stack.COMPONENTS


def cmd_up(args) -> None:
    from operations import stack

    stack.up(get_settings())
    print("\n".join(stack.status_lines(get_settings())))


def cmd_down(args) -> None:
    from operations import stack

    stack.down(get_settings())


def cmd_status(args) -> None:
    from operations import stack

    print("\n".join(stack.status_lines(get_settings(), _components(args))))


def cmd_logs(args) -> None:
    from operations import stack

    print("\n\n".join(stack.log_tails(get_settings(), _components(args), args.lines)))


def cmd_clean(args) -> int:
    from operations import stack

    return stack.clean(get_settings(), args.yes)


def cmd_start(args) -> None:
    from operations import stack

    options = {name: value for name in ("port", "users", "seed", "days") if (value := getattr(args, name)) is not None}
    if options and args.component != "fake-spotify":
        raise SystemExit(f"error: --{', --'.join(options)} only apply to fake-spotify")
    print(stack.start(get_settings(), args.component, **options))


def cmd_stop(args) -> None:
    from operations import stack

    print(f"{args.component}: {stack.stop(get_settings(), args.component)}")


def cmd_postgres(args) -> None:
    from operations import stack

    if args.action == "start":
        stack.start(get_settings(), "postgres")
    else:
        print(stack.postgres(get_settings(), args.action))


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


def cmd_provision(args) -> None:
    from operations.airflow_service import ensure_metadata_database
    from operations.postgres import project_clusters, superuser_connection
    from warehouse.roles import provision

    settings = get_settings()
    for cluster in project_clusters(settings):
        with superuser_connection(cluster, args.admin_user) as conn:
            roles = provision(conn, cluster.name, settings, cluster.dbname)
        print(f"{cluster.name:8} {cluster.host}:{cluster.port}: roles {', '.join(roles)} and database "
              f"{cluster.dbname} ready")
    ensure_metadata_database(settings, args.admin_user)


def parser() -> argparse.ArgumentParser:
    from operations.stack import BY_NAME

    cli = argparse.ArgumentParser(prog="python -m operations", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = cli.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every component in dependency order, each healthy before the next"
                   ).set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop every component (reverse order), supervisord, then the clusters"
                   ).set_defaults(func=cmd_down)
    for name, func, what in (("status", cmd_status, "running or not, health, pids, URL"),
                             ("logs", cmd_logs, "the last lines of the logs")):
        command = sub.add_parser(name, help=f"each component (or one): {what}")
        command.add_argument("component", nargs="?", choices=list(BY_NAME))
        command.set_defaults(func=func)
        if name == "logs":
            command.add_argument("--lines", type=int, default=20, help="lines per log (default 20)")
    clean = sub.add_parser("clean", help="remove the runtime folder (only when nothing runs)")
    clean.add_argument("--yes", action="store_true", help="do not ask")
    clean.set_defaults(func=cmd_clean)
    start = sub.add_parser("start", help="start one component (idempotent), waiting until it answers")
    start.add_argument("component", choices=list(BY_NAME))
    start.add_argument("--port", type=int, help="fake-spotify only (default: SPOTIFY_ACCOUNTS_URL's port)")
    for option in ("users", "seed", "days"):
        start.add_argument(f"--{option}", type=int, help="fake-spotify only (default: fake_spotify serve's)")
    start.set_defaults(func=cmd_start)
    stop = sub.add_parser("stop", help="stop one component")
    stop.add_argument("component", choices=list(BY_NAME))
    stop.set_defaults(func=cmd_stop)
    pg = sub.add_parser("postgres", help="start (and migrate), stop or show the local clusters")
    pg.add_argument("action", choices=["start", "stop", "status"])
    pg.set_defaults(func=cmd_postgres)
    sub.add_parser("secrets", help="generated values for the empty secrets and database passwords, into .env"
                   ).set_defaults(func=cmd_secrets)
    sub.add_parser("summary", help="row counts of the three databases").set_defaults(func=cmd_summary)
    provision = sub.add_parser("provision", help="as a superuser (password: PGPASSWORD), create or update "
                               "the roles and databases of clusters this project did not create")
    provision.add_argument("--admin-user", required=True, help="a superuser of each cluster")
    provision.set_defaults(func=cmd_provision)
    return cli


def main(argv: list[str] | None = None) -> int:
    from operations.stack import StackError

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        get_settings()
        return args.func(args) or 0
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
