-- The track list of each album whose list source holds (source `album_tracks`, fetched by enrichment,
-- docs/ingestion.md), copied by the star-schema load (star_schema/load.py) once per album: a stored
-- list never changes. An album has its whole list here or no row at all. track_id is Spotify's id in
-- that list, not a reference to dim_track (most tracks of an album were never played). The replica
-- holds the same table (this file is linked from migrations/replica); no foreign key, as replication
-- applies tables in no fixed order. The album page marks each track heard or not (docs/dashboard.md).
CREATE TABLE dim_album_track (
    album_id        text NOT NULL,
    disc_number     integer NOT NULL,
    track_number    integer NOT NULL,
    track_id        text NOT NULL,
    name            text NOT NULL,
    duration_ms     integer NOT NULL,
    PRIMARY KEY (album_id, disc_number, track_number)
);
