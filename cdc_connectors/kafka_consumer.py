"""The applier fed by Kafka: CDC_TRANSPORT=kafka here, and the Docker deployment's `applier`.

Debezium's PostgreSQL connector runs on Kafka Connect with
`kafka_connect/postgres-source.json` (connect_worker.py here; the compose's
`connect` service in Docker): one topic of one partition per replicated table
(`wrapped.<schema>.<table>`) and the transaction topic `wrapped.transaction`,
where a BEGIN and an END (with its count of changes) frame each main
transaction. This consumer writes them with the embedded transport's `Applier`:

- Whole transactions, in commit order. Every change names its main transaction
  and its place in it (`transaction.id`, `total_order`): a transaction is applied
  once its END has come and as many distinct changes as the END counts, in the
  order of the transaction topic; the transactions a poll completes share one
  replica transaction. One larger than STREAMED_TRANSACTION changes is written
  into the open replica transaction as its changes arrive (memory stays
  bounded) and committed when complete. The snapshot (changes outside any
  transaction) is one replica transaction, committed once its last record, or
  the first BEGIN after it, and everything the topics held at that moment are
  in; after a fresh start it replaces the replica's content, as with the
  embedded engine.
- Offsets stored with the data. The next offset of every partition goes into the
  replica (`cdc.kafka_position`) in the same transaction as the changes, and a
  start seeks there; the consumer group's offsets are committed
  to Kafka afterwards (for `make replication-status` and Kafka's own tools). A
  crash re-reads what was not committed; a duplicate (Kafka Connect re-sends
  what followed its last stored offset after a crash) has the place of the
  change it repeats and the apply is idempotent.
- A broker that lost its topics (Tansu keeps them in memory) is detected, never
  followed: at a fresh start the applier writes a random epoch into a topic of
  its own, `wrapped_replica_epoch`, and into the replica (`cdc.kafka_state`); it
  stops with `BrokerLost` when that topic is gone or holds another epoch, or when
  a stored offset lies past a partition's end. `python -m cdc_connectors reset`
  then starts over from a fresh snapshot.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import msgspec
import psycopg

from cdc_connectors.apply import Applier, Change, ReplicationError, StopRequested, decode_change
from cdc_connectors.capture import TOPIC_PREFIX
from warehouse.settings import Settings

log = logging.getLogger(__name__)
TOPICS = f"^{re.escape(TOPIC_PREFIX)}\\..*"  # <prefix>.<schema>.<table> and <prefix>.transaction
TRANSACTION_TOPIC = f"{TOPIC_PREFIX}.transaction"
EPOCH_TOPIC = f"{TOPIC_PREFIX}_replica_epoch"  # not matched by TOPICS
GROUP_ID = "wrapped-replica"
STREAMED_TRANSACTION = 20_000  # changes of one main transaction kept in memory at most
STUCK_AFTER_S = 60.0  # an ended transaction still missing changes this long with nothing left to read
BROKER_CHECK_S = 5.0
NEW_TOPIC_CHECK_S = 1.0  # ... when a transaction has waited this long for changes (not more often: Tansu
# can take seconds to answer a fetch deep in a large partition, and a metadata request does not help it)
PROGRESS_S = 30.0  # between two progress lines in the log
FINISHED_REMEMBERED = 10_000  # transactions applied or dropped: their late duplicates are discarded


class BrokerLost(ReplicationError):
    """The broker no longer holds the records the replica's offsets point into."""


class _TransactionRef(msgspec.Struct):
    id: str
    total_order: int


class _Source(msgspec.Struct):
    snapshot: str | None = None


class _Envelope(msgspec.Struct):
    """What the applier needs of a record besides its change: transaction, snapshot marks."""

    transaction: _TransactionRef | None = None  # a change's main transaction
    source: _Source | None = None
    status: str | None = None  # a record of the transaction topic: BEGIN or END, its id, its count
    id: str | None = None
    event_count: int | None = None


_decode_envelope = msgspec.json.Decoder(_Envelope).decode


def _xid(transaction_id: str) -> str:
    """A main transaction's id as Debezium writes it is `<xid>:<LSN>`, where the LSN of its BEGIN, of its
    changes and of its END differ: the transaction is its xid."""
    return transaction_id.partition(":")[0]


