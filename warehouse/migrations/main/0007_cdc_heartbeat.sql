-- Written by Debezium's heartbeat action (its replication role may insert and update it):
-- its events carry main's WAL position when main is idle, so `make replication-wait`
-- converges and the slot retains no WAL. Published, captured, never applied to the replica.
CREATE SCHEMA IF NOT EXISTS cdc;
CREATE TABLE IF NOT EXISTS cdc.heartbeat (id integer PRIMARY KEY, beat_at timestamptz NOT NULL);
