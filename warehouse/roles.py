"""The replica's read-only role for the dashboard (user and password of REPLICA_READER_URL)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from psycopg import sql

from warehouse.db import connect
from warehouse.settings import Settings, SettingsError

READ_SCHEMAS = ("public", "analytics", "cdc")  # cdc: the replication position, for the lag


def ensure_replica_reader(settings: Settings) -> str:
    """Create or update the reader role: LOGIN with the URL's password, SELECT on READ_SCHEMAS.

    Idempotent. Grants CONNECT on the replica database, USAGE on the two
    schemas, SELECT on their tables, and SELECT on tables the replica's owner
    creates there later (default privileges); nothing else.
    """
    reader = urlsplit(settings.replica_reader_url)
    user, password = unquote(reader.username or ""), unquote(reader.password or "")
    owner = unquote(urlsplit(settings.replica_database_url).username or "")
    if not user or not password:
        raise SettingsError("REPLICA_READER_URL must name a user and a password")
    if user == owner:
        raise SettingsError("REPLICA_READER_URL must use another user than REPLICA_DATABASE_URL")
    role = sql.Identifier(user)
    with connect("replica", settings, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
        options = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}").format(
            sql.Literal(password))
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        conn.execute(sql.SQL("{} {} WITH {}").format(verb, role, options))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role))
        for schema in READ_SCHEMAS:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
                continue
            name = sql.Identifier(schema)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, role))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(name, role))
            conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                         .format(sql.Identifier(owner), name, role))
    return user
