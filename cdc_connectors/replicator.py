"""The replicator on Debezium's embedded engine (pydbzengine): no Kafka needed.

Each Debezium batch is applied to the replica in one transaction inside the
handler; only when the handler returns does the engine mark the records
processed and, within `offset.flush.interval.ms`, store the offsets (a file
under `<runtime_dir>/debezium/`) and confirm the LSN to main's slot. A crash
between the two re-delivers at most that second of changes, which the
idempotent apply absorbs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from functools import cached_property
from pathlib import Path

import psycopg

from cdc_connectors.apply import Applier, ReplicationError, StopRequested, decode_change
from cdc_connectors.capture import (
    debezium_dir,
    engine_properties,
    log_dir,
    offsets_file,
)
from warehouse.db import connect
from warehouse.settings import Settings

log = logging.getLogger(__name__)
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")


def jvm_options(settings: Settings) -> list[str]:
    """Heap cap and log4j (Debezium's log goes to <runtime_dir>/logs/debezium-engine.log)."""
    return [
        "-Xms64m", f"-Xmx{settings.debezium_heap}", "-XX:-UseG1GC", "-XX:+UseParallelGC",
        "-Xrs",  # SIGTERM stays ours (graceful stop)
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dwrapped.log.dir={log_dir(settings)}",
    ]


def slot_exists(settings: Settings) -> bool:
    with connect("main", settings, autocommit=True) as conn:
        return conn.execute(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (settings.debezium_slot_name,)
        ).fetchone() is not None


def has_offsets(settings: Settings) -> bool:
    path = offsets_file(settings)
    return path.exists() and path.stat().st_size > 0


def prepare(settings: Settings, applier: Applier) -> str:
    """Check and prepare main and the replica before the engine starts; say how it starts.

    With offsets of a completed snapshot, the slot must still exist: without it
    the changes since the last offset are lost to us, so we refuse rather than
    replicate a hole. With no offsets, or a snapshot that was cut short, this is
    a fresh start: the replica's replicated tables are emptied and our slot (if
    left over) dropped, so the snapshot makes an exact copy.
    """
    debezium_dir(settings).mkdir(parents=True, exist_ok=True)
    log_dir(settings).mkdir(parents=True, exist_ok=True)
    if has_offsets(settings):
        if applier.snapshot_done():
            if not slot_exists(settings):
                raise ReplicationError(
                    f"replication slot {settings.debezium_slot_name!r} is missing on main but offsets exist in "
                    f"{offsets_file(settings)}: changes made since then cannot be replicated. Run "
                    "`python -m cdc_connectors reset` to re-copy main into the replica from a fresh snapshot")
            return "resuming from stored offsets"
        offsets_file(settings).unlink()  # the snapshot was cut short: it starts again
    drop_slot(settings)
    emptied = applier.reset()
    return f"fresh start: snapshot of main into the emptied replica tables ({len(emptied)} tables)"


def drop_slot(settings: Settings, wait_s: float = 15.0) -> bool:
    """Drop our slot if it exists, waiting a little for a killed replicator's walsender to go."""
    deadline = time.monotonic() + wait_s
    with psycopg.connect(settings.replication_url, autocommit=True) as conn:  # REPLICATION may drop slots
        while True:
            row = conn.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (settings.debezium_slot_name,)
            ).fetchone()
            if row is None:
                return False
            if row[0] is None:
                break
            if time.monotonic() > deadline:
                raise ReplicationError(
                    f"replication slot {settings.debezium_slot_name!r} is in use by process {row[0]} on main: "
                    "stop the running replicator first")
            time.sleep(0.2)
        conn.execute("SELECT pg_drop_replication_slot(%s)", (settings.debezium_slot_name,))
        return True


def reset(settings: Settings) -> None:
    """Forget the offsets and the slot: the next run re-copies main from a fresh snapshot."""
    drop_slot(settings)
    offsets_file(settings).unlink(missing_ok=True)


class ApplyHandler:
    """Turns one Debezium batch into Changes and applies them (retrying while the replica is down)."""

    def __init__(self, applier: Applier, stop: threading.Event):
        self.applier = applier
        self.stop = stop

    def handle(self, values: list[str], keys: list[str] | None) -> None:
        changes = []
        for i, value in enumerate(values):
            if value == "null":  # a tombstone
                continue
            change = decode_change(value, keys[i] if keys is not None else None)
            if change is not None:
                changes.append(change)
        if changes:
            self.applier.apply_with_retry(changes, self.stop)


