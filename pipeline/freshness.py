"""When an ingestion or an import triggers the analytics: only for new plays, and coalesced.

`spotify_ingest` and `spotify_import` end with a short-circuit task
(`@task.short_circuit`) before their TriggerDagRunOperator; it calls
`analytics_wanted`, which answers True only when
- the run brought new plays (an ingestion: the sum of the users' `inserted`;
  an import: the plays it loaded or merged into stored ones), and
- no `spotify_analytics` run is queued yet. A queued run has not started: it
  reads source when it starts, so the new plays are in it already. A running
  one may have read source before them: then a new run is queued behind it
  (max_active_runs=1). So at most one run works and one waits, however many
  ingestions and imports pile up.

The check and the trigger are two steps: two runs finishing at the same
instant may both trigger. The second analytics run then finds main up to date
(the load changes nothing) and an empty scope (spark_scripts/scope.py), and
stages nothing: the Spark driver starts and stops without computing anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

ANALYTICS_DAG = "spotify_analytics"


def plays_ingested(results: Iterable[dict | None] | None) -> int:
    """New plays of one ingestion run: the sum of the mapped `ingest` tasks' `inserted`.

    A user whose task failed or was skipped (must log in again) returned nothing."""
    return sum((result or {}).get("inserted") or 0 for result in results or ())


def plays_imported(report: dict) -> int:
    """Plays an import changed in source: new ones, and stored ones it merged export fields into
    (skips, platform...: the statistics see them too). Nothing written, nothing changed."""
    if report.get("import_id") is None:
        return 0
    return report["plays_loaded"] + report["merged_api"] + report["merged_export"]


def should_trigger(new_plays: int, queued_runs: int) -> bool:
    """Trigger the analytics for new plays, unless a run that has not started yet will read them."""
    return new_plays > 0 and queued_runs == 0


def analytics_wanted(new_plays: int, ti: Any) -> bool:
    """The short-circuit's answer, with the reason in the task log; `ti` is the running task instance."""
    if new_plays <= 0:
        log.info("no new plays: the analytics are not triggered")
        return False
    queued = ti.get_dr_count(dag_id=ANALYTICS_DAG, states=["queued"])
    if not should_trigger(new_plays, queued):
        log.info("%d new plays; a %s run is queued and will read them: not triggered again",
                 new_plays, ANALYTICS_DAG)
        return False
    log.info("%d new plays: %s is triggered", new_plays, ANALYTICS_DAG)
    return True
