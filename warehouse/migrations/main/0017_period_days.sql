-- The local dates each period spans (docs/metrics.md, statistic 1): a rolling period's first day is read,
-- not recomputed, by the dashboard. The replica holds the same table (this file is linked from
-- migrations/replica); the staged overview gets the columns in migration 0018. Rows published before have
-- nulls until the next analytics run, which is full: the statistics' shape changed.
ALTER TABLE analytics.overview ADD COLUMN first_day date, ADD COLUMN last_day date;
