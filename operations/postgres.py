"""The project's own local PostgreSQL clusters: source, main and replica.

Each cluster lives in `<runtime_dir>/pgdata/<name>`, listens on 127.0.0.1 only,
on the port of its database URL, with the database of the URL and the roles of
warehouse/roles.py (passwords from the settings; none is a superuser). The
bootstrap superuser `postgres` has no password: it logs in only over the Unix
socket in the cluster's private data folder, to provision the roles.
`initdb` and `postgres` refuse to run as root: as root they run as the
`postgres` system user, otherwise as the invoking user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg

from warehouse.db import DATABASES, Database, connect_owner, database_url
from warehouse.migrate import migrate
from warehouse.roles import cluster_roles, provision
from warehouse.settings import Settings

PG_BIN_CANDIDATES = [Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin")]
SERVER_USER_WHEN_ROOT = "postgres"
SUPERUSER = "postgres"  # initdb's bootstrap superuser: no password, Unix socket only
LOCAL_HOSTS = ("127.0.0.1", "localhost")  # a database URL there names a cluster of this project

# Extra server settings per cluster; main feeds Debezium (logical decoding).
BASE_CONF = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "100",
    "shared_buffers": "'128MB'",
    "logging_collector": "off",
    "log_min_messages": "warning",
}
LOGICAL_CONF = {"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10"}


class ClusterError(RuntimeError):
    pass


def pg_bin(tool: str) -> str:
    for folder in PG_BIN_CANDIDATES:
        if (folder / tool).exists():
            return str(folder / tool)
    found = shutil.which(tool)
    if found:
        return found
    raise ClusterError(
        f"PostgreSQL server binary {tool!r} not found; install it with: "
        "apt-get install -y postgresql-15"
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_USER_WHEN_ROOT, "--", *cmd]
    return cmd


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_USER_WHEN_ROOT, SERVER_USER_WHEN_ROOT)


def private_dir(path: Path) -> Path:
    """`path` (created if needed) closed to other users: 0700, or 0711 when we are root.

    As root the clusters run as `postgres`, which must pass through RUNTIME_DIR, its `pgdata/` and
    `logs/` to reach its data folder and log files (which are its own); with 0711 it can, but it can
    list nothing, and every other file in there is root's own 0600 or 0700."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o711 if os.geteuid() == 0 else 0o700)
    return path


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    name: Database
    settings: Settings  # the URL, the roles and their passwords
    data_root: Path  # <runtime_dir>/pgdata
    log_dir: Path
    extra_conf: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return database_url(self.name, self.settings)

    @property
    def datadir(self) -> Path:
        return self.data_root / self.name

    @property
    def logfile(self) -> Path:
        return self.log_dir / f"postgres-{self.name}.log"

    @property
    def _url(self):
        return urlsplit(self.url)

    @property
    def host(self) -> str:
        return self._url.hostname or ""

    @property
    def port(self) -> int:
        return self._url.port or 5432

    @property
    def dbname(self) -> str:
        return self._url.path.lstrip("/")

    @property
    def setting_name(self) -> str:
        return f"{self.name.upper()}_DATABASE_URL"

    def conf(self) -> dict[str, str]:
        conf = dict(BASE_CONF, unix_socket_directories=f"'{self.datadir}'")
        if self.name == "main":
            conf.update(LOGICAL_CONF)
        conf.update(self.extra_conf)
        return conf

    # -- state -------------------------------------------------------------
    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialized():
            return False
        result = subprocess.run(
            _as_server_user([pg_bin("pg_ctl"), "status", "-D", str(self.datadir)]),
            capture_output=True,
        )
        return result.returncode == 0

    # -- actions -----------------------------------------------------------
    def init(self) -> bool:
        """Create the cluster if it does not exist; True if created."""
        if self.initialized():
            return False
        for folder in (self.data_root, self.log_dir):
            private_dir(folder)
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        _give_to_server_user(self.datadir)
        # TCP logins need a password (scram); the socket, in the 0700 data folder, trusts its
        # owner's processes (and root's), the only ones that can reach it.
        result = subprocess.run(
            _as_server_user(
                [
                    pg_bin("initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
                    "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb of the {self.name} cluster failed:\n{result.stderr}")
        conf_lines = [f"{key} = {value}" for key, value in self.conf().items()]
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# spotify-wrapped-anytime\n" + "\n".join(conf_lines) + "\n")
        return True

    def start(self) -> str:
        """Start the cluster (creating it if needed); leave a running one alone. Either way the
        roles and the database are provisioned; SettingsError first when a role has no password."""
        cluster_roles(self.name, self.settings)
        created = self.init()
        if self.running():
            self.ensure_database()
            return "already running"
        if not port_is_free(self.port):
            raise ClusterError(
                f"port {self.port} of the {self.name} cluster is already taken by another "
                f"process; stop it or set {self.setting_name} to a free port"
            )
        private_dir(self.log_dir)
        self.logfile.touch(mode=0o600)
        self.logfile.chmod(0o600)
        _give_to_server_user(self.logfile)
        result = subprocess.run(
            _as_server_user(
                [
                    pg_bin("pg_ctl"), "start", "-D", str(self.datadir), "-w", "-t", "60",
                    "-l", str(self.logfile), "-o", f"-p {self.port}",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
            raise ClusterError(
                f"the {self.name} cluster did not start:\n{result.stderr}{result.stdout}\n{tail}"
            )
        self.ensure_database()
        return "created and started" if created else "started"

    def stop(self) -> str:
        if not self.running():
            return "not running"
        subprocess.run(
            _as_server_user([pg_bin("pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast", "-w"]),
            check=True,
            capture_output=True,
        )
        return "stopped"

    def migrate(self) -> list[str]:
        """Our database's pending migrations, as the owner, and the roles' privileges (warehouse.migrate)."""
        with connect_owner(self.name, self.settings) as conn:
            return migrate(conn, self.name, self.settings)

    def admin_url(self, dbname: str = "postgres") -> str:
        """The bootstrap superuser's conninfo URL of `dbname`, over the Unix socket."""
        return f"postgresql:///{dbname}?host={quote(str(self.datadir), safe='')}&port={self.port}&user={SUPERUSER}"

    def ensure_database(self) -> None:
        """Create or update the roles and our database (warehouse.roles.provision)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = superuser_connection(self)
                break
            except psycopg.OperationalError as exc:
                if f'role "{SUPERUSER}" does not exist' in str(exc):
                    raise ClusterError(
                        f"the {self.name} cluster in {self.datadir} was made by an earlier version of this "
                        f"project (its superuser is not {SUPERUSER!r}): dump what you need, then `make down`, "
                        "`make clean` and `make up` make it anew with the least-privilege roles") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            provision(conn, self.name, self.settings, self.dbname)


def superuser_connection(cluster: Cluster, admin_user: str | None = None) -> psycopg.Connection:
    """An autocommit superuser connection to `cluster`'s maintenance database: ours over the socket,
    or, for a cluster this project did not create, `admin_user` over TCP (password: PGPASSWORD)."""
    if admin_user is None:
        return psycopg.connect(cluster.admin_url(), autocommit=True)
    return psycopg.connect(host=cluster.host, port=cluster.port, user=admin_user, dbname="postgres",
                           autocommit=True, connect_timeout=10)


def project_clusters(settings: Settings, extra_conf: dict[str, str] | None = None) -> list[Cluster]:
    runtime = Path(settings.runtime_dir)
    extra = tuple((extra_conf or {}).items())
    return [
        Cluster(name, settings, runtime / "pgdata", runtime / "logs", extra) for name in DATABASES
    ]
