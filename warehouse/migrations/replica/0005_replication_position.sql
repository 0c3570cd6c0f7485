-- Where the replication stands: the highest main WAL position whose changes the
-- replica has applied (written by cdc_connectors/apply.py in the same
-- transaction as the changes). Readable by the dashboard's read-only role, so
-- pages can show the replica's lag.
CREATE SCHEMA cdc;
CREATE TABLE cdc.applied_position (
    slot_name       text PRIMARY KEY,
    lsn             pg_lsn NOT NULL,        -- highest main WAL position applied
    committed_at    timestamptz NOT NULL,   -- main commit time of the latest change applied
    applied_at      timestamptz NOT NULL,   -- when the latest batch was committed here
    changes         bigint NOT NULL,        -- change records applied since the snapshot began
    snapshot_done   boolean NOT NULL        -- the initial snapshot was applied whole
);
