"""Incremental runs by stored month-level state (analytics_state.*) equal a full rebuild, at the edges a
month-level state has: late plays in an old month, a session across a month edge, a streak extended by a
new day, a first-ever stream that stops being first, a time-zone change, a metadata change; and a run dying
half way leaves state and published tables consistent."""

from decimal import Decimal

import pytest

from pipeline import analytics
from spark_scripts import publish, staging
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track, add_user
from tests.spark_scripts.test_job import snapshot
from warehouse.db import connect

STATE = ("tracks", "days", "clock", "skips", "gaps")


def state(settings) -> dict:
    """md5 of each state table's ordered rows."""
    with connect("main", settings) as conn:
        return {name: conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(g::text, '|' ORDER BY g::text), '')) "
            f"FROM analytics_state.{name} g").fetchone() for name in STATE}


def everything(settings) -> tuple[dict, dict]:
    return snapshot(settings), state(settings)


def plays(settings, *rows) -> None:
    """(user, track, played_at 'Z') plays into source, then main."""
    with connect("source", settings) as conn:
        for user, track, played_at in rows:
            add_play(conn, user, track, played_at)
    load_main(settings)


def assert_incremental_equals_rebuild(settings, spark, mode="incremental"):
    """The next run is of `mode`; an incremental one gives what a full rebuild then gives (state included)."""
    report = analytics.run(settings, spark=spark)
    assert report.mode == mode
    if mode == "full":
        return  # it was the rebuild
    incremental = everything(settings)
    rebuilt = analytics.run(settings, full=True, spark=spark)
    assert everything(settings) == incremental
    assert (rebuilt.counts.inserted, rebuilt.counts.updated, rebuilt.counts.deleted) == (0, 0, 0)


@pytest.fixture
def history(dbs, spark, saved_databases):
    """Two listeners in Berlin and Tokyo, three months of plays, published by a full run (built once, then copied
    for each test)."""
    def build():
        with connect("source", dbs) as conn:
            add_user(conn, "ana", "Europe/Berlin")
            add_user(conn, "kai", "Asia/Tokyo")
            for number in range(1, 7):
                add_track(conn, f"t{number}", artist_id=f"ar{number % 3}", album_id=f"al{number % 2}")
        plays(dbs,
              ("ana", "t1", "2026-01-10T09:00:00Z"), ("ana", "t1", "2026-01-11T09:00:00Z"),
              ("ana", "t2", "2026-02-14T18:00:00Z"), ("ana", "t3", "2026-02-28T22:40:00Z"),  # 23:40 Berlin
              ("ana", "t4", "2026-02-28T22:50:00Z"),
              ("ana", "t1", "2026-03-20T10:00:00Z"), ("ana", "t5", "2026-03-21T10:00:00Z"),
              ("kai", "t6", "2026-01-31T14:50:00Z"), ("kai", "t6", "2026-03-30T14:55:00Z"))  # 23:55 Tokyo
        assert analytics.run(dbs, spark=spark).mode == "full"

    saved_databases.restore_or_build("state_history", build)
    return dbs


def test_new_plays_at_the_edges_of_the_months_equal_a_rebuild(history, spark):
    plays(history,
          ("ana", "t5", "2026-02-28T23:05:00Z"),   # 00:05 on 1 March in Berlin: the session from February goes on
          ("ana", "t1", "2026-03-22T10:00:00Z"),   # ar1's streak of 20-21 March extended (t1, t4 share ar1)
          ("kai", "t6", "2026-03-30T15:10:00Z"))   # 00:10 on 31 March in Tokyo
    assert_incremental_equals_rebuild(history, spark)
    with connect("main", history) as conn:
        sessions = conn.execute("SELECT streams FROM analytics.sessions WHERE user_id = 'ana' "
                                "AND period = '2026-02' ORDER BY session_start").fetchall()
    assert sessions[-1] == (3,)  # 23:40, 23:50 and the new 00:05 play: one session, counted in February


def test_late_plays_in_an_old_month_equal_a_rebuild(history, spark):
    plays(history,
          ("ana", "t2", "2026-01-12T09:00:00Z"),   # t2's first-ever stream moves from February to January
          ("kai", "t6", "2026-01-31T15:05:00Z"))   # 00:05 on 1 February in Tokyo, right after a January stream
    assert_incremental_equals_rebuild(history, spark)
    with connect("main", history) as conn:
        assert conn.execute("SELECT period, new_tracks FROM analytics.overview WHERE user_id = 'ana' "
                            "AND length(period) = 7 ORDER BY period").fetchall() == [
            ("2026-01", 2), ("2026-02", 2), ("2026-03", 1)]


