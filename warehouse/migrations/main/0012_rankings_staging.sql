-- The staged rankings of a run (main only), shaped as the published ones (migration 0011).
CREATE TABLE analytics_staging.track_ranking AS SELECT * FROM analytics.track_ranking WITH NO DATA;
CREATE TABLE analytics_staging.artist_ranking AS SELECT * FROM analytics.artist_ranking WITH NO DATA;
CREATE TABLE analytics_staging.album_ranking AS SELECT * FROM analytics.album_ranking WITH NO DATA;
