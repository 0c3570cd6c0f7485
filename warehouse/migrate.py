"""Versioned SQL migrations, one folder per database, applied in order.

Each file `NNNN_name.sql` runs once, in its own transaction, and is recorded in
`schema_migrations` with its checksum. Applying again is a no-op; a recorded
migration whose file has changed since is an error (write a new migration
instead of editing an applied one). Migrations only add: they never drop data.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from warehouse.db import DATABASES, Database, connect_owner
from warehouse.roles import grant
from warehouse.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_for(database: Database) -> list[Migration]:
    found = []
    for path in sorted((MIGRATIONS_DIR / database).glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(match.group(1), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{MIGRATIONS_DIR / database}: two migrations share a version")
    return found


def apply_migrations(conn: psycopg.Connection, database: Database) -> list[str]:
    """Apply the pending migrations of `database` on `conn`; return their names."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS public.schema_migrations (
               version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.commit()
    applied = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM public.schema_migrations"
        )
    }
    done = []
    for migration in migrations_for(database):
        if migration.version in applied:
            name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"{database} migration {name} was changed after it was applied; "
                    "add a new migration instead"
                )
            continue
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        log.info("%s: applied %s", database, migration.name)
        done.append(migration.name)
    return done


def migrate(conn: psycopg.Connection, database: Database, settings: Settings) -> list[str]:
    """On the owner's connection `conn`: the pending migrations of `database`, then each role's
    privileges (warehouse.roles.grant, with main's publication); the migrations' names."""
    names = apply_migrations(conn, database)
    with conn.transaction():
        grant(conn, database, settings)
    return names


def migrate_all(settings: Settings) -> dict[str, list[str]]:
    """`migrate` source, main and replica as the owner (DATABASE_OWNER)."""
    result = {}
    for database in DATABASES:
        with connect_owner(database, settings) as conn:
            result[database] = migrate(conn, database, settings)
    return result


def migrate_and_grant(settings: Settings) -> list[str]:
    """`migrate_all`, one line of report per database."""
    return [f"{database:8} migrations applied: {', '.join(names) if names else 'none pending'}; roles granted"
            for database, names in migrate_all(settings).items()]