def test_a_time_zone_change_and_a_metadata_change_equal_a_rebuild(history, spark):
    with connect("source", history) as conn:
        conn.execute("UPDATE users SET timezone = 'America/New_York' WHERE user_id = 'ana'")
    plays(history, ("kai", "t6", "2026-03-31T01:00:00Z"))
    assert_incremental_equals_rebuild(history, spark, mode="full")
    with connect("source", history) as conn:
        conn.execute("UPDATE tracks SET artist_ids = ARRAY['ar2'] WHERE track_id = 't1'")
    plays(history, ("ana", "t3", "2026-03-31T12:00:00Z"))
    assert_incremental_equals_rebuild(history, spark, mode="full")


def test_a_run_dying_while_it_stages_or_stores_state_changes_nothing(history, spark, monkeypatch):
    before = everything(history)
    plays(history, ("ana", "t6", "2026-03-25T10:00:00Z"), ("kai", "t1", "2026-03-31T02:00:00Z"))
    real_copy = staging.copy_lines
    copied = []

    def dying_copy(conn, table, columns, lines):
        if table.startswith("analytics_staging.state_") and copied:
            raise RuntimeError("killed while staging")
        copied.append(table)
        real_copy(conn, table, columns, lines)

    with monkeypatch.context() as patched:
        patched.setattr(staging, "copy_lines", dying_copy)
        with pytest.raises(RuntimeError, match="killed while staging"):
            analytics.run(history, spark=spark)
    assert everything(history) == before
    with monkeypatch.context() as patched:  # half the state replaced, then the publication dies
        patched.setattr(publish, "STORED", ("tracks", "days", "no_such_grain", "clock"))
        with pytest.raises(Exception, match="no_such_grain"):
            analytics.run(history, spark=spark)
    assert everything(history) == before
    assert_incremental_equals_rebuild(history, spark)
    assert everything(history) != before


def taste_overlap(settings) -> dict:
    """(user_id, period, other_user_id) -> (overlap, top_shared_artists, first_streamed_by) published."""
    with connect("main", settings) as conn:
        return {tuple(r[:3]): r[3:] for r in conn.execute(
            "SELECT user_id, period, other_user_id, round(overlap::numeric, 9), top_shared_artists, "
            "first_streamed_by FROM analytics.taste_overlap")}


def consent(settings, user_id: str, allowed: bool) -> None:
    with connect("source", settings) as conn:
        conn.execute("UPDATE users SET compare_consent = %s WHERE user_id = %s", (allowed, user_id))
    load_main(settings)


def test_comparison_follows_consent_and_incremental_pairs_equal_a_rebuild(history, spark):
    assert taste_overlap(history) == {}  # nobody allows comparison yet
    consent(history, "ana", True)
    consent(history, "kai", True)
    assert_incremental_equals_rebuild(history, spark, mode="full")  # a change of the users: a full run
    got = taste_overlap(history)
    common = ["all", "2026", "2026-01", "2026-03", "last-4-weeks", "last-6-months", "last-12-months"]
    assert set(got) == {(a, p, b) for p in common for a, b in (("ana", "kai"), ("kai", "ana"))}
    # all: ana streamed ar1 4 times, ar2 twice, ar0 once (t3, 2026-02-28); kai only ar0 (t6, from 2026-01-31)
    assert got["ana", "all", "kai"] == got["kai", "all", "ana"] == (Decimal("0.142857143"), ["ar0"], ["kai"])
    # A new play of kai's in a period only ana had: the pair's other periods come from ana's published rows.
    plays(history, ("kai", "t1", "2026-02-20T10:00:00Z"))
    assert_incremental_equals_rebuild(history, spark)
    got = taste_overlap(history)
    # February: ar1 is a third of ana's streams (t4, 2026-02-28) and all of kai's (2026-02-20, earlier)
    assert got["ana", "2026-02", "kai"] == (Decimal("0.333333333"), ["ar1"], ["kai"])
    # all: kai now 2/3 ar0, 1/3 ar1: min(4/7, 1/3) + min(1/7, 2/3); ana streamed ar1 first (2026-01-10)
    assert got["kai", "all", "ana"] == (Decimal("0.476190476"), ["ar1", "ar0"], ["ana", "kai"])
    consent(history, "kai", False)
    assert_incremental_equals_rebuild(history, spark, mode="full")
    assert taste_overlap(history) == {}
