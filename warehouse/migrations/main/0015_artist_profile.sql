-- An artist's hour-of-day and weekday profile on its artist page (docs/metrics.md, statistic 16): its
-- streams by local hour 0-23 and by ISO weekday, Monday first. The replica holds the same table (this file
-- is linked from migrations/replica). Rows published before this migration have nulls until the next
-- analytics run, which is full: the statistics' shape changed (spark_scripts/ledger.py).
ALTER TABLE analytics.artist_ranking ADD COLUMN hour_streams integer[], ADD COLUMN weekday_streams integer[];
