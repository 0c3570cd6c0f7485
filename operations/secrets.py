"""`python -m operations secrets`: generated values for the empty secret settings, appended to `.env`.

TOKEN_ENCRYPTION_KEY, PIPELINE_API_KEY, FLASK_SECRET_KEY and, when it is not
set at all, DASHBOARD_ADMIN_PASSWORD (set it empty on purpose to turn the admin
login off) are appended to `.env` (or ENV_FILE), mode 600. Values already set
are never changed: a new TOKEN_ENCRYPTION_KEY would make the stored tokens unreadable.
"""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet

from warehouse.settings import env_file, get_settings

GENERATORS = {
    "token_encryption_key": lambda: Fernet.generate_key().decode(),
    "pipeline_api_key": lambda: secrets.token_urlsafe(32),
    "flask_secret_key": lambda: secrets.token_urlsafe(48),
    "dashboard_admin_password": lambda: secrets.token_urlsafe(18),
}
# Generated only when not set at all: set empty on purpose, it turns the admin login off.
UNLESS_SET = {"dashboard_admin_password"}


def write_missing_secrets() -> list[str]:
    from dotenv import dotenv_values

    settings = get_settings()
    path = env_file()
    present = {key.lower() for key in (*os.environ, *(dotenv_values(path) if path.exists() else {}))}
    missing = [name for name in GENERATORS
               if not getattr(settings, name) and not (name in UNLESS_SET and name in present)]
    if missing:
        text = path.read_text() if path.exists() else ""
        lines = "".join(f"{name.upper()}={GENERATORS[name]()}\n" for name in missing)
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + lines)
        path.chmod(0o600)
    return [name.upper() for name in missing]


