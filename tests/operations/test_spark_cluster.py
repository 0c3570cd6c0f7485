"""The same job, unchanged, on a standalone Spark master and worker started by the test."""

import pytest

from fake_spotify.generate import generate, write_to_source
from operations import services
from operations import spark_cluster as cluster
from operations.postgres import free_port
from pipeline import analytics
from star_schema.load import load_main
from warehouse.db import connect

pytestmark = pytest.mark.slow


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
        assert cluster.start(settings)[0].startswith("spark master already running")
        monkeypatch.setenv("SPARK_MASTER", cluster.master_url(settings))
        report = analytics.run(settings.model_copy(update={"spark_master": cluster.master_url(settings)}), full=True)
        assert "full run over all users" in str(report)
        log = services.log_file(settings, "spark-master").read_text()
        assert "Registering app spotify_analytics" in log
    finally:
        cluster.stop(settings)
    assert services.running_pid(settings, "spark-master") is None
    assert services.running_pid(settings, "spark-worker") is None
    with connect("main", settings) as conn:
        streams = conn.execute("SELECT sum(streams) FROM analytics.overview WHERE period = 'all'").fetchone()[0]
        facts = conn.execute("SELECT count(*) FROM fact_play WHERE is_stream").fetchone()[0]
    assert streams == facts > 0
