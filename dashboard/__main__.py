"""`python -m dashboard [serve|start|stop|status]`: run the web dashboard.

serve   in the foreground (the default)
start   in the background (idempotent), printing its URL
stop    the background dashboard
status  whether it runs
share   create|list|revoke share links (`python -m dashboard share --help`)
"""

from __future__ import annotations

import argparse
import sys

from dashboard import service
from operations import services
from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["share"]:
        from dashboard.share import main as share

        return share(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", default="serve", choices=["serve", "start", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if args.action == "serve":
            service.serve(settings)
        else:
            print("dashboard " + getattr(service, args.action)(settings))
            if args.action == "start":
                print("log in as admin with the password DASHBOARD_ADMIN_PASSWORD (in .env), or open a "
                      "user's pages with a share link: python -m dashboard share create USER_ID"
                      if settings.dashboard_admin_password else
                      "admin login disabled (DASHBOARD_ADMIN_PASSWORD is empty); open a user's pages "
                      "with a share link: python -m dashboard share create USER_ID")
    except (SettingsError, services.ServiceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
