"""Replication main -> replica: `python -m cdc_connectors run|status|wait|reset|consume-kafka|install-connect`.

In the background (`make debezium`, `python -m operations start debezium`) `run` is the supervisor program
`debezium` (CDC_TRANSPORT=embedded); with CDC_TRANSPORT=kafka `consume-kafka` is `kafka-applier`, beside
`kafka-broker` and `kafka-connect` (cdc_connectors/connect_worker.py)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

import psycopg

from warehouse.settings import SettingsError, get_settings


def cmd_run(args) -> int:
    from cdc_connectors.replicator import run

    code = run(get_settings())
    # The engine is closed and its offsets stored; some of Debezium's JVM threads are not
    # daemons and would keep the interpreter from exiting: leave now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_consume_kafka(args) -> int:
    from cdc_connectors.kafka_consumer import consume

    return consume(get_settings())


def cmd_status(args) -> int:
    from cdc_connectors.status import status

    settings = get_settings()
    current = status(settings)
    print("\n".join(current.lines()))
    if settings.cdc_transport == "kafka":
        from cdc_connectors.status import kafka_lines

        print("\n".join(kafka_lines(settings)))
    return 0 if current.connected and current.replica_error is None else 1


def cmd_wait(args) -> int:
    from cdc_connectors.status import wait

    try:
        waited = wait(get_settings(), timeout=args.timeout)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"replica caught up with main in {waited:.2f} s")
    return 0


def cmd_reset(args) -> int:
    from cdc_connectors.kafka_consumer import reset

    settings = get_settings()
    reset(settings)
    print("offsets and slot removed: the next run re-copies main into the replica from a fresh snapshot")
    return 0


def cmd_install_connect(args) -> int:
    from cdc_connectors.connect_worker import install

    print(install())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdc_connectors", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the replicator (embedded Debezium) until SIGTERM").set_defaults(func=cmd_run)
    sub.add_parser("status", help="slot, retained WAL, applied position and lag").set_defaults(func=cmd_status)
    wait = sub.add_parser("wait", help="block until the replica has applied everything main committed")
    wait.add_argument("--timeout", type=float, default=120.0, metavar="S")
    wait.set_defaults(func=cmd_wait)
    sub.add_parser("reset", help="drop the slot and offsets: the next run starts with a fresh snapshot"
                   ).set_defaults(func=cmd_reset)
    sub.add_parser("consume-kafka", help="apply the Kafka Connect topics instead of running Debezium here"
                   ).set_defaults(func=cmd_consume_kafka)
    sub.add_parser("install-connect", help="unpack the Kafka Connect runtime of CDC_TRANSPORT=kafka (make setup)"
                   ).set_defaults(func=cmd_install_connect)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from cdc_connectors.apply import ReplicationError

    try:
        get_settings()
        return args.func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ReplicationError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"error: a database is unreachable: {str(exc).strip()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
