"""Least privilege: what each database role of warehouse/roles.py may and may not do, on real clusters."""

from __future__ import annotations

import psycopg
import pytest

from warehouse.db import connect, connect_owner
from warehouse.roles import provision, replicated_tables

DENIED = psycopg.errors.InsufficientPrivilege


def refused(conn: psycopg.Connection, statement: str) -> bool:
    try:
        conn.execute(statement)
    except DENIED:
        return True
    return False


def test_no_role_is_a_superuser_or_may_create_roles_databases_or_run_programs(dbs, clusters):
    for cluster in clusters:
        with psycopg.connect(cluster.admin_url()) as admin:
            rows = admin.execute(
                """SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication,
                          pg_has_role(oid, 'pg_execute_server_program', 'USAGE')
                   FROM pg_roles WHERE rolcanlogin AND rolname <> 'postgres' ORDER BY 1""").fetchall()
        expected = {"source": ["wrapped", "wrapped_owner"],
                    "main": ["wrapped", "wrapped_debezium", "wrapped_owner"],
                    "replica": ["dashboard", "wrapped", "wrapped_owner"]}[cluster.name]
        assert [row[0] for row in rows] == expected
        for name, *powers, replication, programs in rows:
            assert not any(powers) and not programs, name
            assert replication == (name == "wrapped_debezium"), name


def test_the_application_role_writes_rows_but_runs_no_program_and_changes_no_schema(dbs, tmp_path):
    proof = tmp_path / "pwned"
    for database in ("source", "main"):
        with connect(database, dbs, autocommit=True) as conn:
            assert refused(conn, f"COPY (SELECT 1) TO PROGRAM 'touch {proof}'")
            assert refused(conn, f"COPY (SELECT 1) TO '{proof}'")
            assert refused(conn, "CREATE TABLE public.mine (x integer)")
            assert refused(conn, "DROP TABLE dim_user" if database == "main" else "DROP TABLE plays")
            assert refused(conn, "CREATE ROLE intruder LOGIN SUPERUSER")
            assert refused(conn, "ALTER ROLE CURRENT_USER SUPERUSER")
    assert not proof.exists()
    with connect("main", dbs) as conn:  # what the pipeline does: rows, TRUNCATE, temporary tables
        conn.execute("INSERT INTO dim_user VALUES ('u1', 'One', 'UTC')")
        conn.execute("UPDATE dim_user SET display_name = 'Uno'")
        conn.execute("TRUNCATE analytics_staging.scope")
        conn.execute("CREATE TEMP TABLE scratch (x integer) ON COMMIT DROP")
    with connect("main", dbs) as conn:
        assert conn.execute("SELECT display_name FROM dim_user").fetchall() == [("Uno",)]


def test_only_the_applier_writes_the_replica_and_the_reader_reads_what_the_owner_adds_later(dbs):
    with connect("replica", dbs) as applier:
        applier.execute("INSERT INTO dim_user VALUES ('u1', 'One', 'UTC')")
        applier.execute("INSERT INTO cdc.applied_position (slot_name, lsn, committed_at, applied_at, changes, "
                        "snapshot_done) VALUES ('s', '0/1', now(), now(), 1, true)")
    with connect("replica", dbs, autocommit=True) as applier:
        assert refused(applier, "CREATE TABLE public.mine (x integer)")
        assert refused(applier, "TRUNCATE dim_user")  # it replaces rows by DELETE: readers keep theirs
    with connect_owner("replica", dbs) as owner:  # a migration adds a table
        owner.execute("CREATE TABLE analytics.later (x integer)")
        owner.execute("INSERT INTO analytics.later VALUES (5)")
        owner.execute("CREATE SCHEMA private")
        owner.execute("CREATE TABLE private.secret (x integer)")
    with psycopg.connect(dbs.replica_reader_url, autocommit=True) as reader:
        assert reader.execute("SELECT user_id FROM dim_user").fetchall() == [("u1",)]
        assert reader.execute("SELECT x FROM analytics.later").fetchall() == [(5,)]
        assert reader.execute("SELECT count(*) FROM cdc.applied_position").fetchone() == (1,)
        for statement in ("INSERT INTO dim_user VALUES ('u2', 'Two', 'UTC')", "DELETE FROM dim_user",
                          "UPDATE analytics.later SET x = 6", "TRUNCATE dim_user",
                          "INSERT INTO dashboard_share_links (token_hash, user_id) VALUES ('x', 'u1')",
                          "CREATE TABLE public.mine (x integer)", "SELECT * FROM private.secret"):
            assert refused(reader, statement), statement
    with connect("replica", dbs) as applier:  # and the applier writes the owner's new table too
        applier.execute("UPDATE analytics.later SET x = 6")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dbs.replica_reader_url.replace("dashboard:reader@", "dashboard:wrong@"))


def test_debezium_reads_the_replicated_tables_and_writes_only_its_heartbeat(dbs):
    with connect_owner("main", dbs) as owner:
        published = sorted(f"{schema}.{table}" for schema, table in owner.execute(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
            (dbs.debezium_publication_name,)))
        assert published == sorted([*replicated_tables(owner), "cdc.heartbeat"])
    assert "public.dim_user" in published and "public.fact_play" not in published
    with psycopg.connect(dbs.replication_url, autocommit=True) as debezium:
        assert debezium.execute("SELECT count(*) FROM dim_user").fetchone() == (0,)
        assert debezium.execute("SELECT count(*) FROM analytics.top_tracks").fetchone() == (0,)
        debezium.execute("INSERT INTO cdc.heartbeat VALUES (1, now())")
        for statement in ("INSERT INTO dim_user VALUES ('u2', 'Two', 'UTC')", "SELECT count(*) FROM fact_play",
                          "DELETE FROM cdc.heartbeat", "COPY (SELECT 1) TO PROGRAM 'true'"):
            assert refused(debezium, statement), statement


def test_provisioning_again_changes_a_password_and_keeps_everything_else(dbs, clusters):
    replica = next(cluster for cluster in clusters if cluster.name == "replica")
    changed = dbs.model_copy(update={"replica_reader_url": dbs.replica_reader_url.replace(":reader@", ":new@")})
    try:
        with psycopg.connect(replica.admin_url(), autocommit=True) as admin:
            assert provision(admin, "replica", changed, "replica") == ["wrapped_owner", "wrapped", "dashboard"]
        with psycopg.connect(changed.replica_reader_url) as reader:
            assert reader.execute("SELECT count(*) FROM dim_user").fetchone() == (0,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dbs.replica_reader_url)
    finally:
        with psycopg.connect(replica.admin_url(), autocommit=True) as admin:
            provision(admin, "replica", dbs, "replica")
