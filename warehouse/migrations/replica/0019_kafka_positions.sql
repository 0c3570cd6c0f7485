-- The Kafka transport's bookkeeping (cdc_connectors/kafka_consumer.py), written in the
-- same replica transaction as the changes it applied.
-- Where each topic partition is applied up to:
CREATE TABLE cdc.kafka_position (
    slot_name   text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL CHECK (next_offset >= 0),  -- the first record not applied yet
    PRIMARY KEY (slot_name, topic, partition)
);
-- The broker epoch those offsets belong to (a broker that lost its topics, e.g. restarted with
-- memory storage, has another one), and main's commit position of the last transaction applied
-- (a transaction Kafka Connect sends again after a crash commits at or before it: not applied again).
CREATE TABLE cdc.kafka_state (
    slot_name       text PRIMARY KEY,
    epoch           text NOT NULL,                  -- the record the applier wrote into the epoch topic
    last_commit_lsn numeric NOT NULL DEFAULT 0,     -- main WAL position of its END
    created_at      timestamptz NOT NULL DEFAULT now()
);
