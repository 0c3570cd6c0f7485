-- The whole rankings behind the top lists (docs/metrics.md, statistic 16): every track, primary
-- artist and album streamed in the period, with its rank by streams and by listening time. The
-- replica holds the same tables (this file is linked from migrations/replica); the indexes serve
-- the dashboard's pages of a ranking in either order.

CREATE TABLE analytics.track_ranking (
    user_id text NOT NULL, period text NOT NULL, track_id text NOT NULL,
    album_id text, artist_id text,
    streams bigint NOT NULL, listening_ms bigint NOT NULL, share double precision NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    rank integer NOT NULL, time_rank integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, track_id)
);
CREATE INDEX track_ranking_rank ON analytics.track_ranking (user_id, period, rank);
CREATE INDEX track_ranking_time_rank ON analytics.track_ranking (user_id, period, time_rank);

CREATE TABLE analytics.artist_ranking (
    user_id text NOT NULL, period text NOT NULL, artist_id text NOT NULL,
    streams bigint NOT NULL, listening_ms bigint NOT NULL, share double precision NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    rank integer NOT NULL, time_rank integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, artist_id)
);
CREATE INDEX artist_ranking_rank ON analytics.artist_ranking (user_id, period, rank);
CREATE INDEX artist_ranking_time_rank ON analytics.artist_ranking (user_id, period, time_rank);

CREATE TABLE analytics.album_ranking (
    user_id text NOT NULL, period text NOT NULL, album_id text NOT NULL,
    artist_id text,
    streams bigint NOT NULL, listening_ms bigint NOT NULL, share double precision NOT NULL,
    first_played_at timestamptz NOT NULL, last_played_at timestamptz NOT NULL,
    rank integer NOT NULL, time_rank integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, album_id)
);
CREATE INDEX album_ranking_rank ON analytics.album_ranking (user_id, period, rank);
CREATE INDEX album_ranking_time_rank ON analytics.album_ranking (user_id, period, time_rank);
