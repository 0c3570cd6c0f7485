"""The dashboard's read-only role on the replica."""

from __future__ import annotations

import psycopg
import pytest

from warehouse.db import connect
from warehouse.roles import ensure_replica_reader


def test_the_reader_can_select_and_nothing_else(dbs):
    with connect("replica", dbs) as conn:
        conn.execute("INSERT INTO dim_user VALUES ('u1', 'One', 'UTC')")
    assert ensure_replica_reader(dbs) == "dashboard"
    assert ensure_replica_reader(dbs) == "dashboard"  # idempotent
    with connect("replica", dbs) as conn:  # a table the owner creates later is readable too
        conn.execute("CREATE TABLE analytics.later (x integer)")
        conn.execute("INSERT INTO analytics.later VALUES (5)")
        conn.execute("CREATE SCHEMA private")
        conn.execute("CREATE TABLE private.secret (x integer)")
    with psycopg.connect(dbs.replica_reader_url, autocommit=True) as reader:
        assert reader.execute("SELECT user_id FROM dim_user").fetchall() == [("u1",)]
        assert reader.execute("SELECT x FROM analytics.later").fetchall() == [(5,)]
        assert reader.execute("SELECT count(*) FROM analytics.top_tracks").fetchone() == (0,)
        for statement in ("INSERT INTO dim_user VALUES ('u2', 'Two', 'UTC')", "DELETE FROM dim_user",
                          "UPDATE analytics.later SET x = 6", "CREATE TABLE public.mine (x integer)",
                          "SELECT * FROM private.secret"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(statement)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dbs.replica_reader_url.replace("dashboard:reader@", "dashboard:wrong@"))
