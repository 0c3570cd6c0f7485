-- The staged overview takes the columns of migration 0017 (main only).
ALTER TABLE analytics_staging.overview ADD COLUMN first_day date, ADD COLUMN last_day date;
