import psycopg
import pytest

from warehouse import migrate
from warehouse.catalog import STATISTICS
from warehouse.db import connect, connect_owner

EXPECTED_MAIN = {"dim_user", "dim_track", "dim_album", "dim_album_track", "dim_artist", "dim_show", "dim_episode",
                 "dim_playlist", "dim_playlist_track", "dim_user_playlist", "fact_play"}


def tables(conn, schema):
    return {
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
    }


def test_fresh_databases_have_every_table(dbs):
    with connect("source", dbs) as conn:
        assert {"users", "plays", "tracks", "albums", "album_tracks", "artists", "enrichment_queue",
                "ingestion_cursors"} <= tables(conn, "public")
    with connect("main", dbs) as conn:
        assert EXPECTED_MAIN <= tables(conn, "public")
        assert tables(conn, "analytics") == set(STATISTICS)
    with connect("replica", dbs) as conn:
        assert tables(conn, "public") == EXPECTED_MAIN - {"fact_play"} | {"schema_migrations", "dashboard_share_links",
                                                                                  "dashboard_search"}
        assert tables(conn, "analytics") == set(STATISTICS)


def columns(conn, schema, table):
    return conn.execute(
        "SELECT column_name, data_type, ordinal_position FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (schema, table)).fetchall()


def test_the_replicas_copies_of_mains_tables_have_mains_columns(dbs):
    """Debezium sends every column of main's row: the replica's copy has each, of its type, in its place (the
    replicas' row checksums compare whole rows)."""
    copies = [("public", name) for name in EXPECTED_MAIN - {"fact_play"}] + [("analytics", s) for s in STATISTICS]
    with connect("main", dbs) as main, connect("replica", dbs) as replica:
        for schema, table in copies:
            assert columns(replica, schema, table) == columns(main, schema, table), (schema, table)


def test_analytics_tables_carry_keys_and_freshness(dbs):
    with connect("main", dbs) as conn:
        for statistic in STATISTICS:
            columns = {
                name for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'analytics' AND table_name = %s", (statistic,))
            }
            assert {"user_id", "period", "computed_at", "source_max_played_at"} <= columns, statistic


def test_reapplying_is_a_no_op_and_keeps_data(dbs):
    with connect_owner("source", dbs) as conn:
        conn.execute("INSERT INTO users (user_id, timezone) VALUES ('u1', 'UTC')")
        conn.commit()
        assert migrate.apply_migrations(conn, "source") == []
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v for (v,) in versions] == [m.version for m in migrate.migrations_for("source")]


def test_migrate_all_on_migrated_databases_applies_nothing(dbs):
    assert migrate.migrate_all(dbs) == {"source": [], "main": [], "replica": []}


def test_an_edited_applied_migration_is_refused(dbs, monkeypatch):
    original = migrate.migrations_for

    def edited(database):
        found = original(database)
        first = found[0]
        return [migrate.Migration(first.version, first.name, first.sql + "\n-- edited"), *found[1:]]

    monkeypatch.setattr(migrate, "migrations_for", edited)
    with connect_owner("source", dbs) as conn, pytest.raises(migrate.MigrationError, match="changed"):
        migrate.apply_migrations(conn, "source")


def test_a_failing_migration_leaves_nothing_behind(dbs, monkeypatch):
    original = migrate.migrations_for
    broken = migrate.Migration("9999", "9999_broken", "CREATE TABLE half (x int); SELECT 1/0;")
    monkeypatch.setattr(migrate, "migrations_for", lambda db: [*original(db), broken])
    with connect_owner("source", dbs) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            migrate.apply_migrations(conn, "source")
        conn.rollback()
        assert "half" not in tables(conn, "public")
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE version = '9999'").fetchone()[0] == 0
