"""`make postgres` behaviour, on a cluster of its own in a temporary folder."""

import shutil
import socket

import psycopg
import pytest

from operations.postgres import Cluster, ClusterError, free_port
from tests.conftest import TEST_CONF, make_temp_dir
from warehouse.settings import Settings, SettingsError


@pytest.fixture
def cluster():
    root = make_temp_dir("wrapped-test-cluster-")
    port = free_port()
    settings = Settings(_env_file=None, main_database_url=f"postgresql://app:pw@127.0.0.1:{port}/main",
                        database_owner_password="owner-pw", debezium_database_password="debezium-pw")
    one = Cluster("main", settings, root / "pgdata", root / "logs", tuple(TEST_CONF.items()))
    yield one
    one.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_start_is_idempotent_and_a_restart_keeps_data(cluster):
    assert cluster.start() == "created and started"
    with psycopg.connect(cluster.settings.owner_url("main")) as owner:
        owner.execute("CREATE TABLE kept (x int)")
        owner.execute("GRANT SELECT, INSERT ON kept TO app")
    with psycopg.connect(cluster.url) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        conn.execute("INSERT INTO kept VALUES (7)")
    assert cluster.start() == "already running"
    assert cluster.stop() == "stopped"
    assert not cluster.running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.url, connect_timeout=2)
    assert cluster.start() == "started"
    with psycopg.connect(cluster.url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]


def test_password_is_required_over_tcp(cluster):
    cluster.start()
    wrong = cluster.url.replace(":pw@", ":nope@")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_a_taken_port_gives_a_clear_error(cluster):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cluster.port))
        squatter.listen()
        with pytest.raises(ClusterError, match=f"port {cluster.port}.*MAIN_DATABASE_URL"):
            cluster.start()
    assert not cluster.running()


def test_a_role_without_a_password_is_refused_before_anything_starts(cluster):
    unset = cluster.settings.model_copy(update={"debezium_database_password": ""})
    with pytest.raises(SettingsError, match="DEBEZIUM_DATABASE_PASSWORD"):
        Cluster("main", unset, cluster.data_root, cluster.log_dir).start()
    assert not cluster.initialized()


def test_the_superuser_has_no_password_and_logs_in_only_over_the_socket(cluster):
    cluster.start()
    with psycopg.connect(cluster.admin_url()) as admin:
        assert admin.execute("SELECT rolsuper, rolpassword IS NULL FROM pg_authid WHERE rolname = 'postgres'"
                             ).fetchone() == (True, True)
    for password in ("", "postgres", "pw"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", password=password,
                            dbname="postgres", connect_timeout=5)


def test_a_cluster_of_an_earlier_version_is_refused_with_what_to_do(cluster, monkeypatch):
    """Earlier versions made the URL's user the clusters' superuser: such a cluster is not converted."""
    from operations import postgres

    with monkeypatch.context() as old:
        old.setattr(postgres, "SUPERUSER", "app")
        assert cluster.init()
    with pytest.raises(ClusterError, match=r"made by an earlier version .* `make clean`"):
        cluster.start()
