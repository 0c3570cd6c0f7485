-- One song across editions (docs/metrics.md, "One song across editions", source migration 0014).
-- dim_track keeps each track's ISRC; every track fact names its recording (`recording_id`: 'isrc:' and the
-- ISRC, or a track id), which the load evaluates from the ISRCs and main's copy of the users' recording
-- rules, and again for every play of a user whose rules changed or of a track whose ISRC changed.
ALTER TABLE dim_track ADD COLUMN isrc text;
ALTER TABLE fact_play ADD COLUMN recording_id text,
    ADD CONSTRAINT fact_play_recording CHECK ((content_type = 'track') = (recording_id IS NOT NULL)) NOT VALID;
UPDATE fact_play SET recording_id = track_id WHERE content_type = 'track';
ALTER TABLE fact_play VALIDATE CONSTRAINT fact_play_recording;

CREATE TABLE etl.recording_rules (
    rule_id         bigint PRIMARY KEY,
    user_id         text NOT NULL,
    track_id        text NOT NULL,
    kind            text NOT NULL,
    into_track_id   text,
    UNIQUE (user_id, track_id)
);
ALTER TABLE etl.load_runs ADD COLUMN recording_rules_changed integer NOT NULL DEFAULT 0;

-- The month grains of tracks and of skips name each track's recording; their stored rows go, and the next
-- analytics run is full (the state's shape changed).
TRUNCATE analytics_state.tracks, analytics_staging.state_tracks, analytics_state.skips,
         analytics_staging.state_skips;
ALTER TABLE analytics_state.tracks ADD COLUMN recording_id text NOT NULL;
ALTER TABLE analytics_staging.state_tracks ADD COLUMN recording_id text;
ALTER TABLE analytics_state.skips ADD COLUMN recording_id text NOT NULL;
ALTER TABLE analytics_staging.state_skips ADD COLUMN recording_id text;

-- A ranked track is a recording, shown by its most streamed edition: the replica's (migration 0016) too.
ALTER TABLE analytics_staging.track_ranking ADD COLUMN recording_id text, ADD COLUMN editions text[];
