-- The fact table (main only) and the bookkeeping of the source -> main load.

CREATE SCHEMA etl;

CREATE TABLE etl.load_runs (
    load_id             bigserial PRIMARY KEY,
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT now(),
    source_max_play_id  bigint NOT NULL,          -- every source play <= this is loaded
    plays_loaded        integer NOT NULL,
    users_changed       integer NOT NULL,
    tracks_changed      integer NOT NULL,
    albums_changed      integer NOT NULL,
    artists_changed     integer NOT NULL
);

-- One row per track play (episodes and audiobooks stay in source).
-- No foreign-key triggers: a bulk load checks users and tracks set-wise before it
-- inserts (warehouse.load_main), and the Soda gate on main checks integrity.
CREATE TABLE fact_play (
    play_id         bigint PRIMARY KEY,           -- source plays.play_id
    user_id         text NOT NULL,
    track_id        text NOT NULL,
    played_at       timestamptz NOT NULL,         -- END of the play, UTC
    started_at      timestamptz NOT NULL,         -- played_at - ms_played
    ms_played       integer NOT NULL,
    source          text NOT NULL,
    is_stream       boolean NOT NULL,             -- Web API play, or ms_played >= 30000
    skipped         boolean,                      -- NULL = unknown
    -- Local time in the user's zone (dim_user.timezone), from played_at.
    local_date      date NOT NULL,
    local_hour      smallint NOT NULL,            -- 0..23
    local_dow       smallint NOT NULL,            -- ISO: 1 = Monday .. 7 = Sunday
    local_year      text NOT NULL,                -- period key, e.g. '2024'
    local_month     text NOT NULL,                -- period key, e.g. '2024-03'
    load_id         bigint NOT NULL
);
CREATE INDEX fact_play_user_played_at ON fact_play (user_id, played_at);
CREATE INDEX fact_play_load_id ON fact_play (load_id);
