-- Podcasts (docs/metrics.md, "Podcasts"): episode plays become facts of their own kind. fact_play holds
-- every play of a track or an episode (audiobook chapters stay in source); an episode fact has no track,
-- is never a stream (is_stream false: streams are of music) and names its episode and show. Shows are
-- known by name only (exports carry no show id): show_id is a surrogate of the name; an episode without a
-- URI (Account data) has a surrogate id of its show and name (star_schema/load.py).
ALTER TABLE fact_play ALTER COLUMN track_id DROP NOT NULL,
    ADD COLUMN content_type text NOT NULL DEFAULT 'track' CHECK (content_type IN ('track', 'episode')),
    ADD COLUMN episode_id text,
    ADD COLUMN show_id text,
    ADD CONSTRAINT fact_play_item CHECK (CASE content_type WHEN 'track' THEN track_id IS NOT NULL
                                         ELSE episode_id IS NOT NULL AND show_id IS NOT NULL END);


-- The month grain of podcast listens (spark_scripts/state.py): one row per episode listened in the month.
CREATE TABLE analytics_state.episodes (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL, episode_id text NOT NULL,
    show_id text NOT NULL, listens bigint NOT NULL, listening_ms bigint NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, local_month, episode_id)
);
CREATE TABLE analytics_staging.state_episodes AS SELECT * FROM analytics_state.episodes WITH NO DATA;
-- The shows and episodes, and the statistics: migration 0025.
