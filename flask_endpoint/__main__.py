"""`python -m flask_endpoint [serve]`: the login service on FLASK_HOST:FLASK_PORT, in the foreground.

In the background it runs as the supervisor program `flask`: `python -m operations start flask`, `make flask`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from werkzeug.serving import run_simple

from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flask_endpoint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from flask_endpoint.app import create_app

        settings = get_settings()
        app = create_app(settings)  # checks the settings before anything starts
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simple(settings.flask_host, settings.flask_port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
