"""`python -m flask_endpoint [serve|start|stop|secrets]`: the login service on FLASK_HOST:FLASK_PORT.

serve   in the foreground (the default)
start   in the background (idempotent; pid and log in the runtime folder), waiting for /health
stop    the background one

`python -m flask_endpoint secrets`: append freshly generated values for the
empty secret settings (TOKEN_ENCRYPTION_KEY, PIPELINE_API_KEY, FLASK_SECRET_KEY,
DASHBOARD_ADMIN_PASSWORD) to `.env` (or ENV_FILE). Values already set are never
changed: a new TOKEN_ENCRYPTION_KEY would make the stored tokens unreadable.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys

import requests
from cryptography.fernet import Fernet
from werkzeug.serving import run_simple

from warehouse import services
from warehouse.settings import Settings, SettingsError, _env_file, get_settings

SERVICE = "flask"

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
    path = _env_file()
    present = {key.lower() for key in (*os.environ, *(dotenv_values(path) if path.exists() else {}))}
    missing = [name for name in GENERATORS
               if not getattr(settings, name) and not (name in UNLESS_SET and name in present)]
    if missing:
        text = path.read_text() if path.exists() else ""
        lines = "".join(f"{name.upper()}={GENERATORS[name]()}\n" for name in missing)
        path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + lines)
        path.chmod(0o600)
    return [name.upper() for name in missing]


def health_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.flask_host in ("0.0.0.0", "::", "") else settings.flask_host
    return f"http://{host}:{settings.flask_port}/health"


def healthy(settings: Settings) -> bool:
    try:
        return requests.get(health_url(settings), timeout=2).status_code == 200
    except requests.RequestException:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flask_endpoint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["serve", "start", "stop", "secrets"], default="serve")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "secrets":
            written = write_missing_secrets()
            print(f"wrote {', '.join(written)} to {_env_file()}" if written else "every secret is already set")
            return 0
        from flask_endpoint.app import create_app

        settings = get_settings()
        if args.command == "stop":
            print(f"{SERVICE} {services.stop(settings, SERVICE)}")
            return 0
        app = create_app(settings)  # checks the settings before anything starts
        if args.command == "start":
            state = services.start(settings, SERVICE, [sys.executable, "-m", "flask_endpoint", "serve"],
                                   ready=lambda: healthy(settings))
            print(f"{SERVICE} {state} at {health_url(settings).removesuffix('/health')}")
            return 0
    except (SettingsError, services.ServiceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simple(settings.flask_host, settings.flask_port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
