-- What a user keeps out of their statistics, and the plays they deleted (docs/metrics.md, "What counts").

-- Exclusion rules: a play matching one of its user's rules stays here but counts in no statistic.
-- artist / album / track: a Spotify (or surrogate) id of the play's track; context: the URI of the
-- play's context (a playlist, album, artist or show, as the Web API gives it); time: the play's
-- end in the user's local time within [local_from, local_to).
CREATE TABLE exclusion_rules (
    rule_id         bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (user_id),
    kind            text NOT NULL CHECK (kind IN ('artist', 'album', 'track', 'context', 'time')),
    target          text CHECK (length(target) BETWEEN 1 AND 200),
    local_from      timestamp,
    local_to        timestamp,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT exclusion_rules_shape CHECK (
        CASE WHEN kind = 'time' THEN target IS NULL AND local_from < local_to
             ELSE target IS NOT NULL AND local_from IS NULL AND local_to IS NULL END),
    CONSTRAINT exclusion_rules_once UNIQUE NULLS NOT DISTINCT (user_id, kind, target, local_from, local_to)
);

-- The audit of every deletion of plays: who, when, which plays (described), how many. Its revision
-- comes from the plays' sequence, so the source -> main load finds the deletions it has not applied.
CREATE TABLE play_deletions (
    deletion_id     bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (user_id),
    deleted_by      text NOT NULL,
    deleted_at      timestamptz NOT NULL DEFAULT now(),
    description     text NOT NULL,
    plays           integer NOT NULL,
    revision        bigint NOT NULL DEFAULT nextval('plays_revision_seq')
);
CREATE INDEX play_deletions_revision ON play_deletions (revision);

-- What a deletion leaves: the identity of each deleted play and of the export records merged into
-- it, so that importing the same export or polling again never brings a deleted play back.
CREATE TABLE deleted_plays (
    user_id         text NOT NULL REFERENCES users (user_id),
    play_key        text NOT NULL,
    play_id         bigint NOT NULL,
    played_at       timestamptz NOT NULL,
    deletion_id     bigint NOT NULL REFERENCES play_deletions (deletion_id),
    PRIMARY KEY (user_id, play_key)
);
CREATE INDEX deleted_plays_deletion ON deleted_plays (deletion_id);
