-- Spotify accounts connected through the login service (flask_endpoint) and the
-- Web API ingestion runs (ingestion.recently_played).

-- Set when Spotify refused the user's refresh token (invalid_grant: expired after
-- six months or revoked): polling stops until the user logs in again.
ALTER TABLE users
    ADD COLUMN needs_login        boolean NOT NULL DEFAULT false,
    ADD COLUMN needs_login_reason text,
    ADD COLUMN timezone_source    text CHECK (timezone_source IN ('asked', 'detected'));

-- One row per user who connected Spotify. Tokens are Fernet-encrypted with
-- TOKEN_ENCRYPTION_KEY: never stored in clear. Logout deletes the row.
CREATE TABLE spotify_accounts (
    user_id                 text PRIMARY KEY REFERENCES users (user_id),
    access_token_encrypted  bytea NOT NULL,
    refresh_token_encrypted bytea NOT NULL,
    token_expires_at        timestamptz NOT NULL,
    scope                   text,
    authorized_at           timestamptz NOT NULL DEFAULT now(), -- refresh token valid 6 months from here
    refreshed_at            timestamptz,
    refresh_count           integer NOT NULL DEFAULT 0,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- One row per ingestion run of one user (the account page shows the latest).
CREATE TABLE ingestion_runs (
    run_id          bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (user_id),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    -- ok: done; rate_limited: stopped on a long Retry-After (next run resumes);
    -- needs_login: skipped, the user must log in again; failed: an error, see detail.
    status          text NOT NULL CHECK (status IN ('running', 'ok', 'rate_limited', 'needs_login', 'failed')),
    plays_fetched   integer NOT NULL DEFAULT 0,
    plays_inserted  integer NOT NULL DEFAULT 0,
    cursor_before   bigint,                        -- after_ms when the run started
    cursor_after    bigint,                        -- after_ms when it committed
    -- A full page whose oldest play is newer than the cursor: plays between the
    -- two may have dropped out of Spotify's 50-play window before this run.
    gap_from        timestamptz,
    gap_to          timestamptz,
    detail          text
);
CREATE INDEX ingestion_runs_user ON ingestion_runs (user_id, started_at DESC);
