"""Bad data injected at each stage: the gate names the failing check, nothing is
published, and a failed DAG run sends exactly one alert."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from fake_spotify.generate import generate, write_to_source
from pipeline import analytics, gates
from spark_scripts import job
from spark_scripts.statistics import COMPUTE
from star_schema.load import load_main
from testkit.sourcedata import add_play, add_track
from tests.airflow_support import load_dag_bag, run_dag
from tests.spark_scripts.test_job import snapshot
from warehouse.db import connect

pytestmark = [pytest.mark.slow, pytest.mark.spark]


@pytest.fixture
def pipeline(dbs, spark, smtp, monkeypatch, saved_databases):
    """Main and the replica filled by a clean, gated run (built once, then copied for each test); alerts go to
    the test's SMTP server."""
    controller, _ = smtp
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_STARTTLS": "false",
                        "ALERT_EMAIL_TO": "owner@example.org"}.items():
        monkeypatch.setenv(name, value)
    from warehouse.settings import get_settings

    get_settings.cache_clear()
    saved_databases.restore_or_build("gated_run", lambda: gated_run(dbs, spark))
    return dbs


def gated_run(dbs, spark) -> None:
    """Generated listening loaded through both gates, analysed by Spark; three tables published to the replica."""
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=21, users=2, days=40, end=datetime.now(UTC).date() - timedelta(days=1)))
    gates.source_gate(dbs)
    load_main(dbs)
    gates.main_gate(dbs)
    assert analytics.run(dbs, spark=spark).counts.inserted > 0  # the analytics gate passed
    with connect("main", dbs) as main, connect("replica", dbs) as replica:
        for table in ("analytics.overview", "analytics.hour_of_day", "dim_track"):
            rows = main.execute(f"SELECT * FROM {table}").fetchall()
            with replica.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def replica_state(settings):
    with connect("replica", settings) as conn:
        return [conn.execute(f"SELECT count(*), md5(string_agg(t::text, '' ORDER BY t::text)) FROM {t} t").fetchone()
                for t in ("analytics.overview", "analytics.hour_of_day", "dim_track")]


def run_failing_dag(settings, inbox, failing_task):
    """Run spotify_analytics for real: it must fail at `failing_task`, send one alert, publish nothing."""
    before, replica_before = snapshot(settings, with_freshness=True), replica_state(settings)
    dag = load_dag_bag().dags["spotify_analytics"]
    run, states = run_dag(dag)
    assert run.state == "failed"
    assert states[failing_task] == "failed", states
    assert states["publish_statistics"] == "upstream_failed"
    deadline = time.monotonic() + 10
    while not inbox.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(inbox.received) == 1
    recipients, message = inbox.received[0]
    assert "spotify_analytics" in message["Subject"] and "failed" in message["Subject"]
    assert recipients == ["owner@example.org"]
    assert snapshot(settings, with_freshness=True) == before
    assert replica_state(settings) == replica_before


def failing_checks(error):
    return {f.name for f in error.value.failures}


SOURCE_INJECTIONS = {
    "duplicate play": ("no play stored twice, from the Web API and from an export",
                       lambda conn: add_play(conn, "listener-21-001", "dup", "2026-01-01T10:00:00Z", 200_000)
                       or add_play(conn, "listener-21-001", "dup", "2026-01-01T10:00:00Z", 200_000,
                                   source="extended_export")),
    "future timestamp": ("no play ends in the future",
                         lambda conn: add_play(conn, "listener-21-001", "dup",
                                               (datetime.now(UTC) + timedelta(days=2)).isoformat())),
    "negative ms_played": ("ms_played between 0 and 12 hours",
                           lambda conn: add_play(conn, "listener-21-001", "dup", "2026-01-02T10:00:00Z", -5)),
    "absurd ms_played": ("ms_played between 0 and 12 hours",
                         lambda conn: add_play(conn, "listener-21-001", "dup", "2026-01-02T11:00:00Z", 90_000_000)),
    "orphan track": ("every play's track is known or queued for enrichment",
                     lambda conn: conn.execute("UPDATE plays SET track_id = 'nowhere' WHERE play_id = "
                                               "(SELECT min(play_id) FROM plays WHERE content_type = 'track')")),
}


