-- A play's context (the playlist, album, artist or show it was started from, as the Web API names it;
-- exports carry none) reaches main: statistic 20 counts the streams started from a playlist. Source
-- migration 0015 gives the plays with a context a new revision, so the next load fills this column.
-- The month grain of those streams (spark_scripts/state.py `contexts`), and the staged statistic.
ALTER TABLE fact_play ADD COLUMN context_uri text;
-- The users whose followed playlists a load changed (their items, or who follows them): the next analytics run
-- recomputes every period of theirs (spark_scripts/scope.py).
ALTER TABLE etl.load_runs ADD COLUMN playlist_users text[] NOT NULL DEFAULT '{}';

CREATE TABLE analytics_state.contexts (
    user_id text NOT NULL, local_year text NOT NULL, local_month text NOT NULL, playlist_id text NOT NULL,
    streams bigint NOT NULL, listening_ms bigint NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, local_month, playlist_id)
);
CREATE TABLE analytics_staging.state_contexts AS SELECT * FROM analytics_state.contexts WITH NO DATA;
CREATE TABLE analytics_staging.playlist_completion AS SELECT * FROM analytics.playlist_completion WITH NO DATA;
