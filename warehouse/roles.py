"""The database roles, each with only what it needs (least privilege).

- owner (DATABASE_OWNER), in all three: owns the databases, schemas and tables; runs migrations;
- application (the user of SOURCE_ and MAIN_DATABASE_URL), source and main: reads and writes rows
  (DML, TRUNCATE) and temporary tables;
- replication (DEBEZIUM_DATABASE_USER), main: REPLICATION, reads the replicated tables, writes the
  heartbeat;
- applier (the user of REPLICA_DATABASE_URL), replica: writes the replicated tables' rows (no
  TRUNCATE), the replica's only writer;
- reader (the user of REPLICA_READER_URL), replica: reads.

None is a superuser, none may create roles or databases or run server programs
(`COPY ... TO PROGRAM`). `provision` runs with a superuser's connection to the
cluster's maintenance database (the local clusters' bootstrap superuser over the
Unix socket, or the Docker images' POSTGRES_USER); `grant` runs as the owner
after the migrations, and creates or updates main's publication for Debezium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from psycopg import sql

from warehouse.db import Database
from warehouse.settings import Settings, SettingsError, url_password, url_user

ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
SERVER_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
WRITE = "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"
APPLY = "SELECT, INSERT, UPDATE, DELETE"  # the applier replaces a table's rows by DELETE (MVCC), never TRUNCATE
# What main publishes to Debezium, as patterns on schema.table (cdc_connectors/capture.py):
# the dimensions, every statistic, the share links, and the heartbeat (captured, never applied).
REPLICATED_TABLES = (
    r"public\.dim_user",
    r"public\.dim_track",
    r"public\.dim_album",
    r"public\.dim_album_track",
    r"public\.dim_artist",
    r"public\.dim_show",
    r"public\.dim_episode",
    r"public\.dim_playlist",
    r"public\.dim_playlist_track",
    r"public\.dim_user_playlist",
    r"analytics\..*",
    r"public\.dashboard_share_links",
)
HEARTBEAT_TABLE = "cdc.heartbeat"  # main migration 0007
_REPLICATED = [re.compile(pattern) for pattern in REPLICATED_TABLES]


@lru_cache(maxsize=4096)
def is_replicated(qualified_name: str) -> bool:
    """True if `schema.table` is one of the tables copied into the replica."""
    return any(pattern.fullmatch(qualified_name) for pattern in _REPLICATED)


@dataclass(frozen=True)
class Role:
    name: str
    password: str
    setting: str  # where its name and password are set
    replication: bool = False


def cluster_roles(database: Database, settings: Settings) -> list[Role]:
    """The roles of `database`'s cluster, the owner first; SettingsError when one lacks a password."""
    roles = [Role(settings.database_owner, settings.database_owner_password, "DATABASE_OWNER_PASSWORD")]
    if database == "replica":
        urls = {"REPLICA_DATABASE_URL": settings.replica_database_url,
                "REPLICA_READER_URL": settings.replica_reader_url}
    else:
        urls = {f"{database.upper()}_DATABASE_URL": getattr(settings, f"{database}_database_url")}
    roles += [Role(url_user(url), url_password(url), setting) for setting, url in urls.items()]
    if database == "main":
        roles.append(Role(settings.debezium_database_user, settings.debezium_database_password,
                          "DEBEZIUM_DATABASE_PASSWORD", replication=True))
    names = [role.name for role in roles]
    if len(set(names)) != len(names):
        raise SettingsError(f"the {database} cluster's roles must have distinct names, got {names} "
                            "(DATABASE_OWNER, the URLs' users, DEBEZIUM_DATABASE_USER)")
    for role in roles:
        if not role.password:
            raise SettingsError(f"{role.setting} has no password for role {role.name!r}: "
                                "`make setup` generates one into .env")
    return roles


