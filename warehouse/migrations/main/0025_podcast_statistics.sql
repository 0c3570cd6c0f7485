-- Podcast statistics (docs/metrics.md, "Podcasts", statistics 18 and 19, and the overview's podcast
-- totals). The replica holds the same tables (this file is linked from migrations/replica), with the show
-- and episode names. Rows published before have zeros until the next analytics run, which is full: the
-- statistics' shape changed.
CREATE TABLE dim_show (
    show_id     text PRIMARY KEY,
    name        text NOT NULL
);
CREATE TABLE dim_episode (
    episode_id  text PRIMARY KEY,
    name        text,
    show_id     text NOT NULL
);
ALTER TABLE analytics.overview ADD COLUMN podcast_listens bigint NOT NULL DEFAULT 0,
    ADD COLUMN podcast_listening_ms bigint NOT NULL DEFAULT 0;

CREATE TABLE analytics.top_shows (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    show_id text NOT NULL, listens bigint NOT NULL, listening_ms bigint NOT NULL, episodes integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);
CREATE TABLE analytics.top_episodes (
    user_id text NOT NULL, period text NOT NULL, rank integer NOT NULL,
    episode_id text NOT NULL, show_id text NOT NULL, listens bigint NOT NULL, listening_ms bigint NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, rank)
);
