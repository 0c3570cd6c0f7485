"""Test fixtures: real PostgreSQL clusters started by the test session.

The session starts its own source, main and replica clusters on free ports in
a temporary folder and stops them at the end; it never touches a developer's
running clusters. Each test that asks for `dbs` gets freshly migrated
databases, cloned from templates in a few milliseconds.
"""

from __future__ import annotations

import email
import os
import shutil
import tempfile
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg import sql

from operations.postgres import Cluster, free_port, project_clusters, superuser_connection
from warehouse.db import DATABASES
from warehouse.migrate import migrate
from warehouse.roles import ensure_database
from warehouse.settings import Settings

# Fixtures shared by several test folders (a conftest below the root may not register plugins).
pytest_plugins = ["tests.airflow_support", "tests.spotify_support", "tests.recap_support"]

FIXTURES = Path(__file__).parent / "fixtures"
# Durability is not under test: skip fsync to keep the suite fast.
TEST_CONF = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


# A test that uses one of these fixtures gets the marker, so a slice (`pytest -m db`) can be run.
MARKER_OF_FIXTURE = {"clusters": "db", "dbs": "db", "spark": "spark", "airflow_home": "airflow"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)


# Under `--dist loadfile`, these tests start whole stacks and clusters (`make up`, `make demo`, the standalone
# cluster): one worker runs them one after another, first; beside each other on two cores each took twice as long
# and the cluster test ran into its timeout.
WHOLE_STACK_TESTS = "tests/operations/"


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class WholeStackFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return WHOLE_STACK_TESTS if nodeid.startswith(WHOLE_STACK_TESTS) else super()._split_scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            if WHOLE_STACK_TESTS in self.workqueue:
                self.workqueue.move_to_end(WHOLE_STACK_TESTS, last=False)
            super()._assign_work_unit(node)

    return WholeStackFirst(config, log)


