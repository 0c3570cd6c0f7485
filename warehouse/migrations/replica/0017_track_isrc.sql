-- The replica's dim_track mirrors main's, which keeps each track's ISRC since main migration 0027
-- (docs/metrics.md, "One song across editions").
ALTER TABLE dim_track ADD COLUMN isrc text;
