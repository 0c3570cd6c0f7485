-- Imports of Spotify personal data exports (ingestion.import_export).

-- One row per import that changed something (a re-import that finds nothing new
-- writes nothing, this row included). `files` lists each file read with its
-- sha256, format and record count; `report` is the import's full report.
CREATE TABLE export_imports (
    import_id       bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (user_id),
    imported_at     timestamptz NOT NULL DEFAULT now(),
    fingerprint     text NOT NULL,                 -- sha256 over the sorted file hashes
    files           jsonb NOT NULL,
    report          jsonb NOT NULL
);
CREATE INDEX export_imports_user ON export_imports (user_id, imported_at DESC);

-- Export records that were merged into a play already stored instead of becoming
-- a play of their own: an Extended record matching a Web API play, an
-- Account-data record matching an Extended or Web API play. The record's identity
-- (its export play key) points at the play that absorbed it, so importing the same
-- export again recognises it.
CREATE TABLE export_merges (
    user_id         text NOT NULL REFERENCES users (user_id),
    play_key        text NOT NULL,                 -- the export record's identity
    play_id         bigint NOT NULL REFERENCES plays (play_id),
    record_source   text NOT NULL CHECK (record_source IN ('extended_export', 'account_export')),
    import_id       bigint NOT NULL REFERENCES export_imports (import_id),
    PRIMARY KEY (user_id, play_key)
);
CREATE INDEX export_merges_play ON export_merges (play_id);

-- Name-only tracks (surrogate ids) that Spotify search resolved to a real track:
-- plays were re-pointed to `track_id`, and later imports map the surrogate too.
CREATE TABLE surrogate_resolutions (
    surrogate_id    text PRIMARY KEY,
    track_id        text NOT NULL,
    resolved_at     timestamptz NOT NULL DEFAULT now()
);
