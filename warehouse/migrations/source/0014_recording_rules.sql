-- One song across editions (docs/metrics.md, "One song across editions"): tracks sharing an ISRC
-- (tracks.isrc, stored by enrichment) count as one recording. A user's rules change that for their own
-- statistics: `split` makes a track a recording of its own, `merge` counts it in the recording of
-- `into_track_id`. One rule per user and track.
CREATE TABLE recording_rules (
    rule_id         bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (user_id),
    track_id        text NOT NULL CHECK (length(track_id) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('split', 'merge')),
    into_track_id   text CHECK (length(into_track_id) BETWEEN 1 AND 200),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recording_rules_shape CHECK (
        CASE WHEN kind = 'merge' THEN into_track_id IS NOT NULL AND into_track_id <> track_id
             ELSE into_track_id IS NULL END),
    CONSTRAINT recording_rules_once UNIQUE (user_id, track_id)
);
