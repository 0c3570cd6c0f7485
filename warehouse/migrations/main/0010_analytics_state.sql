-- The month-level state of the analytics (spark_scripts/state.py): per user and local month, the
-- grains every period's statistics roll up from. An incremental run recomputes the grains of the
-- months its new plays touch and reads the others from here; publication replaces the recomputed
-- months' rows in the same transaction as the published statistics. Never replicated.
-- The sessions' grain is the published analytics.sessions itself (one row per session).
CREATE SCHEMA analytics_state;

-- One row per track streamed in the month; weekdays: bit d-1 set when streamed on ISO day d,
-- month_days: bit n-1 set when streamed on day n of the month.
CREATE TABLE analytics_state.tracks (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL, track_id text NOT NULL,
    streams bigint NOT NULL, listening_ms bigint NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    weekdays integer NOT NULL, month_days integer NOT NULL,
    PRIMARY KEY (user_id, local_month, track_id)
);

-- One row per local date with streams.
CREATE TABLE analytics_state.days (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL, local_date date NOT NULL,
    streams bigint NOT NULL, listening_ms bigint NOT NULL,
    PRIMARY KEY (user_id, local_month, local_date)
);

-- One row per (ISO day, local hour) cell with streams.
CREATE TABLE analytics_state.clock (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL,
    local_dow smallint NOT NULL, local_hour smallint NOT NULL, streams bigint NOT NULL, listening_ms bigint NOT NULL,
    PRIMARY KEY (user_id, local_month, local_dow, local_hour)
);

-- Per month with track plays whose `skipped` is known: how many, and how many were skipped.
CREATE TABLE analytics_state.skips (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL,
    skipped bigint NOT NULL, known bigint NOT NULL,
    PRIMARY KEY (user_id, local_month)
);

-- Per month and gap class: the gaps after the month's streams (to the user's next stream).
CREATE TABLE analytics_state.gaps (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL, gap_class text NOT NULL,
    gaps bigint NOT NULL,
    PRIMARY KEY (user_id, local_month, gap_class)
);

-- The staged grains of a run, and from which month on each user's grains are replaced
-- (every user and month after a full run: its state replaces all of it).
CREATE TABLE analytics_staging.state_tracks AS SELECT * FROM analytics_state.tracks WITH NO DATA;
CREATE TABLE analytics_staging.state_days AS SELECT * FROM analytics_state.days WITH NO DATA;
CREATE TABLE analytics_staging.state_clock AS SELECT * FROM analytics_state.clock WITH NO DATA;
CREATE TABLE analytics_staging.state_skips AS SELECT * FROM analytics_state.skips WITH NO DATA;
CREATE TABLE analytics_staging.state_gaps AS SELECT * FROM analytics_state.gaps WITH NO DATA;

-- An incremental run's users with the first month it recomputes: the JDBC reads of the plays and
-- of the stored grains join it.
ALTER TABLE analytics_staging.run_users ADD COLUMN since text;

-- An incremental run reads a user's plays from a month on.
CREATE INDEX fact_play_user_month ON fact_play (user_id, local_month);
