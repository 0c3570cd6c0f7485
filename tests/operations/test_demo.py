"""`make demo` with replication through Kafka (CDC_TRANSPORT=kafka), for real, in an isolated stack: free ports,
a temporary runtime folder, Spark's default local master. The replica equals main, table by table."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

from operations.postgres import free_port
from testkit.stack_env import make, make_root, stack_environment, stack_settings
from tests.cdc_connectors.helpers import assert_replica_equal

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_make_demo_through_kafka_leaves_the_replica_equal_to_main():
    root = make_root()
    env = {**stack_environment(root), "CDC_TRANSPORT": "kafka",
           "KAFKA_CONNECT_URL": f"http://127.0.0.1:{free_port()}",
           "SPARK_CONNECT_URL": f"sc://127.0.0.1:{free_port()}"}  # no warm engine here: runs use spark-submit
    env.pop("SPARK_MASTER")  # the demo's default, local[*]
    env["FAKE_SPOTIFY_PORT"] = str(urlsplit(env["SPOTIFY_API_URL"]).port)
    try:
        demo = make("demo", env, 900, "USERS=2", "DAYS=30")
        assert demo.returncode == 0, f"make demo failed:\n{demo.stdout[-4000:]}\n{demo.stderr[-4000:]}"
        assert f"{root}/runtime/demo-export" in demo.stdout  # the export files went to the runtime folder
        settings = stack_settings(env)
        main = assert_replica_equal(settings)
        for table in ("public.dim_user", "public.dim_track", "public.dim_user_playlist", "analytics.overview",
                      "analytics.playlist_completion"):
            assert main[table][0] > 0, f"{table} is empty after make demo"
        status = make("replication-status", env)
        assert status.returncode == 0, status.stderr
        assert "(connector RUNNING)" in status.stdout, status.stdout
        assert "wrapped.analytics.overview[0]" in status.stdout, status.stdout
    finally:
        make("down", env)
        shutil.rmtree(root, ignore_errors=True)
