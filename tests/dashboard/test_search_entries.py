"""The replica's search entries (replica migration 0014): whatever the applier does to the rankings and the
dimensions, public.dashboard_search holds exactly each all-time ranking row's item with its rank and folded
name. Statements as the applier runs them (its role, upserts, deletes, key updates), and the owner's TRUNCATE."""

from __future__ import annotations

import psycopg
import pytest

from warehouse.db import connect, connect_owner

KINDS = ("artist", "album", "track")
# What the entries must be: every ranking row of period 'all', with its dimension's folded name.
COLUMNS = "user_id, kind, item_id, rank, streams, listening_ms, name_key"
EXPECTED = " UNION ALL ".join(
    f"SELECT t.user_id, '{kind}' AS kind, t.{kind}_id AS item_id, t.rank, t.streams, t.listening_ms, "
    f"public.search_key(d.name) AS name_key "
    f"FROM analytics.{kind}_ranking t LEFT JOIN dim_{kind} d ON d.{kind}_id = t.{kind}_id WHERE t.period = 'all'"
    for kind in KINDS)


def entries(conn: psycopg.Connection) -> list[tuple]:
    """(user, kind, item, rank, folded name) of every entry."""
    return conn.execute("SELECT user_id, kind, item_id, rank, name_key FROM dashboard_search "
                        "ORDER BY 1, 2, 3").fetchall()


def true_to_the_rankings(conn: psycopg.Connection) -> bool:
    """Whether the entries, every column, are exactly what the rankings and dimensions hold now."""
    found = conn.execute(f"SELECT {COLUMNS} FROM dashboard_search ORDER BY 1, 2, 3").fetchall()
    return found == conn.execute(f"SELECT {COLUMNS} FROM ({EXPECTED}) e ORDER BY 1, 2, 3").fetchall()


def upsert_ranking(conn, kind: str, user: str, period: str, item: str, rank: int) -> None:
    """A ranking row as the applier writes one: insert, or update the row of the same key."""
    conn.execute(
        f"INSERT INTO analytics.{kind}_ranking (user_id, period, {kind}_id, streams, listening_ms, share, "
        "first_played_at, last_played_at, rank, time_rank, computed_at, source_max_played_at) "
        "VALUES (%s, %s, %s, %s, 2000000, 0.1, '2025-01-01Z', '2025-06-01Z', %s, %s, now(), now()) "
        f"ON CONFLICT (user_id, period, {kind}_id) DO UPDATE SET rank = excluded.rank, "
        "time_rank = excluded.time_rank, streams = excluded.streams", (user, period, item, 20 - rank, rank, rank))


def upsert_name(conn, kind: str, item: str, name: str) -> None:
    """A dimension row as the applier writes one (the columns a row must have)."""
    artists = "" if kind == "artist" else ", artist_ids"
    conn.execute(f"INSERT INTO dim_{kind} ({kind}_id, name, is_surrogate{artists}) "
                 f"VALUES (%s, %s, false{artists and ', %s'}) "
                 f"ON CONFLICT ({kind}_id) DO UPDATE SET name = excluded.name",
                 (item, name, *([["ar1"]] if artists else [])))


@pytest.fixture
def applier(dbs):
    with connect("replica", dbs) as conn:  # REPLICA_DATABASE_URL: the applier's role
        conn.autocommit = True
        yield conn


def test_entries_follow_every_change_the_applier_makes(applier):
    for kind, item, name in (("artist", "ar1", "Beyoncé"), ("album", "al1", "Lemonade"),
                             ("track", "tr1", "Hold Up"), ("track", "tr2", "Formation")):
        upsert_name(applier, kind, item, name)
    for kind, item in (("artist", "ar1"), ("album", "al1"), ("track", "tr1")):
        for period in ("all", "2025", "2025-06"):
            upsert_ranking(applier, kind, "alice", period, item, 1)
    upsert_ranking(applier, "track", "alice", "all", "tr2", 2)
    upsert_ranking(applier, "track", "bob", "2025", "tr2", 1)  # not all time: no entry
    assert entries(applier) == [("alice", "album", "al1", 1, "lemonade"), ("alice", "artist", "ar1", 1, "beyonce"),
                                ("alice", "track", "tr1", 1, "hold up"), ("alice", "track", "tr2", 2, "formation")]

    assert true_to_the_rankings(applier)
    upsert_ranking(applier, "track", "alice", "all", "tr1", 2)  # an update of the rank
    upsert_ranking(applier, "track", "alice", "all", "tr2", 1)
    upsert_name(applier, "artist", "ar1", "Beyoncé Knowles")  # a rename
    upsert_ranking(applier, "artist", "alice", "all", "ar9", 2)  # ranked before its dimension row arrives
    assert ("alice", "artist", "ar9", 2, None) in entries(applier)
    assert true_to_the_rankings(applier)
    upsert_name(applier, "artist", "ar9", "Rosalía")
    assert ("alice", "artist", "ar9", 2, "rosalia") in entries(applier)
    assert ("alice", "artist", "ar1", 1, "beyonce knowles") in entries(applier)
    assert true_to_the_rankings(applier)

    # A key updated in place, a dimension row deleted, a user's all-time rows replaced by a publication.
    applier.execute("UPDATE analytics.album_ranking SET album_id = 'al2' WHERE album_id = 'al1' AND period = 'all'")
    applier.execute("DELETE FROM dim_track WHERE track_id = 'tr2'")
    with applier.transaction():
        applier.execute("DELETE FROM analytics.track_ranking WHERE user_id = 'alice' AND period = 'all'")
        upsert_ranking(applier, "track", "alice", "all", "tr2", 1)
    assert [e for e in entries(applier) if e[1] != "artist"] == [("alice", "album", "al2", 1, None),
                                                                 ("alice", "track", "tr2", 1, None)]
    assert true_to_the_rankings(applier)


def test_truncating_a_ranking_or_a_dimension_keeps_the_entries_true(dbs, applier):
    upsert_name(applier, "artist", "ar1", "Nova Ridge")
    upsert_name(applier, "track", "tr1", "Paper River")
    upsert_ranking(applier, "artist", "alice", "all", "ar1", 1)
    upsert_ranking(applier, "track", "alice", "all", "tr1", 1)
    with connect_owner("replica", dbs) as owner:  # the applier may not TRUNCATE
        owner.execute("TRUNCATE dim_artist")
        owner.commit()
        assert entries(owner) == [("alice", "artist", "ar1", 1, None), ("alice", "track", "tr1", 1, "paper river")]
        owner.execute("TRUNCATE analytics.track_ranking")
        owner.commit()
        assert entries(owner) == [("alice", "artist", "ar1", 1, None)]
        assert true_to_the_rankings(owner)


def test_the_reader_reads_the_entries_and_may_not_write_them(dbs, applier):
    upsert_ranking(applier, "artist", "alice", "all", "ar1", 1)
    with psycopg.connect(dbs.replica_reader_url) as reader:
        assert reader.execute("SELECT count(*) FROM dashboard_search").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("DELETE FROM dashboard_search")
