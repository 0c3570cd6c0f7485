"""The run ledger on real Postgres: a staged run waits until it is published or rejected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spark_scripts.ledger import (
    NothingStaged,
    PublishCounts,
    RunReport,
    StagedRun,
    last_published,
    latest_staged,
    mark_published,
    mark_rejected,
    record_staged,
    statistics_shape,
)
from spark_scripts.publish import publish_staged
from spark_scripts.scope import RunScope, decide_scope
from warehouse.db import connect, connect_owner

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def runs(main):
    return main.execute("SELECT status, mode, users, scopes, max_load_id, rows_inserted, rows_updated, "
                        "rows_deleted, rejection FROM etl.analytics_runs ORDER BY run_id").fetchall()


def test_a_staged_run_waits_until_it_is_published(dbs):
    with connect("main", dbs) as main:
        with pytest.raises(NothingStaged):
            latest_staged(main)
        staged = record_staged(main, RunScope("incremental", 3, ["a", "b"], {"a": "2026-01", "b": "2026-02"}),
                               NOW, NOW, 7)
        assert latest_staged(main) == staged == StagedRun(staged.run_id, "incremental", 2, 7)
        assert last_published(main) == (None, None)
        report = mark_published(main, staged, PublishCounts(5, 1, 2))
        assert report == RunReport("incremental", 2, 7, PublishCounts(5, 1, 2))
        assert str(report) == ("incremental run over 2 users: 7 (user, period) scopes, 5 rows inserted, "
                               "1 updated, 2 deleted")
        with pytest.raises(NothingStaged):
            latest_staged(main)
        assert last_published(main) == (3, statistics_shape(main))
        assert runs(main) == [("published", "incremental", 2, 7, 3, 5, 1, 2, None)]


def test_a_rejected_run_is_never_published(dbs):
    with connect("main", dbs) as main:
        staged = record_staged(main, RunScope("full", 4, None, {}), NOW, None, 9)
        assert str(staged) == f"staged run {staged.run_id}: full over all users, 9 (user, period) scopes"
        mark_rejected(main, staged, "hour_of_day gate failed")
    with pytest.raises(NothingStaged):
        publish_staged(dbs)
    with connect("main", dbs) as main:
        assert last_published(main) == (None, None)
        assert runs(main) == [("rejected", "full", None, 9, 4, None, None, None, "hour_of_day gate failed")]


def test_only_the_latest_run_can_wait(dbs):
    with connect("main", dbs) as main:
        record_staged(main, RunScope("full", 1, None, {}), NOW, NOW, 3)
        newer = record_staged(main, RunScope("full", 2, None, {}), NOW, NOW, 4)
        assert latest_staged(main) == newer
        mark_rejected(main, newer, "checks failed")
        with pytest.raises(NothingStaged):
            latest_staged(main)  # the older staged run was superseded


def test_a_migration_that_changes_a_statistic_or_its_state_makes_the_next_run_full(dbs):
    with connect_owner("main", dbs) as main:  # the owner, who migrates
        mark_published(main, record_staged(main, RunScope("full", 0, None, {}), NOW, NOW, 1), PublishCounts())
        assert decide_scope(main) == RunScope("incremental", 0, [], {})  # nothing new: nothing to do
        with main.transaction(force_rollback=True):
            main.execute("ALTER TABLE analytics_state.skips ADD COLUMN probe integer")
            assert decide_scope(main) == RunScope("full", 0, None, {})
        with main.transaction(force_rollback=True):
            main.execute("ALTER TABLE analytics.track_ranking ALTER COLUMN skip_rate TYPE real")
            assert decide_scope(main).mode == "full"
        with main.transaction(force_rollback=True):
            main.execute("ALTER TABLE dashboard_share_links ADD COLUMN probe integer")  # no statistic
            assert decide_scope(main).mode == "incremental"
