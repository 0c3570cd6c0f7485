"""Settings of the whole system, read from the environment and `.env`.

Every setting is documented in `.env.example`. Environment variables win over
`.env`; `.env` wins over the defaults below. A bad value stops the program at
start with a `SettingsError` naming the variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


def _env_file() -> Path:
    return Path(os.environ.get("ENV_FILE", PROJECT_ROOT / ".env"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    source_database_url: str = "postgresql://wrapped:wrapped@127.0.0.1:5433/source"
    main_database_url: str = "postgresql://wrapped:wrapped@127.0.0.1:5434/main"
    replica_database_url: str = "postgresql://wrapped:wrapped@127.0.0.1:5435/replica"
    # Read-only role on the replica, used by the dashboard.
    replica_reader_url: str = "postgresql://dashboard:dashboard@127.0.0.1:5435/replica"
    default_timezone: str = "UTC"
    runtime_dir: Path = PROJECT_ROOT / ".runtime"
    album_min_tracks: int = Field(default=5, ge=1)
    session_gap_minutes: int = Field(default=30, ge=1)

    @field_validator("source_database_url", "main_database_url", "replica_database_url", "replica_reader_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"must be a postgresql:// URL, got {value!r}")
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError(f"must name a host and a database, got {value!r}")
        try:
            _ = parts.port  # urlsplit checks the port lazily
        except ValueError as exc:
            raise ValueError(f"has a bad port: {value!r}") from exc
        return value

    @field_validator("runtime_dir")
    @classmethod
    def _under_project(cls, value: Path) -> Path:
        return value if value.is_absolute() else PROJECT_ROOT / value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)


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
        return Settings(_env_file=_env_file(), **overrides)
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
