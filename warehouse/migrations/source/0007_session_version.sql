-- The login service's session version (flask_endpoint/login.py): the session cookie
-- carries the version it was made with; logout increments it, so every copy of an
-- older cookie is refused from then on.

ALTER TABLE users ADD COLUMN session_version integer NOT NULL DEFAULT 0;