@pytest.mark.parametrize("case", list(SOURCE_INJECTIONS))
def test_bad_source_data_stops_the_run_at_the_source_gate(pipeline, smtp, case, airflow_home):
    check, inject = SOURCE_INJECTIONS[case]
    with connect("source", pipeline) as conn:
        add_track(conn, "dup", artist_id="dup-artist", album_id="dup-album")
        inject(conn)
    with pytest.raises(gates.GateFailed) as error:
        gates.source_gate(pipeline)
    assert failing_checks(error) == {check}
    assert "(value " in str(error.value) and check in str(error.value)
    run_failing_dag(pipeline, smtp[1], "source_gate")


def test_stale_main_stops_the_run_at_the_main_gate(pipeline, smtp, airflow_home):
    # A bookkeeping fault: main believes it has every source play, while source has newer ones.
    with connect("main", pipeline) as conn:
        conn.execute("UPDATE etl.load_runs SET source_max_revision = source_max_revision + 1000000")
    with connect("source", pipeline) as conn:
        for hour in range(3):
            add_play(conn, "listener-21-001", "t-new",
                     (datetime.now(UTC) - timedelta(hours=hour)).isoformat())
        add_track(conn, "t-new", artist_id="dup-artist", album_id="dup-album")
    with pytest.raises(gates.GateFailed) as error:
        gates.main_gate(pipeline)
    assert failing_checks(error) == {"main is fresh relative to source"}
    run_failing_dag(pipeline, smtp[1], "main_gate")


def corrupt(compute, name, change):
    """`compute` with statistic `name`'s result changed by `change` (a bug in a Spark module)."""
    return {**compute, name: lambda t: change(compute[name](t))}


ANALYTICS_INJECTIONS = {
    "null key": ("top_tracks", "top_tracks rows have a value in track_id",
                 lambda df: df.withColumn("track_id", F.when(F.col("rank") == 2, None).otherwise(F.col("track_id")))),
    "share sum off": ("hour_of_day", "hour_of_day shares sum to 1 where there are streams",
                      lambda df: df.withColumn("share", F.col("share") * 0.9)),
    "missing hour row": ("hour_of_day", "every hour_of_day user and period has all 24 rows",
                         lambda df: df.where(F.col("hour") != 5)),
    "negative count": ("day_of_week", "day_of_week streams not negative",
                       lambda df: df.withColumn("streams", F.col("streams") - 1000000)),
    "profile off": ("artist_ranking",
                    "artist_ranking hour_streams (24) and weekday_streams (7) count from 0 and each sum to streams",
                    lambda df: df.withColumn("hour_streams", F.transform("hour_streams", lambda n: n + 1))),
    "one-sided pair": ("taste_overlap", "taste_overlap has each row both ways, with the same numbers and lists",
                       lambda df: df.where(F.col("user_id") < F.col("other_user_id"))),  # both users allow it
    "streak too long": ("overview",
                        "overview longest_streak from 1 day to the period's active days, within the days it spans",
                        lambda df: df.withColumn("longest_streak", F.col("active_days") + 1)),
}


# One run per group (a Spark run is the cost): the bugs of a group each break their own check alone; the missing
# hour row would also break the shares' sum, so it runs apart.
INJECTION_GROUPS = [[case for case in ANALYTICS_INJECTIONS if case != "missing hour row"], ["missing hour row"]]


@pytest.mark.parametrize("cases", INJECTION_GROUPS, ids=[", ".join(cases) for cases in INJECTION_GROUPS])
def test_bad_statistics_are_rejected_before_publication(pipeline, spark, monkeypatch, cases):
    compute, checks = COMPUTE, set()
    for case in cases:
        name, check, change = ANALYTICS_INJECTIONS[case]
        compute = corrupt(compute, name, change)
        checks.add(check)
    with connect("source", pipeline) as conn:
        add_play(conn, "listener-21-002", "t-late", (datetime.now(UTC) - timedelta(hours=1)).isoformat())
        add_track(conn, "t-late", artist_id="late-artist", album_id="late-album")
    load_main(pipeline)
    before, replica_before = snapshot(pipeline, with_freshness=True), replica_state(pipeline)
    monkeypatch.setattr(job, "COMPUTE", compute)
    with pytest.raises(gates.GateFailed) as error:
        analytics.run(pipeline, spark=spark)
    assert checks <= failing_checks(error)
    assert snapshot(pipeline, with_freshness=True) == before
    assert replica_state(pipeline) == replica_before
    with connect("main", pipeline) as conn:
        status, rejection = conn.execute(
            "SELECT status, rejection FROM etl.analytics_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    assert status == "rejected" and all(check in rejection for check in checks)


@pytest.mark.parametrize("case, change, check", [
    ("album not in dim_album", "album_id = 'nowhere'", "every listed album is in dim_album"),
    ("negative length", "duration_ms = -1", "listed track lengths not negative"),
    ("track number 0", "track_number = 0", "listed track and disc numbers from 1"),
])
def test_bad_album_track_lists_fail_the_main_gate(dbs, case, change, check):
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=6, users=1, days=5))
    assert load_main(dbs).album_track_lists > 0
    assert gates.main_gate(dbs)  # passes as loaded
    with connect("main", dbs) as conn:
        assert conn.execute(f"UPDATE dim_album_track SET {change} "
                            "WHERE ctid = (SELECT ctid FROM dim_album_track LIMIT 1)").rowcount == 1
    with pytest.raises(gates.GateFailed) as error:
        gates.main_gate(dbs)
    assert failing_checks(error) == {check}


