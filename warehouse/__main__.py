"""`python -m warehouse migrate`: as the owner (DATABASE_OWNER), apply the pending schema migrations
of source, main and replica, and grant every role its privileges (warehouse/roles.py). Idempotent."""

from __future__ import annotations

import argparse
import sys

from warehouse.migrate import MigrationError, migrate_and_grant
from warehouse.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__)
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    try:
        print("\n".join(migrate_and_grant(get_settings())))
    except (SettingsError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
