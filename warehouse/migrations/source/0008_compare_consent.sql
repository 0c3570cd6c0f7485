-- Whether the user allows comparison with other users who do (docs/metrics.md, "Comparing users"):
-- set on the account page, off until the user turns it on.
ALTER TABLE users ADD COLUMN compare_consent boolean NOT NULL DEFAULT false;
