-- Every insert of a play, and every update that changes it, takes a new revision
-- from one sequence. The source -> main load follows revisions, so it also sees
-- plays that changed after they were loaded (an API play merged with an export
-- record, a play re-pointed from a surrogate track to the resolved one).

CREATE SEQUENCE plays_revision_seq;
ALTER TABLE plays ADD COLUMN revision bigint;
UPDATE plays SET revision = nextval('plays_revision_seq');
ALTER TABLE plays ALTER COLUMN revision SET DEFAULT nextval('plays_revision_seq');
ALTER TABLE plays ALTER COLUMN revision SET NOT NULL;
CREATE INDEX plays_revision ON plays (revision);

CREATE FUNCTION plays_new_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := nextval('plays_revision_seq');
    RETURN NEW;
END $$;

CREATE TRIGGER plays_revision BEFORE UPDATE ON plays
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION plays_new_revision();
