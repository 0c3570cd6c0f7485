-- The staged rankings take the new columns of migration 0013 (main only).
ALTER TABLE analytics_staging.artist_ranking
    ADD COLUMN months_at_top integer, ADD COLUMN longest_streak integer,
    ADD COLUMN longest_streak_start date, ADD COLUMN longest_streak_end date;
ALTER TABLE analytics_staging.track_ranking ADD COLUMN skip_rate double precision;

-- The skips grain is kept per track (a track's skip rate), no longer per month alone. Its stored rows
-- cannot be split by track: they go, and the next analytics run is full (the state's shape changed).
TRUNCATE analytics_state.skips, analytics_staging.state_skips;
ALTER TABLE analytics_state.skips ADD COLUMN track_id text NOT NULL;
ALTER TABLE analytics_state.skips DROP CONSTRAINT skips_pkey, ADD PRIMARY KEY (user_id, local_month, track_id);
ALTER TABLE analytics_staging.state_skips ADD COLUMN track_id text;

-- The shape of the statistics and of their state (tables, columns, types) that a run computed: a run
-- after a migration that changed it is full (spark_scripts/ledger.py).
ALTER TABLE etl.analytics_runs ADD COLUMN shape text;
