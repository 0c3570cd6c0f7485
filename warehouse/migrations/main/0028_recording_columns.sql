-- A ranked track is a recording (docs/metrics.md, "One song across editions"): the row names its
-- recording and the editions streamed in the period, the shown one first. The replica holds the same
-- tables (this file is linked from migrations/replica). Rows published before this migration have nulls
-- until the next analytics run, which is full: the statistics' shape changed (spark_scripts/ledger.py).
ALTER TABLE analytics.track_ranking ADD COLUMN recording_id text, ADD COLUMN editions text[];
CREATE INDEX track_ranking_editions ON analytics.track_ranking USING gin (editions);
