"""The Kafka applier's ordering without a broker: records of the transaction topic and of the table
topics, as Kafka Connect writes them, routed into whole main transactions in commit order."""

from __future__ import annotations

import json
from dataclasses import dataclass

from kafka import TopicPartition

from cdc_connectors.kafka_consumer import TRANSACTION_TOPIC, KafkaApply


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Topics:
    """Builds the records of one connector run, each topic's offsets counted as Kafka would."""

    def __init__(self):
        self.offsets: dict[str, int] = {}

    def _message(self, topic: str, key, value) -> Message:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        return Message(topic, 0, offset, key and json.dumps(key).encode(), json.dumps(value).encode())

    def begin(self, xid: int, lsn: int) -> Message:
        return self._message(TRANSACTION_TOPIC, {"id": f"{xid}:{lsn}"},
                             {"status": "BEGIN", "id": f"{xid}:{lsn}", "event_count": None})

    def end(self, xid: int, lsn: int, count: int) -> Message:
        return self._message(TRANSACTION_TOPIC, {"id": f"{xid}:{lsn}"},
                             {"status": "END", "id": f"{xid}:{lsn}", "event_count": count})

    def change(self, user: str, xid: int | None, place: int = 0, snapshot: str = "false", op: str = "c",
               lsn: int = 100) -> Message:
        row = {"user_id": user, "display_name": f"name of {user}", "timezone": "UTC"}
        return self._message("wrapped.public.dim_user", {"user_id": user}, {
            "before": None, "after": None if op == "d" else row, "op": op,
            "source": {"schema": "public", "table": "dim_user", "lsn": lsn, "ts_ms": 1, "snapshot": snapshot},
            "transaction": None if xid is None else {"id": f"{xid}:{lsn}", "total_order": place,
                                                     "data_collection_order": place}})


class NoReplica:
    """An Applier standing in for the replica: what was written, in order."""

    def __init__(self):
        self.written: list[tuple[str, str]] = []

    def write(self, changes) -> None:
        self.written.extend((change.op, (change.row or change.key)["user_id"]) for change in changes)


def applying(**options) -> KafkaApply:
    return KafkaApply(NoReplica(), **options)


def poll(state: KafkaApply, *messages: Message) -> list[tuple[str, str]]:
    """Route one poll's records (the transaction topic first, as the consumer does), write what is complete."""
    for message in sorted(messages, key=lambda m: m.topic != TRANSACTION_TOPIC):
        state.route(message)
    while state.advance():
        state.write()
        state.dirty = False  # committed
    state.write()
    written, state.applier.written = state.applier.written, []
    return written


def test_a_transaction_is_written_whole_once_its_end_and_every_change_are_in_in_commit_order():
    topics, state = Topics(), applying()
    first = [topics.begin(7, 10), topics.change("a", 7, 1), topics.change("b", 7, 2, op="d"), topics.end(7, 20, 2)]
    second = [topics.begin(8, 30), topics.change("c", 8, 1), topics.end(8, 40, 1)]
    # the transaction topic is read ahead of the table's: both ENDs are in, and only the first change
    assert poll(state, first[0], first[1], first[3], second[0], second[2]) == []
    assert state.positions()[TopicPartition("wrapped.public.dim_user", 0)] == 0  # its first change is held
    assert poll(state, first[2], second[1]) == [("c", "a"), ("d", "b"), ("c", "c")]  # commit order: by BEGIN
    assert state.committable() and state.reached == 40
    assert state.positions() == {TopicPartition(TRANSACTION_TOPIC, 0): 4,
                                 TopicPartition("wrapped.public.dim_user", 0): 3}


def test_a_transaction_kafka_connect_sends_again_after_a_crash_is_not_applied_again():
    topics, state = Topics(), applying()
    assert poll(state, topics.begin(7, 10), topics.change("a", 7, 1), topics.end(7, 20, 1),
                topics.begin(8, 30), topics.change("a", 8, 1, op="d"), topics.end(8, 40, 1)) == [("c", "a"), ("d", "a")]
    # Connect restarted from an older offset: transaction 7 again (whole, or only its END), then 8, then 9
    assert poll(state, topics.begin(7, 10), topics.change("a", 7, 1), topics.end(7, 20, 1),
                topics.begin(8, 30), topics.end(8, 40, 1),  # 8's change comes in a later poll
                topics.begin(9, 50), topics.change("z", 9, 1), topics.end(9, 60, 1)) == [("c", "z")]
    assert poll(state, topics.change("a", 8, 1, op="d")) == []  # a late copy, discarded
    assert state.transactions == {} and state.reached == 60


def test_a_change_sent_twice_counts_once():
    topics, state = Topics(), applying()
    change = topics.change("a", 7, 1)
    assert poll(state, topics.begin(7, 10), change, topics.change("a", 7, 1), topics.end(7, 20, 2)) == []
    assert poll(state, topics.change("b", 7, 2)) == [("c", "a"), ("c", "b")]


def test_a_large_transaction_is_written_as_it_arrives_after_a_commit_of_what_came_before():
    topics, state = Topics(), applying(streamed_transaction=2)
    assert poll(state, topics.begin(6, 5), topics.change("before", 6, 1), topics.end(6, 8, 1)) == [("c", "before")]
    state.dirty = True  # not committed yet
    assert state.committable()
    state.route(topics.begin(7, 10))
    state.route(topics.change("a", 7, 1))
    state.route(topics.change("b", 7, 2))
    assert state.advance() is True  # what is written must be committed before the large one streams
    state.dirty = False
    assert state.advance() is False and state.to_write and state.transactions["7"].streamed
    assert poll(state, topics.change("c", 7, 3)) == [("c", "a"), ("c", "b"), ("c", "c")]
    assert not state.committable()  # three of its changes written, its END not in yet
    assert poll(state, topics.end(7, 20, 4)) == []
    assert not state.committable()
    assert poll(state, topics.change("d", 7, 4)) == [("c", "d")]
    assert state.committable() and state.order == type(state.order)()


def test_the_snapshot_stays_open_until_its_last_record_or_the_first_transaction_after_it():
    topics, state = Topics(), applying()
    assert poll(state, topics.change("a", None, snapshot="first", op="r"),
                topics.change("b", None, snapshot="true", op="r")) == [("r", "a"), ("r", "b")]
    assert state.snapshot_open and not state.snapshot_ending and not state.committable()
    poll(state, topics.change("c", None, snapshot="last", op="r"))
    assert state.snapshot_ending  # the consumer takes the topics' ends and closes it when they are read

    other = applying()  # the snapshot's last table was empty: no "last" record
    poll(other, topics.change("d", None, snapshot="last_in_data_collection", op="r"))
    assert other.snapshot_open and not other.snapshot_ending
    poll(other, topics.begin(9, 50))
    assert other.snapshot_ending
