"""`python -m pipeline gate source|main|analytics`: run one stage's Soda checks by hand."""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline import gates
from warehouse.settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gate = sub.add_parser("gate", help="run the Soda checks of a stage")
    gate.add_argument("stage", choices=sorted(gates.STAGES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = {"source": gates.source_gate, "main": gates.main_gate, "analytics": gates.analytics_gate}[
            args.stage]()
    except gates.GateFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    except (SettingsError, gates.GateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.stage} gate: {len(results)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
