"""`python -m pipeline`: run one stage's Soda checks by hand (`gate source|main|analytics`), or the whole
chain once (`etl [--full]`: source gate -> load main -> main gate -> Spark stage -> analytics gate -> publish)."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys

from pipeline import gates
from star_schema.load import LoadError
from warehouse.settings import SettingsError, get_settings

JOB_LOG_LINES = 40  # of a failed Spark job's output, shown


def run_gate(stage: str) -> str:
    results = {"source": gates.source_gate, "main": gates.main_gate, "analytics": gates.analytics_gate}[stage]()
    return f"{stage} gate: {len(results)} checks passed"


def run_etl(full: bool) -> str:
    from pipeline.analytics import etl

    logging.getLogger("pipeline").setLevel(logging.INFO)  # each step's outcome, as it happens
    return str(etl(get_settings(), full))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gate = sub.add_parser("gate", help="run the Soda checks of a stage")
    gate.add_argument("stage", choices=sorted(gates.STAGES))
    etl = sub.add_parser("etl", help="gated source -> main load, then the gated Spark statistics, published")
    etl.add_argument("--full", action="store_true", help="recompute every period of every user")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        print(run_gate(args.stage) if args.command == "gate" else run_etl(args.full))
    except gates.GateFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return 1
    except (SettingsError, gates.GateError, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as failed:
        output = "\n".join((failed.stderr or "").splitlines()[-JOB_LOG_LINES:])
        print(f"error: the Spark job failed (exit {failed.returncode}):\n{output}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
