-- Playlists a user follows here (the account page, `python -m ingestion playlists`): their tracks as the Web
-- API lists them (ingestion/playlists.py), kept current by the polls. A playlist is stored once, whoever
-- added it; `user_playlists` says who did.

CREATE TABLE playlists (
    playlist_id     text PRIMARY KEY,              -- Spotify's base62 id
    name            text,
    owner_id        text,
    owner_name      text,
    snapshot_id     text,                          -- Spotify's version of the playlist's items
    items_total     integer,                       -- entries, tracks or not
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'ok', 'not_found', 'forbidden', 'refused')),
    detail          text,                          -- why, when not ok
    checked_at      timestamptz,                   -- last asked
    fetched_at      timestamptz,                   -- items last stored
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The playlist's tracks in its order: `position` is the entry's index among all entries (episodes, local
-- files and removed tracks have no row).
CREATE TABLE playlist_items (
    playlist_id     text NOT NULL REFERENCES playlists (playlist_id) ON DELETE CASCADE,
    position        integer NOT NULL CHECK (position >= 0),
    track_id        text NOT NULL,
    added_at        timestamptz,
    PRIMARY KEY (playlist_id, position)
);

CREATE TABLE user_playlists (
    user_id         text NOT NULL REFERENCES users (user_id),
    playlist_id     text NOT NULL REFERENCES playlists (playlist_id),
    added_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, playlist_id)
);
CREATE INDEX user_playlists_playlist ON user_playlists (playlist_id);