def _lsn(transaction_id: str) -> int | None:
    """The LSN of a transaction record's id: for an END, main's commit position."""
    lsn = transaction_id.partition(":")[2]
    return int(lsn) if lsn.isdigit() else None


@dataclass
class _Transaction:
    """A main transaction being gathered: its changes by place, where its records are in Kafka."""

    id: str
    count: int | None = None  # from its END
    commit_lsn: int | None = None  # from its END
    changes: dict[int, tuple[Change, tuple]] = field(default_factory=dict)  # place -> (change, (tp, offset))
    marks: list[tuple] = field(default_factory=list)  # (tp, offset) of its BEGIN and END
    streamed: bool = False  # its changes go into the replica transaction as they arrive
    written: set[int] = field(default_factory=set)  # places written so far, when streamed

    @property
    def arrived(self) -> int:
        return len(self.changes) + len(self.written)

    @property
    def complete(self) -> bool:
        return self.count is not None and self.arrived >= self.count


class KafkaApply:
    """Routes polled records into transactions and writes them to the replica whole, in commit order."""

    def __init__(self, applier: Applier, streamed_transaction: int = STREAMED_TRANSACTION):
        self.applier = applier
        self.streamed_transaction = streamed_transaction
        self.stored: dict = {}  # TopicPartition -> next offset, as committed in the replica
        self.last_commit = 0  # main's commit position of the last transaction committed in the replica
        self.transactions_applied = self.commits = 0
        self.clear()

    def discard(self) -> None:
        """Roll the replica transaction back and forget everything not committed."""
        self.applier.rollback()
        self.clear()

    def clear(self) -> None:
        """Forget everything not committed (the replica transaction is rolled back by the caller)."""
        self.transactions: dict[str, _Transaction] = {}
        self.order: deque[str] = deque()  # transactions by their BEGIN: commit order
        self.consumed: dict = {}  # TopicPartition -> offset after the last record read
        self.to_write: list[Change] = []
        self.dirty = False  # written since the last commit
        self.snapshot_open = False
        self.snapshot_ending = False  # its last record was read; `snapshot_targets` not taken yet
        self.snapshot_targets: dict | None = None
        self.stuck_since: float | None = None
        self.reached = self.last_commit  # ... of the last one written
        self.finished: dict[str, None] = {}  # recently applied or dropped transactions (insertion order)

    # -- routing -------------------------------------------------------------------
    def _transaction(self, tx_id: str, ordered: bool) -> _Transaction:
        tx = self.transactions.get(tx_id)
        if tx is None:
            tx = self.transactions[tx_id] = _Transaction(tx_id)
        if ordered and not tx.marks:
            self.order.append(tx_id)
        return tx

    def route(self, message) -> None:
        from kafka import TopicPartition

        tp = TopicPartition(message.topic, message.partition)
        self.consumed[tp] = message.offset + 1
        if message.value is None:  # a tombstone: nothing to apply
            return
        ref = (tp, message.offset)
        try:
            envelope = _decode_envelope(message.value)
        except msgspec.DecodeError as exc:
            raise ReplicationError(f"malformed record at {message.topic}[{message.partition}]@{message.offset} "
                                   f"({exc}): {message.value[:300]!r}") from None
        if message.topic == TRANSACTION_TOPIC:
            if envelope.id is None or envelope.status not in ("BEGIN", "END"):
                raise ReplicationError(f"{message.topic}@{message.offset}: not a BEGIN or END record: "
                                       f"{message.value[:300]!r}")
            tx = self._transaction(_xid(envelope.id), ordered=True)
            tx.marks.append(ref)
            if self.snapshot_open and self.snapshot_targets is None:
                # Debezium streams once its snapshot is sent: every snapshot record is in the topics
                # (the snapshot's "last" record says so too, unless its last table was empty)
                self.snapshot_ending = True
            if envelope.status == "END":
                tx.count, tx.commit_lsn = envelope.event_count or 0, _lsn(envelope.id)
            return
        change = decode_change(message.value, message.key)
        if change is None:
            return
        if envelope.transaction is None:  # the snapshot: no transaction
            self.to_write.append(change)
            if change.in_snapshot:
                self.snapshot_open = True
            elif envelope.source is not None and envelope.source.snapshot == "last":
                self.snapshot_open = self.snapshot_ending = True
            return
        xid = _xid(envelope.transaction.id)
        if xid in self.finished and xid not in self.transactions:
            return  # a late copy of a change of a transaction applied or dropped
        tx = self._transaction(xid, ordered=False)
        place = envelope.transaction.total_order
        if tx.streamed:
            tx.written.add(place)
            self.to_write.append(change)
        else:
            tx.changes[place] = (change, ref)

    # -- applying --------------------------------------------------------------------
    def advance(self) -> bool:
        """Queue the complete transactions at the head for writing; True if what is written must be
        committed before the head transaction, too large to wait for, starts streaming."""
        while self.order:
            tx = self.transactions[self.order[0]]
            if tx.commit_lsn is not None and tx.commit_lsn <= self.reached and not tx.streamed:
                # Kafka Connect, restarted after a crash, sends again what followed its last stored offset:
                # this transaction committed in main before the last one applied, so it was applied.
                self._finish(tx)
                continue
            if tx.complete:
                self.to_write.extend(change for _, (change, _) in sorted(tx.changes.items()))
                self.reached = max(self.reached, tx.commit_lsn or 0)
                self.transactions_applied += 1
                self._finish(tx)
                continue
            if not tx.streamed and len(tx.changes) >= self.streamed_transaction:
                if (self.dirty or self.to_write) and not self.snapshot_open:
                    return True
                tx.streamed = True
                self.to_write.extend(change for _, (change, _) in sorted(tx.changes.items()))
                tx.written.update(tx.changes)
                tx.changes.clear()
            break
        return False

    def _finish(self, tx: _Transaction) -> None:
        del self.transactions[tx.id]
        self.order.popleft()
        self.stuck_since = None
        self.finished[tx.id] = None
        if len(self.finished) > FINISHED_REMEMBERED:
            del self.finished[next(iter(self.finished))]

    def write(self) -> None:
        if self.to_write:
            self.applier.write(self.to_write)
            self.to_write = []
            self.dirty = True

    def committable(self) -> bool:
        head_open = bool(self.order) and self.transactions[self.order[0]].streamed
        return self.dirty and not self.snapshot_open and not head_open

    def positions(self) -> dict:
        """Per partition read: the first offset not applied (the earliest record still held in memory)."""
        held: dict = {}
        for tx in self.transactions.values():
            for tp, offset in (*tx.marks, *(ref for _, ref in tx.changes.values())):
                if offset < held.get(tp, offset + 1):
                    held[tp] = offset
        return {tp: held.get(tp, offset) for tp, offset in self.consumed.items()}

    def commit(self, slot: str) -> dict:
        """Commit the replica transaction with the offsets it reaches; return them."""
        positions = self.positions()
        conn = self.applier.connect()
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO cdc.kafka_position (slot_name, topic, partition, next_offset)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (slot_name, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset""",
                [(slot, tp.topic, tp.partition, offset) for tp, offset in positions.items()])
            cur.execute("UPDATE cdc.kafka_state SET last_commit_lsn = %s WHERE slot_name = %s",
                        (self.reached, slot))
        self.applier.commit()
        self.commits += 1
        self.dirty = False
        self.stored.update(positions)
        self.last_commit = self.reached
        return positions

    def progress(self) -> str:
        head = self.transactions[self.order[0]] if self.order else None
        return (f"{self.transactions_applied} main transactions applied in {self.commits} replica commits; "
                f"{len(self.transactions)} held, the next "
                + ("none" if head is None else f"{head.id} with {head.arrived} of {head.count} changes")
                + (", a snapshot open" if self.snapshot_open else ""))

    def waiting_for_changes(self) -> bool:
        """The next transaction to apply has ended but not all its changes are in."""
        head = self.transactions[self.order[0]] if self.order else None
        return head is not None and head.count is not None and not head.complete

    def check_stuck(self, idle: bool) -> None:
        """An ended transaction whose changes do not all come, with nothing left to read, is an error."""
        if not (idle and self.waiting_for_changes()):
            self.stuck_since = None
            return
        head = self.transactions[self.order[0]]
        now = time.monotonic()
        self.stuck_since = self.stuck_since or now
        if now - self.stuck_since > STUCK_AFTER_S:
            raise ReplicationError(
                f"main transaction {head.id} ended with {head.count} changes but only {head.arrived} are in "
                f"Kafka after {STUCK_AFTER_S:.0f} s: run `python -m cdc_connectors reset` for a fresh snapshot")


# -- the replica's bookkeeping ------------------------------------------------------
def stored_state(applier: Applier, slot: str) -> tuple[tuple[str | None, int], dict]:
    """The epoch, main's commit position of the last transaction applied, the offsets."""
    from kafka import TopicPartition

    conn = applier.connect()
    state = conn.execute("SELECT epoch, last_commit_lsn FROM cdc.kafka_state WHERE slot_name = %s",
                         (slot,)).fetchone()
    positions = {TopicPartition(topic, partition): offset for topic, partition, offset in conn.execute(
        "SELECT topic, partition, next_offset FROM cdc.kafka_position WHERE slot_name = %s", (slot,))}
    conn.commit()
    return (state[0], int(state[1])) if state else (None, 0), positions


def forget(applier: Applier, slot: str) -> None:
    """Drop the stored offsets and epoch: the next start is a fresh one."""
    conn = applier.connect()
    conn.execute("DELETE FROM cdc.kafka_position WHERE slot_name = %s", (slot,))
    conn.execute("DELETE FROM cdc.kafka_state WHERE slot_name = %s", (slot,))
    conn.commit()


def reset(settings: Settings) -> None:
    """Forget where replication stands, whichever the transport: the slot, the embedded engine's offsets,
    the Kafka offsets and epoch. The next start copies main again from a fresh snapshot."""
    from cdc_connectors.replicator import reset as reset_embedded

    reset_embedded(settings)
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name)
    try:
        forget(applier, settings.debezium_slot_name)
    finally:
        applier.close()


