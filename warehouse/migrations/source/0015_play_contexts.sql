-- A play's context reaches main (main migration 0031): the load follows revisions, so the plays stored
-- before this release with a context take a new one and the next load stages them again.
UPDATE plays SET revision = nextval('plays_revision_seq') WHERE context_uri IS NOT NULL;
