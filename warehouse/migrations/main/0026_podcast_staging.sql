-- The staged overview and podcast statistics take the shape of migration 0025 (main only).
ALTER TABLE analytics_staging.overview ADD COLUMN podcast_listens bigint NOT NULL DEFAULT 0,
    ADD COLUMN podcast_listening_ms bigint NOT NULL DEFAULT 0;
CREATE TABLE analytics_staging.top_shows AS SELECT * FROM analytics.top_shows WITH NO DATA;
CREATE TABLE analytics_staging.top_episodes AS SELECT * FROM analytics.top_episodes WITH NO DATA;