def broker_lost(settings: Settings) -> bool:
    """Whether the replica was applied from a broker that no longer holds its topics (the epoch the replica
    stored is not in the broker's epoch topic): a broker with memory storage that was stopped or restarted."""
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name)
    try:
        (epoch, _), _ = stored_state(applier, settings.debezium_slot_name)
    finally:
        applier.close()
    if epoch is None:
        return False
    return _epoch_missing(settings, epoch) is not None


# -- the epoch -----------------------------------------------------------------------
def servers(settings: Settings) -> list[str]:
    return [server.strip() for server in settings.kafka_bootstrap_servers.split(",")]


def write_epoch(settings: Settings) -> str:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=servers(settings))
    try:
        admin.create_topics([NewTopic(EPOCH_TOPIC, 1, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    epoch = str(uuid.uuid4())
    producer = KafkaProducer(bootstrap_servers=servers(settings), acks="all")
    try:
        producer.send(EPOCH_TOPIC, epoch.encode()).get(timeout=30)
    finally:
        producer.close()
    return epoch


def reader(settings: Settings):
    """A consumer outside any group, for reading a partition here and there."""
    from kafka import KafkaConsumer

    return KafkaConsumer(bootstrap_servers=servers(settings), enable_auto_commit=False,
                         max_poll_records=1_000_000, fetch_max_wait_ms=100)


def partition_ends(consumer, partitions) -> dict:
    """Each partition's end (the offset its next record will have), read with `consumer` (a `reader`).

    Tansu's answer to ListOffsets(latest) falls short of the end after batches of several records from
    the Java producer (Kafka Connect's): the partition is read from there to its true end."""
    ends = {}
    for tp, end in consumer.end_offsets(list(partitions)).items():
        consumer.assign([tp])
        consumer.seek(tp, max(end - 1, 0))
        deadline = time.monotonic() + 10
        while True:
            records = consumer.poll(timeout_ms=200).get(tp, [])
            if records:
                end = max(end, records[-1].offset + 1)
            if not records or len(records) < consumer.config["max_poll_records"] or time.monotonic() > deadline:
                break
        ends[tp] = end
    consumer.assign([])
    return ends


def read_epochs(settings: Settings) -> set[str] | None:
    """The epochs in the epoch topic (None: no such topic)."""
    from kafka import TopicPartition

    consumer = reader(settings)
    try:
        if EPOCH_TOPIC not in consumer.topics():
            return None
        tp = TopicPartition(EPOCH_TOPIC, 0)
        end = partition_ends(consumer, [tp])[tp]
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        epochs: set[str] = set()
        deadline = time.monotonic() + 30
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                epochs.update(record.value.decode(errors="replace") for record in records)
        return epochs
    finally:
        consumer.close()


def _epoch_missing(settings: Settings, epoch: str) -> str | None:
    """Why the broker does not hold `epoch` (its epoch topic is missing, or holds another), or None."""
    epochs = read_epochs(settings)
    if epochs is None:
        return "missing"
    return None if epoch in epochs else "another epoch"


# -- the loop --------------------------------------------------------------------------
class _Consumer:
    """The consumer, its partitions, and what a new topic, a lost replica or a lost broker do to it.

    It assigns itself every partition of the CDC topics (no group membership: the replica holds the
    offsets, so a group's rebalances would only add pauses), looks for new topics (a table's first change)
    every BROKER_CHECK_S, and commits the offsets under the group GROUP_ID for monitoring.
    """

    def __init__(self, settings: Settings, applying: KafkaApply):
        from kafka import KafkaConsumer

        self.settings, self.applying = settings, applying
        self.last_check = self.last_progress = 0.0
        self.waiting_since: float | None = None
        self.consumer = KafkaConsumer(
            bootstrap_servers=servers(settings), group_id=GROUP_ID, enable_auto_commit=False,
            auto_offset_reset="none",  # an offset past a partition's end is an error, never a silent jump
            max_poll_records=8192,
        )

    def rewind(self) -> None:
        """Drop what is not committed; reading resumes from the stored offsets."""
        self.applying.discard()
        self.seek(self.consumer.assignment())

    def seek(self, partitions) -> None:
        """Each partition from where this process read up to, else from the offset stored in the replica,
        else from its beginning. An offset past a partition's end fails the next poll: BrokerLost."""
        for tp in partitions:
            offset = self.applying.consumed.get(tp, self.applying.stored.get(tp))
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)

    def check_broker(self, force: bool = False) -> None:
        """The epoch topic must be there (else the broker lost its topics); take new CDC topics on."""
        from kafka import TopicPartition

        if not force and time.monotonic() - self.last_check < BROKER_CHECK_S:
            return
        self.last_check = time.monotonic()
        topics = self.consumer.topics()
        if EPOCH_TOPIC not in topics:
            raise BrokerLost(f"the Kafka broker at {self.settings.kafka_bootstrap_servers} no longer has topic "
                             f"{EPOCH_TOPIC}: it lost its topics (restarted with memory storage?), and with them "
                             "changes not applied yet. Run `python -m cdc_connectors reset` for a fresh snapshot")
        partitions = {topic: self.consumer.partitions_for_topic(topic) or set()
                      for topic in topics if re.match(TOPICS, topic)}
        wide = {topic: len(parts) for topic, parts in partitions.items() if len(parts) > 1}
        if wide:
            raise ReplicationError(f"topics with more than one partition {wide}: changes of a table must keep "
                                   "their order; create the CDC topics with one partition")
        wanted = {TopicPartition(topic, p) for topic, parts in partitions.items() for p in parts}
        current = self.consumer.assignment()
        if wanted != current:
            if current - wanted and set(self.applying.consumed) & (current - wanted):
                self.applying.discard()  # a topic read from is gone: drop what is not committed
            self.consumer.assign(sorted(wanted))
            self.seek(wanted)

    def poll_and_apply(self) -> None:
        from kafka.errors import OffsetOutOfRangeError

        applying = self.applying
        self.check_broker()
        if not self.consumer.assignment():  # no CDC topic yet: the connector has not sent anything
            time.sleep(0.5)
            return
        try:
            polled = self.consumer.poll(timeout_ms=500)
        except OffsetOutOfRangeError as exc:
            raise BrokerLost(f"an offset the replica reached is past the end of its partition ({exc}): the broker "
                             "lost records. Run `python -m cdc_connectors reset` for a fresh snapshot") from None
        # the transaction topic first: its BEGINs give the commit order
        for tp in sorted(polled, key=lambda tp: (tp.topic != TRANSACTION_TOPIC, tp.topic, tp.partition)):
            for message in polled[tp]:
                applying.route(message)
        if applying.snapshot_ending:
            ends = reader(self.settings)
            try:
                applying.snapshot_targets = partition_ends(ends, self.consumer.assignment())
            finally:
                ends.close()
            applying.snapshot_ending = False
        if applying.snapshot_targets is not None and all(
                self.consumer.position(tp) >= end for tp, end in applying.snapshot_targets.items()):
            applying.snapshot_open, applying.snapshot_targets = False, None
        while True:
            commit_first = applying.advance()
            applying.write()
            if not commit_first:
                break
            self.commit()
        if applying.committable():
            self.commit()
        applying.check_stuck(idle=not polled)
        now = time.monotonic()
        self.waiting_since = (self.waiting_since or now) if applying.waiting_for_changes() else None
        if self.waiting_since and min(now - self.waiting_since, now - self.last_check) > NEW_TOPIC_CHECK_S:
            self.last_check = 0.0  # what it waits for may be in a table's first topic, created since
        if now - self.last_progress > PROGRESS_S:
            self.last_progress = now
            log.info("applier: %s", applying.progress())

    def commit(self) -> None:
        from kafka import OffsetAndMetadata

        positions = self.applying.commit(self.settings.debezium_slot_name)
        try:
            self.consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in positions.items()})
        except Exception as exc:  # noqa: BLE001 - the replica holds the offsets; Kafka's copy is for monitoring
            log.warning("committing the consumer group's offsets failed (%s); the replica's are stored", exc)


