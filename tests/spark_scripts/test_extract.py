"""The job's reads from main: exactly the run's users, whatever their ids hold (no SQL pasted together)."""

from __future__ import annotations

from spark_scripts.extract import extract, play_range
from spark_scripts.scope import RunScope
from spark_scripts.session import shuffle_partitions
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from warehouse.db import connect

# In play_id order: the plays of the two chosen users enclose those of a third.
USERS = ["o'brien", "x') OR true --", "back\\slash", "plain"]
CHOSEN = ["o'brien", "back\\slash"]


def fill(settings) -> None:
    with connect("source", settings) as conn:
        add_track(conn, "t1")
        for day, user in enumerate(USERS, start=1):
            add_user(conn, user)
            for hour in range(3):
                add_play(conn, user, "t1", f"2026-01-0{day}T1{hour}:00:00Z")
    load_main(settings)


def plays_by_user(settings) -> dict[str, set[int]]:
    with connect("main", settings) as main:
        found: dict[str, set[int]] = {}
        for user_id, play_id in main.execute("SELECT user_id, play_id FROM fact_play"):
            found.setdefault(user_id, set()).add(play_id)
    return found


def test_an_incremental_read_holds_exactly_the_runs_users(dbs, spark):
    fill(dbs)
    expected = plays_by_user(dbs)
    chosen_ids = expected[CHOSEN[0]] | expected[CHOSEN[1]]
    scope = RunScope("incremental", 1, CHOSEN, dict.fromkeys(CHOSEN, "2026-01"))
    spark.conf.set("spark.sql.shuffle.partitions", "5")  # not what extract sets: the test session's is 2
    plays = extract(spark, dbs, scope)["plays"].collect()
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"  # 6 plays: the fewest
    with connect("main", dbs) as main:
        assert play_range(main, scope) == (min(chosen_ids), max(chosen_ids), len(chosen_ids))
    assert sorted((p.user_id, p.play_id) for p in plays) == sorted(
        (user, play_id) for user in CHOSEN for play_id in expected[user])
    with connect("main", dbs) as main:
        assert sorted(main.execute("SELECT user_id, since FROM analytics_staging.run_users")) == sorted(
            (user, "2026-01") for user in CHOSEN)


def test_an_incremental_read_starts_at_the_users_month_with_the_stream_before_it(dbs, spark):
    fill(dbs)
    with connect("source", dbs) as conn:
        add_play(conn, "plain", "t1", "2026-02-01T08:00:00Z")
        add_play(conn, "plain", "t1", "2026-02-02T08:00:00Z")
    load_main(dbs)
    plays = extract(spark, dbs, RunScope("incremental", 2, ["plain"], {"plain": "2026-02"}))["plays"].collect()
    assert sorted((p.local_date.isoformat(), p.local_hour, p.before) for p in plays) == [
        ("2026-01-04", 12, True), ("2026-02-01", 8, False), ("2026-02-02", 8, False)]
    stored = extract(spark, dbs, RunScope("incremental", 2, ["plain"], {"plain": "2026-02"}))["stored"]
    assert stored.tracks.count() == 0  # nothing published yet


def test_a_full_read_holds_every_play(dbs, spark):
    fill(dbs)
    expected = plays_by_user(dbs)
    with connect("main", dbs) as main:
        every = set().union(*expected.values())
        assert play_range(main, RunScope("full", 1, None, {})) == (min(every), max(every), len(every))
    sources = extract(spark, dbs, RunScope("full", 1, None, {}))
    assert sorted(p.play_id for p in sources["plays"].collect()) == sorted(every)
    assert sorted(u.user_id for u in sources["users"].collect()) == sorted(USERS)
    with connect("main", dbs) as main:
        assert main.execute("SELECT count(*) FROM analytics_staging.run_users").fetchone() == (0,)


def test_the_shuffle_partitions_grow_with_the_plays_a_run_reads():
    assert [shuffle_partitions(n) for n in (0, 10_000, 250_000, 250_001, 500_000, 1_000_000, 10_000_000)] == [
        2, 2, 2, 3, 4, 8, 8]


def test_the_window_read_holds_the_last_12_months_of_the_runs_users_and_the_stream_before(dbs, spark):
    fill(dbs)
    with connect("source", dbs) as conn:
        add_play(conn, "plain", "t1", "2025-01-04T08:00:00Z")  # before the 12 months: the stream before them
        add_play(conn, "plain", "t1", "2025-01-05T08:00:00Z")  # the 12 months end 2026-01-04: they start here
        add_play(conn, "plain", "t1", "2024-06-01T08:00:00Z")  # older still: not read
    load_main(dbs)
    found = extract(spark, dbs, RunScope("incremental", 2, ["plain"], {"plain": "2026-01"}))["window"].collect()
    assert sorted((p.user_id, p.local_date.isoformat(), p.local_hour, p.before) for p in found) == [
        ("plain", "2025-01-04", 8, True), ("plain", "2025-01-05", 8, False),
        *[("plain", "2026-01-04", 10 + hour, False) for hour in range(3)]]
