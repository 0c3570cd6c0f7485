-- What the entity pages show of an artist and a track (docs/metrics.md, statistic 16): the months an
-- artist topped and its longest streak, a track's skip rate. The replica holds the same tables (this
-- file is linked from migrations/replica). Rows published before this migration have nulls until the
-- next analytics run, which is full: the statistics' shape changed (spark_scripts/ledger.py).
ALTER TABLE analytics.artist_ranking
    ADD COLUMN months_at_top integer, ADD COLUMN longest_streak integer,
    ADD COLUMN longest_streak_start date, ADD COLUMN longest_streak_end date;
ALTER TABLE analytics.track_ranking ADD COLUMN skip_rate double precision;
