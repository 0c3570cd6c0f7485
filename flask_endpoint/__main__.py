"""`python -m flask_endpoint [serve|start|stop]`: the login service on FLASK_HOST:FLASK_PORT.

serve   in the foreground (the default)
start   in the background (idempotent; pid and log in the runtime folder), waiting for /health
stop    the background one
"""

from __future__ import annotations

import argparse
import logging
import sys

import requests
from werkzeug.serving import run_simple

from operations import services
from warehouse.settings import Settings, SettingsError, get_settings

SERVICE = "flask"


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
    parser.add_argument("command", nargs="?", choices=["serve", "start", "stop"], default="serve")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
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
