-- Plays by track: a load re-evaluates the recording of the plays of tracks whose ISRC changed (every track
-- enriched after its first plays were loaded), which must read those plays by index, not scan the history.
CREATE INDEX fact_play_track ON fact_play (track_id);
