"""CDC_TRANSPORT=kafka, really run: the Tansu broker, a Kafka Connect worker running Debezium's connector
as registered from kafka_connect/postgres-source.json, and the kafka-python applier, each a process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from cdc_connectors.connect_worker import (
    broker_command,
    broker_listens,
    register,
    secrets_dir,
    worker_answers,
    worker_command,
)
from cdc_connectors.kafka_consumer import broker_lost
from operations.postgres import free_port
from warehouse.db import connect
from warehouse.settings import load_settings

from .helpers import Replicator, assert_replica_equal, execute
from .test_replication import (
    Writer,
    change_everything,
    latest_write,
    load_listening,
    publish_statistics,
    replica_count,
    snapshot_done,
    snapshot_writing,
)

pytestmark = pytest.mark.slow


class KafkaStack:
    """The broker, the worker and the applier of one test, each restartable and killable."""

    def __init__(self, settings, folder):
        self.settings = settings
        self.broker = Replicator(settings, folder / "broker.log", broker_command(settings))
        self.connect = Replicator(settings, folder / "connect.log", worker_command(settings))
        self.applier = Replicator(settings, folder / "applier.log",
                                  [sys.executable, "-m", "cdc_connectors", "consume-kafka"])

    def start_broker(self) -> None:
        self.broker.start()
        _wait(lambda: broker_listens(self.settings), 10, self.broker)

    def start_connect(self) -> None:
        self.connect.start()
        _wait(lambda: worker_answers(self.settings), 90, self.connect)

    def start(self) -> None:
        self.start_broker()
        self.start_connect()
        register(self.settings, self.settings.kafka_connect_url, secrets_dir(self.settings),
                 secrets_dir(self.settings), timeout=60)
        self.applier.start()

    def stop(self) -> None:
        for process in (self.applier, self.connect, self.broker):
            process.stop()


def _wait(condition, timeout: float, process: Replicator) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.process.poll() is None, process.output()[-3000:]
        assert time.monotonic() < deadline, process.output()[-3000:]
        time.sleep(0.2)


@pytest.fixture
def kafka(cdc, tmp_path, monkeypatch):
    monkeypatch.setenv("CDC_TRANSPORT", "kafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("KAFKA_CONNECT_URL", f"http://127.0.0.1:{free_port()}")
    stack = KafkaStack(load_settings(), tmp_path)
    yield stack
    stack.stop()


def status(settings) -> str:
    answer = subprocess.run([sys.executable, "-m", "cdc_connectors", "status"], capture_output=True, text=True,
                            timeout=60)
    return answer.stdout + answer.stderr


def test_kafka_snapshot_changes_truncate_and_a_publication_arrive_exactly_then_a_lost_broker_stops_it(kafka):
    settings = kafka.settings
    load_listening(settings)
    publish_statistics(settings, version=1)
    execute(settings, "INSERT INTO dashboard_share_links (token_hash, user_id) VALUES (repeat('a', 64), 'u1')")
    kafka.start()
    kafka.applier.wait_caught_up(timeout=120)
    snapshot = assert_replica_equal(settings)
    assert snapshot["public.dim_track"][0] > 100 and snapshot["analytics.top_tracks"][0] > 0

    change_everything(settings)
    kafka.applier.wait_caught_up()
    changed = assert_replica_equal(settings)
    assert changed["analytics.top_tracks"] != snapshot["analytics.top_tracks"]
    with connect("replica", settings) as conn:
        assert conn.execute("SELECT count(*) FROM dim_artist WHERE artist_id IN ('renamed', 'new-1')"
                            ).fetchone() == (1,)
    execute(settings, "TRUNCATE dim_track, dim_album")  # one statement, two tables
    kafka.applier.wait_caught_up()
    assert assert_replica_equal(settings)["public.dim_track"] == (0, "")

    # make replication-status: the topics, the group's committed offsets, the lag
    time.sleep(2)
    shown = status(settings)
    row = next((line for line in shown.splitlines() if line.startswith("wrapped.public.dim_track[0]")), shown)
    assert row.startswith("wrapped."), shown
    end, committed, lag = row.split()[1:4]
    assert int(end) > snapshot["public.dim_track"][0] and committed == end and lag == "0", shown
    assert "connector RUNNING" in shown and "wrapped.transaction[0]" in shown, shown

    # the broker restarts with memory storage: its topics are gone, the applier stops and says why
    kafka.broker.kill()
    kafka.start_broker()
    execute(settings, "INSERT INTO dim_user VALUES ('after', 'After the restart', 'UTC')")
    assert kafka.applier.exit_code(timeout=60) == 2
    assert "lost its topics" in kafka.applier.output() and "cdc_connectors reset" in kafka.applier.output()
    kafka.applier.start()  # and so does a restart of it: the epoch of its offsets is not in the new broker
    assert kafka.applier.exit_code(timeout=60) == 2
    assert kafka.applier.output().count("lost its topics") == 2
    with connect("replica", settings) as conn:  # nothing of the new broker was applied
        assert conn.execute("SELECT count(*) FROM dim_user WHERE user_id = 'after'").fetchone() == (0,)
    assert "MISSING" in status(settings)
    assert broker_lost(settings)  # what `make debezium` checks to start over from a fresh snapshot


def topic_end(settings, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        tp = TopicPartition(topic, 0)
        return consumer.end_offsets([tp])[tp] if topic in consumer.topics() else 0
    finally:
        consumer.close()


def test_kafka_sigkill_of_connect_and_of_the_applier_in_snapshot_and_stream_converges_exactly(kafka):
    settings, rows = kafka.settings, 60000
    execute(settings, f"""INSERT INTO dim_track (track_id, name, artist_ids, is_surrogate)
                          SELECT 't' || g, 'Track ' || g, ARRAY['a' || g % 50], false
                          FROM generate_series(1, {rows}) g""")
    kafka.start()
    deadline = time.monotonic() + 240

    def until(condition, *processes):
        while not condition():
            for process in processes:
                assert process.process.poll() is None, process.output()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)

    # Kafka Connect killed within the snapshot: restarted, it snapshots again (duplicates in the topics)
    until(lambda: topic_end(settings, "wrapped.public.dim_track") > 5000, kafka.connect)
    assert kafka.connect.kill() == -signal.SIGKILL
    kafka.start_connect()
    # the applier killed within its snapshot transaction: nothing of it is visible, it starts over
    until(lambda: snapshot_writing(settings), kafka.applier)
    assert replica_count(settings, "dim_track") == 0
    assert kafka.applier.kill() == -signal.SIGKILL
    kafka.applier.start()
    writer = Writer(settings)
    writer.start()
    try:
        for process in (kafka.applier, kafka.connect, kafka.applier):  # killed while changes are streaming
            until(lambda: snapshot_done(settings), kafka.applier)
            applied = latest_write(settings)
            until(lambda applied=applied: latest_write(settings) > applied, kafka.applier)
            time.sleep(0.5)
            assert process.kill() == -signal.SIGKILL
            kafka.start_connect() if process is kafka.connect else kafka.applier.start()
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None and writer.transactions > 100
    kafka.applier.wait_caught_up(timeout=120)
    result = assert_replica_equal(settings)
    assert result["public.dim_track"][0] == rows and result["public.dim_user"][0] > 0
    assert kafka.applier.output().count("fresh start") == 2  # the cut snapshot started over, then it resumed