def prepare(settings: Settings, applying: KafkaApply) -> str:
    """A fresh start (nothing applied through Kafka, or a snapshot not applied whole) or a resume."""
    applier, slot = applying.applier, settings.debezium_slot_name
    (epoch, last_commit), positions = stored_state(applier, slot)
    if epoch is None or not applier.snapshot_done():
        forget(applier, slot)
        epoch = write_epoch(settings)
        conn = applier.connect()
        conn.execute("INSERT INTO cdc.kafka_state (slot_name, epoch) VALUES (%s, %s)", (slot, epoch))
        conn.commit()
        applier.start_over()
        applying.stored, applying.last_commit = {}, 0
        applying.clear()
        return "fresh start: the topics from their beginning replace the replicated tables' content"
    why = _epoch_missing(settings, epoch)
    if why is not None:
        raise BrokerLost(f"the Kafka broker at {settings.kafka_bootstrap_servers} does not hold the epoch "
                         f"{epoch} of the offsets the replica applied ({EPOCH_TOPIC}: {why}): it lost its topics. "
                         "Run `python -m cdc_connectors reset` for a fresh snapshot")
    applying.stored, applying.last_commit = positions, last_commit
    applying.clear()
    return f"resuming from the offsets stored in the replica ({len(positions)} partitions)"


def consume(settings: Settings, stop: threading.Event | None = None) -> int:
    """Apply the Kafka topics to the replica until `stop` is set (or SIGTERM/SIGINT)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python logs every metadata refresh
    applier = Applier(settings.replica_database_url, settings.debezium_slot_name, restart_on_snapshot=False)
    applying = KafkaApply(applier)
    consumer = None
    try:
        applier.apply_with_retry([], stop)  # waits for the replica
        how = prepare(settings, applying)
        log.warning("applier: %s", how)
        consumer = _Consumer(settings, applying)
        while not stop.is_set():
            try:
                consumer.poll_and_apply()
            except psycopg.OperationalError as exc:
                log.warning("replica unavailable (%s): its open transaction is gone; reading again from the "
                            "stored offsets", str(exc).strip())
                applier.apply_with_retry([], stop)
                consumer.rewind()
    except StopRequested:
        pass
    finally:
        if consumer is not None:
            consumer.consumer.close(autocommit=False)
        applier.close()
    return 0
