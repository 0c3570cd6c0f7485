-- The users an incremental analytics run recomputes, written by the job before its
-- JDBC reads join them (no user id is ever pasted into SQL). Staging: never replicated.
CREATE TABLE analytics_staging.run_users (user_id text PRIMARY KEY);

-- How many users a run covered (NULL: every user), so a publication reports it.
ALTER TABLE etl.analytics_runs ADD COLUMN users integer;
