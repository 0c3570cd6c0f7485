-- Source database: the raw listening as it arrived, from the Web API and from
-- Spotify data exports, plus the Spotify metadata fetched for it.

CREATE TABLE users (
    user_id         text PRIMARY KEY,              -- Spotify user id
    display_name    text,
    email           text,
    timezone        text,                          -- IANA zone; NULL = DEFAULT_TIMEZONE
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per play of one user. IP addresses and user agents are never stored.
CREATE TABLE plays (
    play_id             bigserial PRIMARY KEY,
    user_id             text NOT NULL REFERENCES users (user_id),
    -- Identity of a play (see warehouse.plays.play_key): 'api:<played_at>' for the
    -- Web API, 'export:<ts>|<uri or names>|<ms_played>' for exports.
    play_key            text NOT NULL,
    source              text NOT NULL
                        CHECK (source IN ('api', 'extended_export', 'account_export')),
    content_type        text NOT NULL DEFAULT 'track'
                        CHECK (content_type IN ('track', 'episode', 'audiobook')),
    played_at           timestamptz NOT NULL,      -- END of the play, UTC
    ms_played           integer NOT NULL,
    track_id            text,                      -- Spotify id or surrogate; NULL for episodes
    -- Names as the export gave them (exports may carry nothing else).
    track_name          text,
    artist_name         text,
    album_name          text,
    episode_uri         text,
    episode_name        text,
    episode_show_name   text,
    audiobook_uri       text,
    audiobook_title     text,
    audiobook_chapter_uri   text,
    audiobook_chapter_title text,
    context_type        text,                      -- Web API play context
    context_uri         text,
    platform            text,
    conn_country        text,
    reason_start        text,
    reason_end          text,
    shuffle             boolean,
    skipped             boolean,                   -- NULL = unknown
    offline             boolean,
    offline_timestamp   timestamptz,
    incognito_mode      boolean,
    ingested_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plays_identity UNIQUE (user_id, play_key),
    CONSTRAINT plays_track_has_id CHECK (content_type <> 'track' OR track_id IS NOT NULL)
);
CREATE INDEX plays_user_played_at ON plays (user_id, played_at);

CREATE TABLE artists (
    artist_id       text PRIMARY KEY,
    name            text NOT NULL,
    genres          text[],                        -- NULL = not known, {} = none
    popularity      smallint CHECK (popularity BETWEEN 0 AND 100),
    followers       integer,
    image_url       text,
    is_surrogate    boolean NOT NULL DEFAULT false, -- id derived from names, no Spotify id
    fetched_at      timestamptz,                   -- NULL = not yet enriched
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE albums (
    album_id                text PRIMARY KEY,
    name                    text NOT NULL,
    album_type              text,
    artist_ids              text[] NOT NULL DEFAULT '{}',   -- in Spotify's order
    release_date            text,                           -- '1981' | '1981-12' | '1981-12-15'
    release_date_precision  text CHECK (release_date_precision IN ('year', 'month', 'day')),
    total_tracks            integer,
    image_url               text,
    is_surrogate            boolean NOT NULL DEFAULT false,
    fetched_at              timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tracks (
    track_id        text PRIMARY KEY,
    name            text NOT NULL,
    album_id        text,
    artist_ids      text[] NOT NULL DEFAULT '{}',  -- in Spotify's order; first = primary
    duration_ms     integer,
    explicit        boolean,
    popularity      smallint CHECK (popularity BETWEEN 0 AND 100), -- NULL = unknown
    track_number    integer,
    disc_number     integer,
    isrc            text,
    is_local        boolean,
    is_surrogate    boolean NOT NULL DEFAULT false,
    fetched_at      timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Metadata still to fetch from Spotify (unseen ids, surrogates to resolve).
CREATE TABLE enrichment_queue (
    entity_type     text NOT NULL CHECK (entity_type IN ('track', 'album', 'artist')),
    entity_id       text NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    PRIMARY KEY (entity_type, entity_id)
);

-- Where the Web API ingestion of each user stands.
CREATE TABLE ingestion_cursors (
    user_id         text PRIMARY KEY REFERENCES users (user_id),
    after_ms        bigint,                        -- Unix ms of the newest play stored
    last_run_at     timestamptz,
    last_run_plays  integer,
    last_status     text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
