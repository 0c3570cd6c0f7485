"""The warm engine (a Spark Connect server, supervisor program spark-engine) on a standalone master and worker
(spark-master, spark-worker), started by the tests; the cold spark-submit path beside it. The engine on local[*]
is the same program with another --master."""

import os
import signal
import time
from pathlib import Path

import pytest

from fake_spotify.generate import generate, write_to_source
from operations import spark_cluster as cluster
from operations import supervisor
from operations.postgres import free_port
from pipeline import analytics
from spark_scripts.session import engine_answers
from star_schema.load import load_main
from warehouse.db import connect

pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def published_streams(settings) -> tuple[int, int]:
    """(streams of every user's 'all' period, streams in fact_play): equal once a run published."""
    with connect("main", settings) as conn:
        streams = conn.execute("SELECT sum(streams) FROM analytics.overview WHERE period = 'all'").fetchone()[0]
        facts = conn.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()[0]
    return streams, facts


def no_cold_start(*_args, **_kwargs):
    raise AssertionError("the run started a cold spark-submit instead of using the warm engine")


@pytest.fixture
def engine_settings(dbs, tmp_path):
    settings = dbs.model_copy(update={
        "runtime_dir": tmp_path, "spark_connect_url": f"sc://127.0.0.1:{free_port()}",
        "spark_standalone_port": free_port(), "spark_master_ui_port": free_port(),
        "spark_worker_ui_port": free_port(), "spark_driver_memory": "1g"})
    yield settings
    cluster.stop(settings)
    supervisor.shutdown(settings)


def add_listening(settings, seed: int, days: int = 15):
    with connect("source", settings) as conn:
        write_to_source(conn, generate(seed=seed, users=2, days=days))
    load_main(settings)


def engine_comes_back(settings, killed: int) -> int:
    """The supervisor restarts the engine killed (pid `killed`) and it answers again: its new pid."""
    deadline = time.monotonic() + 90
    while not (engine_answers(settings.spark_connect_url) and supervisor.pid(settings, cluster.ENGINE) != killed):
        assert time.monotonic() < deadline, "the supervisor did not bring the engine back"
        time.sleep(1)
    return supervisor.pid(settings, cluster.ENGINE)


# Three analytics runs on a real cluster, two of them on a JVM that has just started: 472 s alone, 755 s beside
# the other test worker's Spark tests on the same two cores, 895 s in CI: it gets more than the suite's 900 s.
@pytest.mark.timeout(1800)
def test_the_engine_and_spark_submit_on_the_standalone_cluster(engine_settings, monkeypatch):
    """Runs go to the warm engine on the standalone master and worker, and survive the engine's death between
    two runs; with the engine stopped, a run falls back to a cold spark-submit on the same cluster."""
    settings = engine_settings.model_copy(update={"spark_master": cluster.master_url(engine_settings)})
    add_listening(settings, seed=7)
    started = cluster.start(settings)
    assert cluster.alive_workers(settings) == 1 and cluster.healthy(settings), started
    pids = [supervisor.pid(settings, name) for name in cluster.PROGRAMS]
    assert all(pids) and all(alive(pid) for pid in pids)
    assert cluster.start(settings).startswith(f"spark master already running (pid {pids[0]})")
    with monkeypatch.context() as warm_only:
        warm_only.setattr(analytics, "submit", no_cold_start)
        first = analytics.run(settings, full=True)
        assert "full run over all users" in str(first)
        assert published_streams(settings)[0] == published_streams(settings)[1] > 0
        os.kill(pids[2], signal.SIGKILL)  # the engine, between two runs
        pids[2] = engine_comes_back(settings, pids[2])
        add_listening(settings, seed=5, days=3)
        second = analytics.run(settings)
        assert second.mode == "incremental" and second.counts.inserted > 0
    log = supervisor.log_file(settings, "spark-master").read_text()
    assert "Registering app spotify_analytics engine" in log
    # The engine stopped: nothing answers at SPARK_CONNECT_URL, and the run still succeeds, through a cold
    # spark-submit on the same cluster.
    add_listening(settings, seed=8, days=3)
    monkeypatch.setenv("SPARK_MASTER", settings.spark_master)  # the job's own settings, from the environment
    assert supervisor.stop(settings, cluster.ENGINE) == f"stopped (pid {pids[2]})"
    assert not engine_answers(settings.spark_connect_url)
    cold = analytics.run(settings)
    assert cold.mode == "incremental"
    assert "Registering app spotify_analytics\n" in supervisor.log_file(settings, "spark-master").read_text()
    stopped = cluster.stop(settings)
    assert stopped == (f"spark engine not running; spark worker stopped (pid {pids[1]}); "
                       f"spark master stopped (pid {pids[0]})")
    assert not any(alive(pid) for pid in pids)
    assert published_streams(settings)[0] == published_streams(settings)[1] > 0