def provision(admin: psycopg.Connection, database: Database, settings: Settings, dbname: str) -> list[str]:
    """Create or update the cluster's roles and the database `dbname`, owned by the owner.

    `admin`: an autocommit superuser connection to the cluster. Idempotent: passwords and
    attributes are set again, a database of another owner is given to the owner.
    """
    roles = cluster_roles(database, settings)
    for role in roles:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone()
        options = sql.SQL(f"{ATTRIBUTES} {'REPLICATION' if role.replication else 'NOREPLICATION'} PASSWORD {{}}")
        admin.execute(sql.SQL("{} {} WITH {}").format(
            sql.SQL("ALTER ROLE" if exists else "CREATE ROLE"), sql.Identifier(role.name),
            options.format(sql.Literal(role.password))))
        for server_role in SERVER_ROLES:
            admin.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(server_role), sql.Identifier(role.name)))
    ensure_database(admin, dbname, roles[0].name)
    return [role.name for role in roles]


def ensure_database(admin: psycopg.Connection, dbname: str, owner: str) -> None:
    """Create database `dbname` owned by `owner`, or give an existing one to `owner` (superuser)."""
    name, role = sql.Identifier(dbname), sql.Identifier(owner)
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, role))
    else:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, role))


def grant(conn: psycopg.Connection, database: Database, settings: Settings) -> None:
    """As the owner, after the migrations: each role's privileges on what exists and on what the
    owner creates later (default privileges); main's publication lists the replicated tables."""
    roles = cluster_roles(database, settings)
    owner, users = roles[0].name, {role.setting: role.name for role in roles[1:]}
    schemas = [s for (s,) in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspowner = %s::regrole OR nspname = 'public' ORDER BY 1",
        (owner,))]
    if database == "replica":
        for schema in schemas:
            _grant_schema(conn, owner, schema, users["REPLICA_DATABASE_URL"], APPLY)
            _grant_schema(conn, owner, schema, users["REPLICA_READER_URL"], "SELECT")
    else:
        for schema in schemas:
            _grant_schema(conn, owner, schema, users[f"{database.upper()}_DATABASE_URL"], WRITE)
    if database == "main":
        debezium = sql.Identifier(users["DEBEZIUM_DATABASE_PASSWORD"])
        tables = replicated_tables(conn)
        for schema in sorted({table.split(".")[0] for table in (*tables, HEARTBEAT_TABLE)}):
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), debezium))
        for table in tables:
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(_table(table), debezium))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(_table(HEARTBEAT_TABLE), debezium))
        ensure_publication(conn, settings.debezium_publication_name, [*tables, HEARTBEAT_TABLE])


def _grant_schema(conn: psycopg.Connection, owner: str, schema: str, user: str, privileges: str) -> None:
    name, role = sql.Identifier(schema), sql.Identifier(user)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, role))
    conn.execute(sql.SQL(f"GRANT {privileges} ON ALL TABLES IN SCHEMA {{}} TO {{}}").format(name, role))
    conn.execute(sql.SQL(f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} GRANT {privileges} ON TABLES TO {{}}")
                 .format(sql.Identifier(owner), name, role))
    if privileges != "SELECT":
        conn.execute(sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(name, role))  # analyze_table
        conn.execute(sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(name, role))
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT, UPDATE "
                             "ON SEQUENCES TO {}").format(sql.Identifier(owner), name, role))


def replicated_tables(conn: psycopg.Connection) -> list[str]:
    """The tables of this database that REPLICATED_TABLES names, as schema.table."""
    names = [f"{schema}.{table}" for schema, table in conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2")]
    return [name for name in names if is_replicated(name)]


def ensure_publication(conn: psycopg.Connection, publication: str, tables: list[str]) -> None:
    """Create publication `publication` of exactly `tables`, or bring an existing one to that list."""
    name = sql.Identifier(publication)
    published = {f"{schema}.{table}" for schema, table in conn.execute(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (publication,))}
    if not conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,)).fetchone():
        conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
            name, sql.SQL(", ").join(map(_table, tables))))
        return
    added, dropped = sorted(set(tables) - published), sorted(published - set(tables))
    if added:
        conn.execute(sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(name, sql.SQL(", ").join(map(_table, added))))
    if dropped:
        conn.execute(sql.SQL("ALTER PUBLICATION {} DROP TABLE {}").format(
            name, sql.SQL(", ").join(map(_table, dropped))))


def _table(qualified: str) -> sql.Composed:
    schema, table = qualified.split(".", 1)
    return sql.Identifier(schema, table)