def make_temp_dir(prefix: str) -> Path:
    """A temporary folder the `postgres` user can enter (when we run as root)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def pg_root():
    folder = make_temp_dir("wrapped-test-pg-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def test_settings(pg_root) -> Settings:
    ports = {name: free_port() for name in DATABASES}
    return Settings(
        _env_file=None,
        **{
            f"{name}_database_url": f"postgresql://wrapped:secret@127.0.0.1:{port}/{name}"
            for name, port in ports.items()
        },
        replica_reader_url=f"postgresql://dashboard:reader@127.0.0.1:{ports['replica']}/replica",
        database_owner_password="owner-secret",
        debezium_database_password="debezium-secret",
        runtime_dir=pg_root,
        default_timezone="UTC",
        spark_connect_url="",  # a developer's warm engine is never used by the tests unless asked
    )


@pytest.fixture(scope="session")
def clusters(test_settings) -> list[Cluster]:
    started = project_clusters(test_settings, extra_conf=TEST_CONF)
    try:
        for cluster in started:
            cluster.start()
            template = f"{cluster.name}_template"
            with superuser_connection(cluster) as conn:
                ensure_database(conn, template, test_settings.database_owner)
            with psycopg.connect(owner_url(test_settings, cluster.name, template)) as conn:
                migrate(conn, cluster.name, test_settings)
        yield started
    finally:
        for cluster in started:
            cluster.stop()


def owner_url(settings: Settings, database: str, dbname: str) -> str:
    """The owner's URL of database `dbname` in `database`'s cluster."""
    return urlsplit(settings.owner_url(database))._replace(path=f"/{dbname}").geturl()


def copy_database(cluster: Cluster, owner: str, copy: str, original: str) -> None:
    """Database `copy` of the cluster made again as a copy of database `original` (nobody may be connected to
    `original`): a few milliseconds."""
    with superuser_connection(cluster) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
            sql.Identifier(copy), sql.Identifier(original), sql.Identifier(owner)))


@pytest.fixture
def dbs(clusters, test_settings, monkeypatch) -> Settings:
    """Freshly migrated, empty source, main and replica; settings pointing at them.

    The environment is pointed there too, so subprocesses use the test clusters.
    """
    for cluster in clusters:
        copy_database(cluster, test_settings.database_owner, cluster.dbname, f"{cluster.name}_template")
    for name in DATABASES:
        monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", getattr(test_settings, f"{name}_database_url"))
    monkeypatch.setenv("REPLICA_READER_URL", test_settings.replica_reader_url)
    monkeypatch.setenv("DATABASE_OWNER_PASSWORD", test_settings.database_owner_password)
    monkeypatch.setenv("DEBEZIUM_DATABASE_PASSWORD", test_settings.debezium_database_password)
    monkeypatch.setenv("RUNTIME_DIR", str(test_settings.runtime_dir))
    monkeypatch.setenv("DEFAULT_TIMEZONE", test_settings.default_timezone)
    from warehouse.settings import get_settings

    get_settings.cache_clear()
    yield test_settings
    get_settings.cache_clear()


class SavedDatabases:
    """The test databases of every cluster saved as they are under a name, and made that copy again later: a
    state that takes a pipeline run to build is built once for the tests that start from it."""

    def __init__(self, clusters: list[Cluster], owner: str):
        self.clusters, self.owner, self.saved = clusters, owner, set()

    def save(self, name: str) -> None:
        for cluster in self.clusters:
            copy_database(cluster, self.owner, f"{cluster.dbname}_{name}", cluster.dbname)
        self.saved.add(name)

    def restore(self, name: str) -> bool:
        """The test databases made the copy saved as `name` again; False (nothing changed) when none was."""
        if name not in self.saved:
            return False
        for cluster in self.clusters:
            copy_database(cluster, self.owner, cluster.dbname, f"{cluster.dbname}_{name}")
        return True

    def restore_or_build(self, name: str, build) -> None:
        """The copy saved as `name` made again, or, the first time, `build()` run and its databases saved."""
        if not self.restore(name):
            build()
            self.save(name)


@pytest.fixture(scope="session")
def saved_databases(clusters, test_settings) -> SavedDatabases:
    return SavedDatabases(clusters, test_settings.database_owner)


@pytest.fixture
def env_file(tmp_path, monkeypatch):
    """Point ENV_FILE at an empty temporary .env so a developer's .env never leaks in."""
    path = tmp_path / ".env"
    path.write_text("")
    monkeypatch.setenv("ENV_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def _no_developer_env(monkeypatch, tmp_path_factory):
    """Tests never read the developer's `.env` or exported settings."""
    empty = tmp_path_factory.getbasetemp() / "empty.env"
    empty.touch()
    monkeypatch.setenv("ENV_FILE", str(empty))
    from warehouse.settings import Settings

    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession (2 cores) for the whole test session."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from spark_scripts.session import ENGINE_CONF, postgres_jdbc_jar

    session = (SparkSession.builder.master("local[2]").appName("tests")
               .config("spark.jars", postgres_jdbc_jar())
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "2")
               # The whole suite's hundreds of runs share this one driver: it keeps few finished queries' plans
               # and jobs (each run's plans are large), has more memory than a run's default 2g, and the
               # runs' small memory pages (ENGINE_CONF: with 3g's 64 MB pages it ran out of heap).
               .config("spark.driver.memory", "3g")
               .config(map=ENGINE_CONF)
               .config("spark.sql.ui.retainedExecutions", "20")
               # The tests' inputs are small: compiling each query's Java code costs more than it saves, so
               # the expressions are interpreted (a fifth less time per run, measured; same results).
               .config("spark.sql.codegen.wholeStage", "false")
               .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
               .config("spark.ui.retainedJobs", "50")
               .config("spark.ui.retainedStages", "50")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .getOrCreate())
    yield session
    session.stop()


class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message) in order."""

    def __init__(self):
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    """A local SMTP server on a free port: (controller, inbox)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()