def _batch_consumer(handler: ApplyHandler):
    """A ChangeConsumer that moves each batch across JPype in one piece.

    Calling `value()`, `key()` and `markProcessed()` from Python for every
    record costs tens of microseconds each; instead Java joins the batch's
    values (and, when it holds a delete, its keys) into one newline-separated
    string — Debezium's JSON never contains a raw newline — and marks the
    records processed itself, through method handles. Records are marked only
    after `handler.handle` returned, i.e. after the replica committed.
    """
    import jpype

    invoke = "java.lang.invoke."
    lookup = jpype.JClass(invoke + "MethodHandles").publicLookup()
    method_type = jpype.JClass(invoke + "MethodType").methodType
    as_interface = jpype.JClass(invoke + "MethodHandleProxies").asInterfaceInstance
    JObject, JVoid = jpype.JClass("java.lang.Object"), jpype.JClass("java.lang.Void").TYPE
    JFunction, JConsumer = jpype.JClass("java.util.function.Function"), jpype.JClass("java.util.function.Consumer")
    JChangeEvent = jpype.JClass("io.debezium.engine.ChangeEvent")
    JCommitter = jpype.JClass("io.debezium.engine.DebeziumEngine$RecordCommitter")
    JThread = jpype.JClass("java.lang.Thread")
    joining = jpype.JClass("java.util.stream.Collectors").joining("\n")
    getters = {
        name: as_interface(JFunction, lookup.findVirtual(JChangeEvent, name, method_type(JObject))
                           .asType(method_type(JObject, JObject)))
        for name in ("value", "key")
    }
    mark = lookup.findVirtual(JCommitter, "markProcessed", method_type(JVoid, JObject))

    @jpype.JImplements("io.debezium.engine.DebeziumEngine$ChangeConsumer")
    class BatchConsumer:
        def __init__(self):
            self.error: BaseException | None = None

        @jpype.JOverride
        def handleBatch(self, records, committer):
            try:
                values = str(records.stream().map(getters["value"]).collect(joining)).split("\n")
                keys = None
                if any('"op":"d"' in value for value in values):
                    keys = str(records.stream().map(getters["key"]).collect(joining)).split("\n")
                handler.handle(values, keys)
                records.forEach(as_interface(JConsumer, mark.bindTo(committer)))
                committer.markBatchFinished()
            except BaseException as exc:  # reported by run(); the engine stops
                self.error = exc
                JThread.currentThread().interrupt()

        @jpype.JOverride
        def supportsTombstoneEvents(self):
            return True

        # what pydbzengine's DebeziumEngine.run() calls on its consumer
        def set_change_handler(self, _handler) -> None:
            pass

        def clear_error(self) -> None:
            self.error = None

        def raise_if_failed(self) -> None:
            if self.error is not None:
                raise self.error

    return BatchConsumer()


def _engine_class():
    from pydbzengine import DebeziumJsonEngine

    class Engine(DebeziumJsonEngine):
        @cached_property
        def consumer(self):
            self._ensure_jvm_started()
            return _batch_consumer(self.handler)

    return Engine


def run(settings: Settings, stop: threading.Event | None = None) -> int:
    """Run the replicator until `stop` is set (or SIGTERM/SIGINT); return an exit code."""
    stop = stop or threading.Event()
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name)
    applier.apply_with_retry([], stop)  # waits for the replica, creates the bookkeeping table
    log.warning("replicator: %s", prepare(settings, applier))
    engine = _engine_class()(properties=engine_properties(settings), handler=ApplyHandler(applier, stop),
                             jvm_opts=jvm_options(settings))
    failure: list[BaseException] = []

    def engine_thread() -> None:
        try:
            engine.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
        finally:
            if not stop.is_set():
                failure.append(ReplicationError(
                    f"the Debezium engine stopped; see {log_dir(settings) / 'debezium-engine.log'}"))
            stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=engine_thread, name="debezium-engine")
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stop.set()
        engine.close()
        thread.join(60)
        applier.close()
    errors = [exc for exc in failure if not isinstance(exc, StopRequested) and not _is_interrupt(exc)]
    if errors:
        log.error("replicator failed: %s", errors[0])
        return 1
    return 0


def _is_interrupt(exc: BaseException) -> bool:
    return "InterruptedException" in f"{type(exc).__name__} {exc}"
