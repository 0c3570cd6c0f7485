"""`python -m dashboard [serve|share]`: the web dashboard.

serve   in the foreground (the default; in the background: `python -m operations start dashboard`)
share   create|list|revoke share links (`python -m dashboard share --help`)
"""

from __future__ import annotations

import argparse
import sys

from dashboard import server
from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["share"]:
        from dashboard.share import main as share

        return share(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", default="serve", choices=["serve"])
    parser.parse_args(argv)
    try:
        settings = get_settings()  # checked before anything starts
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server.serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
