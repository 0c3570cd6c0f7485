-- The track list of each album, as Spotify lists it (GET /v1/albums/{id}/tracks), fetched by
-- enrichment (ingestion/album_tracks.py). An album has either its whole list here or no row at
-- all: a list is stored in one transaction once every page was fetched and checked, so "the
-- album's track list is known" means "it has rows here". track_id is Spotify's id of the track
-- in that list (no reference to `tracks`: most tracks of an album were never played).
CREATE TABLE album_tracks (
    album_id        text NOT NULL REFERENCES albums (album_id),
    disc_number     integer NOT NULL CHECK (disc_number >= 1),
    track_number    integer NOT NULL CHECK (track_number >= 1),
    track_id        text NOT NULL,
    name            text NOT NULL,
    duration_ms     integer NOT NULL CHECK (duration_ms >= 0),
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (album_id, disc_number, track_number)
);

-- An album whose list Spotify would not give (400/403/404) or gave in a form we refuse waits in
-- the enrichment queue as 'album_tracks', with the error and its attempts (tried at most 5 times).
ALTER TABLE enrichment_queue DROP CONSTRAINT enrichment_queue_entity_type_check;
ALTER TABLE enrichment_queue ADD CONSTRAINT enrichment_queue_entity_type_check
    CHECK (entity_type IN ('track', 'album', 'artist', 'album_tracks'));
