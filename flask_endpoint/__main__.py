"""`python -m flask_endpoint [serve]`: the login service on FLASK_HOST:FLASK_PORT, in the foreground.

Served by gunicorn (`warehouse.serving`): FLASK_WORKERS processes of FLASK_THREADS threads. The
authorization codes Spotify sends to `/callback?code=...` never reach the log (written `code=<code>`).
In the background it runs as the supervisor program `flask`: `python -m operations start flask`, `make flask`.
"""

from __future__ import annotations

import argparse
import re
import sys

from warehouse.serving import serve
from warehouse.settings import SettingsError, get_settings

_OAUTH_CODE = re.compile(r"([?&]code=)[^&\s\"]+")


def without_oauth_codes(line: str) -> str:
    return _OAUTH_CODE.sub(r"\1<code>", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flask_endpoint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["serve"], default="serve")
    parser.parse_args(argv)
    try:
        from flask_endpoint.app import create_app

        settings = get_settings()
        create_app(settings)  # checks the settings before anything starts; each worker builds its own
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(lambda: create_app(settings), name="python -m flask_endpoint serve", host=settings.flask_host,
          port=settings.flask_port, workers=settings.flask_workers, threads=settings.flask_threads,
          redact=without_oauth_codes,
          ready_message=f"login service serving on {settings.login_service_url} ({settings.flask_workers} "
                        f"workers x {settings.flask_threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
