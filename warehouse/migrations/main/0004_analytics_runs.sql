-- Analytics runs: results are staged here by the Spark job, checked, then
-- published into analytics.* in one transaction (spark_scripts/publish.py).

-- Loads that changed existing dimension rows force the next analytics run to be full.
ALTER TABLE etl.load_runs ADD COLUMN dims_updated integer NOT NULL DEFAULT 0;
-- The load follows source plays by revision (source migration 0004): every
-- source play with a revision <= this is reflected in fact_play.
ALTER TABLE etl.load_runs ADD COLUMN source_max_revision bigint NOT NULL DEFAULT 0;

CREATE TABLE etl.analytics_runs (
    run_id                  bigserial PRIMARY KEY,
    status                  text NOT NULL CHECK (status IN ('staged', 'published', 'rejected')),
    mode                    text NOT NULL CHECK (mode IN ('full', 'incremental')),
    started_at              timestamptz NOT NULL,
    staged_at               timestamptz NOT NULL DEFAULT now(),
    published_at            timestamptz,
    max_load_id             bigint NOT NULL,      -- every load <= this is reflected
    source_max_played_at    timestamptz,
    scopes                  integer NOT NULL,     -- (user, period) pairs recomputed
    rows_inserted           integer,
    rows_updated            integer,
    rows_deleted            integer,
    rejection               text                  -- the failed checks, when the gate said no
);

-- Staged results have no constraints: the analytics gate (soda/analytics/) says
-- what is wrong with them, by check name, before anything is published.
CREATE SCHEMA analytics_staging;
-- The (user_id, period) pairs a run recomputed: published rows in these scopes
-- get exactly the staged content.
CREATE TABLE analytics_staging.scope (user_id text NOT NULL, period text NOT NULL);

CREATE TABLE analytics_staging.overview AS SELECT * FROM analytics.overview WITH NO DATA;
CREATE TABLE analytics_staging.top_tracks AS SELECT * FROM analytics.top_tracks WITH NO DATA;
CREATE TABLE analytics_staging.top_artists AS SELECT * FROM analytics.top_artists WITH NO DATA;
CREATE TABLE analytics_staging.top_albums AS SELECT * FROM analytics.top_albums WITH NO DATA;
CREATE TABLE analytics_staging.hour_of_day AS SELECT * FROM analytics.hour_of_day WITH NO DATA;
CREATE TABLE analytics_staging.day_of_week AS SELECT * FROM analytics.day_of_week WITH NO DATA;
CREATE TABLE analytics_staging.listening_clock AS SELECT * FROM analytics.listening_clock WITH NO DATA;
CREATE TABLE analytics_staging.album_completion AS SELECT * FROM analytics.album_completion WITH NO DATA;
CREATE TABLE analytics_staging.artist_streaks AS SELECT * FROM analytics.artist_streaks WITH NO DATA;
CREATE TABLE analytics_staging.sessions AS SELECT * FROM analytics.sessions WITH NO DATA;
CREATE TABLE analytics_staging.session_summary AS SELECT * FROM analytics.session_summary WITH NO DATA;
CREATE TABLE analytics_staging.play_gaps AS SELECT * FROM analytics.play_gaps WITH NO DATA;
CREATE TABLE analytics_staging.popularity_distribution AS SELECT * FROM analytics.popularity_distribution WITH NO DATA;
CREATE TABLE analytics_staging.duration_preference AS SELECT * FROM analytics.duration_preference WITH NO DATA;
CREATE TABLE analytics_staging.explicit_preference AS SELECT * FROM analytics.explicit_preference WITH NO DATA;
CREATE TABLE analytics_staging.release_years AS SELECT * FROM analytics.release_years WITH NO DATA;
CREATE TABLE analytics_staging.longest_days AS SELECT * FROM analytics.longest_days WITH NO DATA;
CREATE TABLE analytics_staging.genre_distribution AS SELECT * FROM analytics.genre_distribution WITH NO DATA;
