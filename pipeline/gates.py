"""Quality gates: the Soda checks of one stage, run with Soda's Python API.

Stages and their checks (SodaCL, one file per dataset, under soda/<stage>/):
- source:    raw plays and metadata, after each ingestion or import batch;
- main:      the star schema, after each source -> main load;
- analytics: the staged statistics (analytics_staging), before publication.

A failing check raises GateFailed naming every failing check with its value;
the caller stops the stage before anything is published, so nothing downstream
runs. Warnings are logged and do not stop anything. Soda's usage statistics
are off, so a scan needs no network.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from warehouse.catalog import soda_variables
from warehouse.settings import PROJECT_ROOT, Settings, get_settings

os.environ.setdefault("OTEL_SDK_DISABLED", "true")  # no telemetry from Soda, no network
log = logging.getLogger(__name__)
CHECKS = PROJECT_ROOT / "soda"
STAGES = {"source": ("source", "public"), "main": ("main", "public"), "analytics": ("main", "analytics_staging")}


@dataclass(frozen=True)
class CheckResult:
    dataset: str
    name: str
    outcome: str
    value: object

    def __str__(self) -> str:
        return f"{self.dataset}: {self.name} (value {self.value})"


class GateFailed(RuntimeError):
    def __init__(self, stage: str, failures: list[CheckResult]):
        self.stage = stage
        self.failures = failures
        super().__init__(f"{stage} gate failed {len(failures)} check(s): " + "; ".join(map(str, failures)))


class GateError(RuntimeError):
    """The checks could not run (bad check file, database unreachable)."""


def _data_source(stage: str, settings: Settings) -> str:
    database, schema = STAGES[stage]
    url = urlsplit(getattr(settings, f"{database}_database_url"))
    return yaml.safe_dump({f"data_source {stage}": {
        "type": "postgres", "host": url.hostname, "port": url.port or 5432,
        "username": unquote(url.username or ""), "password": unquote(url.password or ""),
        "database": url.path.lstrip("/"), "schema": schema}})


def check_files(stage: str) -> list[Path]:
    return sorted((CHECKS / stage).glob("*.yml"))


def refresh_statistics(stage: str, settings: Settings) -> list[str]:
    """ANALYZE the stage's tables that autovacuum would analyze next (50 + 10% of their rows changed).

    A gate runs right after a large load; planned on the statistics of before it,
    a check's anti-join of a million new plays once ran as a nested loop for half
    an hour. Returns the tables analysed.
    """
    from warehouse.db import connect

    database, schema = STAGES[stage]
    with connect(database, settings, autocommit=True) as conn:
        stale = [name for (name,) in conn.execute(
            "SELECT format('%%I.%%I', schemaname, relname) FROM pg_stat_user_tables "
            "WHERE schemaname = %s AND n_mod_since_analyze > 50 + 0.1 * n_live_tup ORDER BY 1", (schema,))]
        for name in stale:
            conn.execute("SELECT analyze_table(%s::regclass)", (name,))  # the owner's (source migration 0006)
    return stale


def run_gate(stage: str, settings: Settings | None = None, variables: dict[str, str] | None = None
             ) -> list[CheckResult]:
    """Run the stage's checks; raise GateFailed if any fails, GateError if they cannot run."""
    from soda.common import env_helper
    from soda.scan import Scan

    # Soda's first Scan() runs load_dotenv(override=True): it would find this project's .env (walking up
    # from site-packages) and overwrite the process environment, so `.env` would beat exported settings
    # for everything that runs after a gate in the same process. Our settings are passed explicitly.
    env_helper.load_dotenv = lambda *args, **kwargs: False
    settings = settings or get_settings()
    refresh_statistics(stage, settings)
    scan = Scan()
    scan.set_data_source_name(stage)
    scan.set_scan_definition_name(f"{stage}_gate")
    scan.add_configuration_yaml_str(_data_source(stage, settings))
    scan.add_variables({**soda_variables(), "ALBUM_MIN_TRACKS": str(settings.album_min_tracks),
                        "EXPORT_API_MATCH_SECONDS": str(settings.export_api_match_seconds), **(variables or {})})
    for path in check_files(stage):
        scan.add_sodacl_yaml_file(str(path))
    try:
        scan.execute()
    finally:
        # soda-core 3.5.6 closes only the connections it registered, and a Postgres data
        # source's never is: its transaction would stay open and hold read locks on the
        # checked tables (a later TRUNCATE of the staging tables would wait forever).
        for data_source in scan._data_source_manager.data_sources.values():
            data_source.disconnect()
    results = [
        CheckResult(check.get("table") or "?", check["name"], check["outcome"],
                    (check.get("diagnostics") or {}).get("value"))
        for check in scan.get_scan_results()["checks"]
    ]
    if scan.has_error_logs() or any(r.outcome not in ("pass", "warn", "fail") for r in results):
        raise GateError(f"{stage} gate could not run its checks:\n{scan.get_error_logs_text()}")
    for warning in (r for r in results if r.outcome == "warn"):
        log.warning("%s gate warning: %s", stage, warning)
    failures = [r for r in results if r.outcome == "fail"]
    if failures:
        raise GateFailed(stage, failures)
    log.info("%s gate passed %d checks", stage, len(results))
    return results


def source_gate(settings: Settings | None = None) -> list[CheckResult]:
    """Raw plays and metadata, after an ingestion or import batch."""
    return run_gate("source", settings)


def main_gate(settings: Settings | None = None) -> list[CheckResult]:
    """The star schema after a load, with main's freshness measured against source."""
    from warehouse.db import connect

    settings = settings or get_settings()
    with connect("source", settings) as source:
        (newest,) = source.execute(
            "SELECT max(played_at) FROM plays WHERE content_type = 'track'").fetchone()
    return run_gate("main", settings, {
        "SOURCE_MAX_PLAYED_AT": newest.isoformat() if newest else "1970-01-01T00:00:00+00:00",
        "MAIN_MAX_LAG_MINUTES": str(settings.main_max_lag_minutes)})


def analytics_gate(settings: Settings | None = None) -> list[CheckResult]:
    """The staged statistics, before publication."""
    return run_gate("analytics", settings)
