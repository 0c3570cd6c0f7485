-- The staged ranking takes the columns of migration 0015 (main only), and the month grain of each track
-- counts its streams by local hour and by ISO weekday, which the artist profile rolls up. The stored rows
-- cannot be split by hour: they go, and the next analytics run is full (the state's shape changed).
ALTER TABLE analytics_staging.artist_ranking ADD COLUMN hour_streams integer[], ADD COLUMN weekday_streams integer[];
TRUNCATE analytics_state.tracks, analytics_staging.state_tracks;
ALTER TABLE analytics_state.tracks
    ADD COLUMN hour_streams integer[] NOT NULL CHECK (cardinality(hour_streams) = 24),
    ADD COLUMN weekday_streams integer[] NOT NULL CHECK (cardinality(weekday_streams) = 7);
ALTER TABLE analytics_staging.state_tracks ADD COLUMN hour_streams integer[], ADD COLUMN weekday_streams integer[];
