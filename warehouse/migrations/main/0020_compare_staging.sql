-- The staged overview and taste_overlap take the shape of migration 0019 (main only).
ALTER TABLE analytics_staging.overview ADD COLUMN longest_streak integer;
CREATE TABLE analytics_staging.taste_overlap AS SELECT * FROM analytics.taste_overlap WITH NO DATA;
