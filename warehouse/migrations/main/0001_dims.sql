-- Dimensions of the star schema. The replica holds the same tables (this file
-- is linked from migrations/replica), so no foreign keys here: the replica
-- applies changes table by table, and the Soda gates check integrity on main.

CREATE TABLE dim_user (
    user_id         text PRIMARY KEY,
    display_name    text,
    timezone        text NOT NULL                 -- effective IANA zone
);

CREATE TABLE dim_artist (
    artist_id       text PRIMARY KEY,
    name            text NOT NULL,
    genres          text[],                       -- NULL = not known, {} = none
    popularity      smallint,
    image_url       text,
    is_surrogate    boolean NOT NULL
);

CREATE TABLE dim_album (
    album_id                text PRIMARY KEY,
    name                    text NOT NULL,
    album_type              text,
    primary_artist_id       text,
    artist_ids              text[] NOT NULL,
    release_date            text,
    release_date_precision  text,
    release_year            smallint,             -- from release_date, any precision
    total_tracks            integer,
    image_url               text,
    is_surrogate            boolean NOT NULL
);

CREATE TABLE dim_track (
    track_id            text PRIMARY KEY,
    name                text NOT NULL,
    album_id            text,
    primary_artist_id   text,                     -- first artist Spotify lists
    artist_ids          text[] NOT NULL,
    duration_ms         integer,
    explicit            boolean,
    popularity          smallint,                 -- NULL = unknown
    track_number        integer,
    disc_number         integer,
    is_surrogate        boolean NOT NULL
);
