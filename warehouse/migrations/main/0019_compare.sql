-- Comparing users who allow it (docs/metrics.md, "Comparing users" and statistics 1 and 17): the
-- user's consent, the overview's longest streak of days with a stream, and taste_overlap, one row
-- each way for every two consenting users with the same period. The replica holds the same tables
-- (this file is linked from migrations/replica); the staged ones are made by migration 0020. Rows
-- published before have a null longest_streak until the next analytics run, which is full: the
-- statistics' shape changed.
ALTER TABLE dim_user ADD COLUMN compare_consent boolean NOT NULL DEFAULT false;
ALTER TABLE analytics.overview ADD COLUMN longest_streak integer;

CREATE TABLE analytics.taste_overlap (
    user_id text NOT NULL, period text NOT NULL, other_user_id text NOT NULL,
    overlap double precision NOT NULL,
    shared_artists integer NOT NULL, shared_tracks integer NOT NULL,
    top_shared_artists text[] NOT NULL, top_shared_tracks text[] NOT NULL, first_streamed_by text[] NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, other_user_id)
);
-- Publication replaces the rows of a pair when either user's period was recomputed.
CREATE INDEX taste_overlap_other ON analytics.taste_overlap (other_user_id, period);
