-- Playlists a user follows (source `playlists`, `playlist_items`, `user_playlists`, kept current by the
-- polls: docs/ingestion.md "Playlists") and statistic 20, playlist_completion (docs/metrics.md). The
-- star-schema load copies a playlist whose items were fetched, and its items again only when its
-- `snapshot_id` changed (star_schema/load.py). track_id is Spotify's id in the playlist, not a reference
-- to dim_track. The replica holds the same tables (this file is linked from migrations/replica); no
-- foreign keys, as replication applies tables in no fixed order.
CREATE TABLE dim_playlist (
    playlist_id     text PRIMARY KEY,
    name            text,
    owner_name      text,
    snapshot_id     text,
    total_tracks    integer NOT NULL           -- distinct tracks among its items
);
CREATE TABLE dim_playlist_track (
    playlist_id     text NOT NULL,
    position        integer NOT NULL,          -- the entry's index among all the playlist's entries
    track_id        text NOT NULL,
    PRIMARY KEY (playlist_id, position)
);
CREATE TABLE dim_user_playlist (
    user_id         text NOT NULL,
    playlist_id     text NOT NULL,
    PRIMARY KEY (user_id, playlist_id)
);

CREATE TABLE analytics.playlist_completion (
    user_id text NOT NULL, period text NOT NULL, playlist_id text NOT NULL,
    total_tracks integer NOT NULL, tracks_played integer NOT NULL, completion double precision NOT NULL,
    streams bigint NOT NULL, listening_ms bigint NOT NULL,
    first_played_at timestamptz, last_played_at timestamptz,
    context_streams bigint NOT NULL, context_listening_ms bigint NOT NULL,
    context_first_played_at timestamptz, context_last_played_at timestamptz,
    heard_track_ids text[] NOT NULL, rank integer NOT NULL,
    computed_at timestamptz NOT NULL, source_max_played_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, period, playlist_id)
);
