"""The same job, unchanged, on a standalone Spark master and worker: the supervisor programs spark-master and
spark-worker, started by the test."""

from pathlib import Path

import pytest

from fake_spotify.generate import generate, write_to_source
from operations import spark_cluster as cluster
from operations import supervisor
from operations.postgres import free_port
from pipeline import analytics
from star_schema.load import load_main
from warehouse.db import connect

pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_job_runs_on_the_standalone_cluster(dbs, tmp_path, monkeypatch):
    settings = dbs.model_copy(update={
        "runtime_dir": tmp_path, "spark_standalone_port": free_port(), "spark_master_ui_port": free_port(),
        "spark_worker_ui_port": free_port()})
    with connect("source", settings) as conn:
        write_to_source(conn, generate(seed=4, users=2, days=15))
    load_main(settings)
    try:
        started = cluster.start(settings)
        assert cluster.alive_workers(settings) == 1, started
        pids = [supervisor.pid(settings, name) for name in cluster.PROGRAMS]
        assert all(pids) and all(alive(pid) for pid in pids)
        assert cluster.start(settings).startswith(f"spark master already running (pid {pids[0]})")
        monkeypatch.setenv("SPARK_MASTER", cluster.master_url(settings))
        report = analytics.run(settings.model_copy(update={"spark_master": cluster.master_url(settings)}), full=True)
        assert "full run over all users" in str(report)
        log = supervisor.log_file(settings, "spark-master").read_text()
        assert "Registering app spotify_analytics" in log
    finally:
        stopped = cluster.stop(settings)
        supervisor.shutdown(settings)
    assert stopped == f"spark worker stopped (pid {pids[1]}); spark master stopped (pid {pids[0]})"
    assert not any(alive(pid) for pid in pids)
    with connect("main", settings) as conn:
        streams = conn.execute("SELECT sum(streams) FROM analytics.overview WHERE period = 'all'").fetchone()[0]
        facts = conn.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()[0]
    assert streams == facts > 0
