"""When an ingestion or an import triggers the analytics: new plays only, and never behind a queued run."""

from __future__ import annotations

import pytest

from pipeline.freshness import ANALYTICS_DAG, analytics_wanted, plays_imported, plays_ingested, should_trigger


class TaskInstance:
    """What the short-circuit asks of Airflow's running task instance: how many runs are queued."""

    def __init__(self, queued: int):
        self.queued = queued
        self.asked: list[tuple[str, list[str]]] = []

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        self.asked.append((dag_id, states))
        return self.queued


def test_an_ingestion_counts_the_plays_every_user_inserted():
    results = [{"user_id": "a", "status": "ok", "inserted": 3},
               None,  # a user whose task failed or was skipped returned nothing
               {"user_id": "b", "status": "ok", "inserted": 0},
               {"user_id": "c", "status": "rate_limited", "inserted": 2}]
    assert plays_ingested(results) == 5
    assert plays_ingested([{"user_id": "a", "status": "ok", "inserted": 0}]) == 0
    assert plays_ingested([]) == plays_ingested([None]) == plays_ingested(None) == 0


def report(**fields) -> dict:
    return {"import_id": 7, "plays_loaded": 0, "merged_api": 0, "merged_export": 0} | fields


def test_an_import_counts_the_plays_it_loaded_or_merged_into_stored_ones():
    assert plays_imported(report(plays_loaded=1470)) == 1470
    assert plays_imported(report(merged_api=2, merged_export=1)) == 3  # stored plays got skips, platforms...
    assert plays_imported(report()) == 0  # only metadata changed
    assert plays_imported(report(import_id=None, plays_loaded=0, already_present=1470)) == 0  # the same files again


@pytest.mark.parametrize(("new_plays", "queued", "expected"), [
    (0, 0, False),  # nothing new: no analytics run
    (0, 1, False),
    (1, 0, True),
    (250, 0, True),
    (250, 1, False),  # a queued run has not started: it will read these plays
    (250, 2, False),
])
def test_should_trigger_for_new_plays_unless_a_run_is_queued(new_plays, queued, expected):
    assert should_trigger(new_plays, queued) is expected


def test_the_short_circuit_asks_airflow_for_queued_analytics_runs_only_when_plays_are_new(caplog):
    caplog.set_level("INFO", logger="pipeline.freshness")
    idle = TaskInstance(queued=0)
    assert analytics_wanted(0, idle) is False
    assert idle.asked == []
    assert "no new plays" in caplog.text

    assert analytics_wanted(4, idle) is True
    assert idle.asked == [(ANALYTICS_DAG, ["queued"])]

    waiting = TaskInstance(queued=1)
    assert analytics_wanted(4, waiting) is False
    assert "is queued and will read them" in caplog.text
