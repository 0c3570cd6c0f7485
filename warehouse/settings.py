"""Settings of the whole system, read from the environment and `.env`.

Every setting is documented in `.env.example`. Environment variables win over
`.env`; `.env` wins over the defaults below. A bad value stops the program at
start with a `SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Shortest value of a secret setting, and what an empty one means.
MIN_LENGTH = {"flask_secret_key": (32, "`make secrets` generates one when it is empty"),
              "dashboard_admin_password": (12, "empty turns the admin login off")}


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


def env_file() -> Path:
    return Path(os.environ.get("ENV_FILE", PROJECT_ROOT / ".env"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    # The database roles (warehouse/roles.py). Source and main: the pipeline's application role;
    # replica: its applier, the only role that writes there; the reader: the dashboard's, read-only.
    # No password by default: `make setup` writes generated ones into .env.
    source_database_url: str = Field(default="postgresql://wrapped@127.0.0.1:5433/source", repr=False)
    main_database_url: str = Field(default="postgresql://wrapped@127.0.0.1:5434/main", repr=False)
    replica_database_url: str = Field(default="postgresql://wrapped_applier@127.0.0.1:5435/replica", repr=False)
    replica_reader_url: str = Field(default="postgresql://dashboard@127.0.0.1:5435/replica", repr=False)
    # Owner of every schema and table of the three databases, used only by migrations.
    database_owner: str = Field(default="wrapped_owner", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    database_owner_password: str = Field(default="", repr=False)
    # Debezium's replication role on main (REPLICATION, SELECT on the replicated tables).
    debezium_database_user: str = Field(default="wrapped_debezium", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    debezium_database_password: str = Field(default="", repr=False)
    default_timezone: str = "UTC"
    runtime_dir: Path = PROJECT_ROOT / ".runtime"
    album_min_tracks: int = Field(default=5, ge=1)
    session_gap_minutes: int = Field(default=30, ge=1)
    # Spark: any master URL (local[*], spark://host:7077). Runs go to the warm engine (a Spark Connect
    # server on that master, `make spark` / `make up`) at spark_connect_url when it answers, else to a
    # cold spark-submit on that master; an empty URL always uses spark-submit.
    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    spark_connect_url: str = Field(default="sc://127.0.0.1:15002", pattern=r"^(sc://[A-Za-z0-9.\-]+:[0-9]{1,5}/?)?$")
    # Main's gate fails when source holds plays this much newer than main's newest.
    main_max_lag_minutes: int = Field(default=120, ge=0)
    # E-mail over SMTP (alerts on failed pipeline runs, monthly recaps); empty host = no e-mail.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_starttls: bool = True
    smtp_from: str = "wrapped@localhost"
    # Who gets an e-mail when a pipeline run fails (comma-separated); empty = no alert e-mail.
    alert_email_to: str = ""
    # Slack incoming-webhook URL for failed runs; empty = no Slack alert.
    slack_webhook_url: str = Field(default="", repr=False)
    # Besides after an ingestion or import that brought new plays, the analytics DAG runs on this cron schedule.
    analytics_schedule: str = "0 3 * * *"
    # Monthly recap e-mails (recap/, DAG monthly_recap): how often due recaps are looked for, and
    # how long after a month's end its recap may still go out (older months are never mailed).
    recap_schedule: str = "30 * * * *"
    recap_max_age_days: int = Field(default=35, ge=1)
    # `make spark`: a local standalone master and one worker, with their web UIs.
    spark_standalone_port: int = 7077
    spark_master_ui_port: int = 8081
    spark_worker_ui_port: int = 8082
    # Web dashboard (dashboard/): reads the replica through replica_reader_url.
    # An empty admin password disables the admin login (share links still work).
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = Field(default=8050, ge=1, le=65535)
    dashboard_admin_password: str = Field(default="", repr=False)
    # The dashboard's address as browsers reach it (e.g. behind a TLS proxy); "" = dashboard_url.
    dashboard_public_url: str = ""
    # Both web services: a login lasts at most this long, however active.
    session_lifetime_hours: int = Field(default=12, ge=1, le=720)
    # gunicorn (warehouse/serving.py): worker processes x threads of the dashboard and of the login service.
    # Each dashboard worker keeps up to DASHBOARD_THREADS replica connections.
    dashboard_workers: int = Field(default=2, ge=1, le=64)
    dashboard_threads: int = Field(default=4, ge=1, le=256)
    # Spotify login service and ingestion (flask_endpoint/, ingestion/). Secrets
    # default to "" and are checked where used (require_secret).
    spotify_client_id: str = ""
    spotify_client_secret: str = Field(default="", repr=False)
    spotify_redirect_uri: str = "http://127.0.0.1:5000/callback"
    spotify_api_url: str = "https://api.spotify.com/v1"
    spotify_accounts_url: str = "https://accounts.spotify.com"
    token_encryption_key: str = Field(default="", repr=False)
    pipeline_api_key: str = Field(default="", repr=False)
    flask_secret_key: str = Field(default="", repr=False)
    flask_host: str = "127.0.0.1"
    flask_port: int = Field(default=5000, ge=1, le=65535)
    flask_workers: int = Field(default=1, ge=1, le=64)
    flask_threads: int = Field(default=4, ge=1, le=256)
    # Minutes between two polls of each connected user (DAG spotify_ingest).
    ingestion_interval_minutes: int = Field(default=5, ge=1)
    spotify_max_retry_after_seconds: int = Field(default=30, ge=0)
    # Data-export import (ingestion/export_loader.py, flask_endpoint/upload.py).
    export_api_match_seconds: int = Field(default=5, ge=0, le=60)
    upload_max_mb: int = Field(default=512, ge=1)
    export_max_file_mb: int = Field(default=64, ge=1)
    export_max_total_mb: int = Field(default=2048, ge=1)
    export_max_compression_ratio: int = Field(default=100, ge=1)
    # Debezium replication main -> replica (cdc_connectors/).
    debezium_slot_name: str = Field(default="wrapped_replica", pattern=r"^[a-z0-9_]{1,63}$")
    debezium_publication_name: str = Field(default="wrapped_replica", pattern=r"^[a-z0-9_]{1,63}$")
    debezium_heap: str = Field(default="256m", pattern=r"^[0-9]+[kmg]$")
    debezium_heartbeat_ms: int = Field(default=5000, ge=100)
    # How main's changes reach the replica: `embedded` (Debezium's engine inside the replicator) or
    # `kafka` (a local Kafka-protocol broker, Debezium on a Kafka Connect worker, the kafka-python applier).
    cdc_transport: Literal["embedded", "kafka"] = "embedded"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_connect_url: str = "http://127.0.0.1:8083"
    kafka_connect_heap: str = Field(default="512m", pattern=r"^[0-9]+[kmg]$")
    # `make airflow` (operations/airflow_service.py): the API server and UI on 127.0.0.1:AIRFLOW_PORT.
    airflow_port: int = Field(default=8080, ge=1, le=65535)

    @property
    def dashboard_url(self) -> str:
        """Where the dashboard answers (a wildcard listen address is reached on 127.0.0.1)."""
        host = "127.0.0.1" if self.dashboard_host in ("0.0.0.0", "::", "") else self.dashboard_host
        return f"http://{host}:{self.dashboard_port}"

    @property
    def dashboard_link_url(self) -> str:
        """The dashboard's address in links given out (share links): DASHBOARD_PUBLIC_URL, else dashboard_url."""
        return self.dashboard_public_url.rstrip("/") or self.dashboard_url

    @property
    def login_service_url(self) -> str:
        """Where the Spotify login service answers."""
        host = "127.0.0.1" if self.flask_host in ("0.0.0.0", "::", "") else self.flask_host
        return f"http://{host}:{self.flask_port}"

    def owner_url(self, database: str) -> str:
        """The URL of `database` (source, main, replica) with the owner's credentials."""
        return with_credentials(getattr(self, f"{database}_database_url"), self.database_owner,
                                 self.require_secret("database_owner_password"))

    @property
    def replication_url(self) -> str:
        """Main's URL with Debezium's replication role."""
        return with_credentials(self.main_database_url, self.debezium_database_user,
                                 self.require_secret("debezium_database_password"))

    def require_secret(self, name: str) -> str:
        """The value of secret setting `name`; SettingsError naming it when empty."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(f"{name.upper()} is not set (see .env.example for how to make one)")
        return value

    @field_validator("source_database_url", "main_database_url", "replica_database_url", "replica_reader_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"must be a postgresql:// URL, got {_no_password(value)!r}")
        if not parts.hostname or not parts.path.strip("/") or not parts.username:
            raise ValueError(f"must name a user, a host and a database, got {_no_password(value)!r}")
        try:
            _ = parts.port  # urlsplit checks the port lazily
        except ValueError as exc:
            raise ValueError(f"has a bad port: {_no_password(value)!r}") from exc
        return value

    @field_validator("flask_secret_key", "dashboard_admin_password")
    @classmethod
    def _long_enough(cls, value: str, info: ValidationInfo) -> str:
        least, empty = MIN_LENGTH[info.field_name]
        if value and len(value) < least:
            raise ValueError(f"is too short: at least {least} characters ({empty})")
        return value

    @field_validator("dashboard_public_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError(f"must be empty or an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("runtime_dir")
    @classmethod
    def _under_project(cls, value: Path) -> Path:
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)


def _no_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` with `user` and `password` in place of its own credentials."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}").geturl()


def url_user(url: str) -> str:
    """The user name of a database URL."""
    return unquote(urlsplit(url).username or "")


def url_password(url: str) -> str:
    """The password of a database URL ("" when it has none)."""
    return unquote(urlsplit(url).password or "")


def validate_timezone(value: str) -> str:
    """Return `value` if it is an IANA time zone name, else raise ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"is not an IANA time zone name: {value!r}") from exc
    return value


def load_settings(**overrides) -> Settings:
    """Read settings from the environment and `.env`; raise SettingsError on a bad value."""
    try:
        return Settings(_env_file=env_file(), **overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name} {message}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
