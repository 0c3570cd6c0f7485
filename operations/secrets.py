"""`python -m operations secrets`: generated values for the empty secret settings, written to `.env`.

TOKEN_ENCRYPTION_KEY, PIPELINE_API_KEY, FLASK_SECRET_KEY, DATABASE_OWNER_PASSWORD,
DEBEZIUM_DATABASE_PASSWORD and, when it is not set at all, DASHBOARD_ADMIN_PASSWORD
(set it empty on purpose to turn the admin login off) get generated values; a
database URL without a password (SOURCE_DATABASE_URL, ...) gets a generated one.
They are written to `.env` (or ENV_FILE), mode 600: a line of the same name is
replaced, otherwise one is appended. Values already set are never changed: a new
TOKEN_ENCRYPTION_KEY would make the stored tokens unreadable, a new database
password would no longer match the role's.
"""

from __future__ import annotations

import os
import re
import secrets

from cryptography.fernet import Fernet

from warehouse.settings import Settings, env_file, get_settings, url_password, url_user, with_credentials

GENERATORS = {
    "token_encryption_key": lambda: Fernet.generate_key().decode(),
    "pipeline_api_key": lambda: secrets.token_urlsafe(32),
    "flask_secret_key": lambda: secrets.token_urlsafe(48),
    "dashboard_admin_password": lambda: secrets.token_urlsafe(18),
    "database_owner_password": lambda: secrets.token_urlsafe(24),
    "debezium_database_password": lambda: secrets.token_urlsafe(24),
}
# Generated only when not set at all: set empty on purpose, it turns the admin login off.
UNLESS_SET = {"dashboard_admin_password"}
DATABASE_URLS = ("source_database_url", "main_database_url", "replica_database_url", "replica_reader_url")


def missing_values(settings: Settings, present: set[str]) -> dict[str, str]:
    """New values of the secret settings that have none (names in upper case)."""
    values = {name.upper(): generate() for name, generate in GENERATORS.items()
              if not getattr(settings, name) and not (name in UNLESS_SET and name in present)}
    for name in DATABASE_URLS:
        url = getattr(settings, name)
        if not url_password(url):
            values[name.upper()] = with_credentials(url, url_user(url), secrets.token_urlsafe(24))
    return values


def write_missing_secrets() -> list[str]:
    from dotenv import dotenv_values

    path = env_file()
    present = {key.lower() for key in (*os.environ, *(dotenv_values(path) if path.exists() else {}))}
    values = missing_values(get_settings(), present)
    if values:
        text = path.read_text() if path.exists() else ""
        for name, value in values.items():
            line = re.compile(rf"^{name}=.*$", re.MULTILINE)
            if line.search(text):
                text = line.sub(lambda _, entry=f"{name}={value}": entry, text, count=1)
            else:
                text += ("" if not text or text.endswith("\n") else "\n") + f"{name}={value}\n"
        path.write_text(text)
        path.chmod(0o600)
    return list(values)
