-- Exclusion rules and deleted plays (source migration 0010; docs/metrics.md, "What counts").
-- A play matching one of its user's rules stays in fact_play marked `excluded`, and the Spark job
-- reads no excluded play. The load keeps main's copy of the rules, re-evaluates every play of a user
-- whose rules changed, and removes deleted plays, remembering them for the incremental scope.

ALTER TABLE fact_play ADD COLUMN excluded boolean NOT NULL DEFAULT false;

CREATE TABLE etl.exclusion_rules (
    rule_id         bigint PRIMARY KEY,
    user_id         text NOT NULL,
    kind            text NOT NULL,
    target          text,
    local_from      timestamp,
    local_to        timestamp
);
CREATE INDEX exclusion_rules_user ON etl.exclusion_rules (user_id);

-- The plays a load deleted from fact_play: the next incremental run recomputes from their months.
CREATE TABLE etl.deleted_plays (
    play_id         bigint PRIMARY KEY,
    user_id         text NOT NULL,
    played_at       timestamptz NOT NULL,
    started_at      timestamptz NOT NULL,
    load_id         bigint NOT NULL
);
CREATE INDEX deleted_plays_load ON etl.deleted_plays (load_id);

ALTER TABLE etl.load_runs ADD COLUMN plays_deleted integer NOT NULL DEFAULT 0,
                          ADD COLUMN rules_changed integer NOT NULL DEFAULT 0;
