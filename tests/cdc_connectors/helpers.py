"""Helpers of the replication tests: the replicator process, checksums of main and the replica."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from cdc_connectors.status import wait
from warehouse.db import connect
from warehouse.roles import is_replicated
from warehouse.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]


class Replicator:
    """One process at a time of `command` (the replicator's, by default); its output goes to `log`."""

    def __init__(self, settings: Settings, log: Path, command: list[str] | None = None):
        self.settings = settings
        self.log = log
        self.command = command or [sys.executable, "-m", "cdc_connectors", "run"]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(self.command, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT,
                                            env=dict(os.environ))

    def kill(self, sig: int = signal.SIGKILL) -> int:
        self.process.send_signal(sig)
        return self.process.wait(60)

    def wait_caught_up(self, timeout: float = 90) -> None:
        wait(self.settings, timeout=timeout)

    def exit_code(self, timeout: float = 90) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def replicated_tables(settings: Settings) -> list[str]:
    with connect("main", settings) as conn:
        names = [name for (name,) in conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables ORDER BY 1")]
    return [name for name in names if is_replicated(name)]


def checksums(database: str, settings: Settings, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every table's rows in primary-key order."""
    result = {}
    with connect(database, settings) as conn:
        for name in tables:
            schema, table = name.split(".")
            key = conn.execute(
                """SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(i.indkey, a.attnum))
                   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                   WHERE i.indrelid = %s::regclass AND i.indisprimary""", (name,)).fetchone()[0]
            query = sql.SQL("SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY {})), '') FROM {} t")
            result[name] = conn.execute(query.format(sql.SQL(key), sql.Identifier(schema, table))).fetchone()
    return result


def assert_replica_equal(settings: Settings) -> dict[str, tuple[int, str]]:
    tables = replicated_tables(settings)
    assert len(tables) >= 22, tables
    main, replica = checksums("main", settings, tables), checksums("replica", settings, tables)
    different = {name: (main[name], replica[name]) for name in tables if main[name] != replica[name]}
    assert not different, f"replica differs from main: {different}"
    return main


def execute(settings: Settings, *statements: str) -> None:
    """Run statements in main, in one transaction."""
    with psycopg.connect(settings.main_database_url) as conn:
        for statement in statements:
            conn.execute(statement)
