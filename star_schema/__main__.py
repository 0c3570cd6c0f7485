"""`python -m star_schema load`: load source into main's star schema (incremental, idempotent, one transaction)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from star_schema.load import LoadError, load_main
from warehouse.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m star_schema", description=__doc__)
    parser.add_argument("command", choices=["load"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        report = load_main()
    except (SettingsError, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{report} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