@pytest.mark.parametrize("case, statement, check", [
    ("entry of no playlist", "UPDATE dim_playlist_track SET playlist_id = 'nowhere' "
                             "WHERE ctid = (SELECT ctid FROM dim_playlist_track LIMIT 1)",
     "every playlist entry's playlist is in dim_playlist"),
    ("negative position", "UPDATE dim_playlist_track SET position = -1 "
                          "WHERE ctid = (SELECT ctid FROM dim_playlist_track LIMIT 1)",
     "playlist positions not negative"),
    ("follower unknown", "UPDATE dim_user_playlist SET user_id = 'nobody' "
                         "WHERE ctid = (SELECT ctid FROM dim_user_playlist LIMIT 1)", "every follower is in dim_user"),
    ("followed playlist gone", "DELETE FROM dim_playlist WHERE playlist_id = (SELECT min(playlist_id) FROM "
                               "dim_playlist WHERE playlist_id NOT IN (SELECT playlist_id FROM dim_playlist_track))",
     "every followed playlist is in dim_playlist"),
])
def test_bad_playlists_fail_the_main_gate(dbs, case, statement, check):
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=6, users=1, days=5))
        if case == "followed playlist gone":  # a followed playlist without entries
            conn.execute("INSERT INTO playlists (playlist_id, name, fetched_at) VALUES ('bare', 'Bare', now())")
            conn.execute("INSERT INTO user_playlists (user_id, playlist_id) VALUES ('listener-6-001', 'bare')")
    assert load_main(dbs).playlist_rows_changed > 0
    assert gates.main_gate(dbs)  # passes as loaded
    with connect("main", dbs) as conn:
        assert conn.execute(statement).rowcount == 1
    with pytest.raises(gates.GateFailed) as error:
        gates.main_gate(dbs)
    assert failing_checks(error) == {check}


def test_an_exclusion_without_a_rule_fails_the_main_gate(dbs):
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=6, users=1, days=5))
    load_main(dbs)
    with connect("main", dbs) as conn:
        assert conn.execute("UPDATE fact_play SET excluded = true "
                            "WHERE play_id = (SELECT min(play_id) FROM fact_play)").rowcount == 1
    with pytest.raises(gates.GateFailed) as error:
        gates.main_gate(dbs)
    assert failing_checks(error) == {"every excluded fact's user has exclusion rules"}


def test_a_gate_first_analyzes_the_tables_a_load_changed_much(dbs):
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=5, users=1, days=20))
    assert "public.plays" in gates.refresh_statistics("source", dbs)
    with connect("source", dbs) as conn:
        analysed = conn.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                                "WHERE relname = 'plays'").fetchone()[0]
    assert analysed
    assert gates.refresh_statistics("source", dbs) == []  # nothing changed since


def test_a_gate_leaves_the_process_environment_alone(dbs, tmp_path, monkeypatch):
    """Soda loads a `.env` it finds with override=True; a gate must not let it replace exported settings."""
    import dotenv.main
    from soda.common.env_helper import EnvHelper

    found = tmp_path / ".env"
    found.write_text("DEFAULT_TIMEZONE=Pacific/Chatham\nWRAPPED_LEAK_PROBE=leaked\n")
    monkeypatch.setattr(dotenv.main, "find_dotenv", lambda *args, **kwargs: str(found))
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Europe/Lisbon")
    EnvHelper.reset()  # a fresh Soda environment, as in a new worker process
    with connect("source", dbs) as conn:
        write_to_source(conn, generate(seed=6, users=1, days=5))
    assert gates.source_gate(dbs)
    assert os.environ["DEFAULT_TIMEZONE"] == "Europe/Lisbon"
    assert "WRAPPED_LEAK_PROBE" not in os.environ
